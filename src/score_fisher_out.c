/* The fisher-out method: the output-space Fisher estimate (the default of
 * NVIDIA's AutoQuantize). One forward and one backward per window serve every
 * module; per module and format one GEMM:
 *     s_f = 1/(2N) sum over windows, positions t and outputs j of
 *           (dS/dy_tj)^2 (dY_tj)^2,    dY = X (Q_f(W) - W)^T,
 * with S the window's summed NLL, y = W x the module's output, X its input rows
 * and N the calibration tokens: nats/token like kl, never negative. It weighs
 * each output's error by its own gradient, where the weight-space fisher
 * would sum the per-weight terms and lose the correlations within a row. */
#include "src/score_internal.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/clock.h"
#include "kernels/gemm.h"
#include "kernels/tf_backward.h"

typedef struct fo_state {
    const score_run *r;
    int *module_of;      /* [n_layers * TF_NLIN]: module index or -1 */
    double *win;         /* [n_modules * n_formats]: this window's sums of dy^2 dY^2 (its row) */
    float **dq;          /* [n_modules][n_formats * params]: Q_f(W) - W once for every window, when
                          * it fits a quarter of the memory budget (GPTQ is dear); else NULL */
    float *q, *dy2;      /* scratch: [max params], [n * max rows] */
    int n_formats;
} fo_state;

typedef struct fo_layer {
    fo_state *st;
    int layer;
} fo_layer;

/* The backward's hook: accumulate every format's term for this linear. */
static int fo_hook(void *user, int kind, const float *x, const float *dy, int n)
{
    const fo_layer *fl = user;
    fo_state *st = fl->st;
    const score_run *r = st->r;
    int i = st->module_of[fl->layer * TF_NLIN + kind];
    if (i < 0 || !score_wanted(r, i))
        return 0;
    const model_module *mm = &r->m->modules[i];
    size_t rows = (size_t)mm->rows, cols = (size_t)mm->cols, len = rows * cols, ny = (size_t)n * rows;
    for (int fi = 0; fi < st->n_formats; fi++) {
        mx_format f = r->o->formats[fi];
        if (f == MX_FP32)
            continue;
        const float *dw = st->dq ? st->dq[i] + (size_t)fi * len : st->q;
        if (!st->dq) {
            int rc = score_quant(r, i, f, st->q);
            if (rc)
                return rc;
            for (size_t j = 0; j < len; j++)
                st->q[j] -= mm->w[j];
        }
        gemm_linear(n, mm->rows, mm->cols, x, dw, 0.0f, st->dy2); /* dY */
        double s = 0.0;
        for (size_t j = 0; j < ny; j++) {
            double g = dy[j], d = st->dy2[j];
            s += g * g * d * d;
        }
        st->win[(size_t)i * st->n_formats + fi] += s;
    }
    return 0;
}

double score_fisher_out_units(const score_run *r)
{
    const tf_config *c = &r->m->cfg;
    double f = score_fwd_units(c, 0);
    double bwd = 2.0 * f + (score_keep_acts(c, r->ctx, r->o->mem_limit) ? 0.0 : f);
    /* the GEMMs: about one forward's linears per format */
    return (double)(r->w1 - r->w0) * (f + bwd + r->o->n_formats * f);
}

