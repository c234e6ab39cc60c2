/* Backward pass of the decoder-only transformer (kernels/tf.h): one function
 * per operation on plain row-major arrays of n tokens, and (further below) the
 * whole-model backward over one window. Arithmetic only: no files, no printing.
 *
 * Conventions for every per-op function:
 *  - activations are [n][width] row-major, weights as in tf.h ([rows][cols]);
 *  - gradient outputs are ACCUMULATED (+=), like autograd's .grad, so a
 *    residual branch or a weight used twice (tied lm_head) just adds up;
 *    callers zero them first. A NULL gradient output is skipped (not computed).
 *  - results are deterministic: threading never changes the summation order. */
#ifndef MXALLOC_TF_BACKWARD_H
#define MXALLOC_TF_BACKWARD_H

#include <stddef.h>

#include "kernels/tf.h"

/* ---- per-op backward ------------------------------------------------------ */

/* Token embedding x[t] = emb[tok[t]]: d_emb[tok[t]] += dx[t]. */
void tf_bwd_embedding(const int *tok, int n, int dim, const float *dx, float *d_emb);

/* RMSNorm y = x * w / sqrt(mean(x^2) + eps) over rows of width d.
 * x is the norm's INPUT; dx += dL/dx, dw += dL/dw (either may be NULL). */
void tf_bwd_rmsnorm(const float *x, const float *w, const float *dy, int n, int d, float eps,
                    float *dx, float *dw);

/* Qwen3 per-head RMSNorm: the same norm over each head_dim slice of
 * x [n][n_heads * head_dim], with one shared weight w [head_dim]. */
void tf_bwd_head_rmsnorm(const float *x, const float *w, const float *dy, int n, int n_heads,
                         int head_dim, float eps, float *dx, float *dw);

/* Linear y = x W^T, x [n][cols], W [rows][cols], y [n][rows]:
 * dx += dy W and dw += dy^T x (cblas_sgemm). dx or dw NULL skips that GEMM
 * (the Fisher scorer needs only dw; the first linear of a chain only dw). */
void tf_bwd_linear(const float *x, const float *w, const float *dy, int n, int rows, int cols,
                   float *dx, float *dw);

/* Empirical-Fisher helper: acc[r][c] += scale * sum_t (dy[t][r] * x[t][c])^2,
 * i.e. the squared per-position contributions dy_t (x) x_t to dW, summed
 * without forming them: (dy∘dy)^T (x∘x), one GEMM on squared copies.
 * Returns 0 or ERR_NOMEM. */
int tf_bwd_linear_sq_tokens(const float *x, const float *dy, int n, int rows, int cols,
                             float scale, float *acc);

/* acc[i] += scale * g[i]^2 (square-and-accumulate a per-window gradient). */
void tf_bwd_sq_accum(const float *g, size_t len, float scale, float *acc);

/* RoPE backward: the forward rotated each pair of every head of
 * d [n][n_heads * head_dim] at position pos0 + t by angle
 * (pos0 + t) * theta^(-2i/head_dim) (in double, cos/sin rounded to float as
 * kernels/tf.c does); this applies the inverse rotation to the
 * gradient IN PLACE (the one exception to "accumulate"). style: tf_rope_style. */
void tf_bwd_rope(float *d, int n, int n_heads, int head_dim, int pos0, float theta, int style);
/* The forward rotation with the same angles (the backward's twin). In place. */
void tf_bwd_rope_forward(float *x, int n, int n_heads, int head_dim, int pos0, float theta,
                         int style);

