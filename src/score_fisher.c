/* The fisher method: mean gradient and empirical-Fisher diagonal from one
 * forward and one backward per Fisher sample, then a second-order Taylor
 * estimate per (module, format). Definitions in src/score.h. */
#include "src/score_internal.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/clock.h"
#include "kernels/tf_backward.h"

/* Keep every block's activations (saves recomputing them in the backward)
 * when they fit in half the memory budget. */
int score_keep_acts(const tf_config *c, int n, size_t mem_limit)
{
    size_t mem = mem_limit ? mem_limit : SCORE_DEFAULT_MEM;
    size_t qd = (size_t)c->n_heads * c->head_dim, kd = (size_t)c->n_kv_heads * c->head_dim;
    size_t per_row = 3 * (size_t)c->dim + 3 * qd + 3 * kd + 3 * (size_t)c->hidden_dim +
                     2 * (size_t)c->n_heads + 2;
    size_t per_layer = (size_t)n * per_row + (size_t)c->n_heads * n * n;
    return (size_t)c->n_layers * per_layer * sizeof(float) <= mem / 2;
}

static int chunk_len(int chunk, int n) { return chunk > 0 && chunk < n ? chunk : n; }
static int by_position(int chunk) { return chunk == SCORE_FISHER_POSITIONS; }

double score_fisher_units(const score_run *r)
{
    const tf_config *c = &r->m->cfg;
    int n = r->ctx, B = chunk_len(r->o->fisher_chunk, n), samples = (n + B - 1) / B;
    double f = score_fwd_units(c, 0);
    double bwd = 2.0 * f + (score_keep_acts(c, n, r->o->mem_limit) ? 0.0 : f);
    return (double)(r->w1 - r->w0) * (f + samples * bwd);
}

void score_fisher_stats_free(score_fisher_stats *st)
{
    for (int i = 0; st->g && i < st->n; i++) {
        free(st->g[i]);
        free(st->f[i]);
    }
    free(st->g);
    free(st->f);
    memset(st, 0, sizeof *st);
}

/* Each window's own fisher value, for the standard errors: the score that
 * window alone would give, g_k.d + 1/2 F_k.d^2 with g_k, F_k the window's
 * share of g and F (so their mean over the windows is the score). Both are
 * sums over the window's samples, so every sample's gradient is dotted with
 * every format's d = Q_f(W) - W as it comes. */
typedef struct fisher_win {
    const score_run *r;
    const score_opts *o;
    int rc;           /* a failed quantization (score_quant) */
    float **q;        /* [n_modules][n_formats * len]: Q_f(W), or NULL: recomputed */
    float *scratch;   /* [max len], when recomputed */
    /* [nw][per]: per window, the sums of every (module, format index) cell,
     * then its fp32 NLL sum (column cells) */
    double *rows;
    size_t per, cells;
    double *acc;      /* the current window's row */
    score_wstat *ws;  /* [cells]: the windows so far, for the previews */
} fisher_win;

static void win_free(fisher_win *fw, int n_modules)
{
    for (int i = 0; fw->q && i < n_modules; i++)
        free(fw->q[i]);
    free(fw->q);
    free(fw->scratch);
    free(fw->rows);
    free(fw->ws);
}

/* The quantized weights are kept when they fit in a quarter of the memory
 * budget, else fake-quantized again for every sample. */
static int win_init(fisher_win *fw, const score_run *r)
{
    const model *m = r->m;
    const score_opts *o = r->o;
    size_t nf = (size_t)o->n_formats, total = 0, maxlen = 1;
    memset(fw, 0, sizeof *fw);
    fw->r = r;
    fw->o = o;
    for (int i = 0; i < m->n_modules; i++) {
        size_t len = (size_t)m->modules[i].rows * m->modules[i].cols;
        maxlen = len > maxlen ? len : maxlen;
        if (score_wanted(r, i))
            total += len * nf;
    }
    fw->cells = (size_t)m->n_modules * nf;
    fw->per = fw->cells + 1;
    fw->rows = calloc((size_t)r->nw * fw->per, sizeof *fw->rows);
    fw->ws = calloc(fw->cells, sizeof *fw->ws);
    if (!fw->rows || !fw->ws)
        return ERR_NOMEM;
    size_t mem = o->mem_limit ? o->mem_limit : SCORE_DEFAULT_MEM;
    if (total * sizeof(float) > mem / 4)
        return (fw->scratch = malloc(sizeof(float) * maxlen)) ? 0 : ERR_NOMEM;
    if (!(fw->q = calloc((size_t)m->n_modules, sizeof *fw->q)))
        return ERR_NOMEM;
    for (int i = 0; i < m->n_modules; i++) {
        if (!score_wanted(r, i))
            continue;
        const model_module *mm = &m->modules[i];
        size_t len = (size_t)mm->rows * mm->cols;
        if (!(fw->q[i] = malloc(sizeof(float) * len * nf)))
            return ERR_NOMEM;
        for (size_t fi = 0; fi < nf; fi++)
            if (o->formats[fi] != MX_FP32 && score_quant(r, i, o->formats[fi], fw->q[i] + fi * len))
                return ERR_NOMEM;
    }
    return 0;
}

