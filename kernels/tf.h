/* Decoder-only transformer (Llama / Qwen3 family): shapes, weights view, and
 * the batched forward pass. Arithmetic only: no files, no printing. */
#ifndef MXALLOC_TF_H
#define MXALLOC_TF_H

#include <stddef.h>

/* The quantizable linear modules of one block, in HF order. */
enum tf_linear {
    TF_Q = 0, TF_K, TF_V, TF_O, TF_GATE, TF_UP, TF_DOWN, TF_NLIN
};

enum tf_rope_style {
    TF_ROPE_INTERLEAVED = 0, /* llama2.c / GGUF llama: rotate pairs (x[2i], x[2i+1]) */
    TF_ROPE_HALF = 1         /* HF rotate_half: rotate (x[i], x[i + head_dim/2]) */
};

typedef struct tf_config {
    int dim;          /* hidden size */
    int hidden_dim;   /* MLP intermediate size */
    int n_layers;
    int n_heads;
    int n_kv_heads;
    int head_dim;     /* per-head size (n_heads * head_dim may differ from dim: Qwen3) */
    int vocab_size;
    int max_seq;      /* maximum context the model supports */
    float rope_theta;
    float norm_eps;
    int rope_style;   /* enum tf_rope_style */
    int qk_norm;      /* Qwen3: RMSNorm over each q/k head before RoPE */
} tf_config;

/* Output rows and input columns of linear `which` (weights are [rows][cols], y = W x). */
void tf_linear_shape(const tf_config *c, int which, int *rows, int *cols);

typedef struct tf_layer_weights {
    const float *attn_norm;  /* [dim] */
    const float *ffn_norm;   /* [dim] */
    const float *q_norm;     /* [head_dim], Qwen3 only */
    const float *k_norm;     /* [head_dim], Qwen3 only */
    const float *lin[TF_NLIN];
} tf_layer_weights;

/* A view of every weight the forward pass reads. Swapping a module for its
 * fake-quantized copy is one pointer store in layers[l].lin[k]. */
typedef struct tf_weights {
    const float *tok_emb;     /* [vocab][dim] */
    const float *final_norm;  /* [dim] */
    const float *lm_head;     /* [vocab][dim]; may equal tok_emb (tied) */
    tf_layer_weights *layers; /* [n_layers] */
} tf_weights;

#endif
