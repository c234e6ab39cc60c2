/* The batched forward pass: embedding, blocks, final norm, lm_head and NLL. */
#include "kernels/tf_internal.h"

#include <math.h>
#include <string.h>

#include "kernels/gemm.h"
#include "kernels/vexp.h"

#define TF_NLL_MAX_THREADS 8
#define TF_NLL_MIN_PER_THREAD (1u << 17) /* logits per thread below which one thread does all */

int tf_embed(tf_ctx *t, const tf_weights *w, const int *tokens, int n)
{
    const tf_config *c = &t->c;
    if (n <= 0 || n > t->max_n || !tokens)
        return -1;
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= c->vocab_size)
            return -1;
    float *x = tf_block_input(t, 0);
    for (int i = 0; i < n; i++)
        memcpy(x + (size_t)i * c->dim, w->tok_emb + (size_t)tokens[i] * c->dim,
               sizeof(float) * (size_t)c->dim);
    t->n = n;
    return 0;
}

/* Per-head RMSNorm (Qwen3 q_norm / k_norm) of rows [n][heads*hd]. */
static void head_norm(float *dst, const float *src, float *rinv, const float *wn, int n,
                      int heads, int hd, float eps)
{
    for (int i = 0; i < n; i++)
        for (int h = 0; h < heads; h++) {
            size_t off = ((size_t)i * heads + h) * hd;
            rinv[(size_t)i * heads + h] = tf_rmsnorm_row(dst + off, src + off, wn, hd, eps);
        }
}

static void rope_rows(const tf_ctx *t, float *x, int n, int heads)
{
    int hd = t->c.head_dim;
    for (int i = 0; i < n; i++) {
        const float *cs = t->rope + (size_t)i * hd; /* hd/2 pairs of cos, sin */
        for (int h = 0; h < heads; h++)
            tf_rope_head(x + ((size_t)i * heads + h) * hd, cs, hd, t->c.rope_style);
    }
}

/* Linear `which` of block l: the context's hook when set, else the GEMM. */
static void block_linear(tf_ctx *t, const tf_layer_weights *lw, int l, int which, int n, int rows,
                         int cols, const float *x, float beta, float *y)
{
    if (t->linear)
        t->linear(t->linear_user, l, which, n, rows, cols, x, lw->lin[which], beta, y);
    else
        gemm_linear(n, rows, cols, x, lw->lin[which], beta, y);
}

void tf_block(tf_ctx *t, const tf_weights *w, int l)
{
    const tf_config *c = &t->c;
    const tf_layer_weights *lw = &w->layers[l];
    tf_layer_acts *A = &t->acts[t->n_acts > 1 ? l : 0];
    int n = t->n, d = c->dim, hdim = c->hidden_dim;
    int qd = c->n_heads * c->head_dim, kd = c->n_kv_heads * c->head_dim;
    const float *x = tf_block_input(t, l);
    float *out = tf_block_input(t, l + 1);

    for (int i = 0; i < n; i++)
        A->r1[i] = tf_rmsnorm_row(A->xn1 + (size_t)i * d, x + (size_t)i * d, lw->attn_norm, d,
                                  c->norm_eps);
    float *qdst = c->qk_norm ? A->q_raw : A->q;
    float *kdst = c->qk_norm ? A->k_raw : A->k;
    block_linear(t, lw, l, TF_Q, n, qd, d, A->xn1, 0.0f, qdst);
    block_linear(t, lw, l, TF_K, n, kd, d, A->xn1, 0.0f, kdst);
    block_linear(t, lw, l, TF_V, n, kd, d, A->xn1, 0.0f, A->v);
    if (c->qk_norm) {
        head_norm(A->q, A->q_raw, A->rq, lw->q_norm, n, c->n_heads, c->head_dim, c->norm_eps);
        head_norm(A->k, A->k_raw, A->rk, lw->k_norm, n, c->n_kv_heads, c->head_dim,
                  c->norm_eps);
    }
    rope_rows(t, A->q, n, c->n_heads);
    rope_rows(t, A->k, n, c->n_kv_heads);
    tf_attention(t, A);

    memcpy(A->h, x, sizeof(float) * (size_t)n * d);
    block_linear(t, lw, l, TF_O, n, d, qd, A->ao, 1.0f, A->h);

    for (int i = 0; i < n; i++)
        A->r2[i] = tf_rmsnorm_row(A->xn2 + (size_t)i * d, A->h + (size_t)i * d, lw->ffn_norm, d,
                                  c->norm_eps);
    block_linear(t, lw, l, TF_GATE, n, hdim, d, A->xn2, 0.0f, A->g);
    block_linear(t, lw, l, TF_UP, n, hdim, d, A->xn2, 0.0f, A->u);
    vexp_swiglu(A->a, A->g, A->u, (size_t)n * hdim);
    memcpy(out, A->h, sizeof(float) * (size_t)n * d);
    block_linear(t, lw, l, TF_DOWN, n, d, hdim, A->a, 1.0f, out);
}

