/* libFuzzer target: a llama2.c checkpoint (legacy or version 1) through
 * model_load. The input is the file. (Folds in the old tests/fuzz_model.c,
 * whose HF modes are now fuzz_safetensors and fuzz_hf_config.) */
#include "tests/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = fuzz_path(0, "model.bin");
    fuzz_spill(p, data, size);
    fuzz_model(p);
    return 0;
}
