/* libFuzzer target: model.safetensors of a Hugging Face directory (with a
 * fixed valid config.json) through model_load. The input is the file. */
#include "tests/fuzz_models.h"
#include "tests/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_hf_one("model.safetensors", data, size);
}
