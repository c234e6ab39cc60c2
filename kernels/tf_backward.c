/* Whole-model backward over one window, built from the per-op backward
 * functions and the activations the forward saved (kernels/tf.h). */
#include "kernels/tf_backward.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/err.h"

#define LOGIT_ROWS 256 /* rows of logits materialized at once (lm_head is packed once per chunk) */

struct tf_bwd {
    tf_config c;
    int max_n, chunk_rows;
    float *dres;          /* [max_n][dim] residual-stream gradient */
    float *dxn;           /* [max_n][dim] gradient of a normed input */
    float *da, *dg, *du;  /* [max_n][hidden] */
    float *dao, *dq, *dq_raw; /* [max_n][n_heads*head_dim] */
    float *dk, *dv, *dk_raw;  /* [max_n][n_kv*head_dim] */
    float *logits;        /* [chunk_rows][vocab], made by the first tf_backward */
};

static float *fzalloc(size_t count) { return calloc(count ? count : 1, sizeof(float)); }

void tf_bwd_free(tf_bwd *b)
{
    if (!b)
        return;
    float *p[] = {b->dres, b->dxn, b->da, b->dg, b->du, b->dao, b->dq, b->dq_raw,
                  b->dk, b->dv, b->dk_raw, b->logits};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
        free(p[i]);
    free(b);
}

tf_bwd *tf_bwd_create(const tf_config *c, int max_n)
{
    if (tf_config_check(c) || max_n <= 0)
        return NULL;
    tf_bwd *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->c = *c;
    b->max_n = max_n;
    b->chunk_rows = max_n < LOGIT_ROWS ? max_n : LOGIT_ROWS;
    size_t n = (size_t)max_n, d = c->dim, h = c->hidden_dim;
    size_t qd = (size_t)c->n_heads * c->head_dim, kd = (size_t)c->n_kv_heads * c->head_dim;
    b->dres = fzalloc(n * d);
    b->dxn = fzalloc(n * d);
    b->da = fzalloc(n * h);
    b->dg = fzalloc(n * h);
    b->du = fzalloc(n * h);
    b->dao = fzalloc(n * qd);
    b->dq = fzalloc(n * qd);
    b->dq_raw = fzalloc(n * qd);
    b->dk = fzalloc(n * kd);
    b->dv = fzalloc(n * kd);
    b->dk_raw = fzalloc(n * kd);
    if (!b->dres || !b->dxn || !b->da || !b->dg || !b->du || !b->dao || !b->dq || !b->dq_raw ||
        !b->dk || !b->dv || !b->dk_raw) {
        tf_bwd_free(b);
        return NULL;
    }
    return b;
}

/* ---- gradient buffers ------------------------------------------------------- */

static size_t lin_size(const tf_config *c, int k)
{
    int r, cc;
    tf_linear_shape(c, k, &r, &cc);
    return (size_t)r * cc;
}

void tf_grads_free(tf_grads *g)
{
    if (!g)
        return;
    if (g->lm_head != g->tok_emb)
        free(g->lm_head);
    free(g->tok_emb);
    free(g->final_norm);
    for (int l = 0; g->layers && l < g->n_layers; l++) {
        tf_layer_grads *lg = &g->layers[l];
        free(lg->attn_norm);
        free(lg->ffn_norm);
        free(lg->q_norm);
        free(lg->k_norm);
        for (int k = 0; k < TF_NLIN; k++) {
            free(lg->lin[k]);
            free(lg->lin_sq[k]);
        }
    }
    free(g->layers);
    memset(g, 0, sizeof *g);
}