/* One sample's terms for module i: gradient g and squares sq (per-position
 * mode) or g^2. */
static void win_sample(fisher_win *fw, const model_module *mm, int i, const float *g,
                       const float *sq)
{
    size_t len = (size_t)mm->rows * mm->cols;
    for (int fi = 0; fi < fw->o->n_formats; fi++) {
        mx_format f = fw->o->formats[fi];
        if (f == MX_FP32)
            continue;
        const float *q = fw->q ? fw->q[i] + (size_t)fi * len : fw->scratch;
        if (!fw->q && !fw->rc)
            fw->rc = score_quant(fw->r, i, f, fw->scratch);
        double lin = 0.0, quad = 0.0;
        for (size_t j = 0; j < len; j++) {
            double d = (double)q[j] - mm->w[j], f2 = sq ? (double)sq[j] : (double)g[j] * g[j];
            lin += g[j] * d;
            quad += f2 * d * d;
        }
        fw->acc[(size_t)i * fw->o->n_formats + fi] += lin + 0.5 * quad;
    }
}

/* The collection loop over windows [k0, k1) of nw; st (may be NULL) gets g
 * and F, r (may be NULL) progress ticks, fw (may be NULL) the per-window
 * values and fp32 losses. */
static int collect(const model *m, const int *in, const int *tgt, long nw, long k0, long k1,
                   int n, int chunk, const unsigned char *only, size_t mem_limit,
                   score_fisher_stats *st, score_run *r, fisher_win *fw, mx_error *e)
{
    const tf_config *c = &m->cfg;
    int L = c->n_layers, B = chunk_len(chunk, n), rc = 0;
    score_fisher_stats none;
    if (!st)
        st = &none;
    memset(st, 0, sizeof *st);
    if (nw <= 0 || n <= 0 || n > c->max_seq)
        return err_set(e, ERR_ARG, "fisher: no calibration window (ctx %d)", n);
    int keep = score_keep_acts(c, n, mem_limit);
    tf_ctx *t = tf_ctx_create(c, n, keep ? TF_KEEP_ACTS : 0);
    tf_bwd *bw = tf_bwd_create(c, n);
    int *tc = malloc(sizeof(int) * (size_t)n);
    tf_grads gw = {0};
    int have_gw = 0;
    st->n = m->n_modules;
    st->g = calloc((size_t)m->n_modules, sizeof *st->g);
    st->f = calloc((size_t)m->n_modules, sizeof *st->f);
    if (!t || !bw || !tc || !st->g || !st->f) {
        rc = err_set(e, ERR_NOMEM, "out of memory for the fisher pass");
        goto out;
    }
    int pos = by_position(chunk);
    if (tf_grads_alloc(c, TF_GRAD_LINEAR | (pos ? TF_GRAD_LINEAR_SQ : 0), 0, &gw)) {
        rc = err_set(e, ERR_NOMEM, "out of memory for the gradient buffers");
        goto out;
    }
    have_gw = 1;
    /* Drop the gradients nobody asked for: the backward skips their work
     * and stops at the lowest layer still wanted. */
    for (int l = 0; l < L; l++)
        for (int k = 0; k < TF_NLIN; k++) {
            int want = 0;
            for (int i = 0; i < m->n_modules; i++)
                if (m->modules[i].layer == l && m->modules[i].kind == k && (!only || only[i]))
                    want = 1;
            if (!want) {
                free(gw.layers[l].lin[k]);
                free(gw.layers[l].lin_sq[k]);
                gw.layers[l].lin[k] = NULL;
                gw.layers[l].lin_sq[k] = NULL;
            }
        }
    for (int i = 0; st != &none && i < m->n_modules; i++) {
        if (only && !only[i])
            continue;
        size_t len = (size_t)m->modules[i].rows * m->modules[i].cols;
        st->g[i] = calloc(len, sizeof(float));
        st->f[i] = calloc(len, sizeof(float));
        if (!st->g[i] || !st->f[i]) {
            rc = err_set(e, ERR_NOMEM, "out of memory for the Fisher statistics");
            goto out;
        }
    }

    const float inv_n = (float)(1.0 / ((double)nw * n));
    double f_units = score_fwd_units(c, 0);
    if (r) {
        r->p.phase = "fisher";
        r->p.module = -1;
    }
    for (long k = k0; k < k1; k++) {
        const int *ik = in + k * n, *tk = tgt + k * n;
        if (tf_forward(t, &m->weights, ik, n, 0)) {
            rc = err_set(e, ERR_ARG, "fisher: the forward pass refused window %ld", k);
            goto out;
        }
        if (fw) {
            fw->acc = fw->rows + (size_t)k * fw->per;
            if (r && !r->have_fp32)
                score_window_stats(t, &m->weights, tk, NULL, r->bufq, r->bufp,
                                   &fw->acc[fw->cells], NULL);
        }
        if (r && (rc = score_tick(r, f_units, n)))
            goto out;
        for (int c0 = 0; c0 < n; c0 += B) {
            int cnt = n - c0 < B ? n - c0 : B;
            for (int j = 0; j < n; j++)
                tc[j] = j >= c0 && j < c0 + cnt ? tk[j] : -1;
            /* Without kept activations the shared scratch holds the lowest
             * block after a backward; restore the last one first. */
            if (c0 > 0 && !keep)
                tf_block(t, &m->weights, L - 1);
            tf_grads_zero(c, &gw);
            /* scale = cnt: the gradient of the SUM of the sample's NLL */
            int brc = tf_backward(bw, t, &m->weights, NULL, tc, (float)cnt, &gw, NULL, NULL);
            if (brc) {
                rc = err_set(e, brc, "fisher: backward pass failed on window %ld", k);
                goto out;
            }
            for (int i = 0; i < m->n_modules; i++) {
                if (only && !only[i])
                    continue;
                const model_module *mm = &m->modules[i];
                const float *gi = gw.layers[mm->layer].lin[mm->kind];
                const float *sq = pos ? gw.layers[mm->layer].lin_sq[mm->kind] : NULL;
                size_t len = (size_t)mm->rows * mm->cols;
                if (st->g[i]) {
                    float *G = st->g[i];
                    for (size_t j = 0; j < len; j++)
                        G[j] += gi[j] * inv_n;
                    if (pos) { /* sum over positions t of (dS/dy_t x_t^T)^2 */
                        float *F = st->f[i];
                        for (size_t j = 0; j < len; j++)
                            F[j] += sq[j] * inv_n;
                    } else {
                        tf_bwd_sq_accum(gi, len, inv_n, st->f[i]);
                    }
                }
                if (fw)
                    win_sample(fw, mm, i, gi, sq);
            }
            if (r && (rc = score_tick(r, 2.0 * f_units + (keep ? 0.0 : f_units), 0)))
                goto out;
        }
        if (fw) {
            for (size_t cl = 0; cl < fw->cells; cl++)
                score_wstat_add(&fw->ws[cl], fw->acc[cl] / n);
            if (r) { /* the previews (score_progress) */
                r->p.window_stats = fw->ws;
                r->p.windows_done = k + 1 - k0;
                r->p.n_windows = k1 - k0;
                rc = score_tick(r, 0, 0);
                r->p.window_stats = NULL;
                if (rc)
                    goto out;
            }
        }
    }
out:
    if (have_gw)
        tf_grads_free(&gw);
    tf_ctx_free(t);
    tf_bwd_free(bw);
    free(tc);
    if (rc || st == &none)
        score_fisher_stats_free(st);
    return rc;
}

