/* The differentiable search: mixture weights, one loss/gradient evaluation,
 * the Adam step loop over calibration windows, and the final discretisation. */
#include "solver/search.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kernels/tf_backward.h"
#include "solver/dmx.h"
#include "solver/gamma.h"
#include "solver/ilp.h"
#include "solver/search_internal.h"

#define DEFAULT_MEM ((size_t)4 << 30)
#define P_EPS 1e-12 /* mixture weights below this are skipped (exp underflow range) */

static const char *const method_names[SEARCH_NMETHODS] = {"dmx", "gamma"};
static const char *const loss_names[SEARCH_NLOSSES] = {"kl", "ce"};

const char *search_method_name(search_method m)
{
    return (unsigned)m < SEARCH_NMETHODS ? method_names[m] : "?";
}

int search_method_parse(const char *s, search_method *out)
{
    for (int i = 0; i < SEARCH_NMETHODS; i++)
        if (s && !strcasecmp(s, method_names[i])) {
            *out = (search_method)i;
            return 0;
        }
    return -1;
}

const char *search_loss_name(search_loss l)
{
    return (unsigned)l < SEARCH_NLOSSES ? loss_names[l] : "?";
}

int search_loss_parse(const char *s, search_loss *out)
{
    for (int i = 0; i < SEARCH_NLOSSES; i++)
        if (s && !strcasecmp(s, loss_names[i])) {
            *out = (search_loss)i;
            return 0;
        }
    return -1;
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

struct search_state {
    search_data d;
    search_opts o;
    tf_config c;
    int M, K, V, n;
    mx_format fmt[MX_NFORMATS];  /* bits ascending */
    int data_index[MX_NFORMATS]; /* position of fmt[k] in d.formats */
    double *params, ptot;        /* [M] */
    double *bits;                /* [M][K] */
    size_t *len;                 /* [M] weights per module */
    float **q;                   /* [M][K] cached Q_k(W_m), NULL = quantize on demand */
    float *qscratch;
    float **weff;                /* [M] */
    float **grad;                /* [M] dL/dW_eff */
    const float **w0;            /* [M] fp32 weights */
    tf_layer_weights *lw;
    tf_weights wq;
    tf_ctx *t;
    search_bwd bwd;
    float *logits, *dlog;
    float **teacher;             /* [n_windows] cached fp32 log-probs or NULL */
    float *tscratch;
    size_t teacher_left;         /* bytes still allowed for the cache */
    double *param;               /* theta [M] or alpha [M][K] */
    int np;
    double *p, *h, *hw, *dldp;   /* [M][K], [M][K], [M], [M][K] */
    double *err2;                /* [M][K] ||Q_k(W_m) - W_m||^2 */
    double *curv;                /* [M] <G_m, W_eff - W> / ||W_eff - W||^2 of the last step */
    double temp, mu, rho;
};

static const float *qk(search_state *s, int m, int k)
{
    float *c = s->q[(size_t)m * s->K + k];
    if (c)
        return c;
    int rows, cols;
    tf_linear_shape(&s->c, m % TF_NLIN, &rows, &cols);
    mx_fake_quant(s->fmt[k], s->w0[m], s->qscratch, (size_t)rows, (size_t)cols);
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
    search_bwd_free(&s->bwd);
    tf_ctx_free(s->t);
    free(s);
}

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
    if (o->method == SEARCH_DMX && !(o->lambda >= 0))
        return err_set(e, ERR_ARG, "search: lambda must be >= 0");
    if (o->method == SEARCH_GAMMA && (!(o->rho > 0) || o->mu_every < 1))
        return err_set(e, ERR_ARG, "search: rho must be > 0 and mu_every >= 1");
    return 0;
}

