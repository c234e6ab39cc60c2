/* The search's measured refinement: local search on the calibration
 * cross-entropy around the discretised assignment (every single change
 * measured, combined by the integer program as if additive), and the plain
 * measurement of an assignment (search_eval_assignment). */
#include "solver/search.h"

#include <stdlib.h>
#include <string.h>

#include "solver/ilp.h"
#include "solver/search_internal.h"
#include "src/prune.h"

typedef struct refiner {
    search_state *s;
    tf_weights w;
    tf_layer_weights *lw;
    float **own; /* [M] a module's quantized copy when the Q_k cache does not hold it */
    /* [n_windows][n_layers][n][dim] block inputs under the current assignment
     * (NULL: too big, every evaluation starts at the embedding). A change of
     * one module of layer l then only reruns blocks l.. */
    float *saved;
} refiner;

/* Point module m at Q_k(W_m); own[m] was allocated beforehand if needed. */
static void refiner_set(refiner *f, int m, int k)
{
    search_state *s = f->s;
    const float *src = s->q[(size_t)m * s->K + k];
    if (!src) {
        int rows, cols;
        tf_linear_shape(&s->c, m % TF_NLIN, &rows, &cols);
        if (search_quantize(&s->d, tf_ctx_pool(s->t), m, s->fmt[k], s->w0[m], f->own[m], rows, cols, NULL))
            s->quant_failed = 1;
        src = f->own[m];
    }
    f->lw[m / TF_NLIN].lin[m % TF_NLIN] = (float *)src;
}

/* Mean cross-entropy of the current weights over all windows, rerunning from
 * block `from` (0: from the tokens; with snap, also refresh the saved inputs). */
static double refiner_nll(refiner *f, int from, int snap)
{
    search_state *s = f->s;
    int L = s->c.n_layers;
    size_t blk = (size_t)s->n * s->c.dim;
    double sum = 0.0;
    if (!f->saved)
        from = 0;
    for (long k = 0; k < s->d.n_windows; k++) {
        float *sv = f->saved ? f->saved + (size_t)k * L * blk : NULL;
        if (from > 0)
            memcpy(tf_block_input(s->t, from), sv + (size_t)from * blk, blk * sizeof(float));
        if (tf_forward(s->t, &f->w, from > 0 ? NULL : s->d.in + (size_t)k * s->n, s->n, from))
            return -1.0;
        if (snap && sv)
            for (int l = 1; l < L; l++)
                memcpy(sv + (size_t)l * blk, tf_block_input(s->t, l), blk * sizeof(float));
        double v = tf_nll(s->t, &f->w, s->d.tgt + (size_t)k * s->n, NULL);
        if (v < 0)
            return -1.0;
        sum += v;
    }
    return sum / ((double)s->d.n_windows * s->n);
}

static int refine_emit(search_state *s, search_result *r, const int *cur, int evals, double best)
{
    if (!s->o.on_event)
        return 0;
    double ab = 0.0;
    for (int m = 0; m < s->M; m++)
        ab += s->params[m] * s->bits[(size_t)m * s->K + cur[m]];
    search_event ev = {s->o.method, r->steps_done, s->o.steps, s->temp, r->mu, r->rho, best, 0.0,
                       r->exp_bits, ab / s->ptot, s->M, s->K, s->fmt, cur, -1, evals,
                       s->o.refine, NULL};
    return s->o.on_event(s->o.user, &ev);
}

