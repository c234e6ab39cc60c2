/* libFuzzer target: config.json of a Hugging Face directory (with a fixed
 * valid model.safetensors) through model_load. The input is the file. */
#include "tests/fuzz_util.h"
#include "tests/fuzz_models.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_write_hf_weights(fuzz_path(0, "model.safetensors"));
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_spill(fuzz_path(0, "config.json"), data, size);
    fuzz_model(fuzz_dir());
    return 0;
}
