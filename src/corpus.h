/* A text file as the token stream the window-based commands (ppl, score,
 * anneal) work on: read, tokenized as one string, the stream's own BOS dropped,
 * and checked to hold at least one window. */
#ifndef MXALLOC_CORPUS_H
#define MXALLOC_CORPUS_H

#include <stddef.h>

#include "kernels/err.h"
#include "src/model.h"

typedef struct corpus {
    char *text;         /* the file's bytes (for cache keys) */
    size_t len;
    int *ids;           /* tok_encode's whole stream */
    const int *tokens;  /* ids without the stream's leading BOS */
    long n_tokens;
    int bos;            /* fed before each window: BOS, else EOS */
    long n_windows;     /* full windows of ctx within max_tokens (0 = all) */
} corpus;

/* tok_path NULL: the model's default tokenizer (HF: MODEL/tokenizer.json).
 * Errors (no tokenizer, unreadable or empty text, fewer tokens than one
 * window) fill e and leave *c empty. */
int corpus_load(corpus *c, const model *m, const char *tok_path, const char *text_path, int ctx,
                long max_tokens, mx_error *e);
void corpus_free(corpus *c);

#endif
