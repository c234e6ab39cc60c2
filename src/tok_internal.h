/* Private pieces shared by the tokenizer sources (not a public header). */
#ifndef MXALLOC_TOK_INTERNAL_H
#define MXALLOC_TOK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/err.h"
#include "src/tok.h"

/* ---- string -> id hash table (open addressing over an external key store) ---- */
typedef struct tok_strmap {
    int32_t *ids;   /* slot -> id, -1 when empty */
    uint32_t *tags; /* slot -> low hash bits, to skip most key compares */
    size_t mask;
    const char *arena;   /* key bytes of id i: arena[off[i] .. off[i]+len[i]) */
    const uint32_t *off;
    const uint32_t *len;
} tok_strmap;

/* Build over ids 0..n-1 (except where skip[i], when skip != NULL). On duplicate
 * keys the lowest id wins. 0 or ERR_NOMEM. */
int tok_strmap_build(tok_strmap *m, const char *arena, const uint32_t *off, const uint32_t *len,
                     int n, const uint8_t *skip);
int tok_strmap_get(const tok_strmap *m, const char *s, size_t n); /* id or -1 */
void tok_strmap_free(tok_strmap *m);

/* ---- (a, b) id pair -> (rank, merged id), for HF merges ---- */
typedef struct tok_pairmap {
    uint64_t *keys; /* UINT64_MAX = empty */
    int32_t *rank;
    int32_t *merged;
    size_t mask, count;
} tok_pairmap;

int tok_pairmap_init(tok_pairmap *m, size_t expected);
/* Insert or overwrite (like the `tokenizers` library, the last merge listed
 * for a pair wins). 0 or ERR_NOMEM. */
int tok_pairmap_put(tok_pairmap *m, int a, int b, int rank, int merged);
/* Returns 1 and fills rank/merged when present. */
int tok_pairmap_get(const tok_pairmap *m, int a, int b, int *rank, int *merged);
void tok_pairmap_free(tok_pairmap *m);

/* ---- merge candidates: a min-heap on (key, pos) with lazy invalidation ----
 * pos is the original index of the pair's left token; surviving tokens keep
 * their relative order, so ordering by pos is ordering by place in the text. */
typedef struct tok_cand {
    float key;      /* lower is better: -score (llama2.c) or rank (HF) */
    int32_t pos;    /* left node */
    uint32_t vl, vr; /* versions of the left and right nodes when pushed */
    int32_t merged; /* id of the merged token */
} tok_cand;

typedef struct tok_heap {
    tok_cand *a;
    size_t n, cap;
} tok_heap;

/* The array a of *cap elements of elem bytes, doubled (first elements when
 * empty): the new array with *cap updated, or NULL (a and *cap unchanged). */
void *tok_grow(void *a, size_t *cap, size_t elem, size_t first);
int tok_heap_push(tok_heap *h, tok_cand c); /* 0 or ERR_NOMEM */
int tok_heap_pop(tok_heap *h, tok_cand *out); /* 1 if an element was popped */
void tok_heap_free(tok_heap *h);

/* Callback giving the candidate for (a, b): returns 1 and fills key/merged if mergeable. */
typedef int (*tok_pair_fn)(const void *ctx, int a, int b, float *key, int *merged);
/* Callback saying no merge can ever join a token ending like a with one
 * starting like b, so the two sides can be merged independently. */
typedef int (*tok_cut_fn)(const void *ctx, int a, int b);

/* Scratch space reused across segments. */
typedef struct tok_merge_ws {
    int32_t *prev, *next; /* next == -1 at the end; prev == -2 for a dead node */
    uint32_t *ver;        /* bumped whenever the node's token changes */
    size_t cap;
    tok_heap h;
} tok_merge_ws;

/* Repeatedly merge the best adjacent pair of ids[0..n) (lowest key, leftmost on
 * ties) until none is mergeable. Writes the result back into ids and returns
 * its count, or a negative ERR_* code. */