int search_refine(search_state *s, search_result *r, mx_error *e)
{
    int M = s->M, K = s->K, N = s->o.refine, rc = 0, evals = 0, stop = 0;
    refiner f = {s, *s->d.w, malloc((size_t)s->c.n_layers * sizeof *f.lw),
                 calloc((size_t)M, sizeof *f.own), NULL};
    size_t nsaved = (size_t)s->d.n_windows * s->c.n_layers * s->n * s->c.dim;
    if (s->c.n_layers > 1 && nsaved * sizeof(float) <= s->o.mem_limit / 2)
        f.saved = malloc(nsaved * sizeof(float)); /* optional: NULL only slows it down */
    double *delta = malloc((size_t)M * K * sizeof *delta);
    unsigned char *allowed = malloc((size_t)M * K);
    int *cur = malloc((size_t)M * sizeof *cur), *cand = malloc((size_t)M * sizeof *cand);
    if (!f.lw || !f.own || !delta || !allowed || !cur || !cand) {
        rc = err_set(e, ERR_NOMEM, "search: out of memory");
        goto out;
    }
    f.w.layers = f.lw;
    for (int l = 0; l < s->c.n_layers; l++)
        f.lw[l] = s->d.w->layers[l];
    memcpy(cur, r->choice, (size_t)M * sizeof *cur);
    for (int m = 0; m < M; m++) {
        int cached = 1;
        for (int k = 0; k < K; k++)
            cached &= s->q[(size_t)m * K + k] != NULL;
        if (!cached && !(f.own[m] = malloc(s->len[m] * sizeof(float)))) {
            rc = err_set(e, ERR_NOMEM, "search: out of memory");
            goto out;
        }
        refiner_set(&f, m, cur[m]);
    }
    double best = refiner_nll(&f, 0, 1), cap = s->d.budget * s->ptot;
    if (best < 0) {
        rc = err_set(e, ERR_ARG, "search: forward pass rejected a calibration window");
        goto out;
    }
    evals = 1;
    r->refine_nll0 = best;
    while (!stop && evals < N) {
        /* measure every single change of cur (unmeasured ones stay excluded) */
        int measured = 0;
        for (size_t i = 0; i < (size_t)M * K; i++) {
            delta[i] = 0.0;
            allowed[i] = 0;
        }
        for (int m = 0; m < M && !stop; m++) {
            allowed[(size_t)m * K + cur[m]] = 1;
            for (int k = 0; k < K && !stop && evals < N; k++) {
                if (k == cur[m])
                    continue;
                refiner_set(&f, m, k);
                double v = refiner_nll(&f, m / TF_NLIN, 0);
                refiner_set(&f, m, cur[m]);
                if (v < 0) {
                    rc = err_set(e, ERR_ARG, "search: forward pass rejected a calibration window");
                    goto out;
                }
                delta[(size_t)m * K + k] = v - best;
                allowed[(size_t)m * K + k] = 1;
                evals++;
                measured++;
                stop = refine_emit(s, r, cur, evals, best);
            }
        }
        if (stop || !measured)
            break;
        /* combine the measured changes as if additive */
        for (int m = 0; m < M; m++) /* modules not reached keep their format */
            allowed[(size_t)m * K + cur[m]] = 1;
        ilp_problem P = {M, K, s->params, s->bits, delta, allowed, NULL, s->d.budget, 0, 0, NULL, 0};
        ilp_result res;
        if ((rc = ilp_solve(&P, cand, &res, e)))
            goto out;
        int nchg = 0, ok = 0;
        for (int m = 0; m < M; m++)
            nchg += cand[m] != cur[m];
        if (nchg > 1 && evals < N) {
            for (int m = 0; m < M; m++)
                if (cand[m] != cur[m])
                    refiner_set(&f, m, cand[m]);
            double v = refiner_nll(&f, 0, 1);
            evals++;
            if (v >= 0 && v < best) {
                best = v;
                memcpy(cur, cand, (size_t)M * sizeof *cur);
                ok = 1;
            } else {
                for (int m = 0; m < M; m++)
                    refiner_set(&f, m, cur[m]);
                if (f.saved && refiner_nll(&f, 0, 1) < 0) { /* restore the saved inputs */
                    rc = err_set(e, ERR_ARG, "search: forward pass rejected a calibration window");
                    goto out;
                }
            }
        }
        if (!ok) { /* the best measured single change that fits and helps */
            double used = 0.0, bd = 0.0;
            int bm = -1, bk = -1;
            for (int m = 0; m < M; m++)
                used += s->params[m] * s->bits[(size_t)m * K + cur[m]];
            for (int m = 0; m < M; m++)
                for (int k = 0; k < K; k++) {
                    size_t i = (size_t)m * K + k;
                    double nu = used + s->params[m] * (s->bits[i] - s->bits[(size_t)m * K + cur[m]]);
                    if (allowed[i] && delta[i] < bd && nu <= cap * (1 + 1e-12)) {
                        bd = delta[i];
                        bm = m;
                        bk = k;
                    }
                }
            if (bm < 0)
                break;
            cur[bm] = bk;
            refiner_set(&f, bm, bk);
            double v = refiner_nll(&f, 0, 1); /* refreshes the saved inputs; equals best + bd */
            if (v < 0) {
                rc = err_set(e, ERR_ARG, "search: forward pass rejected a calibration window");
                goto out;
            }
            best = v;
        }
        r->refine_moves++;
        stop = refine_emit(s, r, cur, evals, best);
    }
    r->refine_nll = best;
    r->refine_evals = evals;
    double b = 0.0;
    for (int m = 0; m < M; m++) {
        r->choice[m] = cur[m];
        r->assign[m] = s->fmt[cur[m]];
        b += s->params[m] * s->bits[(size_t)m * K + cur[m]];
    }
    r->avg_bits = b / s->ptot;
    if (stop)
        r->cancelled = 1;
out:
    if (f.own)
        for (int m = 0; m < M; m++)
            free(f.own[m]);
    free(f.own);
    free(f.lw);
    free(f.saved);
    free(delta);
    free(allowed);
    free(cur);
    free(cand);
    return rc;
}