/* Average bits of format k over all modules (params-weighted). */
static double format_avg_bits(const search_state *s, int k)
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
    int M = s->M, K = s->K;

    /* Candidates sorted by bits ascending (stable: ties keep the given order).
     * Bits of a 32-multiple row are the same for every module; sort by a
     * representative shape. */
    int rows0, cols0;
    tf_linear_shape(&s->c, 0, &rows0, &cols0);
    for (int i = 0; i < K; i++)
        s->data_index[i] = i;
    for (int i = 1; i < K; i++)
        for (int j = i; j > 0; j--) {
            double a = mx_bits_per_weight(d->formats[s->data_index[j - 1]], 1, (size_t)cols0);
            double b = mx_bits_per_weight(d->formats[s->data_index[j]], 1, (size_t)cols0);
            if (b < a) {
                int tmp = s->data_index[j];
                s->data_index[j] = s->data_index[j - 1];
                s->data_index[j - 1] = tmp;
            }
        }
    for (int k = 0; k < K; k++)
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
    s->np = o->method == SEARCH_DMX ? M : (int)MK;
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
        for (int k = 0; k < K; k++)
            s->bits[(size_t)m * K + k] = mx_bits_per_weight(s->fmt[k], (size_t)rows, (size_t)cols);
        if (!(s->weff[m] = malloc(s->len[m] * sizeof(float))) ||
            !(s->grad[m] = malloc(s->len[m] * sizeof(float))))
            goto nomem;
        qbytes += s->len[m] * sizeof(float) * K;
    }
    if (!(s->qscratch = malloc(maxlen * sizeof(float))))
        goto nomem;
    /* Precompute Q_k(W_m) when it fits the memory limit (else on demand). */
    if (qbytes <= s->o.mem_limit) {
        for (int m = 0; m < M; m++) {
            int rows, cols;
            tf_linear_shape(&s->c, m % TF_NLIN, &rows, &cols);
            for (int k = 0; k < K; k++) {
                float *q = malloc(s->len[m] * sizeof(float));
                if (!q)
                    goto nomem;
                mx_fake_quant(s->fmt[k], s->w0[m], q, (size_t)rows, (size_t)cols);
                s->q[(size_t)m * K + k] = q;
            }
        }
        s->teacher_left = s->o.mem_limit - qbytes;
    }
    for (int m = 0; m < M; m++)
        for (int k = 0; k < K; k++) {
            const float *q = qk(s, m, k);
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
    if (!(s->t = tf_ctx_create(&s->c, s->n, TF_KEEP_ACTS)))
        goto nomem;
    if (o->threads > 0)
        tf_ctx_set_threads(s->t, o->threads);
    if (search_bwd_init(&s->bwd, &s->c, s->n))
        goto nomem;
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

static void all_probs(search_state *s)
{
    for (int m = 0; m < s->M; m++) {
        double *p = s->p + (size_t)m * s->K;
        if (s->o.method == SEARCH_DMX)
            dmx_probs(s->param[m], s->temp, s->K, p);
        else
            gamma_probs(s->param + (size_t)m * s->K, s->temp, s->K, p);
    }
}

static double expected_bits(const search_state *s)
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

    all_probs(s);
    for (int m = 0; m < M; m++) {
        float *w = s->weff[m];
        memset(w, 0, s->len[m] * sizeof(float));
        for (int k = 0; k < K; k++) {
            double pk = s->p[(size_t)m * K + k];
            if (pk < P_EPS)
                continue;
            const float *q = qk(s, m, k);
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
        tl = tf_bwd_cross_entropy(s->logits, tgt, n, s->V, 1.0f, s->dlog, NULL);
    double E = expected_bits(s), c = E - s->d.budget, rg, coef;
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
    int rc = search_bwd_run(&s->bwd, s->t, &s->wq, s->dlog, s->grad);
    if (rc)
        return err_set(e, rc, "search: backward pass failed (out of memory)");
    for (int m = 0; m < M; m++) {
        const float *g = s->grad[m];
        s->hw[m] = dot(g, s->w0[m], s->len[m]);
        for (int k = 0; k < K; k++) {
            size_t i = (size_t)m * K + k;
            /* Every format's product is kept (GAMMA exports them as scores). */
            s->h[i] = dot(g, qk(s, m, k), s->len[m]);
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
        if (s->o.method == SEARCH_DMX)
            grad[m] = dmx_grad(s->param[m], s->temp, K, p, s->dldp + (size_t)m * K);
        else
            gamma_grad(p, s->temp, K, s->dldp + (size_t)m * K, grad + (size_t)m * K);
    }
    return 0;
}

/* ---- the step loop ------------------------------------------------------- */

static uint64_t splitmix(uint64_t *st)
{
    uint64_t z = (*st += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Continuous index where the params-weighted average bits of the (sorted)
 * formats equals the budget, interpolating linearly. */
static double budget_position(const search_state *s)
{
    double B = s->d.budget;
    if (B <= format_avg_bits(s, 0))
        return 0.0;
    for (int k = 0; k + 1 < s->K; k++) {
        double a = format_avg_bits(s, k), b = format_avg_bits(s, k + 1);
        if (B >= a && B <= b && b > a)
            return k + (B - a) / (b - a);
    }
    return s->K - 1;
}

static int argmax_row(const double *p, int k)
{
    int best = 0;
    for (int i = 1; i < k; i++)
        if (p[i] > p[best])
            best = i;
    return best;
}

static int init_params(search_state *s, mx_error *e)
{
    int M = s->M, K = s->K;
    double pos = budget_position(s);
    int *choice = NULL;
    if (s->o.init_cost) {
        double *cost = malloc((size_t)M * K * sizeof *cost);
        choice = malloc((size_t)M * sizeof *choice);
        if (!cost || !choice) {
            free(cost);
            free(choice);
            return err_set(e, ERR_NOMEM, "search: out of memory");
        }
        for (int m = 0; m < M; m++)
            for (int k = 0; k < K; k++)
                cost[(size_t)m * K + k] = s->o.init_cost[(size_t)m * K + s->data_index[k]];
        ilp_problem P = {M, K, s->params, s->bits, cost, NULL, NULL, s->d.budget, 0, 0};
        ilp_result res;
        int rc = ilp_solve(&P, choice, &res, e);
        free(cost);
        if (rc) {
            free(choice);
            return rc;
        }
    }
    for (int m = 0; m < M; m++) {
        double c = choice ? choice[m] : pos;
        if (s->o.method == SEARCH_DMX)
            s->param[m] = c;
        else
            for (int k = 0; k < K; k++)
                s->param[(size_t)m * K + k] = -(k - c) * (k - c);
    }
    free(choice);
    return 0;
}

void search_result_free(search_result *r)
{
    free(r->assign);
    free(r->choice);
    free(r->param);
    free(r->score);
    memset(r, 0, sizeof *r);
}

/* argmax of the relaxation, then the ILP with the learned preferences as
 * costs (it returns the argmax itself whenever that fits the budget). */
static int finalize(search_state *s, search_result *r, mx_error *e)
{
    int M = s->M, K = s->K;
    double *cost = malloc((size_t)M * K * sizeof *cost);
    double *pr = malloc((size_t)K * sizeof *pr);
    int *am = malloc((size_t)M * sizeof *am);
    if (!cost || !pr || !am) {
        free(cost);
        free(pr);
        free(am);
        return err_set(e, ERR_NOMEM, "search: out of memory");
    }
    for (int m = 0; m < M; m++) {
        if (s->o.method == SEARCH_DMX) {
            for (int k = 0; k < K; k++)
                cost[(size_t)m * K + k] = (s->param[m] - k) * (s->param[m] - k);
        } else {
            gamma_probs(s->param + (size_t)m * K, 1.0, K, pr);
            for (int k = 0; k < K; k++)
                cost[(size_t)m * K + k] = -log(pr[k] > 1e-300 ? pr[k] : 1e-300);
        }
        int best = 0;
        for (int k = 1; k < K; k++)
            if (cost[(size_t)m * K + k] < cost[(size_t)m * K + best])
                best = k;
        am[m] = best;
    }
    ilp_problem P = {M, K, s->params, s->bits, cost, NULL, NULL, s->d.budget, 0, 0};
    ilp_result res;
    int rc = ilp_solve(&P, r->choice, &res, e);
    free(pr);
    if (rc) {
        free(cost);
        free(am);
        return rc;
    }
    /* Fill: rounding usually leaves part of the budget unused; spend it on
     * the upgrades the learned preferences object to least (lowest cost
     * increase to a format with more bits), one at a time, while they fit. */
    double used = 0.0, cap = s->d.budget * s->ptot;
    for (int m = 0; m < M; m++)
        used += s->params[m] * s->bits[(size_t)m * K + r->choice[m]];
    r->filled = 0;
    for (;;) {
        int bm = -1, bk = -1;
        double bd = INFINITY;
        for (int m = 0; m < M; m++) {
            size_t i0 = (size_t)m * K + r->choice[m];
            for (int k = 0; k < K; k++) {
                size_t i = (size_t)m * K + k;
                double extra = s->params[m] * (s->bits[i] - s->bits[i0]);
                if (s->bits[i] <= s->bits[i0] || used + extra > cap * (1 + 1e-12))
                    continue;
                if (cost[i] - cost[i0] < bd) {
                    bd = cost[i] - cost[i0];
                    bm = m;
                    bk = k;
                }
            }
        }
        if (bm < 0)
            break;
        used += s->params[bm] * (s->bits[(size_t)bm * K + bk] - s->bits[(size_t)bm * K + r->choice[bm]]);
        r->choice[bm] = bk;
        r->filled++;
    }
    free(cost);
    double b = 0.0;
    r->repaired = 0;
    for (int m = 0; m < M; m++) {
        r->assign[m] = s->fmt[r->choice[m]];
        b += s->params[m] * s->bits[(size_t)m * K + r->choice[m]];
        r->repaired |= r->choice[m] < am[m]; /* moved down to fit */
    }
    r->avg_bits = b / s->ptot;
    free(am);
    return 0;
}

/* ---- refinement: measured local search on the calibration cross-entropy ---- */

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
        mx_fake_quant(s->fmt[k], s->w0[m], f->own[m], (size_t)rows, (size_t)cols);
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
                       s->o.refine};
    return s->o.on_event(s->o.user, &ev);
}

static int refine(search_state *s, search_result *r, mx_error *e)
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
        ilp_problem P = {M, K, s->params, s->bits, delta, allowed, NULL, s->d.budget, 0, 0};
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

int search_run(const search_data *d, const search_opts *o, search_result *r, mx_error *e)
{
    memset(r, 0, sizeof *r);
    search_state *s;
    int rc = search_state_create(d, o, &s, e);
    if (rc)
        return rc;
    int M = s->M, K = s->K, np = s->np, S = o->steps;
    double minb = format_avg_bits(s, 0);
    if (d->budget < minb - 1e-9) {
        err_set(e, ERR_INFEASIBLE, "budget %.4g bits is below the smallest reachable %.4g (all %s)",
                d->budget, minb, mx_format_name(s->fmt[0]));
        search_state_free(s);
        return ERR_INFEASIBLE;
    }
    double *grad = calloc((size_t)np, sizeof *grad), *am1 = calloc((size_t)np, sizeof *am1),
           *am2 = calloc((size_t)np, sizeof *am2);
    double *sacc = o->method == SEARCH_GAMMA ? calloc((size_t)M, sizeof *sacc) : NULL;
    long *order = malloc((size_t)d->n_windows * sizeof *order);
    int *amax = malloc((size_t)M * sizeof *amax);
    r->assign = malloc((size_t)M * sizeof *r->assign);
    r->choice = malloc((size_t)M * sizeof *r->choice);
    r->param = malloc((size_t)np * sizeof *r->param);
    if (!grad || !am1 || !am2 || (o->method == SEARCH_GAMMA && !sacc) || !order || !amax ||
        !r->assign || !r->choice || !r->param) {
        rc = err_set(e, ERR_NOMEM, "search: out of memory");
        goto out;
    }
    if ((rc = init_params(s, e)))
        goto out;

    uint64_t rng = o->seed ^ 0x6D786D61ull;
    double mu = 0.0, rho = o->method == SEARCH_DMX ? o->lambda : o->rho, prev_c = INFINITY;
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    double b1t = 1.0, b2t = 1.0, c = 0.0, task = 0.0;
    long nacc = 0;
    int step;
    for (step = 0; step < S; step++) {
        long pos = step % d->n_windows;
        if (pos == 0) { /* a fresh seeded shuffle every epoch */
            for (long i = 0; i < d->n_windows; i++)
                order[i] = i;
            for (long i = d->n_windows - 1; i > 0; i--) {
                long j = (long)(splitmix(&rng) % (uint64_t)(i + 1));
                long tmp = order[i];
                order[i] = order[j];
                order[j] = tmp;
            }
        }
        double T = S > 1 ? o->t0 * pow(o->tmin / o->t0, (double)step / (S - 1)) : o->tmin;
        search_state_set(s, T, mu, rho);
        double reg, E;
        if ((rc = search_state_loss_grad(s, order[pos], &task, &reg, &E, grad, e)))
            goto out;
        c = E - d->budget;
        if (sacc) { /* scores: mean over the second half (restart at the midpoint) */
            if (step == S / 2 && nacc > 0) {
                memset(sacc, 0, (size_t)M * sizeof *sacc);
                nacc = 0;
            }
            for (int m = 0; m < M; m++)
                sacc[m] += s->curv[m];
            nacc++;
        }
        /* Adam */
        b1t *= b1;
        b2t *= b2;
        for (int i = 0; i < np; i++) {
            am1[i] = b1 * am1[i] + (1 - b1) * grad[i];
            am2[i] = b2 * am2[i] + (1 - b2) * grad[i] * grad[i];
            double mh = am1[i] / (1 - b1t), vh = am2[i] / (1 - b2t);
            s->param[i] -= o->lr * mh / (sqrt(vh) + eps);
        }
        if (o->method == SEARCH_DMX)
            for (int m = 0; m < M; m++) /* keep theta on the format axis */
                s->param[m] = fmin(fmax(s->param[m], -0.5), K - 0.5);
        if (o->method == SEARCH_GAMMA && (step + 1) % o->mu_every == 0) {
            mu += rho * c;
            /* grow the penalty only while the constraint is still visibly off */
            if (fabs(c) > 0.5 * prev_c && fabs(c) > 0.01)
                rho = fmin(2.0 * rho, 1e4);
            prev_c = fabs(c);
        }
        /* the event: argmax of the mixture after this step's update */
        all_probs(s);
        double ab = 0.0;
        for (int m = 0; m < M; m++) {
            amax[m] = argmax_row(s->p + (size_t)m * K, K);
            ab += s->params[m] * s->bits[(size_t)m * K + amax[m]];
        }
        if (o->on_event) {
            search_event ev = {o->method, step + 1, S, T, mu, rho, task, reg, E, ab / s->ptot,
                               M, K, s->fmt, amax, order[pos], 0, 0};
            if (o->on_event(o->user, &ev)) {
                r->cancelled = 1;
                step++;
                break;
            }
        }
    }
    r->steps_done = step;
    r->n_modules = M;
    r->n_formats = K;
    for (int k = 0; k < K; k++)
        r->formats[k] = s->fmt[k];
    r->budget = d->budget;
    r->task_loss = task;
    r->mu = mu;
    r->rho = rho;
    all_probs(s);
    r->exp_bits = expected_bits(s);
    memcpy(r->param, s->param, (size_t)np * sizeof *r->param);
    r->n_param = np;
    if (sacc && nacc > 0 && (r->score = malloc((size_t)M * K * sizeof *r->score))) {
        for (int m = 0; m < M; m++) {
            double cm = fmax(sacc[m] / (double)nacc, 0.0);
            for (int k = 0; k < K; k++)
                r->score[(size_t)m * K + k] = 0.5 * cm * s->err2[(size_t)m * K + k];
        }
    }
    rc = finalize(s, r, e);
    if (!rc && o->refine > 0 && !r->cancelled)
        rc = refine(s, r, e);
out:
    free(grad);
    free(am1);
    free(am2);
    free(sacc);
    free(order);
    free(amax);
    search_state_free(s);
    if (rc)
        search_result_free(r);
    return rc;
}

int search_eval_assignment(const search_data *d, const mx_format *assign, int threads,
                           double *nll, mx_error *e)
{
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
        if (assign[m] == MX_FP32)
            continue;
        int rows, cols;
        tf_linear_shape(c, m % TF_NLIN, &rows, &cols);
        if (!(copies[m] = malloc((size_t)rows * cols * sizeof(float)))) {
            rc = err_set(e, ERR_NOMEM, "search: out of memory");
            goto out;
        }
        mx_fake_quant(assign[m], d->w->layers[m / TF_NLIN].lin[m % TF_NLIN], copies[m],
                      (size_t)rows, (size_t)cols);
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
