/* Internal to the model loaders (src/model*.c, src/load_*.c): the shared
 * weight arena, dtype conversion and the tensor slot table. */
#ifndef MXALLOC_MODEL_PRIV_H
#define MXALLOC_MODEL_PRIV_H

#include "kernels/ggml_quant.h"
#include "src/file_map.h"
#include "src/model.h"

/* Source dtypes the loaders convert from: GGML type ids (kernels/ggml_quant.h),
 * which safetensors' F32/F16/BF16 share. */
enum { MDT_F32 = GQ_F32, MDT_F16 = GQ_F16, MDT_BF16 = GQ_BF16 };

/* Sanity limits on header values: far above any model this tool can hold in
 * memory, low enough that every product below stays in 64 bits. */
#define MODEL_MAX_DIM (1 << 20)
#define MODEL_MAX_LAYERS 4096
#define MODEL_MAX_HEADS 4096
#define MODEL_MAX_VOCAB (1 << 24)
#define MODEL_MAX_SEQ (1 << 24)

typedef struct model_priv {
    float *arena;
    size_t n_floats;
    int *lin_type;   /* [n_layers * TF_NLIN] stored dtype of each module, or NULL (all F32) */
} model_priv;

/* What a slot holds (MS_LIN + k for linear k). */
enum { MS_TOK = 0, MS_FINAL_NORM, MS_LM_HEAD, MS_ATTN_NORM, MS_FFN_NORM,
       MS_Q_NORM, MS_K_NORM, MS_LIN };

/* One weight tensor the model needs: its names, shape and arena place. */
typedef struct model_slot {
    char hf[MODEL_NAME_MAX + 16];   /* "model.layers.0.self_attn.q_proj.weight" */
    char gguf[MODEL_NAME_MAX];      /* "blk.0.attn_q.weight" */
    char l2c[32];                   /* llama2.c name for messages: "wq" */
    int what, layer;                /* MS_* and block index (-1 for globals) */
    int n_dims;                     /* 1 or 2 */
    int64_t rows, cols;             /* [rows][cols]; 1-D: rows = length, cols = 1 */
    int rope_heads;                 /* q/k: heads for the GGUF llama permutation, else 0 */
    uint64_t off;                   /* offset in floats inside the arena */
    float *dst;                     /* set by model_alloc_weights */
    int found;                      /* loader bookkeeping */
} model_slot;

/* Check a configuration's values (positive, within limits, consistent). */
int model_check_cfg(const tf_config *c, const char *file, mx_error *e);

/* The table of every tensor a model with config c needs (lm_head omitted
 * when tied), and the arena size in floats. Caller frees the table. */
model_slot *model_slots(const tf_config *c, int tied, int *n, uint64_t *n_floats, mx_error *e);

/* Allocate the fp32 arena, set each slot's dst and point m->weights into it. */
int model_alloc_weights(model *m, model_slot *s, int n, uint64_t n_floats, mx_error *e);

/* Convert (dequantize) n source elements of a supported dtype to fp32 at
 * dst; rejects NaN/Inf naming the tensor. */
int model_convert(float *dst, const uint8_t *src, uint64_t n, int dtype,
                  const char *file, const char *tensor, mx_error *e);
/* Bytes n elements of dtype take; 0 if unsupported or not whole blocks. */
uint64_t model_dtype_bytes(int dtype, uint64_t n);
const char *model_dtype_name(int dtype);
float model_f16_to_f32(uint16_t h);
float model_bf16_to_f32(uint16_t h);

/* Rows permutation between the two RoPE layouts within each head of a q/k
 * projection: interleaved row 2i+s <-> half row s*(hd/2)+i. The GGUF llama
 * converter applies half->interleaved. Return 0 or ERR_NOMEM. */
int model_rows_half_to_interleaved(float *w, int64_t rows, int64_t cols, int heads);
int model_rows_interleaved_to_half(float *w, int64_t rows, int64_t cols, int heads);

/* A tensor found in a file (safetensors or GGUF), before conversion. */
typedef struct model_src {
    char name[MODEL_NAME_MAX + 32];
    int dtype;              /* a GGML type id (MDT_* for safetensors), or -1 when unknown */
    char dtype_name[40];    /* as the file spells it, for messages: "I64", "IQ2_XXS (16)" */
    int n_dims;
    uint64_t dims[4];       /* row-major: outermost first ([rows, cols]) */
    const uint8_t *data;
    uint64_t nbytes;
    const char *file;       /* the file holding it, for messages */
    int skip;               /* set by the loader: known and deliberately unused */
    int used;
} model_src;

/* Per-layer sizes of a file whose layers differ (a pruned GGUF: llama.cpp's
 * deci, per-layer head counts and feed-forward lengths). m->cfg holds the
 * largest of each; a layer's linears are its own smaller matrices, loaded
 * into the full shape with zeros after the kept rows/columns: extra GQA groups
 * (zero q/k/v rows, zero o columns) and channels (zero gate/up rows, zero down
 * columns) compute nothing, so the model is the file's function. */
typedef struct model_layer_sizes {
    const int *n_heads, *n_kv_heads, *hidden; /* [n_layers] */
} model_layer_sizes;

/* Match every tensor m->cfg needs against t[] by HF or GGUF name, check
 * shapes and dtypes, reject unexpected tensors (biases explicitly), then
 * allocate and convert. unpermute_qk: GGUF llama q/k rows go back to the
 * HF rotate-half order. ls: per-layer sizes (NULL: every layer is m->cfg's).
 * `file` names the model in messages. */
int model_fill(model *m, int tied, model_src *t, int nt, int gguf_names, int unpermute_qk,
               const model_layer_sizes *ls, const char *file, mx_error *e);

/* Fill m->modules from m->weights. */
int model_build_modules(model *m, mx_error *e);

int model_load_llama2c(const char *path, model *m, mx_error *e);
int model_load_hf(const char *dir, model *m, mx_error *e);
int model_load_gguf(const char *path, model *m, mx_error *e);

#endif
