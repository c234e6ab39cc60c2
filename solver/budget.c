/* Budget range of an allocation problem (solver/budget.h). */
#include "solver/budget.h"

#include <math.h>

void budget_range(const ilp_problem *p, double *lo, double *hi)
{
    *lo = ilp_min_budget(p);
    /* widest: every module at its widest allowed format */
    double num = 0, den = 0;
    for (int i = 0; i < p->n_modules; i++) {
        double w = 0;
        for (int j = 0; j < p->n_formats; j++)
            if (p->allowed[i * p->n_formats + j] && p->bits[i * p->n_formats + j] > w)
                w = p->bits[i * p->n_formats + j];
        num += w * p->params[i];
        den += p->params[i];
    }
    *hi = den > 0 ? num / den : NAN;
}

int budget_range_opts(const alloc_opts *o, const score_table *t, double *lo, double *hi, mx_error *e)
{
    *lo = *hi = NAN;
    alloc_setup s;
    int rc = alloc_setup_build(o, t, &s, e);
    if (rc)
        return rc;
    budget_range(&s.p, lo, hi);
    alloc_setup_free(&s);
    return 0;
}
