/* The differentiable search's state: options and names, the mixture of
 * fake-quantized weights, and one evaluation of the loss and its gradient
 * with respect to the mixture parameters (forward, loss, the kernel's
 * backward from dL/dlogits). The step loop is in search_step.c. */
#include "solver/search.h"
#include "kernels/names.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kernels/tf_backward.h"
#include "solver/dmx.h"
#include "solver/gamma.h"
#include "solver/search_internal.h"
#include "src/gptq_set.h"

#define DEFAULT_MEM ((size_t)4 << 30)
#define P_EPS 1e-12 /* mixture weights below this are skipped (exp underflow range) */

static const char *const method_names[SEARCH_NMETHODS] = {"dmx", "gamma"};
static const char *const loss_names[SEARCH_NLOSSES] = {"kl", "ce"};

const char *search_method_name(search_method m)
{
    return names_get(method_names, SEARCH_NMETHODS, (int)m);
}

int search_method_parse(const char *s, search_method *out)
{
    int i = names_find(method_names, SEARCH_NMETHODS, s);
    return i < 0 ? -1 : (*out = (search_method)i, 0);
}

const char *search_loss_name(search_loss l)
{
    return names_get(loss_names, SEARCH_NLOSSES, (int)l);
}

int search_loss_parse(const char *s, search_loss *out)
{
    int i = names_find(loss_names, SEARCH_NLOSSES, s);
    return i < 0 ? -1 : (*out = (search_loss)i, 0);
}

int search_default_formats(mx_format out[MX_NFORMATS], const unsigned char *only)
{
    static const mx_format def[] = {MX_FP4_E2M1, MX_FP6_E2M3, MX_FP6_E3M2, MX_INT8, MX_FP8_E4M3, MX_FP8_E5M2};
    int n = 0;
    for (size_t i = 0; i < sizeof def / sizeof def[0]; i++)
        if (!only || only[def[i]])
            out[n++] = def[i];
    return n;
}

void search_opts_init(search_opts *o, search_method method)
{
    memset(o, 0, sizeof *o);
    o->method = method;
    /* dMX: cross-entropy measured best on held-out text (stories260K, all four
     * budgets tried); GAMMA: KL, which its curvature scores assume (zero
     * gradient at fp32) and which measured best for it. */
    o->loss = method == SEARCH_DMX ? SEARCH_LOSS_CE : SEARCH_LOSS_KL;
    o->steps = 200;
    o->lr = 0.1;
    o->seed = 1;
    o->mem_limit = DEFAULT_MEM;
    /* refinement: measured better held-out perplexity at all four budgets
     * tried (4.5-6 bits, stories260K) for both methods; ~2 rounds there */
    o->refine = 400;
    if (method == SEARCH_DMX) {
        o->t0 = 3.0;
        o->tmin = 0.05;
        o->lambda = 20.0;
    } else {
        o->t0 = 1.0;
        o->tmin = 0.3;
        o->rho = 10.0;
        o->mu_every = 10;
    }
}

int search_quantize(const search_data *d, struct pool *p, int m, mx_format f, const float *w, float *out, int rows,
                    int cols, mx_error *e)
{
    int rc = 0;
    if (d->gptq && (rc = gptq_set_quant_w(d->gptq, m / TF_NLIN, m % TF_NLIN, f, w, (size_t)rows, (size_t)cols, out, e)) == 0)
        return 0;
    mx_fake_quant_on(p, MX_SIMD_AUTO, f, w, out, (size_t)rows, (size_t)cols);
    return rc;
}

const float *search_qk(search_state *s, int m, int k)
{
    float *c = s->q[(size_t)m * s->K + k];
    if (c)
        return c;
    if (s->d.prune) {
        if (search_joint_quantize(s, m, k, s->qscratch, NULL))
            s->quant_failed = 1;
        return s->qscratch;
    }
    int rows, cols;
    tf_linear_shape(&s->c, m % TF_NLIN, &rows, &cols);
    if (search_quantize(&s->d, tf_ctx_pool(s->t), m, s->fmt[k], s->w0[m], s->qscratch, rows, cols, NULL))
        s->quant_failed = 1;
    return s->qscratch;
}

