/* The tiny models the fuzz targets and their seeds share (tests/fuzz_*.c):
 * small enough that mutations reach the tensor data. */
#ifndef MXALLOC_FUZZ_MODELS_H
#define MXALLOC_FUZZ_MODELS_H

#include <stddef.h>
#include <stdint.h>

#include "tests/testmodel.h"

/* The HF fixture: llama, dim 8, 1 layer, vocab 6 (seeded, deterministic). */
void fuzz_hf_model(tm_model *t);
/* The HF targets' directory is fuzz_dir(): write the fixture's file `name`
 * there ("config.json", or "model.safetensors": its weights in BF16) on the
 * first call, so that only the fuzzed files change between inputs (abort on
 * failure). */
void fuzz_hf_fixed(const char *name);
/* A one-file HF target: data as fuzz_dir()/fuzzed (one of the two names
 * above), the fixture's other file beside it, through fuzz_model. Returns 0,
 * what LLVMFuzzerTestOneInput returns. */
int fuzz_hf_one(const char *fuzzed, const uint8_t *data, size_t size);

#endif
