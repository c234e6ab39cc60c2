/* Tokenizers: llama2.c tokenizer.bin (SentencePiece-style BPE with byte
 * fallback) and Hugging Face tokenizer.json (byte-level BPE). */
#ifndef MXALLOC_TOK_H
#define MXALLOC_TOK_H

#include <stddef.h>

#include "src/err.h"

typedef struct tok tok;

/* Load a tokenizer: a llama2.c tokenizer.bin (vocab_size from the model), or
 * a tokenizer.json. Returns NULL and fills e on error. */
tok *tok_load_llama2c(const char *path, int vocab_size, mx_error *e);
tok *tok_load_hf(const char *path, mx_error *e);
void tok_free(tok *t);

int tok_vocab_size(const tok *t);
int tok_bos(const tok *t); /* -1 if the tokenizer has none */
int tok_eos(const tok *t);

/* Encode `len` bytes of text as one string. For llama2.c this is token-for-token
 * llama2.c's encode(text, bos=1, eos=0) but O(n log n); for HF it is what the
 * `tokenizers` library gives (BOS prepended when the tokenizer's post-processor
 * adds one). *out is malloc'd; returns the count or a negative ERR_* code. */
long tok_encode(const tok *t, const char *text, size_t len, int **out, mx_error *e);

/* The text of one token (for display); never NULL. */
const char *tok_piece(const tok *t, int id);

#endif