int tf_grads_alloc(const tf_config *c, int parts, int tied, tf_grads *g)
{
    memset(g, 0, sizeof *g);
    size_t d = c->dim, ve = (size_t)c->vocab_size * d;
    int bad = 0;
    if (parts & TF_GRAD_EMBED) {
        g->tok_emb = fzalloc(ve);
        g->lm_head = tied ? g->tok_emb : fzalloc(ve);
        bad |= !g->tok_emb || !g->lm_head;
    }
    if (parts & TF_GRAD_NORMS)
        bad |= !(g->final_norm = fzalloc(d));
    if (parts & (TF_GRAD_LINEAR | TF_GRAD_LINEAR_SQ | TF_GRAD_NORMS)) {
        g->layers = calloc((size_t)c->n_layers, sizeof *g->layers);
        if (!g->layers) {
            tf_grads_free(g);
            return ERR_NOMEM;
        }
        g->n_layers = c->n_layers;
        for (int l = 0; l < c->n_layers; l++) {
            tf_layer_grads *lg = &g->layers[l];
            for (int k = 0; k < TF_NLIN; k++) {
                if (parts & TF_GRAD_LINEAR)
                    bad |= !(lg->lin[k] = fzalloc(lin_size(c, k)));
                if (parts & TF_GRAD_LINEAR_SQ)
                    bad |= !(lg->lin_sq[k] = fzalloc(lin_size(c, k)));
            }
            if (parts & TF_GRAD_NORMS) {
                bad |= !(lg->attn_norm = fzalloc(d));
                bad |= !(lg->ffn_norm = fzalloc(d));
                if (c->qk_norm) {
                    bad |= !(lg->q_norm = fzalloc(c->head_dim));
                    bad |= !(lg->k_norm = fzalloc(c->head_dim));
                }
            }
        }
    }
    if (bad) {
        tf_grads_free(g);
        return ERR_NOMEM;
    }
    return 0;
}

static void zero(float *p, size_t len)
{
    if (p)
        memset(p, 0, len * sizeof *p);
}

void tf_grads_zero(const tf_config *c, tf_grads *g)
{
    size_t d = c->dim, ve = (size_t)c->vocab_size * d;
    zero(g->tok_emb, ve);
    zero(g->lm_head, ve);
    zero(g->final_norm, d);
    for (int l = 0; g->layers && l < c->n_layers; l++) {
        tf_layer_grads *lg = &g->layers[l];
        zero(lg->attn_norm, d);
        zero(lg->ffn_norm, d);
        zero(lg->q_norm, c->head_dim);
        zero(lg->k_norm, c->head_dim);
        for (int k = 0; k < TF_NLIN; k++) {
            zero(lg->lin[k], lin_size(c, k));
            zero(lg->lin_sq[k], lin_size(c, k));
        }
    }
}

/* ---- the backward ------------------------------------------------------------ */

static int layer_wants(const tf_grads *g, int l)
{
    if (!g->layers)
        return 0;
    const tf_layer_grads *lg = &g->layers[l];
    if (lg->attn_norm || lg->ffn_norm || lg->q_norm || lg->k_norm || lg->out_hook)
        return 1;
    for (int k = 0; k < TF_NLIN; k++)
        if (lg->lin[k] || lg->lin_sq[k])
            return 1;
    return 0;
}

/* Linear backward plus the optional per-position squared terms. */
static int linear_bwd(const tf_config *c, int kind, const float *x, const float *w,
                      const float *dy, int n, float *dx, const tf_layer_grads *lg)
{
    int rows, cols;
    tf_linear_shape(c, kind, &rows, &cols);
    tf_bwd_linear(x, w, dy, n, rows, cols, dx, lg ? lg->lin[kind] : NULL);
    int rc = lg && lg->lin_sq[kind] ? tf_bwd_linear_sq_tokens(x, dy, n, rows, cols, 1.0f, lg->lin_sq[kind]) : 0;
    return !rc && lg && lg->out_hook ? lg->out_hook(lg->out_user, kind, x, dy, n) : rc;
}

/* Backward through block l: b->dres holds dL/d(block output) on entry and
 * dL/d(block input) on return (when need_dx). */
