/* Test models: tiny seeded-random weights built in memory, written in every
 * format model_load reads (llama2.c legacy/v1, Hugging Face safetensors
 * directories, GGUF), plus a converter and a tiny tokenizer.json writer.
 * For tests only (linked into test programs, not into mxalloc).
 *
 * Typical use:
 *     tm_model t;
 *     tm_make(&t, TM_SMOLLM, 42);                 // deterministic for a seed
 *     tm_write_hf(&t, "/tmp/x/smol", TM_F32, 1, &e);
 *     model m; model_load("/tmp/x/smol", &m, &e); // same weights as t
 *     tm_free(&t);
 * Weights round-trip exactly in F32; for F16/BF16 call tm_round(&t, dt) first
 * and the loaded weights equal t's exactly.
 *
 * RoPE layout: t.cfg.rope_style says in which row order t's q/k weights are
 * (llama2.c: TF_ROPE_INTERLEAVED; HF/GGUF loads: TF_ROPE_HALF). Every writer
 * converts to the order its format uses, so one model written in several
 * formats computes the same function. Loading returns: llama2.c -> interleaved,
 * HF -> half, GGUF llama -> half (llama.cpp's permutation undone), GGUF qwen3
 * -> half. tm_set_rope_style() permutes t's rows to compare across formats. */
#ifndef MXALLOC_TESTMODEL_H
#define MXALLOC_TESTMODEL_H

#include <stdint.h>

#include "kernels/ggml_quant.h"
#include "kernels/tf.h"
#include "kernels/err.h"
#include "src/model.h"

typedef enum tm_dtype { TM_F32 = 0, TM_F16, TM_BF16 } tm_dtype;

typedef enum tm_preset {
    /* llama2.c-shaped: dim 32, hidden 96, 2 layers, 4 heads / 2 kv heads
     * (head_dim 8), vocab 96, max_seq 64, tied, interleaved RoPE, theta 1e4, eps 1e-5 */
    TM_LLAMA2C = 0,
    /* SmolLM2-shaped Llama: dim 64, hidden 128, 2 layers, 4 heads / 2 kv heads
     * (head_dim 16), vocab 128, max_seq 128, tied, half RoPE, theta 1e5, eps 1e-5 */
    TM_SMOLLM,
    /* Qwen3-shaped: dim 32, hidden 64, 2 layers, 4 heads / 2 kv heads with
     * head_dim 16 (!= dim/heads), q/k norms, vocab 96, max_seq 128, untied,
     * half RoPE, theta 1e6, eps 1e-6 */
    TM_QWEN3
} tm_preset;

typedef struct tm_layer {
    float *attn_norm, *ffn_norm; /* [dim] */
    float *q_norm, *k_norm;      /* [head_dim], NULL unless cfg.qk_norm */
    float *lin[TF_NLIN];         /* [rows][cols] as tf_linear_shape / model_module */
} tm_layer;

/* HF writer, tied models: the name(s) the shared matrix is saved under
 * (transformers keeps whichever its state dict had). */
enum { TM_TIED_EMBED = 0, TM_TIED_LM_HEAD, TM_TIED_BOTH };

typedef struct tm_model {
    model_arch arch;
    tf_config cfg;
    int tied;           /* lm_head shares tok_emb */
    int hf_tied_names;  /* TM_TIED_*, default (0) embed_tokens only */
    float *tok_emb;     /* [vocab][dim] */
    float *final_norm;  /* [dim] */
    float *lm_head;     /* [vocab][dim]; == tok_emb when tied */
    tm_layer *layers;   /* [n_layers] */
} tm_model;

/* A preset shape with seeded-random weights (linear ~ U(-1,1)/sqrt(cols),
 * embeddings ~ U(-1,1), norms ~ 1 + U(-0.2,0.2)). Returns 0 or ERR_NOMEM. */
int tm_make(tm_model *t, tm_preset p, uint64_t seed);
/* Any shape: arch MODEL_ARCH_LLAMA or _QWEN3 (qwen3 forces qk_norm = 1). */
int tm_random(tm_model *t, model_arch arch, const tf_config *c, int tied, uint64_t seed);
/* A deep copy of a loaded model (its rope_style and tying kept). */
int tm_from_model(tm_model *t, const model *m);
void tm_free(tm_model *t);

/* Round every weight to dt in place (round-to-nearest-even), so that writing
 * in dt and loading gives back exactly t's values. */
