/* The joint search's scores: measured pruning losses, Fisher quantization terms. */
#include "src/prune_score.h"

#include <stdlib.h>
#include <string.h>

#include "src/eval.h"
#include "src/score.h"

int prune_group_of(const model *m, int i)
{
    return m->modules[i].layer * PRUNE_NPARTS + prune_part_of(m->modules[i].kind);
}

void prune_scores_free(prune_scores *s)
{
    free(s->group_loss);
    free(s->kept);
    free(s->quant);
    free(s->bits);
    memset(s, 0, sizeof *s);
}

/* Loss of the windows with group g's modules pruned to mask keep (fp32). */
static int group_loss(const model *m, int g, const unsigned char *keep, tf_ctx *t, const int *tokens,
                      long n_tokens, int bos, int ctx, long max_tokens, double *loss, mx_error *e)
{
    tf_weights w;
    float *cp[TF_NLIN] = {0};
    int rc = model_weights_copy(m, &w, e);
    if (rc)
        return rc;
    for (int i = 0; i < m->n_modules && !rc; i++) {
        const model_module *mm = &m->modules[i];
        if (prune_group_of(m, i) != g)
            continue;
        if (!(cp[mm->kind] = malloc((size_t)mm->rows * mm->cols * sizeof(float))))
            rc = err_set(e, ERR_NOMEM, "out of memory pruning %s", mm->name);
        else if (!(rc = prune_apply(m, i, NULL, keep, MX_FP32, cp[mm->kind], e)))
            w.layers[mm->layer].lin[mm->kind] = cp[mm->kind];
    }
    eval_result r;
    if (!rc && !(rc = eval_perplexity_ctx(t, &w, tokens, n_tokens, bos, ctx, max_tokens, NULL, NULL, &r, e)))
        *loss = r.nll;
    for (int k = 0; k < TF_NLIN; k++)
        free(cp[k]);
    model_weights_free(&w);
    return rc;
}

