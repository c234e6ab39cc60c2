/* The kl (direct) method: measured loss increase and KL divergence with one
 * module fake-quantized, restarting the forward at that module's block from
 * the cached fp32 block inputs. The formats of one module are scored in
 * parallel (one workspace per worker thread); every (module, format) sum and
 * per-window statistic runs over the windows in order on one thread, so
 * results do not depend on the thread count. */
#include "src/score_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/clock.h"
#include "kernels/pool.h"

/* How many windows fit the memory budget at once, and whether their fp32
 * logits can be kept (else they are recomputed from the cached last block
 * output for every quantized forward). */
static void kl_plan(const score_run *r, long *group, int *store)
{
    const tf_config *c = &r->m->cfg;
    size_t mem = r->o->mem_limit ? r->o->mem_limit : SCORE_DEFAULT_MEM;
    size_t n = (size_t)r->ctx;
    size_t blk = (size_t)(c->n_layers + 1) * n * c->dim * sizeof(float);
    size_t lg = n * c->vocab_size * sizeof(float) + n * sizeof(double);
    long g;
    if (blk + lg <= mem) {
        *store = 1;
        g = (long)(mem / (blk + lg));
    } else {
        *store = 0;
        g = (long)(mem / blk);
    }
    long own = r->w1 - r->w0;
    if (g < 1)
        g = 1;
    *group = g < own ? g : own;
}

static int n_quant_formats(const score_opts *o)
{
    int k = 0;
    for (int fi = 0; fi < o->n_formats; fi++)
        k += o->formats[fi] != MX_FP32;
    return k;
}

double score_kl_units(const score_run *r)
{
    const tf_config *c = &r->m->cfg;
    long g;
    int store;
    kl_plan(r, &g, &store);
    long own = r->w1 - r->w0;
    double head = score_fwd_units(c, c->n_layers), u = own * score_fwd_units(c, 0);
    int nf = n_quant_formats(r->o);
    for (int i = 0; i < r->m->n_modules; i++)
        if (score_wanted(r, i))
            u += (double)own * nf * (score_fwd_units(c, r->m->modules[i].layer) +
                                       (store ? 0.0 : head));
    return u;
}

/* What every worker needs to score the formats of one module on a group. */
typedef struct kl_job {
    const score_run *r;
    int i, layer, kind, n, store;
    long g0, gn;
    const float *cache, *logits;
    const double *lse;
    size_t per_win, nd, maxlen;
    const float *qbuf;
    /* [nw][per]: per window, the NLL sum of every (module, format index)
     * cell, then their KL sums (from column cells), then the fp32 NLL sum */
    double *rows;
    size_t per, cells;
    pthread_mutex_t mu;
    int next_fi;          /* next format index to take */
    long passes;          /* window passes finished, all workers */
    int cancel;
} kl_job;

typedef struct kl_worker {
    kl_job *job;
    tf_ctx *t, *tref;
    tf_weights wq;
    int have_wq;
    float *bufq, *bufp;
    int main_thread;
    long ticked; /* passes already reported (task 0) */
    int rc;
} kl_worker;

static void worker_free(kl_worker *w)
{
    if (w->have_wq)
        model_weights_free(&w->wq);
    tf_ctx_free(w->t);
    tf_ctx_free(w->tref);
    free(w->bufq);
    free(w->bufp);
    memset(w, 0, sizeof *w);
}

static int worker_init(kl_worker *w, const score_run *r, int store)
{
    const tf_config *c = &r->m->cfg;
    memset(w, 0, sizeof *w);
    w->t = tf_ctx_create(c, r->ctx, 0);
    w->tref = store ? NULL : tf_ctx_create(c, r->ctx, 0);
    w->bufq = malloc(sizeof(float) * SCORE_LOGIT_ROWS * (size_t)c->vocab_size);
    w->bufp = malloc(sizeof(float) * SCORE_LOGIT_ROWS * (size_t)c->vocab_size);
    if (!w->t || (!store && !w->tref) || !w->bufq || !w->bufp ||
        model_weights_copy(r->m, &w->wq, NULL)) {
        worker_free(w);
        return ERR_NOMEM;
    }
    w->have_wq = 1;
    return 0;
}

/* Task 0 only: report the passes finished since the last report. */
static int report(kl_worker *w)
{
    kl_job *j = w->job;
    pthread_mutex_lock(&j->mu);
    long done = j->passes;
    pthread_mutex_unlock(&j->mu);
    score_run *r = (score_run *)j->r;
    const tf_config *c = &r->m->cfg;
    double units = score_fwd_units(c, j->layer) + (j->store ? 0.0 : score_fwd_units(c, c->n_layers));
    int rc = score_tick(r, units * (double)(done - w->ticked), (long)(done - w->ticked) * j->n);
    w->ticked = done;
    if (rc) {
        pthread_mutex_lock(&j->mu);
        j->cancel = 1;
        pthread_mutex_unlock(&j->mu);
    }
    return rc;
}