void search_state_free(search_state *s)
{
    if (!s)
        return;
    if (s->q)
        for (size_t i = 0; i < (size_t)s->M * s->K; i++)
            free(s->q[i]);
    if (s->weff)
        for (int m = 0; m < s->M; m++)
            free(s->weff[m]);
    if (s->grad)
        for (int m = 0; m < s->M; m++)
            free(s->grad[m]);
    if (s->teacher)
        for (long i = 0; i < s->d.n_windows; i++)
            free(s->teacher[i]);
    free(s->q);
    free(s->weff);
    free(s->grad);
    free(s->teacher);
    free(s->qscratch);
    free(s->tscratch);
    free(s->w0);
    free(s->lw);
    free(s->params);
    free(s->bits);
    free(s->len);
    free(s->logits);
    free(s->dlog);
    free(s->param);
    free(s->p);
    free(s->h);
    free(s->hw);
    free(s->err2);
    free(s->curv);
    free(s->dldp);
    free(s->off);
    free(s->rep);
    free(s->pf);
    free(s->pl);
    free(s->gsize);
    tf_bwd_free(s->bwd);
    free(s->glayers);
    tf_ctx_free(s->t);
    free(s);
}

/* Largest accepted lambda / initial rho (the run itself caps rho at 1e4). */
#define SEARCH_MAX_PENALTY 1e6

static int check_data(const search_data *d, const search_opts *o, mx_error *e)
{
    if (!d->cfg || !d->w || tf_config_check(d->cfg))
        return err_set(e, ERR_ARG, "search: bad model configuration");
    if (d->n_formats < 1 || d->n_formats > MX_NFORMATS)
        return err_set(e, ERR_ARG, "search: no candidate formats");
    for (int i = 0; i < d->n_formats; i++) {
        if ((unsigned)d->formats[i] >= MX_NFORMATS)
            return err_set(e, ERR_ARG, "search: bad format");
        for (int j = 0; j < i; j++)
            if (d->formats[j] == d->formats[i])
                return err_set(e, ERR_ARG, "search: format %s listed twice",
                               mx_format_name(d->formats[i]));
    }
    if (d->ctx < 1 || d->ctx > d->cfg->max_seq)
        return err_set(e, ERR_ARG, "search: context %d outside 1..%d", d->ctx, d->cfg->max_seq);
    if (d->n_windows < 1 || !d->in || !d->tgt)
        return err_set(e, ERR_ARG, "search: no calibration windows");
    for (size_t i = 0; i < (size_t)d->n_windows * d->ctx; i++)
        if (d->in[i] < 0 || d->in[i] >= d->cfg->vocab_size || d->tgt[i] < 0 ||
            d->tgt[i] >= d->cfg->vocab_size)
            return err_set(e, ERR_ARG, "search: token id outside the vocabulary (%d)",
                           d->cfg->vocab_size);
    if (!(d->budget > 0) || !isfinite(d->budget))
        return err_set(e, ERR_ARG, "search: the budget must be a positive number of bits");
    if (o->steps < 1 || !(o->lr > 0) || !(o->t0 > 0) || !(o->tmin > 0) || o->tmin > o->t0 ||
        (unsigned)o->method >= SEARCH_NMETHODS || (unsigned)o->loss >= SEARCH_NLOSSES)
        return err_set(e, ERR_ARG, "search: bad options (steps, lr, t0 >= tmin > 0)");
    /* The penalty grows to at most 1e4 on its own; far larger starting values
     * only overflow the regularizer (and train into NaN). */
    if (o->method == SEARCH_DMX && !(o->lambda >= 0 && o->lambda <= SEARCH_MAX_PENALTY))
        return err_set(e, ERR_ARG, "search: lambda must be in [0, %g]", SEARCH_MAX_PENALTY);
    if (o->method == SEARCH_GAMMA &&
        (!(o->rho > 0 && o->rho <= SEARCH_MAX_PENALTY) || o->mu_every < 1))
        return err_set(e, ERR_ARG, "search: rho must be in (0, %g] and mu_every >= 1",
                       SEARCH_MAX_PENALTY);
    if (!isfinite(o->lr) || !isfinite(o->t0))
        return err_set(e, ERR_ARG, "search: lr and t0 must be finite");
    if (d->prune) {
        const search_prune *sp = d->prune;
        if (d->gptq || o->init_cost)
            return err_set(e, ERR_ARG, "search: the joint choice with pruning takes no gptq or init costs");
        if (!sp->model || !sp->group || !sp->kept || !sp->bits || !sp->units || !sp->mask ||
            sp->n_levels < 1 || sp->n_levels > SEARCH_MAX_LEVELS ||
            sp->model->cfg.n_layers != d->cfg->n_layers || sp->model->cfg.dim != d->cfg->dim ||
            sp->model->cfg.hidden_dim != d->cfg->hidden_dim ||
            sp->model->n_modules != d->cfg->n_layers * TF_NLIN)
            return err_set(e, ERR_ARG, "search: the pruning descriptor does not fit the model");
        if (sp->n_formats != d->n_formats ||
            memcmp(sp->formats, d->formats, (size_t)d->n_formats * sizeof *d->formats))
            return err_set(e, ERR_ARG, "search: the pruning descriptor was made for other formats");
    }
    return 0;
}

