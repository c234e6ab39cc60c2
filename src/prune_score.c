/* The joint search's scores: measured pruning losses, Fisher quantization terms. */
#include "src/prune_score.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/gemm.h"
#include "kernels/tf_backward.h"
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

/* The calibration windows with the fp32 residual stream entering every block
 * cached, so a loss with block l's weights changed re-runs blocks l.. only
 * (as score kl does). */
typedef struct wcache {
    tf_ctx *t;
    long nw;
    int ctx, n_layers, dim;
    int *in, *tgt;  /* [nw][ctx] */
    float *res;     /* [nw][n_layers][ctx * dim] */
    double fp32_loss; /* mean NLL of the windows, from the caching passes */
} wcache;

static void wcache_free(wcache *c)
{
    tf_ctx_free(c->t);
    free(c->in);
    free(c->res);
    memset(c, 0, sizeof *c);
}

/* The cache is most of the memory: at most this much. */
#define PRUNE_CACHE_MAX ((size_t)2 << 30)

static int wcache_init(wcache *c, const model *m, const int *tokens, long nw, int bos, int ctx, mx_error *e)
{
    memset(c, 0, sizeof *c);
    c->nw = nw;
    c->ctx = ctx;
    c->n_layers = m->cfg.n_layers;
    c->dim = m->cfg.dim;
    size_t per = (size_t)ctx * c->dim, bytes = (size_t)nw * c->n_layers * per * sizeof(float);
    if (bytes > PRUNE_CACHE_MAX)
        return err_set(e, ERR_ARG, "prune: caching the block inputs of %ld windows takes %.1f GiB (more than %.0f): "
                       "fewer --tokens", nw, bytes / 1073741824.0, PRUNE_CACHE_MAX / 1073741824.0);
    c->t = tf_ctx_create(&m->cfg, ctx, 0);
    c->in = malloc(2 * (size_t)nw * ctx * sizeof *c->in);
    c->res = malloc(bytes ? bytes : 1);
    if (!c->t || !c->in || !c->res) {
        wcache_free(c);
        return err_set(e, ERR_NOMEM, "prune: out of memory for the cached block inputs");
    }
    c->tgt = c->in + (size_t)nw * ctx;
    for (long k = 0; k < nw; k++) {
        eval_window_tokens(tokens, k, ctx, bos, c->in + k * ctx, c->tgt + k * ctx);
        if (tf_forward(c->t, &m->weights, c->in + k * ctx, ctx, 0)) {
            wcache_free(c);
            return err_set(e, ERR_ARG, "prune: a calibration token is outside the vocabulary");
        }
        for (int l = 0; l < c->n_layers; l++)
            memcpy(c->res + ((size_t)k * c->n_layers + l) * per, tf_block_input(c->t, l), per * sizeof(float));
        double v = tf_nll(c->t, &m->weights, c->tgt + k * ctx, NULL);
        if (v < 0) {
            wcache_free(c);
            return err_set(e, ERR_ARG, "prune: a calibration target is outside the vocabulary");
        }
        c->fp32_loss += v;
    }
    c->fp32_loss /= (double)nw * ctx;
    return 0;
}

/* Mean NLL of the windows under weights w, which differ from the model's
 * from block `from` on. */
static double wcache_loss(wcache *c, const tf_weights *w, int from)
{
    double sum = 0.0;
    size_t per = (size_t)c->ctx * c->dim;
    for (long k = 0; k < c->nw; k++) {
        memcpy(tf_block_input(c->t, from), c->res + ((size_t)k * c->n_layers + from) * per, per * sizeof(float));
        tf_forward(c->t, w, NULL, c->ctx, from);
        sum += tf_nll(c->t, w, c->tgt + k * c->ctx, NULL);
    }
    return sum / ((double)c->nw * c->ctx);
}

