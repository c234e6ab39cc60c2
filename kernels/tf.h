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

/* ---- Batched forward pass ------------------------------------------------
 *
 * A window of n tokens (positions 0..n-1) is pushed through the model as
 * matrices: every linear is one GEMM Y[n][rows] = X[n][cols] W^T. fp32 storage
 * and fp32 GEMM accumulation; norms and the log-softmax accumulate in double.
 * GEMMs (the linears and each head's Q K^T and P V, causal row blocks) run on
 * the calling thread with OpenBLAS's own threads; the softmaxes of a group of
 * heads (as many as 64 MB of scores hold) and the log-sum-exps of tf_nll are
 * shared between the threads of the context's persistent pool (tf_ctx_pool),
 * started once, not per call. OpenBLAS is never entered from two of our threads
 * at once (its spinning workers would oversubscribe the cores), and results
 * do not depend on the thread count.
 *
 * Typical use:
 *     tf_ctx *t = tf_ctx_create(&cfg, ctx_len, 0);
 *     tf_forward(t, &w, tokens, n, 0);          // embed + all blocks + final norm
 *     double sum = tf_nll(t, &w, targets, NULL);  // or tf_logits(t, &w, 0, n, out)
 * Restarting from block l (e.g. only modules of layer >= l were swapped):
 *     tf_forward(t, &w2, NULL, n, l);  // reads tf_block_input(t, l), which the
 *                                      // previous call left there (or copy one in)
 */

/* Activations of one block for the current window, kept for a backward pass.
 * All matrices are row-major with one row per position (n rows; buffers are
 * sized for the context's max_n, rows >= n are stale). Let
 * QD = n_heads*head_dim, KD = n_kv_heads*head_dim, H = hidden_dim.
 * The block input x = tf_block_input(ctx, l) and output tf_block_input(ctx, l+1).
 *
 *   xn1 = rmsnorm(x) * attn_norm          [n][dim]   input of q, k, v
 *   r1  = 1/sqrt(mean(x^2) + eps)         [n]
 *   q_raw = xn1 Wq^T, k_raw = xn1 Wk^T    [n][QD], [n][KD]  (qk_norm only, else NULL)
 *   rq, rk: per-head inverse rms of q_raw/k_raw  [n][n_heads], [n][n_kv_heads] (qk_norm only)
 *   q = rope(qk_norm(q_raw)), k = rope(qk_norm(k_raw))   [n][QD], [n][KD]
 *   v = xn1 Wv^T                          [n][KD]
 *   att: softmax(q_h k_g^T / sqrt(head_dim)) causal, [n_heads][n][n] with row
 *        stride n (row i holds columns 0..i, the rest are 0); NULL unless
 *        TF_KEEP_ACTS (it is n_heads*n^2 floats per layer)
 *   ao = concat_h(att_h v_g)              [n][QD]    input of o_proj (head h at cols h*head_dim)
 *   h  = x + ao Wo^T                      [n][dim]   residual after attention
 *   xn2 = rmsnorm(h) * ffn_norm, r2       [n][dim], [n]   input of gate, up
 *   g = xn2 Wgate^T, u = xn2 Wup^T        [n][H]     pre-activations
 *   a = silu(g) * u                       [n][H]     input of down_proj
 *   out = h + a Wdown^T                   -> tf_block_input(ctx, l+1)
 * RoPE: angle = pos * theta^(-2i/head_dim) for pair i of a head, computed in
 * double; pairs per enum tf_rope_style. GQA: head h reads kv head
 * h / (n_heads / n_kv_heads). */
typedef struct tf_layer_acts {
    float *xn1, *r1;
    float *q_raw, *k_raw, *rq, *rk;
    float *q, *k, *v;
    float *att;
    float *ao, *h;
    float *xn2, *r2;
    float *g, *u, *a;
} tf_layer_acts;

enum tf_ctx_flags {
    TF_KEEP_ACTS = 1 /* one tf_layer_acts per layer, att included (else one shared scratch set) */
};

typedef struct tf_ctx tf_ctx;

/* Workspace for windows of up to max_n tokens; NULL on a bad config or out of
 * memory. Reuse it for every window. One context serves one thread at a time;
 * the weights are only read, so contexts in several threads may share them. */