/* Average bits of format k over all modules (params-weighted). */
double search_format_avg_bits(const search_state *s, int k)
{
    double b = 0.0;
    for (int m = 0; m < s->M; m++)
        b += s->params[m] * s->bits[(size_t)m * s->K + k];
    return b / s->ptot;
}

int search_state_create(const search_data *d, const search_opts *o, search_state **out,
                        mx_error *e)
{
    *out = NULL;
    int rc = check_data(d, o, e);
    if (rc)
        return rc;
    search_state *s = calloc(1, sizeof *s);
    if (!s)
        return err_set(e, ERR_NOMEM, "search: out of memory");
    s->d = *d;
    s->o = *o;
    if (!s->o.mem_limit)
        s->o.mem_limit = DEFAULT_MEM;
    s->c = *d->cfg;
    s->M = s->c.n_layers * TF_NLIN;
    s->K = d->n_formats;
    s->V = s->c.vocab_size;
    s->n = d->ctx;
    if (d->prune)
        s->K = d->n_formats * d->prune->n_levels;
    int M = s->M, K = s->K;

    /* Candidates sorted by bits ascending (stable: ties keep the given order).
     * Bits of a 32-multiple row are the same for every module; sort by a
     * representative shape. */
    int rows0, cols0;
    tf_linear_shape(&s->c, 0, &rows0, &cols0);
    for (int i = 0; i < K && !d->prune; i++)
        s->data_index[i] = i;
    for (int i = 1; i < K && !d->prune; i++)
        for (int j = i; j > 0; j--) {
            double a = mx_bits_per_weight(d->formats[s->data_index[j - 1]], 1, (size_t)cols0);
            double b = mx_bits_per_weight(d->formats[s->data_index[j]], 1, (size_t)cols0);
            if (b < a) {
                int tmp = s->data_index[j];
                s->data_index[j] = s->data_index[j - 1];
                s->data_index[j - 1] = tmp;
            }
        }
    for (int k = 0; k < K && !d->prune; k++)
        s->fmt[k] = d->formats[s->data_index[k]];

    size_t MK = (size_t)M * K;
    s->params = calloc((size_t)M, sizeof *s->params);
    s->bits = calloc(MK, sizeof *s->bits);
    s->len = calloc((size_t)M, sizeof *s->len);
    s->q = calloc(MK, sizeof *s->q);
    s->weff = calloc((size_t)M, sizeof *s->weff);
    s->grad = calloc((size_t)M, sizeof *s->grad);
    s->w0 = calloc((size_t)M, sizeof *s->w0);
    s->lw = calloc((size_t)s->c.n_layers, sizeof *s->lw);
    s->teacher = calloc((size_t)d->n_windows, sizeof *s->teacher);
    s->logits = malloc((size_t)s->n * s->V * sizeof(float));
    s->dlog = malloc((size_t)s->n * s->V * sizeof(float));
    s->tscratch = malloc((size_t)s->n * s->V * sizeof(float));
    /* joint dMX: theta [M] then phi [n_groups] */
    s->np = o->method == SEARCH_DMX ? M + (d->prune ? d->prune->n_groups : 0) : (int)MK;
    s->param = calloc((size_t)s->np, sizeof *s->param);
    s->p = calloc(MK, sizeof *s->p);
    s->h = calloc(MK, sizeof *s->h);
    s->hw = calloc((size_t)M, sizeof *s->hw);
    s->err2 = calloc(MK, sizeof *s->err2);
    s->curv = calloc((size_t)M, sizeof *s->curv);
    s->dldp = calloc(MK, sizeof *s->dldp);
    if (!s->params || !s->bits || !s->len || !s->q || !s->weff || !s->grad || !s->w0 || !s->lw ||
        !s->teacher || !s->logits || !s->dlog || !s->tscratch || !s->param || !s->p || !s->h ||
        !s->hw || !s->dldp || !s->err2 || !s->curv)
        goto nomem;

    size_t maxlen = 0, qbytes = 0;
    for (int m = 0; m < M; m++) {
        int rows, cols;
        tf_linear_shape(&s->c, m % TF_NLIN, &rows, &cols);
        s->len[m] = (size_t)rows * cols;
        s->params[m] = (double)s->len[m];
        s->ptot += s->params[m];
        if (s->len[m] > maxlen)
            maxlen = s->len[m];
        s->w0[m] = d->w->layers[m / TF_NLIN].lin[m % TF_NLIN];
        for (int k = 0; k < K && !d->prune; k++)
            s->bits[(size_t)m * K + k] = mx_bits_per_weight(s->fmt[k], (size_t)rows, (size_t)cols);
        if (!(s->weff[m] = malloc(s->len[m] * sizeof(float))) ||
            !(s->grad[m] = malloc(s->len[m] * sizeof(float))))
            goto nomem;
        qbytes += s->len[m] * sizeof(float) * K;
    }
    if (!(s->qscratch = malloc(maxlen * sizeof(float))))
        goto nomem;
    if (d->prune) { /* the (format, level) candidates and their bits */
        int jrc = search_joint_candidates(s, e);
        if (jrc) {
            search_state_free(s);
            return jrc;
        }
        qbytes = 0;
        for (int m = 0; m < M; m++)
            for (int k = 0; k < K; k++)
                qbytes += s->off[(size_t)m * K + k] ? 0 : s->len[m] * sizeof(float);
    }
    /* The context first: its threads also quantize (rows split, same bits). */
    if (!(s->t = tf_ctx_create(&s->c, s->n, TF_KEEP_ACTS)))
        goto nomem;
    if (o->threads > 0)
        tf_ctx_set_threads(s->t, o->threads);
    /* Precompute Q_k(W_m) when it fits the memory limit (else on demand). */
    if (qbytes <= s->o.mem_limit) {
        for (int m = 0; m < M; m++) {
            int rows, cols;
            tf_linear_shape(&s->c, m % TF_NLIN, &rows, &cols);
            for (int k = 0; k < K; k++) {
                if (s->off && s->off[(size_t)m * K + k])
                    continue; /* a left-out repeat: never used */
                float *q = malloc(s->len[m] * sizeof(float));
                if (!q)
                    goto nomem;
                s->q[(size_t)m * K + k] = q;
                if (s->d.prune ? search_joint_quantize(s, m, k, q, NULL)
                               : search_quantize(&s->d, tf_ctx_pool(s->t), m, s->fmt[k], s->w0[m], q, rows, cols, NULL))
                    goto nomem;
            }
        }
        s->teacher_left = s->o.mem_limit - qbytes;
    }
    for (int m = 0; m < M; m++)
        for (int k = 0; k < K; k++) {
            if (s->off && s->off[(size_t)m * K + k])
                continue;
            const float *q = search_qk(s, m, k);
            double acc = 0.0;
            for (size_t i = 0; i < s->len[m]; i++)
                acc += ((double)q[i] - s->w0[m][i]) * ((double)q[i] - s->w0[m][i]);
            s->err2[(size_t)m * K + k] = acc;
        }
    for (int l = 0; l < s->c.n_layers; l++) {
        s->lw[l] = d->w->layers[l];
        for (int k = 0; k < TF_NLIN; k++)
            s->lw[l].lin[k] = s->weff[l * TF_NLIN + k];
    }
    s->wq = *d->w;
    s->wq.layers = s->lw;
    if (!(s->bwd = tf_bwd_create(&s->c, s->n)) ||
        !(s->glayers = calloc((size_t)s->c.n_layers, sizeof *s->glayers)))
        goto nomem;
    for (int m = 0; m < M; m++)
        s->glayers[m / TF_NLIN].lin[m % TF_NLIN] = s->grad[m];
    s->g.layers = s->glayers;
    s->g.n_layers = s->c.n_layers;
    s->temp = o->t0;
    s->rho = o->method == SEARCH_DMX ? o->lambda : o->rho;
    *out = s;
    return 0;
nomem:
    search_state_free(s);
    return err_set(e, ERR_NOMEM, "search: out of memory");
}