/* w's modules of group g pruned to mask keep in fp32, into cp[] (owned by the caller). */
static int prune_group_into(const model *m, int g, const unsigned char *keep, tf_weights *w, float **cp,
                            mx_error *e)
{
    for (int i = 0; i < m->n_modules; i++) {
        const model_module *mm = &m->modules[i];
        if (prune_group_of(m, i) != g)
            continue;
        if (!cp[mm->kind] && !(cp[mm->kind] = malloc((size_t)mm->rows * mm->cols * sizeof(float))))
            return err_set(e, ERR_NOMEM, "out of memory pruning %s", mm->name);
        int rc = prune_apply(m, i, NULL, keep, MX_FP32, cp[mm->kind], e);
        if (rc)
            return rc;
        w->layers[mm->layer].lin[mm->kind] = cp[mm->kind];
    }
    return 0;
}

const char *prune_method_name(int method)
{
    return method == PRUNE_QUANT_KL ? "kl" : method == PRUNE_QUANT_FISHER_OUT ? "fisher-out" : "fisher";
}

/* fisher-out: per module, the candidates' errors dW (kept part quantized minus
 * kept part in fp32, zero elsewhere) and the sums of (dS/dy)^2 (X dW^T)^2 over
 * the windows, from the backward's per-linear hook (as score fisher-out). */
typedef struct fo_acc {
    const model *m;
    const prune_scores *s;
    int layer;
    float **dw;     /* [n_modules]: [n_formats * n_levels][rows * cols], NULL where a level keeps nothing */
    double *sum;    /* [n_modules][n_formats][n_levels] */
    float *dy2;     /* scratch [ctx * max rows] */
} fo_acc;

static int fo_hook(void *user, int kind, const float *x, const float *dy, int n)
{
    fo_acc *a = user;
    const model *m = a->m;
    int i = a->layer * TF_NLIN + kind; /* module order is layer-major */
    const model_module *mm = &m->modules[i];
    size_t len = (size_t)mm->rows * mm->cols, ny = (size_t)n * mm->rows;
    int nc = a->s->n_formats * a->s->n_levels;
    for (int c = 0; a->dw[i] && c < nc; c++) {
        const float *d = a->dw[i] + (size_t)c * len;
        if (a->s->kept[prune_group_of(m, i) * a->s->n_levels + c % a->s->n_levels] == 0)
            continue;
        gemm_linear(n, mm->rows, mm->cols, x, d, 0.0f, a->dy2);
        double acc = 0.0;
        for (size_t j = 0; j < ny; j++) {
            double g = dy[j], e = a->dy2[j];
            acc += g * g * e * e;
        }
        a->sum[(size_t)i * nc + c] += acc;
    }
    return 0;
}

