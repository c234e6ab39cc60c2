/* Tokenizers: llama2.c tokenizer.bin (SentencePiece-style BPE with byte
 * fallback) and Hugging Face tokenizer.json (byte-level BPE). */
#ifndef MXALLOC_TOK_H
#define MXALLOC_TOK_H

#include <stddef.h>

#include "kernels/err.h"

typedef struct tok tok;

/* Load a tokenizer: a llama2.c tokenizer.bin (vocab_size from the model;
 * <= 0 reads every token in the file; a larger file is read as a prefix, as
 * llama2.c does), or a tokenizer.json (byte-level BPE: GPT-2, SmolLM2,
 * Llama 3, Qwen2/3 layouts; see tok_hf.c for exactly what is accepted).
 * Returns NULL and fills e with one line naming the file on error.
 * A loaded tok is read-only: tok_encode may run from several threads at once. */
tok *tok_load_llama2c(const char *path, int vocab_size, mx_error *e);
tok *tok_load_hf(const char *path, mx_error *e);
void tok_free(tok *t);
/* The tokenizer a command uses: path when given (a name ending in ".json" is
 * a tokenizer.json, anything else a llama2.c tokenizer.bin of vocab_size),
 * else MODEL_PATH/tokenizer.json (a Hugging Face model directory). */
tok *tok_open(const char *path, const char *model_path, int vocab_size, mx_error *e);

int tok_vocab_size(const tok *t);
int tok_bos(const tok *t); /* -1 if the tokenizer has none */
int tok_eos(const tok *t); /* -1 if unknown */
/* The id fed before every evaluation/calibration window: BOS, else EOS (e.g.
 * Qwen: <|endoftext|> starts a document); -1 when the tokenizer has neither. */
int tok_window_bos(const tok *t);
/* Override BOS/EOS (e.g. from a model's config.json; tokenizer.json does not
 * name them: by default HF BOS is the first token the post-processor template
 * adds, EOS the template's last or the first of <|endoftext|>, <|end_of_text|>,
 * </s>, <eos> among the added tokens). -1 = none. ERR_ARG if out of range.
 * BOS here only changes tok_bos(); what tok_encode adds follows the file. */
int tok_set_special(tok *t, int bos, int eos);

/* Encode `len` bytes of text as one string. For llama2.c this is token-for-token
 * llama2.c's encode(text, bos=1, eos=0) but O(n log n) (like llama2.c's C
 * string, the text ends at its first NUL byte); for HF it is what the
 * `tokenizers` library gives with add_special_tokens (template tokens such as
 * a BOS added when the post-processor adds them). Text that is not valid UTF-8
 * is accepted: for HF each bad byte is a non-letter, non-digit character whose
 * byte is BPE-encoded as is (the library itself only takes valid UTF-8).
 * *out is malloc'd (also for 0 tokens); returns the count or a negative ERR_*
 * code (then *out is NULL). */
long tok_encode(const tok *t, const char *text, size_t len, int **out, mx_error *e);

/* The text of one token (for display); never NULL ("" for an id out of range).
 * llama2.c: the raw piece ("<0x0A>" for byte tokens). HF: the piece as bytes
 * (the byte-level alphabet decoded), e.g. " the" rather than "Ġthe". */
const char *tok_piece(const tok *t, int id);

/* The id whose piece is exactly these bytes, or -1. */
int tok_id(const tok *t, const char *piece, size_t len);

/* Decode ids to text bytes as the tokenizer's own decoder would (byte-level
 * alphabet undone; SentencePiece "▁" -> " " with the leading prefix space of
 * the first piece dropped; <0xNN> byte tokens -> the byte; control tokens
 * such as BOS/EOS give nothing). *out is malloc'd and NUL-terminated;
 * returns its length or a negative ERR_* code. */
long tok_decode(const tok *t, const int *ids, long n, char **out, mx_error *e);

/* A tokenizer vocabulary handed over by a model file (GGUF `tokenizer.ggml.*`
 * metadata), built without any tokenizer file. Strings are not NUL-terminated
 * (they point into a mapped file): each comes with its length. */
typedef struct tok_spec {
    const char *model;          /* "llama" (SentencePiece: scores) or "gpt2" (byte-level BPE: merges) */
    const char *pre;            /* tokenizer.ggml.pre (gpt2 split pattern: "llama-bpe", "qwen2", "smollm", ...), or NULL */
    int n_vocab;
    const char *const *tokens;  /* [n_vocab] */
    const size_t *token_lens;   /* [n_vocab] */
    const float *scores;        /* [n_vocab] or NULL */
    const int *types;           /* [n_vocab] llama.cpp token types (1 normal, 2 unknown, 3 control,
                                 * 4 user-defined, 5 unused, 6 byte) or NULL */
    int n_merges;               /* gpt2 */
    const char *const *merges;  /* "a b", [n_merges] */
    const size_t *merge_lens;
    int bos, eos, unk, pad;     /* -1 = none */
    int add_bos, add_eos;       /* 1/0, or -1 = the model kind's default (llama: BOS yes) */
    int add_space_prefix;       /* llama: 1/0, or -1 = default (1) */
} tok_spec;

/* Build a tokenizer from a spec; `file` names the source in messages.
 * NULL + one line in e when the spec is unsupported or inconsistent. */
tok *tok_from_spec(const tok_spec *s, const char *file, mx_error *e);

/* The tokenizer stored in a GGUF file's own metadata (src/tok_gguf.c). */
tok *tok_load_gguf(const char *path, mx_error *e);

#endif