double *search_state_param(search_state *s, int *n_param)
{
    if (n_param)
        *n_param = s->np;
    return s->param;
}

int search_state_n_formats(const search_state *s) { return s->K; }

void search_state_set(search_state *s, double temperature, double mu, double rho)
{
    s->temp = temperature;
    s->mu = mu;
    s->rho = rho;
}

void search_all_probs(search_state *s)
{
    if (s->d.prune && s->o.method == SEARCH_DMX) {
        search_joint_dmx_probs(s);
        return;
    }
    for (int m = 0; m < s->M; m++) {
        double *p = s->p + (size_t)m * s->K;
        if (s->o.method == SEARCH_DMX)
            dmx_probs(s->param[m], s->temp, s->K, p);
        else
            gamma_probs(s->param + (size_t)m * s->K, s->temp, s->K, p);
    }
}

double search_expected_bits(const search_state *s)
{
    double b = 0.0;
    for (int m = 0; m < s->M; m++) {
        double bm = 0.0;
        for (int k = 0; k < s->K; k++)
            bm += s->p[(size_t)m * s->K + k] * s->bits[(size_t)m * s->K + k];
        b += s->params[m] * bm;
    }
    return b / s->ptot;
}

static double dot(const float *a, const float *b, size_t n)
{
    double acc = 0.0;
    for (size_t i = 0; i < n; i++)
        acc += (double)a[i] * b[i];
    return acc;
}

