/* Projected loss and perplexity of an assignment from per-module scores:
 *   projected loss = fp32_loss + c * sum_m s[m][f(m)],  s = score_cost
 * with c = 1 (scores taken at face value) or fitted by least squares through
 * the origin to the measured uniform-format loss increases
 *   uniform_loss[f] - fp32_loss  ~  c * sum_m s[m][f].
 * Projected perplexity = exp(projected loss). */
#ifndef MXALLOC_PROJ_H
#define MXALLOC_PROJ_H

#include "src/score_table.h"
#include "kernels/err.h"

/* sum_m s[m][fmt[m]] for method meth; NAN when a needed score is missing. */
double proj_score_sum(const score_table *t, score_method meth, const mx_format *fmt);

/* Fit c over every format with a measured uniform loss and finite scores for
 * all modules; *n_points receives how many formats were used. ERR_ARG when
 * the table has no fp32 loss or no usable format, or the fit is degenerate
 * (all sums zero). */
int proj_calibrate(const score_table *t, score_method meth, double *c, int *n_points, mx_error *e);

/* The factor projections use by default: proj_calibrate's fit when the table
 * has measured uniform losses and the fit is positive, else 1 (*n_points = 0). */
double proj_default_c(const score_table *t, score_method meth, int *n_points);

/* The fit's residuals on its own anchors: the largest |projected / measured
 * - 1| of the uniform-format perplexities with factor c, NAN when the table
 * has no measured uniform format. A measured held-out error (sweep --measure)
 * is the real check; this is the band `alloc` reports beside a projection. */
double proj_fit_residual(const score_table *t, score_method meth, double c);

/* fp32_loss + c * sum (NAN propagates). */
double proj_loss(const score_table *t, double c, double score_sum);
/* exp(loss). */
double proj_ppl(double loss);
/* (projected - measured) / measured. */
double proj_rel_error(double projected_ppl, double measured_ppl);

#endif