void tf_final_norm(tf_ctx *t, const tf_weights *w)
{
    int d = t->c.dim;
    const float *x = tf_block_input(t, t->c.n_layers);
    for (int i = 0; i < t->n; i++)
        t->rf[i] = tf_rmsnorm_row(t->xf + (size_t)i * d, x + (size_t)i * d, w->final_norm, d,
                                  t->c.norm_eps);
}

int tf_forward(tf_ctx *t, const tf_weights *w, const int *tokens, int n, int from)
{
    if (n <= 0 || n > t->max_n || from < 0 || from > t->c.n_layers)
        return -1;
    if (from == 0 && tokens) {
        if (tf_embed(t, w, tokens, n))
            return -1;
    } else {
        t->n = n;
    }
    for (int l = from; l < t->c.n_layers; l++)
        tf_block(t, w, l);
    tf_final_norm(t, w);
    return 0;
}

void tf_logits(tf_ctx *t, const tf_weights *w, int r0, int nr, float *out)
{
    int d = t->c.dim;
    gemm_linear(nr, t->c.vocab_size, d, t->xf + (size_t)r0 * d, w->lm_head, 0.0f, out);
}

/* -log softmax(z)[target] for one row of V logits: stable log-sum-exp, exp
 * of z - max <= 0 (exact enough in float), sum and log in double. */
static double row_nll(const float *z, int V, int target)
{
    float mx = vexp_max(z, (size_t)V);
    return (double)mx + log(vexp_shift(NULL, z, (size_t)V, mx)) - (double)z[target];
}

typedef struct nll_job {
    const float *chunk;
    const int *targets; /* of the chunk's first row */
    double *out;        /* per row of the chunk */
    int nr, V;
} nll_job;

/* Task ith of nth: rows ith, ith + nth, ... of the chunk. */
static void nll_run(void *arg, int ith, int nth)
{
    nll_job *j = arg;
    for (int r = ith; r < j->nr; r += nth)
        j->out[r] = j->targets[r] < 0 ? 0.0 : row_nll(j->chunk + (size_t)r * j->V, j->V, j->targets[r]);
}

double tf_nll(tf_ctx *t, const tf_weights *w, const int *targets, double *per_token)
{
    int V = t->c.vocab_size;
    for (int i = 0; i < t->n; i++)
        if (targets[i] >= V)
            return -1.0;
    double rows[TF_NLL_MAX_CHUNK];
    double total = 0.0;
    int nt = t->nthreads < TF_NLL_MAX_THREADS ? t->nthreads : TF_NLL_MAX_THREADS;
    for (int r0 = 0; r0 < t->n; r0 += t->chunk_rows) {
        int nr = t->n - r0 < t->chunk_rows ? t->n - r0 : t->chunk_rows;
        tf_logits(t, w, r0, nr, t->chunk);
        /* rows are independent: threads only change who computes them */
        int use = nt < nr ? nt : nr;
        if ((size_t)nr * (size_t)V < TF_NLL_MIN_PER_THREAD * 2) /* not worth a thread */
            use = 1;
        nll_job job = {t->chunk, targets + r0, rows, nr, V};
        pool_run(use > 1 ? tf_ctx_pool(t) : NULL, use, nll_run, &job);
        for (int r = 0; r < nr; r++) { /* summed in row order: deterministic */
            if (per_token)
                per_token[r0 + r] = rows[r];
            total += rows[r];
        }
    }
    return total;
}