/* fp32 next-token log-probs of a window, [n][V] (cached when memory allows). */
static const float *teacher_logp(search_state *s, long win)
{
    if (s->teacher[win])
        return s->teacher[win];
    size_t nv = (size_t)s->n * s->V, bytes = nv * sizeof(float);
    float *dst = s->tscratch;
    if (bytes <= s->teacher_left) {
        float *c = malloc(bytes);
        if (c) {
            dst = c;
            s->teacher[win] = c;
            s->teacher_left -= bytes;
        }
    }
    tf_forward(s->t, s->d.w, s->d.in + (size_t)win * s->n, s->n, 0);
    tf_logits(s->t, s->d.w, 0, s->n, dst);
    for (int i = 0; i < s->n; i++) {
        float *row = dst + (size_t)i * s->V;
        double mx = row[0], sum = 0.0;
        for (int v = 1; v < s->V; v++)
            if (row[v] > mx)
                mx = row[v];
        for (int v = 0; v < s->V; v++)
            sum += exp((double)row[v] - mx);
        double lse = mx + log(sum);
        for (int v = 0; v < s->V; v++)
            row[v] = (float)(row[v] - lse);
    }
    return dst;
}

/* KL(teacher || student) per token, mean over rows; dlog = (q - p_t) / n. */
static double kl_loss(search_state *s, const float *lpt)
{
    int n = s->n, V = s->V;
    double total = 0.0;
    for (int i = 0; i < n; i++) {
        const float *z = s->logits + (size_t)i * V, *lt = lpt + (size_t)i * V;
        float *g = s->dlog + (size_t)i * V;
        double mx = z[0], sum = 0.0;
        for (int v = 1; v < V; v++)
            if (z[v] > mx)
                mx = z[v];
        for (int v = 0; v < V; v++)
            sum += exp((double)z[v] - mx);
        double lse = mx + log(sum), kl = 0.0;
        for (int v = 0; v < V; v++) {
            double lq = z[v] - lse, pt = exp((double)lt[v]);
            kl += pt * ((double)lt[v] - lq);
            g[v] = (float)((exp(lq) - pt) / n);
        }
        total += kl;
    }
    return total / n;
}

