/* The kl (direct) method: measured loss increase and KL divergence with one
 * module fake-quantized, restarting the forward at that module's block from
 * the cached fp32 block inputs. */
#include "src/score_internal.h"

#include <stdlib.h>
#include <string.h>

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
    if (g < 1)
        g = 1;
    *group = g < r->nw ? g : r->nw;
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
    double head = score_fwd_units(c, c->n_layers), u = r->nw * score_fwd_units(c, 0);
    int nf = n_quant_formats(r->o);
    for (int i = 0; i < r->m->n_modules; i++)
        if (score_wanted(r, i))
            u += (double)r->nw * nf * (score_fwd_units(c, r->m->modules[i].layer) +
                                       (store ? 0.0 : head));
    return u;
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
    double *nll_q = calloc((size_t)m->n_modules * MX_NFORMATS * 2, sizeof(double));
    double *kl_q = nll_q ? nll_q + (size_t)m->n_modules * MX_NFORMATS : NULL;
    tf_ctx *t = tf_ctx_create(c, n, 0);
    tf_ctx *tref = store ? NULL : tf_ctx_create(c, n, 0);
    tf_weights wq = {0};
    int have_wq = 0;
    if (!cache || (store && (!logits || !lse)) || !qbuf || !nll_q || !t || (!store && !tref)) {
        rc = err_set(r->e, ERR_NOMEM, "out of memory for the kl pass (%ld windows cached)", G);
        goto out;
    }
    if ((rc = model_weights_copy(m, &wq, r->e)))
        goto out;
    have_wq = 1;

    double fp32 = 0.0;
    for (long g0 = 0; g0 < r->nw; g0 += G) {
        long gn = r->nw - g0 < G ? r->nw - g0 : G;
        r->p.phase = "fp32";
        r->p.module = -1;
        for (long k = 0; k < gn; k++) {
            const int *in = r->in + (g0 + k) * n, *tgt = r->tgt + (g0 + k) * n;
            tf_forward(t, &m->weights, in, n, 0);
            for (int l = 0; l <= L; l++)
                memcpy(cache + k * per_win + l * nd, tf_block_input(t, l), sizeof(float) * nd);
            if (store)
                score_ref_fill(r, t, &m->weights, logits + (size_t)k * n * V, lse + k * n);
            double s;
            score_window_stats(r, t, &m->weights, tgt, NULL, &s, NULL);
            fp32 += s;
            if ((rc = score_tick(r, score_fwd_units(c, 0), n)))
                goto out;
        }
        r->p.phase = "kl";
        for (int i = 0; i < m->n_modules; i++) {
            if (!score_wanted(r, i))
                continue;
            const model_module *mm = &m->modules[i];
            int l = mm->layer, kind = mm->kind;
            double units = score_fwd_units(c, l) + (store ? 0.0 : score_fwd_units(c, L));
            r->p.module = i;
            /* Each (module, format) weight is fake-quantized once per window group. */
            for (int fi = 0; fi < o->n_formats; fi++)
                if (o->formats[fi] != MX_FP32)
                    mx_fake_quant(o->formats[fi], mm->w, qbuf + fi * maxlen, (size_t)mm->rows,
                                  (size_t)mm->cols);
            for (int fi = 0; fi < o->n_formats; fi++) {
                mx_format f = o->formats[fi];
                if (f == MX_FP32)
                    continue;
                wq.layers[l].lin[kind] = qbuf + fi * maxlen;
                for (long k = 0; k < gn; k++) {
                    const float *saved = cache + k * per_win;
                    memcpy(tf_block_input(t, l), saved + l * nd, sizeof(float) * nd);
                    tf_forward(t, &wq, NULL, n, l);
                    score_ref ref = {0};
                    if (store) {
                        ref.logits = logits + (size_t)k * n * V;
                        ref.lse = lse + k * n;
                    } else {
                        memcpy(tf_block_input(tref, L), saved + L * nd, sizeof(float) * nd);
                        tf_forward(tref, &m->weights, NULL, n, L);
                        ref.ctx = tref;
                        ref.w = &m->weights;
                    }
                    double s, kl;
                    score_window_stats(r, t, &wq, r->tgt + (g0 + k) * n, &ref, &s, &kl);
                    nll_q[(size_t)i * MX_NFORMATS + f] += s;
                    kl_q[(size_t)i * MX_NFORMATS + f] += kl;
                    if ((rc = score_tick(r, units, n))) {
                        wq.layers[l].lin[kind] = m->weights.layers[l].lin[kind];
                        goto out;
                    }
                }
                wq.layers[l].lin[kind] = m->weights.layers[l].lin[kind];
            }
        }
    }
    r->p.module = -1;
    if (!r->have_fp32) {
        r->fp32_sum = fp32;
        r->have_fp32 = 1;
    }
    double N = (double)r->nw * n;
    for (int i = 0; i < m->n_modules; i++) {
        if (!score_wanted(r, i))
            continue;
        score_module *sm = &r->t->modules[i];
        for (int fi = 0; fi < o->n_formats; fi++) {
            mx_format f = o->formats[fi];
            if (f == MX_FP32)
                continue;
            sm->score[SCORE_KL][f] = (nll_q[(size_t)i * MX_NFORMATS + f] - fp32) / N;
            sm->kld[f] = kl_q[(size_t)i * MX_NFORMATS + f] / N;
        }
    }
out:
    if (have_wq)
        model_weights_free(&wq);
    tf_ctx_free(t);
    tf_ctx_free(tref);
    free(cache);
    free(logits);
    free(lse);
    free(qbuf);
    free(nll_q);
    return rc;
}