static void worker_run(void *arg)
{
    kl_worker *w = arg;
    kl_job *j = w->job;
    const score_run *r = j->r;
    const model *m = r->m;
    const score_opts *o = r->o;
    int n = j->n, L = m->cfg.n_layers, V = m->cfg.vocab_size;
    for (;;) {
        pthread_mutex_lock(&j->mu);
        int fi = j->cancel ? o->n_formats : j->next_fi++;
        pthread_mutex_unlock(&j->mu);
        if (fi >= o->n_formats)
            break;
        mx_format f = o->formats[fi];
        if (f == MX_FP32)
            continue;
        w->wq.layers[j->layer].lin[j->kind] = j->qbuf + fi * j->maxlen;
        size_t cell = (size_t)j->i * o->n_formats + fi;
        for (long k = 0; k < j->gn; k++) {
            const float *saved = j->cache + k * j->per_win;
            memcpy(tf_block_input(w->t, j->layer), saved + j->layer * j->nd,
                   sizeof(float) * j->nd);
            tf_forward(w->t, &w->wq, NULL, n, j->layer);
            score_ref ref = {0};
            if (j->store) {
                ref.logits = j->logits + (size_t)k * n * V;
                ref.lse = j->lse + k * n;
            } else {
                memcpy(tf_block_input(w->tref, L), saved + L * j->nd, sizeof(float) * j->nd);
                tf_forward(w->tref, &m->weights, NULL, n, L);
                ref.ctx = w->tref;
                ref.w = &m->weights;
            }
            /* each (window, cell) belongs to exactly one worker */
            double *row = j->rows + (size_t)(j->g0 + k) * j->per;
            score_window_stats(w->t, &w->wq, r->tgt + (j->g0 + k) * n, &ref, w->bufq, w->bufp,
                               &row[cell], &row[j->cells + cell]);
            pthread_mutex_lock(&j->mu);
            j->passes++;
            int cancel = j->cancel;
            pthread_mutex_unlock(&j->mu);
            if (w->main_thread && report(w))
                cancel = 1;
            if (cancel)
                break;
        }
        w->wq.layers[j->layer].lin[j->kind] = m->weights.layers[j->layer].lin[j->kind];
    }
}

/* One pool task per worker: task 0 reports progress (from whichever thread runs it). */
static void worker_task(void *arg, int ith, int nth)
{
    (void)nth;
    worker_run(&((kl_worker *)arg)[ith]);
}