int prune_scores_compute(const model *m, const prune_plan *p, const int *tokens, long n_tokens, int bos,
                         int ctx, long max_tokens, const mx_format *formats, int n_formats,
                         const double *levels, int n_levels, prune_scores *s, mx_error *e)
{
    memset(s, 0, sizeof *s);
    if (n_formats < 1 || n_formats > MX_NFORMATS || n_levels < 1 || n_levels > PRUNE_MAX_LEVELS)
        return err_set(e, ERR_ARG, "prune: 1..%d formats and 1..%d keep levels", MX_NFORMATS, PRUNE_MAX_LEVELS);
    for (int k = 0; k < n_levels; k++)
        if (!(levels[k] >= 0.0 && levels[k] <= 1.0))
            return err_set(e, ERR_ARG, "prune: keep level %g is not in [0, 1]", levels[k]);
    for (int f = 0; f < n_formats; f++)
        if (formats[f] == MX_FP32 || (unsigned)formats[f] >= MX_NFORMATS)
            return err_set(e, ERR_ARG, "prune: candidate formats are MX formats (not fp32)");
    long nw = eval_window_count(n_tokens, ctx, max_tokens);
    if (nw < 1)
        return err_set(e, ERR_ARG, "prune: the calibration text holds no window of %d tokens", ctx);
    s->n_modules = m->n_modules;
    s->n_groups = p->n_groups;
    s->n_formats = n_formats;
    s->n_levels = n_levels;
    s->calib_tokens = nw * ctx;
    memcpy(s->formats, formats, (size_t)n_formats * sizeof *formats);
    memcpy(s->levels, levels, (size_t)n_levels * sizeof *levels);
    size_t cells = (size_t)m->n_modules * n_formats * n_levels, gl = (size_t)p->n_groups * n_levels;
    s->group_loss = calloc(gl, sizeof *s->group_loss);
    s->kept = calloc(gl, sizeof *s->kept);
    s->quant = calloc(cells, sizeof *s->quant);
    s->bits = calloc(cells, sizeof *s->bits);
    unsigned char *mask = NULL;
    float *wp = NULL, *q = NULL;
    tf_ctx *t = tf_ctx_create(&m->cfg, ctx, 0);
    score_fisher_stats st = {0};
    int rc = 0, maxu = 1;
    size_t maxw = 1;
    for (int g = 0; g < p->n_groups; g++)
        maxu = p->g[g].n_units > maxu ? p->g[g].n_units : maxu;
    for (int i = 0; i < m->n_modules; i++)
        maxw = (size_t)m->modules[i].rows * m->modules[i].cols > maxw ? (size_t)m->modules[i].rows * m->modules[i].cols
                                                                        : maxw;
    mask = malloc((size_t)maxu);
    wp = malloc(maxw * sizeof *wp);
    q = malloc(maxw * sizeof *q);
    if (!s->group_loss || !s->kept || !s->quant || !s->bits || !t || !mask || !wp || !q) {
        rc = err_set(e, ERR_NOMEM, "prune: out of memory for the scores");
        goto done;
    }
    eval_result r0;
    if ((rc = eval_perplexity_ctx(t, &m->weights, tokens, n_tokens, bos, ctx, max_tokens, NULL, NULL, &r0, e)))
        goto done;
    s->fp32_loss = r0.nll;
    for (int g = 0; g < p->n_groups; g++)
        for (int k = 0; k < n_levels; k++) {
            int n = prune_count(&p->g[g], levels[k]);
            s->kept[g * n_levels + k] = n;
            if (n == p->g[g].n_units)
                continue; /* nothing removed: no loss */
            /* the same count at another level was measured already */
            int done = 0;
            for (int j = 0; j < k && !done; j++)
                if (s->kept[g * n_levels + j] == n) {
                    s->group_loss[g * n_levels + k] = s->group_loss[g * n_levels + j];
                    done = 1;
                }
            if (done)
                continue;
            prune_mask(&p->g[g], n, mask);
            double loss = 0.0;
            if ((rc = group_loss(m, g, mask, t, tokens, n_tokens, bos, ctx, max_tokens, &loss, e)))
                goto done;
            s->group_loss[g * n_levels + k] = loss - s->fp32_loss;
        }
    /* The Fisher statistics on the same windows. */
    long nt = nw * ctx;
    int *win = malloc(2 * (size_t)nt * sizeof *win);
    if (!win) {
        rc = err_set(e, ERR_NOMEM, "prune: out of memory for the windows");
        goto done;
    }
    for (long k = 0; k < nw; k++)
        eval_window_tokens(tokens, k, ctx, bos, win + k * ctx, win + nt + k * ctx);
    rc = score_fisher_collect(m, win, win + nt, nw, ctx, 0, NULL, 0, &st, e);
    free(win);
    if (rc)
        goto done;
    for (int i = 0; i < m->n_modules; i++) {
        const model_module *mm = &m->modules[i];
        const prune_group *pg = &p->g[prune_group_of(m, i)];
        size_t len = (size_t)mm->rows * mm->cols;
        for (int k = 0; k < n_levels; k++) {
            int n = s->kept[prune_group_of(m, i) * n_levels + k];
            prune_mask(pg, n, mask);
            const unsigned char *keep = n == pg->n_units ? NULL : mask;
            if ((rc = prune_apply(m, i, NULL, keep, MX_FP32, wp, e)))
                goto done;
            for (int f = 0; f < n_formats; f++) {
                size_t c = ((size_t)i * n_formats + f) * n_levels + k;
                s->bits[c] = prune_bits(m, i, keep, formats[f]);
                if (n == 0)
                    continue;
                if ((rc = prune_apply(m, i, wp, keep, formats[f], q, e)))
                    goto done;
                s->quant[c] = score_fisher_module(&st, i, wp, q, len);
            }
        }
    }
done:
    score_fisher_stats_free(&st);
    tf_ctx_free(t);
    free(mask);
    free(wp);
    free(q);
    if (rc)
        prune_scores_free(s);
    return rc;
}

void prune_scores_cost(const prune_scores *s, const model *m, double prune_weight, double *cost)
{
    int per[PRUNE_NPARTS] = {TF_O - TF_Q + 1, TF_DOWN - TF_GATE + 1}; /* modules in a group */
    for (int i = 0; i < s->n_modules; i++) {
        int g = prune_group_of(m, i);
        for (int f = 0; f < s->n_formats; f++)
            for (int k = 0; k < s->n_levels; k++) {
                size_t c = ((size_t)i * s->n_formats + f) * s->n_levels + k;
                cost[c] = s->quant[c] + prune_weight * s->group_loss[g * s->n_levels + k] / per[g % PRUNE_NPARTS];
            }
    }
}