static int block_bwd(tf_bwd *b, tf_ctx *t, const tf_weights *w, int l, int n, int need_dx,
                     const tf_grads *g)
{
    const tf_config *c = &b->c;
    const tf_layer_weights *lw = &w->layers[l];
    const tf_layer_acts *A = tf_acts(t, l);
    const tf_layer_grads *lg = g->layers ? &g->layers[l] : NULL;
    int d = c->dim, hid = c->hidden_dim, H = c->n_heads, KV = c->n_kv_heads, hd = c->head_dim;
    size_t nd = (size_t)n * d, nh = (size_t)n * hid;
    size_t nq = (size_t)n * H * hd, nk = (size_t)n * KV * hd;
    int rc;

    /* out = h + a Wdown^T, a = silu(g) * u, g/u = xn2 Wgate/up^T */
    zero(b->da, nh);
    if ((rc = linear_bwd(c, TF_DOWN, A->a, lw->lin[TF_DOWN], b->dres, n, b->da, lg)))
        return rc;
    zero(b->dg, nh);
    zero(b->du, nh);
    tf_bwd_swiglu(A->g, A->u, b->da, nh, b->dg, b->du);
    zero(b->dxn, nd);
    if ((rc = linear_bwd(c, TF_GATE, A->xn2, lw->lin[TF_GATE], b->dg, n, b->dxn, lg)) ||
        (rc = linear_bwd(c, TF_UP, A->xn2, lw->lin[TF_UP], b->du, n, b->dxn, lg)))
        return rc;
    /* xn2 = rmsnorm(h): dres becomes dL/dh (residual + norm path) */
    tf_bwd_rmsnorm(A->h, lw->ffn_norm, b->dxn, n, d, c->norm_eps, b->dres,
                   lg ? lg->ffn_norm : NULL);

    /* h = x + ao Wo^T, ao = attention(q, k, v) */
    zero(b->dao, nq);
    if ((rc = linear_bwd(c, TF_O, A->ao, lw->lin[TF_O], b->dres, n, b->dao, lg)))
        return rc;
    zero(b->dq, nq);
    zero(b->dk, nk);
    zero(b->dv, nk);
    if ((rc = tf_bwd_attention(tf_ctx_pool(t), A->q, A->k, A->v, A->att, b->dao, n, H, KV, hd, 0,
                               b->dq, b->dk, b->dv)))
        return rc;
    /* q = rope(qk_norm(q_raw)) */
    tf_bwd_rope(b->dq, n, H, hd, 0, c->rope_theta, c->rope_style);
    tf_bwd_rope(b->dk, n, KV, hd, 0, c->rope_theta, c->rope_style);
    const float *dq_raw = b->dq, *dk_raw = b->dk;
    if (c->qk_norm) {
        zero(b->dq_raw, nq);
        zero(b->dk_raw, nk);
        tf_bwd_head_rmsnorm(A->q_raw, lw->q_norm, b->dq, n, H, hd, c->norm_eps, b->dq_raw,
                            lg ? lg->q_norm : NULL);
        tf_bwd_head_rmsnorm(A->k_raw, lw->k_norm, b->dk, n, KV, hd, c->norm_eps, b->dk_raw,
                            lg ? lg->k_norm : NULL);
        dq_raw = b->dq_raw;
        dk_raw = b->dk_raw;
    }
    /* q_raw, k_raw, v = xn1 W^T; xn1 = rmsnorm(x). dL/dxn1 is needed for the
     * block input's gradient and for attn_norm's. */
    float *dw = lg ? lg->attn_norm : NULL;
    float *dxn = need_dx || dw ? b->dxn : NULL;
    zero(dxn, nd);
    if ((rc = linear_bwd(c, TF_Q, A->xn1, lw->lin[TF_Q], dq_raw, n, dxn, lg)) ||
        (rc = linear_bwd(c, TF_K, A->xn1, lw->lin[TF_K], dk_raw, n, dxn, lg)) ||
        (rc = linear_bwd(c, TF_V, A->xn1, lw->lin[TF_V], b->dv, n, dxn, lg)))
        return rc;
    if (dxn)
        tf_bwd_rmsnorm(tf_block_input(t, l), lw->attn_norm, dxn, n, d, c->norm_eps,
                       need_dx ? b->dres : NULL, dw);
    return 0;
}

/* Lowest layer anything is wanted from (embedding: all of them; L: none). */
static int lowest_wanted(const tf_grads *g, int L)
{
    if (g->tok_emb)
        return 0;
    for (int l = 0; l < L; l++)
        if (layer_wants(g, l))
            return l;
    return L;
}

/* From dL/dxf (in b->dxn) down through the final norm, the blocks stop..L-1
 * and the embedding: the part both entry points share. */
