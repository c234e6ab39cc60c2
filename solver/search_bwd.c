/* Backward pass of the transformer from dL/dlogits to the linears' weight
 * gradients only (no norm or embedding gradients): what the search needs. */
#include "solver/search_internal.h"

#include <stdlib.h>
#include <string.h>

#include "src/err.h"

static void zero(float *p, size_t len)
{
    if (p)
        memset(p, 0, len * sizeof *p);
}

void search_bwd_free(search_bwd *b)
{
    float **all[] = {&b->dres, &b->dxn, &b->da, &b->dg, &b->du, &b->dao,
                     &b->dq, &b->dk, &b->dv, &b->dq_raw, &b->dk_raw};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        free(*all[i]);
        *all[i] = NULL;
    }
}

int search_bwd_init(search_bwd *b, const tf_config *c, int max_n)
{
    memset(b, 0, sizeof *b);
    b->c = *c;
    b->max_n = max_n;
    size_t n = (size_t)max_n, nd = n * c->dim, nh = n * c->hidden_dim;
    size_t nq = n * c->n_heads * c->head_dim, nk = n * c->n_kv_heads * c->head_dim;
    b->dres = calloc(nd, sizeof(float));
    b->dxn = calloc(nd, sizeof(float));
    b->da = calloc(nh, sizeof(float));
    b->dg = calloc(nh, sizeof(float));
    b->du = calloc(nh, sizeof(float));
    b->dao = calloc(nq, sizeof(float));
    b->dq = calloc(nq, sizeof(float));
    b->dk = calloc(nk, sizeof(float));
    b->dv = calloc(nk, sizeof(float));
    b->dq_raw = calloc(nq, sizeof(float));
    b->dk_raw = calloc(nk, sizeof(float));
    if (!b->dres || !b->dxn || !b->da || !b->dg || !b->du || !b->dao || !b->dq || !b->dk ||
        !b->dv || !b->dq_raw || !b->dk_raw) {
        search_bwd_free(b);
        return ERR_NOMEM;
    }
    return 0;
}

static void lin_bwd(const tf_config *c, int kind, const float *x, const float *w, const float *dy,
                    int n, float *dx, float *dw)
{
    int rows, cols;
    tf_linear_shape(c, kind, &rows, &cols);
    tf_bwd_linear(x, w, dy, n, rows, cols, dx, dw);
}

/* b->dres: dL/d(block output) in, dL/d(block input) out (when need_dx). */
static int block_bwd(search_bwd *b, tf_ctx *t, const tf_weights *w, int l, int n, int need_dx,
                     float *const *lin)
{
    const tf_config *c = &b->c;
    const tf_layer_weights *lw = &w->layers[l];
    const tf_layer_acts *A = tf_acts(t, l);
    float *const *g = lin + (size_t)l * TF_NLIN;
    int d = c->dim, H = c->n_heads, KV = c->n_kv_heads, hd = c->head_dim;
    size_t nd = (size_t)n * d, nh = (size_t)n * c->hidden_dim;
    size_t nq = (size_t)n * H * hd, nk = (size_t)n * KV * hd;

    zero(b->da, nh);
    lin_bwd(c, TF_DOWN, A->a, lw->lin[TF_DOWN], b->dres, n, b->da, g[TF_DOWN]);
    zero(b->dg, nh);
    zero(b->du, nh);
    tf_bwd_swiglu(A->g, A->u, b->da, nh, b->dg, b->du);
    zero(b->dxn, nd);
    lin_bwd(c, TF_GATE, A->xn2, lw->lin[TF_GATE], b->dg, n, b->dxn, g[TF_GATE]);
    lin_bwd(c, TF_UP, A->xn2, lw->lin[TF_UP], b->du, n, b->dxn, g[TF_UP]);
    tf_bwd_rmsnorm(A->h, lw->ffn_norm, b->dxn, n, d, c->norm_eps, b->dres, NULL);

    zero(b->dao, nq);
    lin_bwd(c, TF_O, A->ao, lw->lin[TF_O], b->dres, n, b->dao, g[TF_O]);
    zero(b->dq, nq);
    zero(b->dk, nk);
    zero(b->dv, nk);
    int rc = tf_bwd_attention(A->q, A->k, A->v, A->att, b->dao, n, H, KV, hd, 0, b->dq, b->dk,
                              b->dv);
    if (rc)
        return rc;
    tf_bwd_rope(b->dq, n, H, hd, 0, c->rope_theta, c->rope_style);
    tf_bwd_rope(b->dk, n, KV, hd, 0, c->rope_theta, c->rope_style);
    const float *dq_raw = b->dq, *dk_raw = b->dk;
    if (c->qk_norm) {
        zero(b->dq_raw, nq);
        zero(b->dk_raw, nk);
        tf_bwd_head_rmsnorm(A->q_raw, lw->q_norm, b->dq, n, H, hd, c->norm_eps, b->dq_raw, NULL);
        tf_bwd_head_rmsnorm(A->k_raw, lw->k_norm, b->dk, n, KV, hd, c->norm_eps, b->dk_raw, NULL);
        dq_raw = b->dq_raw;
        dk_raw = b->dk_raw;
    }
    float *dxn = need_dx ? b->dxn : NULL;
    zero(dxn, nd);
    lin_bwd(c, TF_Q, A->xn1, lw->lin[TF_Q], dq_raw, n, dxn, g[TF_Q]);
    lin_bwd(c, TF_K, A->xn1, lw->lin[TF_K], dk_raw, n, dxn, g[TF_K]);
    lin_bwd(c, TF_V, A->xn1, lw->lin[TF_V], b->dv, n, dxn, g[TF_V]);
    if (need_dx)
        tf_bwd_rmsnorm(tf_block_input(t, l), lw->attn_norm, dxn, n, d, c->norm_eps, b->dres,
                       NULL);
    return 0;
}

int search_bwd_run(search_bwd *b, tf_ctx *t, const tf_weights *w, const float *dlogits,
                   float *const *lin)
{
    const tf_config *c = &b->c;
    int n = tf_ctx_n(t), d = c->dim, L = c->n_layers;
    if (n <= 0 || n > b->max_n)
        return ERR_ARG;
    float *dxf = b->dxn;
    zero(dxf, (size_t)n * d);
    tf_bwd_linear(tf_final_hidden(t), w->lm_head, dlogits, n, c->vocab_size, d, dxf, NULL);
    zero(b->dres, (size_t)n * d);
    tf_bwd_rmsnorm(tf_block_input(t, L), w->final_norm, dxf, n, d, c->norm_eps, b->dres, NULL);
    for (int l = L - 1; l >= 0; l--) {
        int rc = block_bwd(b, t, w, l, n, l > 0, lin);
        if (rc)
            return rc;
    }
    return 0;
}
