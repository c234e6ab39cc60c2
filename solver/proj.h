/* Projected loss and perplexity of an assignment from per-module scores:
 *   projected loss = fp32_loss + c1 S + c2 S^2,  S = sum_m s[m][f(m)],  s = score_cost
 * fitted by least squares through the origin to the measured loss increases
 * of the table's anchors: the uniform formats (uniform_loss[f] - fp32_loss at
 * S = sum_m s[m][f]) and, when `score` measured them, mixed allocations of
 * the integer program at 4.5..8 bits (score_table.anchors). Measured on both
 * real models (calibrate on one half of the TinyStories sample, check on the
 * other, budgets 4.5..8): with mixed anchors the quadratic keeps every score
 * method within 1.7% worst (fisher-out on stories260K: 2.58% with the
 * uniform-only scale); with the uniform formats alone the quadratic is worse
 * than one scale on tinystories-656k (2.79% vs 1.12%), so the quadratic is
 * used only with at least PROJ_MIN_MIXED mixed anchors and only when it
 * rises over the anchors' range; else one scale c1 (c2 = 0). Beyond the
 * largest anchor the projection continues along its tangent.
 * Projected perplexity = exp(projected loss). */
#ifndef MXALLOC_PROJ_H
#define MXALLOC_PROJ_H

#include "src/score_table.h"
#include "kernels/err.h"

#define PROJ_MIN_MIXED 3

typedef struct proj_fit {
    double c1, c2;   /* the curve; c1 = 1, c2 = 0: scores at face value */
    double s_max;    /* the largest anchor's S (the curve's range); INFINITY when not fitted */
    int n_uniform;   /* anchors used: uniform formats ... */
    int n_mixed;     /* ... and measured mixed allocations (0 and 0: not fitted) */
} proj_fit;

/* sum_m s[m][fmt[m]] for method meth; NAN when a needed score is missing. */
double proj_score_sum(const score_table *t, score_method meth, const mx_format *fmt);

/* The face-value projection: c1 = 1, c2 = 0, no anchors. */
void proj_fit_identity(proj_fit *f);
/* Fit over every format with a measured uniform loss and finite scores for
 * all modules, plus the table's mixed anchors of meth. ERR_ARG when the table
 * has no fp32 loss or no usable anchor, or the fit is degenerate (all sums
 * zero); *f is then the identity. */
int proj_calibrate(const score_table *t, score_method meth, proj_fit *f, mx_error *e);
/* The fit projections use by default: proj_calibrate's when it succeeds with
 * a rising curve, else the identity. */
void proj_default_fit(const score_table *t, score_method meth, proj_fit *f);

/* The fit's residuals on its own anchors: the largest |projected / measured
 * - 1| of the anchors' perplexities, NAN when the table has none. A measured
 * held-out error (sweep --measure) is the real check; this is the band
 * `alloc` reports beside a projection. */
double proj_fit_residual(const score_table *t, score_method meth, const proj_fit *f);

/* fp32_loss + the fitted curve at score_sum (NAN propagates). */
double proj_loss(const score_table *t, const proj_fit *f, double score_sum);
/* exp(loss). */
double proj_ppl(double loss);

/* (projected - measured) / measured. */
double proj_rel_error(double projected_ppl, double measured_ppl);

#endif