/* Causal grouped-query attention, scale 1/sqrt(head_dim). q [n][n_heads*hd],
 * k, v [n][n_kv*hd] (after qk-norm and RoPE), dout [n][n_heads*hd]; query
 * head h reads kv head h / (n_heads / n_kv); query t sees keys 0..t.
 * att: the forward's softmax [n_heads][n][n] (row t holds columns 0..t, rest
 * 0; tf_layer_acts.att) or NULL to recompute it from q and k. Accumulates dq,
 * dk, dv (any may be NULL); dk/dv sum over the query heads sharing a kv head in
 * head order. Softmax entries and dS entries below 1e-30 are flushed to zero
 * (subnormals would slow BLAS many times over; their effect is nil). Splits
 * the query heads into n_threads tasks run on pool p (kernels/pool.h; NULL =
 * the calling thread); n_threads <= 0 is automatic: one task (each GEMM on
 * OpenBLAS's threads) when OpenBLAS is multi-threaded, else one per pool
 * thread -- BLAS called from several threads at once queues for its one pool.
 * The result does not depend on n_threads or p. Returns 0 or ERR_NOMEM
 * (kernels/err.h). */
int tf_bwd_attention(struct pool *p, const float *q, const float *k, const float *v,
                     const float *att, const float *dout, int n, int n_heads, int n_kv,
                     int head_dim, int n_threads, float *dq, float *dk, float *dv);

/* silu(g) = g * sigmoid(g) and SwiGLU h = silu(g) * u, elementwise over len:
 * dg += dh * u * silu'(g), du += dh * silu(g). */
void tf_bwd_swiglu(const float *g, const float *u, const float *dh, size_t len, float *dg,
                   float *du);

/* Cross-entropy from logits [n][vocab] against targets[n] (target < 0 =
 * ignored), loss = mean NLL over the counted targets. WRITES (not accumulates)
 * dlogits = scale * (softmax - onehot) / count, ignored rows zero; dlogits may
 * equal logits (in place). Probabilities below e^-64 of the row maximum and
 * gradient entries below 1e-30 are flushed to zero (see tf_bwd_attention).
 * Large inputs share rows between the threads of pool p (NULL = the calling
 * thread); per-row NLLs are summed in row order, so p changes no bit.
 * Returns the mean NLL (0 when nothing counted); *count (may be NULL) gets the
 * number of counted targets. */
double tf_bwd_cross_entropy(struct pool *p, const float *logits, const int *targets, int n,
                            int vocab, float scale, float *dlogits, int *count);

/* ---- whole-model backward -------------------------------------------------
 *
 * Gradient of scale * (mean next-token NLL of one window) with respect to the
 * weights, from the activations a tf_forward left in a tf_ctx:
 *     tf_forward(t, &w, tokens, n, 0);
 *     tf_grads_zero(&c, &g);
 *     tf_backward(bw, t, &w, tokens, targets, 1.0f, &g, &nll, NULL);
 * Each linear's gradient is with respect to the matrix the forward actually
 * used, w.layers[l].lin[k] -- with fake-quantized or mixed weights swapped in,
 * that is the gradient wrt the EFFECTIVE weight, which a straight-through
 * estimator applies to the latent weights unchanged.
 * Contexts made with TF_KEEP_ACTS are used as saved (softmax included); with
 * the shared scratch every block is recomputed by tf_block from its saved
 * input before its backward (about one extra forward, far less memory; any
 * number of backward passes may follow one forward, and afterwards the
 * scratch holds the lowest block reached).
 * Threads: GEMMs run on OpenBLAS's threads; attention as tf_bwd_attention's
 * automatic mode and cross-entropy rows, both on the threads of tf_ctx_pool(t). Results are bitwise
 * reproducible for a given OpenBLAS thread count (and build and CPU), and
 * equal between the TF_KEEP_ACTS and recompute paths (tests/test_tf_backward,
 * bench/bench_backward). Another OpenBLAS thread count may change the last
 * bits: OpenBLAS's threaded sgemm rounds differently. */

/* Called by the backward for each linear of a layer that sets it, with the
 * linear's input x [n][cols] and dy [n][rows] = d(scale * mean NLL)/d(its
 * output), on the calling thread, after this linear's lin and lin_sq terms are
 * added and before the layer below is reached. Returns
 * 0, or an error code that stops the backward. */
