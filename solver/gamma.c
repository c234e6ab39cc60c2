/* GAMMA relaxation (softmax over per-module logits) and score export. */
#include "solver/gamma.h"

#include <math.h>

void gamma_probs(const double *alpha, double t, int k, double *p)
{
    double mx = -INFINITY, sum = 0.0;
    for (int i = 0; i < k; i++)
        if (alpha[i] / t > mx)
            mx = alpha[i] / t;
    for (int i = 0; i < k; i++) {
        p[i] = exp(alpha[i] / t - mx);
        sum += p[i];
    }
    for (int i = 0; i < k; i++)
        p[i] /= sum;
}

void gamma_grad(const double *p, double t, int k, const double *dl_dp, double *dl_dalpha)
{
    double mean = 0.0;
    for (int i = 0; i < k; i++)
        mean += p[i] * dl_dp[i];
    for (int i = 0; i < k; i++)
        dl_dalpha[i] = p[i] * (dl_dp[i] - mean) / t;
}

int gamma_search(const search_data *d, const search_opts *o, search_result *r, mx_error *e)
{
    return search_run_as(d, o, SEARCH_GAMMA, r, e);
}

int gamma_export(const search_result *r, const tf_config *cfg, score_table *t, mx_error *e)
{
    if (!r->score || r->n_modules != cfg->n_layers * TF_NLIN)
        return err_set(e, ERR_ARG, "gamma export: no GAMMA scores in this result");
    if (score_table_alloc(t, r->n_modules))
        return err_set(e, ERR_NOMEM, "gamma export: out of memory");
    t->methods = 1u << SCORE_GAMMA;
    t->n_formats = r->n_formats;
    for (int k = 0; k < r->n_formats; k++)
        t->formats[k] = r->formats[k];
    for (int m = 0; m < r->n_modules; m++) {
        score_module *sm = &t->modules[m];
        sm->layer = m / TF_NLIN;
        sm->kind = m % TF_NLIN;
        tf_linear_shape(cfg, sm->kind, &sm->rows, &sm->cols);
        sm->params = (int64_t)sm->rows * sm->cols;
        for (int k = 0; k < r->n_formats; k++) {
            mx_format f = r->formats[k];
            sm->bits[f] = mx_bits_per_weight(f, (size_t)sm->rows, (size_t)sm->cols);
            sm->score[SCORE_GAMMA][f] = r->score[(size_t)m * r->n_formats + k];
        }
    }
    return 0;
}
