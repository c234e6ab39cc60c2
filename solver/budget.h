/* The budget range of an allocation problem: from the smallest feasible
 * average bits per weight to every module at its widest allowed format. The
 * workbench's budget bar spans it; `alloc` and `sweep` can print it. */
#ifndef MXALLOC_BUDGET_H
#define MXALLOC_BUDGET_H

#include "kernels/err.h"
#include "solver/alloc_setup.h"
#include "solver/ilp.h"
#include "src/score_table.h"

/* [min feasible, widest allowed] budget of p in bits per weight; NAN when p
 * has no feasible assignment (lo) or no parameters (hi). */
void budget_range(const ilp_problem *p, double *lo, double *hi);

/* The same for the problem `alloc` builds from o and t (pins, allowed formats,
 * groups; o->budget is ignored). 0, or ERR_* with *lo = *hi = NAN. */
int budget_range_opts(const alloc_opts *o, const score_table *t, double *lo, double *hi, mx_error *e);

#endif