void tm_round(tm_model *t, tm_dtype dt);
/* Permute t's q/k rows to RoPE layout `style` (enum tf_rope_style). */
int tm_set_rope_style(tm_model *t, int style);
/* A tf_weights view of t; free with model_weights_free(). */
int tm_weights(const tm_model *t, tf_weights *w);

/* Writers. Errors go to e (may be NULL); return 0 or a negative ERR_*.
 * llama2.c: version 0 (legacy) or 1; needs arch llama, head_dim == dim/heads;
 * an untied model is written with an unshared classifier. The format stores no
 * RoPE theta or norm eps: it loads back with 10000 and 1e-5. */
int tm_write_llama2c(const tm_model *t, const char *path, int version, mx_error *e);
/* HF directory (created if missing): config.json and model.safetensors, or,
 * with n_shards > 1, model-0000i-of-0000n.safetensors + index.json. */
int tm_write_hf(const tm_model *t, const char *dir, tm_dtype dt, int n_shards, mx_error *e);
/* GGUF v3 (dt F32/F16/BF16 for matrices; 1-D norms stay F32 like llama.cpp).
 * llama arch: q/k rows in llama.cpp's permuted (interleaved) order. */
int tm_write_gguf(const tm_model *t, const char *path, tm_dtype dt, mx_error *e);

/* A tokenizer for a GGUF file's `tokenizer.ggml.*` keys. Optional parts:
 * NULL / -1 omit the key. */
typedef struct tm_gguf_vocab {
    const char *model;          /* "llama", "gpt2" (or anything, to test refusals) */
    const char *pre;
    int n;
    const char *const *tokens;  /* [n], NUL-terminated */
    const float *scores;        /* [n] */
    const int *types;           /* [n] */
    int n_merges;
    const char *const *merges;  /* "a b" */
    int bos, eos, unk, pad;
    int add_bos, add_eos, add_space_prefix;
} tm_gguf_vocab;

typedef struct tm_gguf_opts {
    int type;                   /* GGML type of 2-D weights (GQ_* of kernels/ggml_quant.h) */
    int version;                /* 2 or 3; 0 = 3 */
    const tm_gguf_vocab *vocab; /* NULL: placeholder tokens "<tN>" */
} tm_gguf_opts;
/* GGUF with every 2-D weight (linears, embedding, untied output) stored as
 * o->type: F32/F16/BF16 as is, block types through a simple test quantizer
 * (valid blocks, not llama.cpp's choices) — then t's weights are replaced by
 * exactly what the file decodes to, so loading gives back t. Rows must be
 * whole blocks (32, or 256 for the K-quants). */
int tm_write_gguf_opts(tm_model *t, const char *path, const tm_gguf_opts *o, mx_error *e);

typedef enum tm_format { TM_FMT_LLAMA2C = 0, TM_FMT_LLAMA2C_V1, TM_FMT_HF, TM_FMT_GGUF } tm_format;
/* Load `src` with model_load and write it to `dst` in `fmt` (dt ignored for llama2.c). */
int tm_convert(const char *src, const char *dst, tm_format fmt, tm_dtype dt, mx_error *e);

/* Byte-level BPE tokenizer.json (GPT-2 style): ids 0..255 are the 256 bytes in
 * GPT-2 byte-to-unicode order (id = byte value), then one token per merge
 * (ids 256.., merges[i] = {left, right} as raw byte strings whose
 * concatenation must not be a token already), then the added special token
 * "<|endoftext|>". Vocabulary size = 256 + n_merges + 1. */
int tm_write_bpe_tokenizer(const char *path, const char *const (*merges)[2], int n_merges,
                           mx_error *e);
/* A byte string as GPT-2 byte-level text (UTF-8, each byte one code point of
 * bytes_to_unicode), NUL-terminated in out[n]. */
void tm_byte_level(const char *raw, char *out, size_t n);

/* Recursively delete a directory or file made by a test (no-op if absent). */
void tm_rmtree(const char *path);
/* A fresh temporary directory in buf: mkdtemp under $TMPDIR, else /dev/shm
 * when writable, else /tmp. Remove it with tm_rmtree. */
int tm_tmpdir(char *buf, size_t n);

/* One temporary directory for a whole cmocka test program: pass these as the
 * group setup and teardown; tm_dir holds its path meanwhile, and
 * tm_path(buf, n, name) puts tm_dir/name in buf. */
extern char tm_dir[4096];
int tm_dir_setup(void **state);
int tm_dir_teardown(void **state);
void tm_path(char *buf, size_t n, const char *name);

#endif
