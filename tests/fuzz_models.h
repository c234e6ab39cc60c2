/* The tiny models the fuzz targets and their seeds share (tests/fuzz_*.c):
 * small enough that mutations reach the tensor data. */
#ifndef MXALLOC_FUZZ_MODELS_H
#define MXALLOC_FUZZ_MODELS_H

#include "tests/testmodel.h"

/* The HF fixture: llama, dim 8, 1 layer, vocab 6 (seeded, deterministic). */
void fuzz_hf_model(tm_model *t);
/* Its config.json / its weights as one model.safetensors (BF16), written to
 * path (through a scratch directory; abort on failure). */
void fuzz_write_hf_config(const char *path);
void fuzz_write_hf_weights(const char *path);

#endif
