/* Projections from scores (see proj.h). */
#include "solver/proj.h"

#include <math.h>

double proj_score_sum(const score_table *t, score_method meth, const mx_format *fmt)
{
    if ((unsigned)meth >= SCORE_NMETHODS)
        return NAN;
    double s = 0;
    for (int m = 0; m < t->n_modules; m++) {
        if ((unsigned)fmt[m] >= MX_NFORMATS)
            return NAN;
        s += score_cost(&t->modules[m], meth, fmt[m]);
    }
    return s;
}

int proj_calibrate(const score_table *t, score_method meth, double *c, int *n_points, mx_error *e)
{
    *n_points = 0;
    if (!isfinite(t->fp32_loss))
        return err_set(e, ERR_ARG, "cannot calibrate: the score table has no fp32 loss");
    double sxy = 0, sxx = 0;
    for (int i = 0; i < t->n_formats; i++) {
        mx_format f = t->formats[i];
        if (!isfinite(t->uniform_loss[f]))
            continue;
        double x = 0;
        for (int m = 0; m < t->n_modules; m++)
            x += score_cost(&t->modules[m], meth, f);
        if (!isfinite(x))
            continue;
        double y = t->uniform_loss[f] - t->fp32_loss;
        sxy += x * y;
        sxx += x * x;
        (*n_points)++;
    }
    if (*n_points == 0)
        return err_set(e, ERR_ARG, "cannot calibrate: no format has a measured uniform loss and %s "
                       "scores for every module", score_method_name(meth));
    if (!(sxx > 0))
        return err_set(e, ERR_ARG, "cannot calibrate: the %s scores of the measured formats sum to zero",
                       score_method_name(meth));
    *c = sxy / sxx;
    return 0;
}

double proj_default_c(const score_table *t, score_method meth, int *n_points)
{
    double c = 1;
    if (proj_calibrate(t, meth, &c, n_points, NULL) || !(c > 0)) {
        *n_points = 0;
        c = 1;
    }
    return c;
}

double proj_fit_residual(const score_table *t, score_method meth, double c)
{
    double worst = NAN;
    for (int i = 0; i < t->n_formats; i++) {
        mx_format f = t->formats[i];
        if (!isfinite(t->uniform_loss[f]) || f == MX_FP32)
            continue;
        double x = 0;
        for (int m = 0; m < t->n_modules; m++)
            x += score_cost(&t->modules[m], meth, f);
        double r = fabs(exp(proj_loss(t, c, x) - t->uniform_loss[f]) - 1);
        if (isfinite(r) && !(r <= worst))
            worst = r;
    }
    return worst;
}

double proj_loss(const score_table *t, double c, double score_sum)
{
    return t->fp32_loss + c * score_sum;
}

double proj_ppl(double loss)
{
    return exp(loss);
}

double proj_rel_error(double projected_ppl, double measured_ppl)
{
    return (projected_ppl - measured_ppl) / measured_ppl;
}