typedef int (*tf_lin_hook)(void *user, int kind, const float *x, const float *dy, int n);

typedef struct tf_layer_grads {
    float *attn_norm, *ffn_norm; /* [dim] */
    float *q_norm, *k_norm;      /* [head_dim], qk_norm models only */
    float *lin[TF_NLIN];         /* [rows][cols]: dL/dW of the effective weight */
    /* [rows][cols]: += sum over positions t of (dy_t x_t^T)^2, the squared
     * per-position terms of lin[k] (same scale: includes scale / count). */
    float *lin_sq[TF_NLIN];
    tf_lin_hook out_hook;        /* NULL: none (set by the caller, not allocated) */
    void *out_user;
} tf_layer_grads;

/* Every pointer may be NULL (not wanted; the work for it is skipped, and the
 * backward stops at the lowest layer anything is wanted from). Buffers are
 * ACCUMULATED into. Tied model: give lm_head and tok_emb the same buffer to
 * get the total gradient of the shared matrix. */
typedef struct tf_grads {
    float *tok_emb;          /* [vocab][dim] (needs tokens) */
    float *final_norm;       /* [dim] */
    float *lm_head;          /* [vocab][dim] */
    tf_layer_grads *layers;  /* [n_layers] or NULL */
    int n_layers;            /* length of layers (set by tf_grads_alloc) */
} tf_grads;

enum tf_grad_parts {
    TF_GRAD_LINEAR = 1,    /* layers[].lin */
    TF_GRAD_LINEAR_SQ = 2, /* layers[].lin_sq */
    TF_GRAD_NORMS = 4,     /* attn/ffn/final norms, q/k norms when cfg.qk_norm */
    TF_GRAD_EMBED = 8      /* tok_emb and lm_head (one buffer when tied) */
};

/* Allocate zeroed gradient buffers for the parts asked (enum tf_grad_parts).
 * Returns 0 or ERR_NOMEM (nothing left allocated). */
int tf_grads_alloc(const tf_config *c, int parts, int tied, tf_grads *g);
void tf_grads_zero(const tf_config *c, tf_grads *g);
/* Frees what tf_grads_alloc allocated (a shared tied buffer once). */
void tf_grads_free(tf_grads *g);

/* Backward workspace for windows of up to max_n tokens; NULL on a bad config
 * or out of memory. */
typedef struct tf_bwd tf_bwd;
tf_bwd *tf_bwd_create(const tf_config *c, int max_n);
void tf_bwd_free(tf_bwd *b);

/* Backpropagate scale * mean NLL of targets[0..n-1] (n = tf_ctx_n(t); target
 * < 0 is not counted) through the forward last run on t with weights w (the
 * same w). tokens: the forward's input ids (needed only for g->tok_emb).
 * Accumulates into g; *nll (may be NULL) gets the mean NLL, *count the number
 * of counted targets. No counted target: no gradient, *nll = 0.
 * Returns 0, ERR_ARG (a target >= vocab, shapes differ from b's, no forward
 * run), or ERR_NOMEM. */
int tf_backward(tf_bwd *b, tf_ctx *t, const tf_weights *w, const int *tokens, const int *targets,
                float scale, const tf_grads *g, double *nll, int *count);
/* The same backward from a given gradient of the logits instead of a
 * cross-entropy: dlogits [n][vocab] = dL/dlogits of any loss (e.g. a KL to a
 * teacher's distribution) for the forward last run on t with weights w.
 * Accumulates into g exactly as tf_backward (ask for layers[].lin alone to get
 * the linears' weight gradients only: nothing below is computed that no
 * wanted part needs). Returns 0, ERR_ARG (shapes differ from b's, no forward
 * run, g->tok_emb without tokens) or ERR_NOMEM. */
int tf_backward_logits(tf_bwd *b, tf_ctx *t, const tf_weights *w, const int *tokens,
                       const float *dlogits, const tf_grads *g);

#endif