/* The fisher-out terms of s (bits, kept and masks known) over the cached windows. */
#define PRUNE_FO_MAX ((size_t)1 << 30)
static int fisher_out(const model *m, const prune_plan *p, prune_scores *s, wcache *wc, mx_error *e)
{
    const tf_config *c = &m->cfg;
    int nm = m->n_modules, nc = s->n_formats * s->n_levels, L = c->n_layers, rc = 0;
    size_t total = 0, maxrows = 1;
    for (int i = 0; i < nm; i++) {
        total += (size_t)m->modules[i].rows * m->modules[i].cols * nc * sizeof(float);
        maxrows = (size_t)m->modules[i].rows > maxrows ? (size_t)m->modules[i].rows : maxrows;
    }
    if (total > PRUNE_FO_MAX)
        return err_set(e, ERR_ARG, "prune: fisher-out holds every candidate's error (%.1f GiB, more than %.0f): "
                       "use --method fisher", total / 1073741824.0, PRUNE_FO_MAX / 1073741824.0);
    fo_acc *acc = calloc((size_t)L, sizeof *acc);
    float **dw = calloc((size_t)nm, sizeof *dw), *wp = NULL;
    double *sum = calloc((size_t)nm * nc, sizeof *sum);
    float *dy2 = malloc(maxrows * (size_t)wc->ctx * sizeof *dy2);
    unsigned char *mask = NULL;
    tf_grads g = {.layers = calloc((size_t)L, sizeof(tf_layer_grads)), .n_layers = L};
    tf_ctx *t = wc->t; /* its forwards are done: the backward's own passes */
    tf_bwd *bw = tf_bwd_create(c, wc->ctx);
    if (!acc || !dw || !sum || !dy2 || !g.layers || !bw)
        goto nomem;
    for (int i = 0; i < nm; i++) {
        const model_module *mm = &m->modules[i];
        const prune_group *pg = &p->g[prune_group_of(m, i)];
        size_t len = (size_t)mm->rows * mm->cols;
        if (!(dw[i] = malloc(len * nc * sizeof **dw)) || !(wp = realloc(wp, len * sizeof *wp)) ||
            !(mask = realloc(mask, (size_t)pg->n_units)))
            goto nomem;
        for (int k = 0; k < s->n_levels; k++) {
            int n = s->kept[prune_group_of(m, i) * s->n_levels + k];
            prune_mask(pg, n, mask);
            const unsigned char *keep = n == pg->n_units ? NULL : mask;
            if ((rc = prune_apply(m, i, NULL, keep, MX_FP32, wp, e)))
                goto out;
            for (int f = 0; f < s->n_formats; f++) {
                float *d = dw[i] + ((size_t)f * s->n_levels + k) * len;
                if ((rc = prune_apply(m, i, wp, keep, s->formats[f], d, e)))
                    goto out;
                for (size_t j = 0; j < len; j++)
                    d[j] -= wp[j];
            }
        }
    }
    for (int l = 0; l < L; l++) {
        acc[l] = (fo_acc){m, s, l, dw, sum, dy2};
        g.layers[l].out_hook = fo_hook;
        g.layers[l].out_user = &acc[l];
    }
    for (long k = 0; k < wc->nw && !rc; k++) {
        const int *in = wc->in + k * wc->ctx, *tgt = wc->tgt + k * wc->ctx;
        if (tf_forward(t, &m->weights, in, wc->ctx, 0))
            rc = err_set(e, ERR_ARG, "prune: the forward pass refused window %ld", k);
        else if ((rc = tf_backward(bw, t, &m->weights, NULL, tgt, (float)wc->ctx, &g, NULL, NULL)))
            err_set(e, rc, "prune: the backward pass failed on window %ld", k);
    }
    /* (f, k) of module i at index (f * n_levels + k), as quant[] */
    double N = (double)wc->nw * wc->ctx;
    for (size_t j = 0; !rc && j < (size_t)nm * nc; j++)
        s->quant[j] = 0.5 * sum[j] / N;
    goto out;
nomem:
    rc = err_set(e, ERR_NOMEM, "prune: out of memory for the fisher-out pass");
out:
    for (int i = 0; dw && i < nm; i++)
        free(dw[i]);
    free(dw);
    free(acc);
    free(sum);
    free(dy2);
    free(wp);
    free(mask);
    free(g.layers);
    tf_bwd_free(bw);
    return rc;
}

int prune_scores_compute(const model *m, const prune_plan *p, const int *tokens, long n_tokens, int bos,
                         int ctx, long max_tokens, const mx_format *formats, int n_formats,
                         const double *levels, int n_levels, int method, prune_progress_fn progress, void *user,
                         prune_scores *s, mx_error *e)
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
    s->method = method;
    s->calib_tokens = nw * ctx;
    memcpy(s->formats, formats, (size_t)n_formats * sizeof *formats);
    memcpy(s->levels, levels, (size_t)n_levels * sizeof *levels);
    size_t cells = (size_t)m->n_modules * n_formats * n_levels, gl = (size_t)p->n_groups * n_levels;
    s->group_loss = calloc(gl, sizeof *s->group_loss);
    s->kept = calloc(gl, sizeof *s->kept);
    s->quant = calloc(cells, sizeof *s->quant);
    s->bits = calloc(cells, sizeof *s->bits);
    unsigned char *mask = NULL;
    float *wp = NULL, *q = NULL, *cp[TF_NLIN] = {0};
    score_fisher_stats st = {0};
    wcache wc = {0};
    tf_weights w = {0};
    int rc = 0, maxu = 1, have_w = 0;
    size_t maxw = 1;
    for (int g = 0; g < p->n_groups; g++)
        maxu = p->g[g].n_units > maxu ? p->g[g].n_units : maxu;
    for (int i = 0; i < m->n_modules; i++)
        maxw = (size_t)m->modules[i].rows * m->modules[i].cols > maxw ? (size_t)m->modules[i].rows * m->modules[i].cols
                                                                        : maxw;
    mask = malloc((size_t)maxu);
    wp = malloc(maxw * sizeof *wp);
    q = malloc(maxw * sizeof *q);
    if (!s->group_loss || !s->kept || !s->quant || !s->bits || !mask || !wp || !q) {
        rc = err_set(e, ERR_NOMEM, "prune: out of memory for the scores");
        goto done;
    }
    if ((rc = wcache_init(&wc, m, tokens, nw, bos, ctx, e)) || (rc = model_weights_copy(m, &w, e)))
        goto done;
    have_w = 1;
    double base = s->fp32_loss = wc.fp32_loss;
    double ticks = 0, total = (double)p->n_groups * n_levels + (double)m->n_modules;
