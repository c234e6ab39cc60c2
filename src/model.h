/* A loaded model: configuration, fp32 weights, and the table of quantizable
 * linear modules with their Hugging Face names, whatever the file format. */
#ifndef MXALLOC_MODEL_H
#define MXALLOC_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/tf.h"
#include "kernels/err.h"

#define MODEL_NAME_MAX 96

typedef enum model_arch { MODEL_ARCH_LLAMA = 0, MODEL_ARCH_QWEN3 } model_arch;
typedef enum model_file_kind {
    MODEL_FILE_LLAMA2C = 0, MODEL_FILE_HF, MODEL_FILE_GGUF
} model_file_kind;

typedef struct model_module {
    char name[MODEL_NAME_MAX]; /* e.g. "model.layers.3.mlp.down_proj" */
    int layer;                 /* transformer block index */
    int kind;                  /* enum tf_linear */
    int rows, cols;            /* weight is [rows][cols], blocks run along cols */
    int64_t params;
    float *w;                  /* the original fp32 weights (owned by the model) */
    char stored[12];           /* the type in the file they came from: "F32", "BF16", "Q4_K" ... */
} model_module;

typedef struct model {
    model_arch arch;
    model_file_kind file_kind;
    char path[4096];        /* what was opened (file or directory) */
    char arch_name[64];     /* "llama", "qwen3", "llama2.c" ... for display */
    tf_config cfg;
    tf_weights weights;     /* fp32 view; modules' w pointers are in layers[].lin */
    int n_modules;          /* n_layers * TF_NLIN, in layer-major HF order */
    model_module *modules;
    uint64_t content_hash;  /* xxh64 of the weight file bytes (cache keys) */
    int trained_ctx;        /* the file's context length (cfg.max_seq as loaded) */
    /* private: owned storage */
    void *priv;
} model;

/* Open a model: a llama2.c checkpoint (legacy or version 1), a Hugging Face
 * directory (config.json + safetensors), or a .gguf file; the kind is detected
 * from the path. Returns 0 or a negative ERR_* code with e->msg naming the file
 * (one line). On failure *m holds nothing to free.
 *
 * All weights are converted to fp32 in one 64-byte-aligned arena owned by m
 * (each tensor starts 64-byte aligned). q/k rows come in the order of
 * m->cfg.rope_style: llama2.c files load TF_ROPE_INTERLEAVED as stored; HF and
 * GGUF load TF_ROPE_HALF (GGUF llama's llama.cpp permutation is undone), so a
 * model loads to identical weights from safetensors and GGUF. llama2.c files
 * store no RoPE theta or norm eps: 10000 and 1e-5 are used. */
int model_load(const char *path, model *m, mx_error *e);
void model_free(model *m);

/* Let a run use windows of ctx tokens. A file's context (GGUF context_length,
 * HF max_position_embeddings, llama2.c seq_len) is the length the model was
 * trained at: a default, not a limit — the forward pass sizes its RoPE tables
 * and buffers by the window, and llama.cpp also runs past it (quality may
 * drop). Raises m->cfg.max_seq to ctx, so every later check accepts such
 * windows, and returns the trained context when ctx exceeds it (the caller
 * warns once), else 0. */
int model_extend_ctx(model *m, long ctx);

/* Index of a module by HF name, or -1. */
int model_find_module(const model *m, const char *name);
/* Short column label of a module kind: "q", "k", "v", "o", "gate", "up", "down". */
const char *model_kind_label(int kind);

/* Short name of a file kind: "llama2.c", "hf-safetensors", "gguf". */
const char *model_file_kind_name(model_file_kind k);

/* A fresh copy of the fp32 view (to swap module pointers in without touching m). */
int model_weights_copy(const model *m, tf_weights *out, mx_error *e);
void model_weights_free(tf_weights *w);

#endif