tf_ctx *tf_ctx_create(const tf_config *c, int max_n, int flags);
void tf_ctx_free(tf_ctx *t);
/* 0 if the config is usable (positive sizes, n_heads % n_kv_heads == 0, even head_dim). */
int tf_config_check(const tf_config *c);
const tf_config *tf_ctx_config(const tf_ctx *t);
/* Threads for the softmax and NLL phases and tf_backward's attention and
 * cross-entropy (default: online cores, at most 8 and n_heads; 1 = the
 * calling thread only); returns the count in effect. Results are identical
 * for any count. */
int tf_ctx_set_threads(tf_ctx *t, int n);
int tf_ctx_threads(const tf_ctx *t);
/* The context's persistent threads (kernels/pool.h): tf_ctx_threads of them,
 * started on first use and stopped by tf_ctx_free (or remade by
 * tf_ctx_set_threads). NULL when the count is 1 (or out of memory): callers
 * then run serially. The context's owner may lend it to other kernels between
 * passes (e.g. mx_fake_quant_on); same one-thread-at-a-time rule as the ctx. */
struct pool *tf_ctx_pool(tf_ctx *t);
/* A linear layer computed by the caller: Y[n][rows] = X[n][cols] W^T (beta 0
 * overwrites Y, 1 adds into it), for linear `which` (enum tf_linear) of block
 * `layer`; w is the weights view's lin[which] (may be NULL when the hook holds
 * the weights itself, e.g. packed). Must compute what gemm_linear would on the
 * weights it stands for. */
typedef void (*tf_linear_fn)(void *user, int layer, int which, int n, int rows, int cols,
                             const float *x, const float *w, float beta, float *y);
/* Route every block linear of tf_forward/tf_block through fn (NULL: back to
 * gemm_linear on the view's weights). The embedding, lm_head and the backward
 * pass never use it. */
void tf_ctx_set_linear(tf_ctx *t, tf_linear_fn fn, void *user);
int tf_ctx_max_n(const tf_ctx *t);
/* Tokens of the last forward. */
int tf_ctx_n(const tf_ctx *t);

/* Residual stream entering block l, [max_n][dim] (first n rows valid):
 * l in 0..n_layers; l == n_layers is the output of the last block (before the
 * final norm). Writable: copy a saved state in, then tf_forward(.., from = l). */
float *tf_block_input(tf_ctx *t, int l);
/* Activations of block l (with TF_KEEP_ACTS; otherwise the shared scratch,
 * valid only for the last block run). */
const tf_layer_acts *tf_acts(const tf_ctx *t, int l);
/* Final-normed hidden state [n][dim] (input of lm_head) and the inverse rms [n]. */
const float *tf_final_hidden(const tf_ctx *t);
const float *tf_final_rms(const tf_ctx *t);

/* Embed tokens (from == 0 and tokens != NULL; ids must be in [0, vocab)) or
 * start at block `from` from the n rows already in tf_block_input(t, from)
 * (tokens ignored, may be NULL); run blocks from..n_layers-1 and the final
 * norm. Returns 0, or -1 on a bad n, from or token id. */
int tf_forward(tf_ctx *t, const tf_weights *w, const int *tokens, int n, int from);
/* The steps of tf_forward, for callers that stop early. tf_embed sets the
 * row count n that tf_block and tf_final_norm work on (tf_forward sets it too). */
int tf_embed(tf_ctx *t, const tf_weights *w, const int *tokens, int n);
void tf_block(tf_ctx *t, const tf_weights *w, int l); /* block l on the current n rows */
void tf_final_norm(tf_ctx *t, const tf_weights *w);

/* After tf_forward: logits of rows r0..r0+nr-1 (r0 + nr <= n) into out[nr][vocab]. */
void tf_logits(tf_ctx *t, const tf_weights *w, int r0, int nr, float *out);
/* After tf_forward: sum over rows i of -log softmax(logits_i)[targets[i]]
 * (targets[i] < 0 skips the row), computed in row chunks of the lm_head GEMM
 * with a stable log-sum-exp (expf of z - max <= 0, sum and log in double).
 * per_token[n] (optional) gets each row's NLL (0 when skipped). Returns -1.0
 * if a target is >= vocab. */
double tf_nll(tf_ctx *t, const tf_weights *w, const int *targets, double *per_token);

/* Row-wise helpers shared with the backward pass. */
/* y[i] = x[i] * w[i] * r for one row of length d; returns r = 1/sqrt(mean(x^2)+eps). */
float tf_rmsnorm_row(float *y, const float *x, const float *w, int d, float eps);
/* Rotate one head vector (head_dim) in place for position pos; cs holds
 * cos,sin pairs for i = 0..head_dim/2-1 at that position. */
void tf_rope_head(float *x, const float *cs, int head_dim, int style);

#endif