int search_eval_assignment(const search_data *d, const mx_format *assign, int threads,
                           double *nll, mx_error *e)
{
    return search_eval_pruned(d, assign, NULL, threads, nll, e);
}

int search_eval_pruned(const search_data *d, const mx_format *assign, const int *level, int threads,
                       double *nll, mx_error *e)
{
    const search_prune *sp = level ? d->prune : NULL;
    const tf_config *c = d->cfg;
    int M = c->n_layers * TF_NLIN, rc = 0;
    tf_layer_weights *lw = malloc((size_t)c->n_layers * sizeof *lw);
    float **copies = calloc((size_t)M, sizeof *copies);
    tf_ctx *t = tf_ctx_create(c, d->ctx, 0);
    if (!lw || !copies || !t) {
        rc = err_set(e, ERR_NOMEM, "search: out of memory");
        goto out;
    }
    if (threads > 0)
        tf_ctx_set_threads(t, threads);
    tf_weights w = *d->w;
    w.layers = lw;
    for (int l = 0; l < c->n_layers; l++)
        lw[l] = d->w->layers[l];
    for (int m = 0; assign && m < M; m++) {
        const unsigned char *mask = sp ? sp->mask[sp->group[m] * sp->n_levels + level[m]] : NULL;
        if (assign[m] == MX_FP32 && !mask)
            continue;
        int rows, cols;
        tf_linear_shape(c, m % TF_NLIN, &rows, &cols);
        if (!(copies[m] = malloc((size_t)rows * cols * sizeof(float)))) {
            rc = err_set(e, ERR_NOMEM, "search: out of memory");
            goto out;
        }
        const float *wm = d->w->layers[m / TF_NLIN].lin[m % TF_NLIN];
        if ((rc = mask ? prune_apply(sp->model, m, wm, mask, assign[m], copies[m], e)
                       : search_quantize(d, tf_ctx_pool(t), m, assign[m], wm, copies[m], rows, cols, e)))
            goto out;
        lw[m / TF_NLIN].lin[m % TF_NLIN] = copies[m];
    }
    double sum = 0.0;
    long cnt = 0;
    for (long k = 0; k < d->n_windows; k++) {
        if (tf_forward(t, &w, d->in + (size_t)k * d->ctx, d->ctx, 0)) {
            rc = err_set(e, ERR_ARG, "search: forward pass rejected window %ld", k);
            goto out;
        }
        double s = tf_nll(t, &w, d->tgt + (size_t)k * d->ctx, NULL);
        if (s < 0) {
            rc = err_set(e, ERR_ARG, "search: target outside the vocabulary");
            goto out;
        }
        sum += s;
        cnt += d->ctx;
    }
    *nll = sum / (double)cnt;
out:
    if (copies)
        for (int m = 0; m < M; m++)
            free(copies[m]);
    free(copies);
    free(lw);
    tf_ctx_free(t);
    return rc;
}