static int backward_from_final(tf_bwd *b, tf_ctx *t, const tf_weights *w, const int *tokens,
                               int stop, const tf_grads *g)
{
    const tf_config *c = &b->c;
    int n = tf_ctx_n(t), d = c->dim, L = c->n_layers;
    /* final norm */
    zero(b->dres, (size_t)n * d);
    tf_bwd_rmsnorm(tf_block_input(t, L), w->final_norm, b->dxn, n, d, c->norm_eps,
                   stop < L ? b->dres : NULL, g->final_norm);

    /* With TF_KEEP_ACTS every layer has its own activations; otherwise one
     * shared set, holding whichever block ran last (after a previous backward:
     * a low one), so every block is recomputed from its saved input first. */
    int kept = L > 1 && tf_acts(t, 0) != tf_acts(t, 1);
    for (int l = L - 1; l >= stop; l--) {
        if (!kept)
            tf_block(t, w, l);
        int rc = block_bwd(b, t, w, l, n, l > stop || g->tok_emb, g);
        if (rc)
            return rc;
    }
    if (g->tok_emb)
        tf_bwd_embedding(tokens, n, d, b->dres, g->tok_emb);
    return 0;
}

int tf_backward(tf_bwd *b, tf_ctx *t, const tf_weights *w, const int *tokens, const int *targets,
                float scale, const tf_grads *g, double *nll, int *count)
{
    const tf_config *c = &b->c, *tc = tf_ctx_config(t);
    int n = tf_ctx_n(t), V = c->vocab_size, d = c->dim, L = c->n_layers;
    if (nll)
        *nll = 0.0;
    if (count)
        *count = 0;
    if (memcmp(c, tc, sizeof *c) != 0 || n <= 0 || n > b->max_n)
        return ERR_ARG;
    if (g->tok_emb && !tokens)
        return ERR_ARG;
    int cnt = 0;
    for (int i = 0; i < n; i++) {
        if (targets[i] >= V)
            return ERR_ARG;
        cnt += targets[i] >= 0;
    }
    if (count)
        *count = cnt;
    if (cnt == 0)
        return 0;
    /* Only this entry point needs logits rows (tf_backward_logits is given them). */
    if (!b->logits && !(b->logits = fzalloc((size_t)b->chunk_rows * V)))
        return ERR_NOMEM;
    int stop = lowest_wanted(g, L);

    /* logits = xf lm_head^T -> cross-entropy -> dL/dxf, dL/dlm_head, by row chunks */
    const float *xf = tf_final_hidden(t);
    float *dxf = b->dxn;
    zero(dxf, (size_t)n * d);
    double nll_sum = 0.0;
    for (int r0 = 0; r0 < n; r0 += b->chunk_rows) {
        int nr = n - r0 < b->chunk_rows ? n - r0 : b->chunk_rows, cc = 0;
        for (int i = 0; i < nr; i++)
            cc += targets[r0 + i] >= 0;
        if (cc == 0)
            continue;
        tf_logits(t, w, r0, nr, b->logits);
        /* scale * cc / cnt makes every counted row's weight scale / cnt */
        double m = tf_bwd_cross_entropy(tf_ctx_pool(t), b->logits, targets + r0, nr, V,
                                        (float)((double)scale * cc / cnt), b->logits, NULL);
        nll_sum += m * cc;
        tf_bwd_linear(xf + (size_t)r0 * d, w->lm_head, b->logits, nr, V, d,
                      stop < L ? dxf + (size_t)r0 * d : NULL, g->lm_head);
    }
    if (nll)
        *nll = nll_sum / cnt;
    return backward_from_final(b, t, w, tokens, stop, g);
}

int tf_backward_logits(tf_bwd *b, tf_ctx *t, const tf_weights *w, const int *tokens,
                       const float *dlogits, const tf_grads *g)
{
    const tf_config *c = &b->c, *tc = tf_ctx_config(t);
    int n = tf_ctx_n(t), V = c->vocab_size, d = c->dim, L = c->n_layers;
    if (memcmp(c, tc, sizeof *c) != 0 || n <= 0 || n > b->max_n || !dlogits)
        return ERR_ARG;
    if (g->tok_emb && !tokens)
        return ERR_ARG;
    int stop = lowest_wanted(g, L);
    /* logits = xf lm_head^T, all n rows in one product (dlogits is given whole) */
    float *dxf = b->dxn;
    zero(dxf, (size_t)n * d);
    tf_bwd_linear(tf_final_hidden(t), w->lm_head, dlogits, n, V, d, stop < L ? dxf : NULL,
                  g->lm_head);
    return backward_from_final(b, t, w, tokens, stop, g);
}
