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

void proj_fit_identity(proj_fit *f)
{
    *f = (proj_fit){.c1 = 1, .c2 = 0, .s_max = INFINITY};
}

/* Anchor k of meth in t: its S and measured loss increase y; 0, or -1 when k
 * is not usable. Uniform formats first (k < n_formats), then mixed anchors. */
static int anchor(const score_table *t, score_method meth, int k, double *x, double *y, int *mixed)
{
    *mixed = k >= t->n_formats;
    if (!*mixed) {
        mx_format f = t->formats[k];
        if (f == MX_FP32 || !isfinite(t->uniform_loss[f]))
            return -1;
        *x = 0;
        for (int m = 0; m < t->n_modules; m++)
            *x += score_cost(&t->modules[m], meth, f);
        *y = t->uniform_loss[f] - t->fp32_loss;
    } else {
        const score_anchor *a = &t->anchors[k - t->n_formats];
        if (a->method != (int)meth)
            return -1;
        *x = a->score_sum;
        *y = a->loss - t->fp32_loss;
    }
    return isfinite(*x) && isfinite(*y) ? 0 : -1;
}

int proj_calibrate(const score_table *t, score_method meth, proj_fit *f, mx_error *e)
{
    proj_fit_identity(f);
    if (!isfinite(t->fp32_loss))
        return err_set(e, ERR_ARG, "cannot calibrate: the score table has no fp32 loss");
    /* normal equations of y ~ c1 x + c2 x^2 (and of y ~ c x alone) */
    double sxx = 0, sxy = 0, sx3 = 0, sx4 = 0, sx2y = 0, smax = 0;
    int nu = 0, nm = 0;
    for (int k = 0; k < t->n_formats + t->n_anchors; k++) {
        double x, y;
        int mixed;
        if (anchor(t, meth, k, &x, &y, &mixed))
            continue;
        sxx += x * x;
        sxy += x * y;
        sx3 += x * x * x;
        sx4 += x * x * x * x;
        sx2y += x * x * y;
        smax = fmax(smax, x);
        nu += !mixed;
        nm += mixed;
    }
    if (nu + nm == 0)
        return err_set(e, ERR_ARG, "cannot calibrate: no format has a measured uniform loss and %s "
                       "scores for every module", score_method_name(meth));
    if (!(sxx > 0))
        return err_set(e, ERR_ARG, "cannot calibrate: the %s scores of the measured formats sum to zero",
                       score_method_name(meth));
    f->c1 = sxy / sxx;
    f->n_uniform = nu;
    f->n_mixed = nm;
    f->s_max = smax;
    double det = sxx * sx4 - sx3 * sx3;
    if (nm >= PROJ_MIN_MIXED && det > 1e-12 * sxx * sx4) {
        double c1 = (sxy * sx4 - sx2y * sx3) / det, c2 = (sxx * sx2y - sx3 * sxy) / det;
        if (c1 > 0 && c1 + 2 * c2 * smax > 0) { /* rising over the anchors: else one scale */
            f->c1 = c1;
            f->c2 = c2;
        }
    }
    return 0;
}

void proj_default_fit(const score_table *t, score_method meth, proj_fit *f)
{
    if (proj_calibrate(t, meth, f, NULL) || !(f->c1 > 0))
        proj_fit_identity(f);
}

double proj_fit_residual(const score_table *t, score_method meth, const proj_fit *f)
{
    double worst = NAN;
    for (int k = 0; k < t->n_formats + t->n_anchors; k++) {
        double x, y;
        int mixed;
        if (anchor(t, meth, k, &x, &y, &mixed))
            continue;
        double r = fabs(exp(proj_loss(t, f, x) - t->fp32_loss - y) - 1);
        if (isfinite(r) && !(r <= worst))
            worst = r;
    }
    return worst;
}

double proj_loss(const score_table *t, const proj_fit *f, double score_sum)
{
    double s = score_sum, d = 0;
    if (s > f->s_max) { /* beyond the anchors: along the tangent at the last one */
        d = s - f->s_max;
        s = f->s_max;
    }
    return t->fp32_loss + f->c1 * s + f->c2 * s * s + (f->c1 + 2 * f->c2 * s) * d;
}

double proj_ppl(double loss)
{
    return exp(loss);
}

double proj_rel_error(double projected_ppl, double measured_ppl)
{
    return (projected_ppl - measured_ppl) / measured_ppl;
}