int score_run_fisher_out(score_run *r)
{
    const model *m = r->m;
    const tf_config *c = &m->cfg;
    const score_opts *o = r->o;
    int n = r->ctx, L = c->n_layers, nf = o->n_formats, rc = 0;
    int keep = score_keep_acts(c, n, o->mem_limit);
    size_t maxlen = 1, maxrows = 1;
    for (int i = 0; i < m->n_modules; i++) {
        size_t len = (size_t)m->modules[i].rows * m->modules[i].cols;
        maxlen = len > maxlen ? len : maxlen;
        maxrows = (size_t)m->modules[i].rows > maxrows ? (size_t)m->modules[i].rows : maxrows;
    }
    fo_state st = {.r = r, .n_formats = nf};
    st.module_of = malloc(sizeof(int) * (size_t)L * TF_NLIN);
    /* a row per window: every cell's sum, then the fp32 NLL */
    size_t cells = (size_t)m->n_modules * nf, per = cells + 1;
    double *rows = calloc((size_t)r->nw * per, sizeof(double));
    st.q = malloc(sizeof(float) * maxlen);
    st.dy2 = malloc(sizeof(float) * maxrows * (size_t)n);
    fo_layer *fl = calloc((size_t)L, sizeof *fl);
    tf_grads g = {.layers = calloc((size_t)L, sizeof(tf_layer_grads)), .n_layers = L};
    tf_ctx *t = tf_ctx_create(c, n, keep ? TF_KEEP_ACTS : 0);
    tf_bwd *bw = tf_bwd_create(c, n);
    if (!st.module_of || !rows || !st.q || !st.dy2 || !fl || !g.layers || !t || !bw) {
        rc = err_set(r->e, ERR_NOMEM, "out of memory for the fisher-out pass");
        goto out;
    }
    size_t total = 0, mem = o->mem_limit ? o->mem_limit : SCORE_DEFAULT_MEM;
    for (int i = 0; i < m->n_modules; i++)
        if (score_wanted(r, i))
            total += (size_t)m->modules[i].rows * m->modules[i].cols * (size_t)nf;
    if (total * sizeof(float) <= mem / 4 && (st.dq = calloc((size_t)m->n_modules, sizeof *st.dq)))
        for (int i = 0; i < m->n_modules && rc == 0; i++) {
            const model_module *mm = &m->modules[i];
            size_t len = (size_t)mm->rows * mm->cols;
            if (!score_wanted(r, i))
                continue;
            if (!(st.dq[i] = malloc(sizeof(float) * len * (size_t)nf))) {
                rc = err_set(r->e, ERR_NOMEM, "out of memory for the fisher-out pass");
                break;
            }
            for (int fi = 0; fi < nf && rc == 0; fi++) {
                float *d = st.dq[i] + (size_t)fi * len;
                if (o->formats[fi] == MX_FP32 || (rc = score_quant(r, i, o->formats[fi], d)))
                    continue;
                for (size_t j = 0; j < len; j++)
                    d[j] -= mm->w[j];
            }
        }
    if (rc)
        goto out;
    for (int j = 0; j < L * TF_NLIN; j++)
        st.module_of[j] = -1;
    for (int i = 0; i < m->n_modules; i++) {
        const model_module *mm = &m->modules[i];
        st.module_of[mm->layer * TF_NLIN + mm->kind] = i;
        if (!score_wanted(r, i))
            continue;
        /* hooks only where a wanted module is: the backward stops below them */
        fl[mm->layer] = (fo_layer){&st, mm->layer};
        g.layers[mm->layer].out_hook = fo_hook;
        g.layers[mm->layer].out_user = &fl[mm->layer];
    }
    r->p.phase = "fisher-out";
    r->p.module = -1;
    double f_units = score_fwd_units(c, 0), t0 = clock_now_s();
    double rest = r->w1 > r->w0 ? score_fisher_out_units(r) / (double)(r->w1 - r->w0) - f_units : 0;
    for (long k = r->w0; k < r->w1; k++) {
        const int *ik = r->in + k * n, *tk = r->tgt + k * n;
        if (tf_forward(t, &m->weights, ik, n, 0)) {
            rc = err_set(r->e, ERR_ARG, "fisher-out: the forward pass refused window %ld", k);
            goto out;
        }
        st.win = rows + (size_t)k * per;
        if (!r->have_fp32)
            score_window_stats(t, &m->weights, tk, NULL, r->bufq, r->bufp, &st.win[cells], NULL);
        if ((rc = score_tick(r, f_units, n)))
            goto out;
        /* scale n: the gradient of the window's SUM of NLL; every hook runs once */
        int brc = tf_backward(bw, t, &m->weights, NULL, tk, (float)n, &g, NULL, NULL);
        if (brc) {
            rc = err_set(r->e, brc, "fisher-out: backward pass failed on window %ld", k);
            goto out;
        }
        if ((rc = score_tick(r, rest, 0)))
            goto out;
    }
    score_window_time(r, t0);
    if ((rc = score_gather(r, rows, per)))
        goto out;
    score_keep_fp32(r, rows, per, cells);
    double N = (double)r->nw * n;
    for (int i = 0; i < m->n_modules; i++) {
        if (!score_wanted(r, i))
            continue;
        for (int fi = 0; fi < nf; fi++)
            if (o->formats[fi] != MX_FP32) {
                size_t c = (size_t)i * nf + fi;
                score_wstat ws = {0};
                double acc = score_column(r, rows, per, c, -1, 0.5, n, &ws);
                r->t->modules[i].score[SCORE_FISHER_OUT][o->formats[fi]] = 0.5 * acc / N;
                r->t->modules[i].se[SCORE_FISHER_OUT][o->formats[fi]] = score_wstat_se(&ws);
            }
    }
out:
    tf_bwd_free(bw);
    tf_ctx_free(t);
    free(g.layers);
    free(fl);
    free(st.module_of);
    free(rows);
    for (int i = 0; st.dq && i < m->n_modules; i++)
        free(st.dq[i]);
    free(st.dq);
    free(st.q);
    free(st.dy2);
    return rc;
}
