/* A tokenizer's vocabulary as GGUF stores it (`tokenizer.ggml.*`), for
 * writers of GGUF files: what llama.cpp's converters write for the same
 * tokenizer, so that llama.cpp tokenizes text as mxalloc does.
 *   llama2.c tokenizer.bin  -> model "llama": pieces (" " back to "▁"),
 *                              the file's scores, byte/control/unknown types
 *   SentencePiece-style tokenizer.json (BPE over "▁" pieces, byte fallback)
 *                           -> model "llama", scores = -(rank of the merge that
 *                              makes the piece) so that llama.cpp's score-ordered
 *                              merging replays the BPE merges in rank order
 *   byte-level tokenizer.json -> model "gpt2": vocabulary, merges, and the
 *                              pre-tokenizer name llama.cpp knows for its split
 * The HF kinds re-read the tokenizer.json (json_path) because the merges
 * are private to src/tok_hf.c. */
#ifndef MXALLOC_TOK_EXPORT_H
#define MXALLOC_TOK_EXPORT_H

#include <stddef.h>

#include "kernels/err.h"
#include "src/tok.h"

/* llama.cpp token types. */
enum { TOKX_NORMAL = 1, TOKX_UNKNOWN = 2, TOKX_CONTROL = 3, TOKX_USER = 4, TOKX_UNUSED = 5,
       TOKX_BYTE = 6 };

typedef struct tok_vocab {
    char model[8];      /* "llama" or "gpt2" */
    char pre[24];       /* tokenizer.ggml.pre */
    int n;
    char **tokens;      /* [n], NUL-terminated (a piece never holds a NUL) */
    float *scores;      /* [n] or NULL */
    int *types;         /* [n] */
    int n_merges;
    char **merges;      /* "a b", or NULL */
    int bos, eos, unk;  /* -1 = none */
    int add_bos, add_space_prefix; /* 1/0; add_space_prefix -1 = not written */
} tok_vocab;

/* Fill v from t (json_path: the tokenizer.json t was loaded from, for HF
 * tokenizers; ignored otherwise). ERR_FORMAT for a tokenizer kind with no
 * GGUF form here (tokenizer.model, a GGUF vocabulary: copy its metadata). */
int tok_export_vocab(const tok *t, const char *json_path, tok_vocab *v, mx_error *e);
void tok_vocab_free(tok_vocab *v);

#endif