int search_state_loss_grad(search_state *s, long window, double *task, double *reg,
                           double *exp_bits, double *grad, mx_error *e)
{
    int M = s->M, K = s->K, n = s->n;
    if (window < 0 || window >= s->d.n_windows)
        return err_set(e, ERR_ARG, "search: window %ld out of range", window);
    const int *in = s->d.in + (size_t)window * n, *tgt = s->d.tgt + (size_t)window * n;
    const float *lpt = s->o.loss == SEARCH_LOSS_KL ? teacher_logp(s, window) : NULL;

    search_all_probs(s);
    for (int m = 0; m < M; m++) {
        float *w = s->weff[m];
        memset(w, 0, s->len[m] * sizeof(float));
        for (int k = 0; k < K; k++) {
            double pk = s->p[(size_t)m * K + k];
            if (pk < P_EPS)
                continue;
            /* joint dMX gives the repeats weight: their representative's copy */
            const float *q = search_qk(s, m, s->off && s->off[(size_t)m * K + k] ? s->rep[(size_t)m * K + k] : k);
            float a = (float)pk;
            for (size_t i = 0; i < s->len[m]; i++)
                w[i] += a * q[i];
        }
    }
    if (tf_forward(s->t, &s->wq, in, n, 0))
        return err_set(e, ERR_ARG, "search: forward pass rejected the window");
    tf_logits(s->t, &s->wq, 0, n, s->logits);
    double tl;
    if (lpt)
        tl = kl_loss(s, lpt);
    else
        tl = tf_bwd_cross_entropy(tf_ctx_pool(s->t), s->logits, tgt, n, s->V, 1.0f, s->dlog, NULL);
    double E = search_expected_bits(s), c = E - s->d.budget, rg, coef;
    if (s->o.method == SEARCH_DMX) {
        rg = s->rho * c * c; /* rho holds lambda for dMX */
        coef = 2.0 * s->rho * c;
    } else {
        rg = s->mu * c + 0.5 * s->rho * c * c;
        coef = s->mu + s->rho * c;
    }
    if (task)
        *task = tl;
    if (reg)
        *reg = rg;
    if (exp_bits)
        *exp_bits = E;
    if (!grad)
        return 0;

    for (int m = 0; m < M; m++)
        memset(s->grad[m], 0, s->len[m] * sizeof(float));
    int rc = tf_backward_logits(s->bwd, s->t, &s->wq, NULL, s->dlog, &s->g);
    if (rc)
        return err_set(e, rc, "search: backward pass failed (out of memory)");
    int jdmx = s->d.prune && s->o.method == SEARCH_DMX;
    for (int m = 0; m < M; m++) {
        const float *g = s->grad[m];
        s->hw[m] = dot(g, s->w0[m], s->len[m]);
        for (int k = 0; k < K; k++) {
            size_t i = (size_t)m * K + k;
            /* Every format's product is kept (GAMMA exports them as scores). */
            s->h[i] = s->off && s->off[i] ? 0.0 : dot(g, search_qk(s, m, k), s->len[m]);
        }
        for (int k = 0; k < K; k++) {
            size_t i = (size_t)m * K + k;
            if (jdmx && s->off[i]) /* a repeat: its representative's weights (and bits) */
                s->h[i] = s->h[(size_t)m * K + s->rep[i]];
            s->dldp[i] = s->h[i] + coef * s->params[m] * s->bits[i] / s->ptot;
        }
        const double *p = s->p + (size_t)m * K;
        /* curvature of the loss along this module's deviation from fp32 */
        double gd = -s->hw[m], e2 = 0.0;
        for (int k = 0; k < K; k++)
            gd += p[k] * s->h[(size_t)m * K + k];
        for (size_t i = 0; i < s->len[m]; i++) {
            double dv = (double)s->weff[m][i] - s->w0[m][i];
            e2 += dv * dv;
        }
        s->curv[m] = e2 > 0 ? gd / e2 : 0.0;
        if (jdmx)
            continue; /* chained below, the groups' levels shared */
        if (s->o.method == SEARCH_DMX)
            grad[m] = dmx_grad(s->param[m], s->temp, K, p, s->dldp + (size_t)m * K);
        else
            gamma_grad(p, s->temp, K, s->dldp + (size_t)m * K, grad + (size_t)m * K);
    }
    if (jdmx)
        search_joint_dmx_grad(s, grad);
    return 0;
}

