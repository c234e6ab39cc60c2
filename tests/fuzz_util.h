/* Shared plumbing of the libFuzzer targets (tests/fuzz_*.c, built by
 * `make fuzz`, see tests/fuzz.am): a private temporary directory, writing
 * (parts of) an input to files there, and the one-line-message check.
 *
 * Multi-file inputs (a sharded safetensors model, a tokenizer plus a text)
 * are one fuzz input cut at FUZZ_SPLIT; tests/fuzz_seeds.c writes seeds in
 * that form and tests/fuzz.dict lets mutations insert the separator. */
#ifndef MXALLOC_FUZZ_UTIL_H
#define MXALLOC_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/err.h"

#define FUZZ_SPLIT "\n--fuzz-split--\n"
#define FUZZ_MAX_PARTS 8

/* fuzz_util.c defines a weak LLVMFuzzerInitialize that makes fuzz_dir(). */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The target's temporary directory (made on first use, removed at exit). */
const char *fuzz_dir(void);
/* fuzz_dir()/name, in a static buffer per call site's slot (0..3). */
const char *fuzz_path(int slot, const char *name);
/* Write n bytes to path (replacing it); aborts on a write error. */
void fuzz_spill(const char *path, const void *d, size_t n);

typedef struct fuzz_part {
    const uint8_t *p;
    size_t n;
} fuzz_part;
/* Cut data at FUZZ_SPLIT into at most max parts (the last part keeps any
 * further separators). Returns the number of parts (>= 1). */
int fuzz_split(const uint8_t *data, size_t size, fuzz_part *parts, int max);

/* A failing reader must leave exactly one line of message: when rc < 0,
 * aborts (a finding) if e is empty or holds a newline or another control
 * byte. Returns rc < 0, so that a caller can stop at a refused input. */
int fuzz_check_msg(int rc, const mx_error *e);

/* model_load(path): on success every weight is read (ASan sees any bound
 * overrun) and the model freed; on failure the message is checked. Returns
 * model_load's code. */
int fuzz_model(const char *path);

struct tok;
/* Exercise a loaded tokenizer: encode text (len bytes), decode the ids, the
 * pieces of the ids and of a few ids around the vocabulary's ends. */
void fuzz_tok(const struct tok *t, const char *text, size_t len);
/* What a tokenizer loader returned: NULL must leave its message in e (see
 * fuzz_check_msg); any other t goes through fuzz_tok and is freed. */
void fuzz_tok_loaded(struct tok *t, const mx_error *e, const char *text, size_t len);

#endif