long tok_merge_seg(tok_merge_ws *w, int32_t *ids, long n, tok_pair_fn fn, const void *ctx,
                   mx_error *e);
void tok_merge_ws_free(tok_merge_ws *w);
/* The same over a whole text, cut (when cut != NULL) into independent segments
 * for cache locality; the result is identical to one tok_merge_seg call. */
long tok_merge_run(int32_t *ids, long n, tok_pair_fn fn, tok_cut_fn cut, const void *ctx,
                   mx_error *e);

/* ---- the tokenizer object ---- */
enum {
    TOK_KIND_LLAMA2C = 1, /* tokenizer.bin */
    TOK_KIND_HF = 2,      /* tokenizer.json (byte-level or SentencePiece-style BPE), GGUF gpt2 */
    TOK_KIND_SPM = 3,     /* GGUF llama: SentencePiece BPE by score, as llama.cpp (tok_spm.c) */
    TOK_KIND_SPM_MODEL = 4 /* tokenizer.model through libsentencepiece (tok_spm_model.cc) */
};

/* Per-id attributes (tok.attr). */
enum {
    TOK_A_CONTROL = 1, /* BOS/EOS/special added tokens: decode gives nothing */
    TOK_A_BYTE = 2,    /* a <0xNN> byte-fallback piece: decode gives the byte */
    TOK_A_SPECIAL = 4  /* matched in the raw text before the model (GGUF llama) */
};

struct tok_hf;  /* defined in tok_hf.c */
struct tok_spm; /* defined in tok_spm.c */
struct tok_spm_model; /* defined in tok_spm_model.cc */

struct tok {
    int kind;
    int n_vocab;
    char *arena;   /* NUL-terminated pieces, back to back */
    uint32_t *off; /* piece i at arena + off[i] */
    uint32_t *len;
    float *score;  /* llama2.c only */
    tok_strmap map;
    int bos, eos;
    uint32_t max_len; /* longest piece, in bytes */
    /* llama2.c: bit (x << 8 | y) set when some piece has byte x followed by y;
     * NULL when a piece is empty (then no cut is ever safe). */
    uint8_t *bigram;
    struct tok_hf *hf;
    struct tok_spm *spm;
    struct tok_spm_model *spm_model;
    /* For tok_decode: per-id TOK_A_* flags (NULL = none), the SentencePiece
     * space mark to turn back into ' ' (meta_len 0 = none), and whether one
     * leading space of the text is dropped (the encoder added it). */
    uint8_t *attr;
    char meta[8];
    size_t meta_len;
    int strip_lead;
};

/* An empty tokenizer of this TOK_KIND_*, or NULL with "FILE: out of memory". */
tok *tok_new(int kind, const char *file, mx_error *e);

/* The byte of a "<0xNN>" piece, or -1. */
int tok_byte_piece(const char *p, size_t n);

long tok_encode_llama2c(const tok *t, const char *text, size_t len, int **out, mx_error *e);
long tok_encode_hf(const tok *t, const char *text, size_t len, int **out, mx_error *e);
void tok_hf_free(struct tok_hf *h);
long tok_encode_spm(const tok *t, const char *text, size_t len, int **out, mx_error *e);
void tok_spm_free(struct tok_spm *s);

/* The thin C face of libsentencepiece (tok_spm_model.cc). */
tok *tok_load_spm_model(const char *path, mx_error *e);
long tok_encode_spm_model(const tok *t, const char *text, size_t len, int **out, mx_error *e);
long tok_decode_spm_model(const tok *t, const int *ids, long n, char **out, mx_error *e);
void tok_spm_model_free(struct tok_spm_model *m);

/* A tokenizer.json already parsed (jansson root), `name` for messages. */
struct json_t;
tok *tok_hf_from_json(struct json_t *root, const char *name, mx_error *e);

#endif