int score_run_kl(score_run *r)
{
    const model *m = r->m;
    const tf_config *c = &m->cfg;
    const score_opts *o = r->o;
    int n = r->ctx, L = c->n_layers, V = c->vocab_size, d = c->dim, rc = 0;
    long G;
    int store;
    kl_plan(r, &G, &store);
    int nt = score_threads(o), nq = n_quant_formats(o);
    if (nt > nq)
        nt = nq > 0 ? nq : 1;

    size_t maxlen = 0;
    for (int i = 0; i < m->n_modules; i++) {
        size_t len = (size_t)m->modules[i].rows * m->modules[i].cols;
        if (len > maxlen)
            maxlen = len;
    }
    size_t nd = (size_t)n * d, per_win = (size_t)(L + 1) * nd;
    float *cache = malloc(sizeof(float) * per_win * (size_t)G);
    float *logits = store ? malloc(sizeof(float) * (size_t)G * n * V) : NULL;
    double *lse = store ? malloc(sizeof(double) * (size_t)G * n) : NULL;
    float *qbuf = malloc(sizeof(float) * maxlen * (size_t)o->n_formats);
    size_t cells = (size_t)m->n_modules * o->n_formats, per = 2 * cells + 1;
    double *rows = calloc((size_t)r->nw * per, sizeof(double));
    kl_worker *wk = calloc((size_t)nt, sizeof *wk);
    pool *pl = NULL;
    int nwk = 0;
    kl_job job;
    memset(&job, 0, sizeof job);
    pthread_mutex_init(&job.mu, NULL);
    if (!cache || (store && (!logits || !lse)) || !qbuf || !rows || !wk) {
        rc = err_set(r->e, ERR_NOMEM, "out of memory for the kl pass (%ld windows cached)", G);
        goto out;
    }
    for (; nwk < nt; nwk++)
        if (worker_init(&wk[nwk], r, store)) {
            rc = err_set(r->e, ERR_NOMEM, "out of memory for kl worker %d", nwk);
            goto out;
        }
    /* one pool for the whole pass, not threads per module */
    if (nwk > 1 && !(pl = pool_create(nwk))) {
        rc = err_set(r->e, ERR_NOMEM, "out of memory for the kl thread pool");
        goto out;
    }
    tf_ctx *t = wk[0].t; /* the fp32 pass runs on worker 0's workspace */

    double t0 = clock_now_s();
    for (long g0 = r->w0; g0 < r->w1; g0 += G) {
        long gn = r->w1 - g0 < G ? r->w1 - g0 : G;
        r->p.phase = "fp32";
        r->p.module = -1;
        for (long k = 0; k < gn; k++) {
            const int *in = r->in + (g0 + k) * n, *tgt = r->tgt + (g0 + k) * n;
            tf_forward(t, &m->weights, in, n, 0);
            for (int l = 0; l <= L; l++)
                memcpy(cache + k * per_win + l * nd, tf_block_input(t, l), sizeof(float) * nd);
            if (store)
                score_ref_fill(r, t, &m->weights, logits + (size_t)k * n * V, lse + k * n);
            score_window_stats(t, &m->weights, tgt, NULL, r->bufq, r->bufp,
                               &rows[(size_t)(g0 + k) * per + 2 * cells], NULL);
            if ((rc = score_tick(r, score_fwd_units(c, 0), n)))
                goto out;
        }
        r->p.phase = "kl";
        for (int i = 0; i < m->n_modules; i++) {
            if (!score_wanted(r, i))
                continue;
            const model_module *mm = &m->modules[i];
            r->p.module = i;
            /* Each (module, format) weight is fake-quantized once per window group. */
            for (int fi = 0; fi < o->n_formats && !rc; fi++)
                if (o->formats[fi] != MX_FP32)
                    rc = score_quant(r, i, o->formats[fi], qbuf + fi * maxlen);
            if (rc)
                goto out;
            job.r = r;
            job.i = i;
            job.layer = mm->layer;
            job.kind = mm->kind;
            job.n = n;
            job.store = store;
            job.g0 = g0;
            job.gn = gn;
            job.cache = cache;
            job.logits = logits;
            job.lse = lse;
            job.per_win = per_win;
            job.nd = nd;
            job.maxlen = maxlen;
            job.qbuf = qbuf;
            job.rows = rows;
            job.per = per;
            job.cells = cells;
            job.next_fi = 0;
            job.passes = 0;
            job.cancel = 0;
            for (int w = 0; w < nwk; w++) {
                wk[w].job = &job;
                wk[w].main_thread = w == 0;
                wk[w].ticked = 0;
            }
            pool_run(pl, nwk, worker_task, wk);
            if (job.cancel) {
                rc = err_set(r->e, ERR_CANCELLED, "cancelled");
                goto out;
            }
            if ((rc = report(&wk[0])))
                goto out;
        }
    }
    r->p.module = -1;
    score_window_time(r, t0);
    if ((rc = score_gather(r, rows, per)))
        goto out;
    score_keep_fp32(r, rows, per, 2 * cells);
    double N = (double)r->nw * n;
    for (int i = 0; i < m->n_modules; i++) {
        if (!score_wanted(r, i))
            continue;
        score_module *sm = &r->t->modules[i];
        for (int fi = 0; fi < o->n_formats; fi++) {
            mx_format f = o->formats[fi];
            if (f == MX_FP32)
                continue;
            size_t cell = (size_t)i * o->n_formats + fi;
            score_wstat ws_nll = {0}, ws_kl = {0};
            /* paired with the same window's fp32 loss: the delta's own noise */
            double nll = score_column(r, rows, per, cell, (long)(2 * cells), 1, n, &ws_nll);
            double kl = score_column(r, rows, per, cells + cell, -1, 1, n, &ws_kl);
            sm->score[SCORE_KL][f] = (nll - r->fp32_sum) / N;
            sm->kld[f] = kl / N;
            sm->se[SCORE_KL][f] = score_wstat_se(&ws_nll);
            sm->kld_se[f] = score_wstat_se(&ws_kl);
        }
    }
out:
    pool_free(pl);
    for (int w = 0; w < nwk; w++)
        worker_free(&wk[w]);
    free(wk);
    pthread_mutex_destroy(&job.mu);
    free(cache);
    free(logits);
    free(lse);
    free(qbuf);
    free(rows);
    return rc;
}