int score_fisher_collect(const model *m, const int *in, const int *tgt, long nw, int ctx,
                         int chunk, const unsigned char *only, size_t mem_limit,
                         score_fisher_stats *st, mx_error *e)
{
    return collect(m, in, tgt, nw, 0, nw, ctx, chunk, only, mem_limit, st, NULL, NULL, e);
}

double score_fisher_module(const score_fisher_stats *st, int i, const float *w, const float *q,
                           size_t len)
{
    const float *g = st->g[i], *f = st->f[i];
    double lin = 0.0, quad = 0.0;
    for (size_t j = 0; j < len; j++) {
        double d = (double)q[j] - w[j];
        lin += g[j] * d;
        quad += f[j] * d * d;
    }
    return lin + 0.5 * quad;
}

int score_run_fisher(score_run *r)
{
    const model *m = r->m;
    const score_opts *o = r->o;
    fisher_win fw;
    if (win_init(&fw, r)) {
        win_free(&fw, m->n_modules);
        return err_set(r->e, ERR_NOMEM, "out of memory for the fisher window statistics (or quantizing)");
    }
    double t0 = clock_now_s();
    int rc = collect(m, r->in, r->tgt, r->nw, r->w0, r->w1, r->ctx, o->fisher_chunk, o->only,
                     o->mem_limit, NULL, r, &fw, r->e);
    score_window_time(r, t0);
    if (!rc)
        rc = fw.rc;
    if (!rc)
        rc = score_gather(r, fw.rows, fw.per);
    if (rc) {
        win_free(&fw, m->n_modules);
        return rc;
    }
    score_keep_fp32(r, fw.rows, fw.per, fw.cells);
    /* The score is the mean of the windows' values: g.d + 1/2 F.d^2 is linear
     * in g and F, which are sums over the windows. */
    double N = (double)r->nw * r->ctx;
    for (int i = 0; i < m->n_modules; i++) {
        if (!score_wanted(r, i))
            continue;
        for (int fi = 0; fi < o->n_formats; fi++) {
            mx_format f = o->formats[fi];
            if (f == MX_FP32)
                continue;
            size_t c = (size_t)i * o->n_formats + fi;
            score_wstat ws = {0};
            double sum = score_column(r, fw.rows, fw.per, c, -1, 1, r->ctx, &ws);
            r->t->modules[i].score[SCORE_FISHER][f] = sum / N;
            r->t->modules[i].se[SCORE_FISHER][f] = score_wstat_se(&ws);
        }
    }
    win_free(&fw, m->n_modules);
    return 0;
}
