/* libFuzzer target: a sharded Hugging Face directory through model_load.
 * The input is cut at FUZZ_SPLIT (tests/fuzz_util.h): part 0 is
 * model.safetensors.index.json, parts 1..k are model-0000i-of-0000k.safetensors
 * (config.json is fixed and valid). */
#include <stdio.h>
#include <unistd.h>

#include "tests/fuzz_util.h"
#include "tests/fuzz_models.h"

static int last_shards; /* shard files of the previous input, to remove */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_hf_fixed("config.json");
    fuzz_part part[FUZZ_MAX_PARTS];
    int n = fuzz_split(data, size, part, FUZZ_MAX_PARTS);
    char name[64];
    for (int i = 1; i <= last_shards; i++) {
        snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", i, last_shards);
        unlink(fuzz_path(1, name));
    }
    fuzz_spill(fuzz_path(1, "model.safetensors.index.json"), part[0].p, part[0].n);
    for (int i = 1; i < n; i++) {
        snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", i, n - 1);
        fuzz_spill(fuzz_path(1, name), part[i].p, part[i].n);
    }
    last_shards = n - 1;
    fuzz_model(fuzz_dir());
    return 0;
}