#define TICK()                                                                               \
    do {                                                                                     \
        ticks++;                                                                             \
        if (progress && progress(user, ticks, total)) {                                      \
            rc = err_set(e, ERR_CANCELLED, "prune: cancelled");                              \
            goto done;                                                                       \
        }                                                                                    \
    } while (0)
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
            if ((rc = prune_group_into(m, g, mask, &w, cp, e)))
                goto done;
            s->group_loss[g * n_levels + k] = wcache_loss(&wc, &w, p->g[g].layer) - base;
            w.layers[p->g[g].layer] = m->weights.layers[p->g[g].layer];
            TICK();
        }
    /* kl: measured on the cached windows; fisher: the statistics of the same
     * windows; fisher-out: its own pass after the bits are known. */
    if (method == PRUNE_QUANT_FISHER && (rc = score_fisher_collect(m, wc.in, wc.tgt, nw, ctx, 0, NULL, 0, &st, e)))
        goto done;
    for (int i = 0; i < m->n_modules; i++) {
        const model_module *mm = &m->modules[i];
        const prune_group *pg = &p->g[prune_group_of(m, i)];
        size_t len = (size_t)mm->rows * mm->cols;
        for (int k = 0; k < n_levels; k++) {
            int n = s->kept[prune_group_of(m, i) * n_levels + k];
            prune_mask(pg, n, mask);
            const unsigned char *keep = n == pg->n_units ? NULL : mask;
            if (method != PRUNE_QUANT_FISHER_OUT && (rc = prune_apply(m, i, NULL, keep, MX_FP32, wp, e)))
                goto done;
            /* kl: the group pruned at this level, module i quantized on top */
            int g = prune_group_of(m, i);
            double at_k = base + s->group_loss[g * n_levels + k];
            if (method == PRUNE_QUANT_KL && n && keep && (rc = prune_group_into(m, g, keep, &w, cp, e)))
                goto done;
            for (int f = 0; f < n_formats; f++) {
                size_t c = ((size_t)i * n_formats + f) * n_levels + k;
                s->bits[c] = prune_bits(m, i, keep, formats[f]);
                if (n == 0 || method == PRUNE_QUANT_FISHER_OUT) /* fisher-out quantizes in its own pass */
                    continue;
                if ((rc = prune_apply(m, i, wp, keep, formats[f], q, e)))
                    goto done;
                if (method == PRUNE_QUANT_KL) {
                    w.layers[mm->layer].lin[mm->kind] = q;
                    s->quant[c] = wcache_loss(&wc, &w, mm->layer) - at_k;
                } else if (method == PRUNE_QUANT_FISHER)
                    s->quant[c] = score_fisher_module(&st, i, wp, q, len);
            }
            w.layers[mm->layer] = m->weights.layers[mm->layer];
        }
        TICK();
    }
#undef TICK
    if (method == PRUNE_QUANT_FISHER_OUT)
        rc = fisher_out(m, p, s, &wc, e);
done:
    for (int k = 0; k < TF_NLIN; k++)
        free(cp[k]);
    if (have_w)
        model_weights_free(&w);
    wcache_free(&wc);
    score_fisher_stats_free(&st);
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
