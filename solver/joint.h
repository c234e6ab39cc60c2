/* Exact joint choice of (format, keep level) per module: quantization and
 * pruning decided together.
 *   minimize   sum_m cost[m][f_m][k_m]
 *   subject to sum_m params[m] bits[m][f_m][k_m] <= budget_bits * sum_m params[m],
 *              (f_m, k_m) allowed, and k_m equal across every pruning group
 *              (formats stay per module).
 * Reduction to ilp_solve, exact: each group (or ungrouped module) becomes one
 * unit. At each keep level k the group's candidates are the combinations of
 * its members' formats allowed at k, built by merging members one at a time
 * and keeping only (total params*bits, total cost) pairs no other pair beats
 * in both (an optimum never needs a dominated pair: swapping it for its
 * dominator keeps the answer feasible and no costlier). The levels' fronts
 * are united and pruned again; each survivor remembers its level and, by
 * back-pointers, every member's format. Candidates are sorted by bits, cost,
 * then origin, so answers reproduce bit for bit. ilp_solve then picks one
 * candidate per unit (params = the unit's summed params, bits = summed
 * params*bits over them, padding not allowed). A front of more than 1<<16
 * candidates is ERR_ARG (4 modules x 8 formats x 5 levels stay far below). */
#ifndef MXALLOC_JOINT_H
#define MXALLOC_JOINT_H

#include "kernels/err.h"
#include "solver/ilp.h"

typedef struct joint_problem {
    int n_modules, n_formats, n_keeps;
    const double *params;          /* [n_modules] original weights of each module */
    const double *bits;            /* [n_modules][n_formats][n_keeps]: bits per ORIGINAL weight of module m
                                    * in format f at keep level k, scales included (≈ keep * format bits;
                                    * the caller computes it exactly, e.g. partial blocks); 0 at keep 0 */
    const double *cost;            /* [n_modules][n_formats][n_keeps]: e.g. loss increase */
    const unsigned char *allowed;  /* same shape, 0/1, or NULL = all allowed */
    const int *group;              /* [n_modules]: pruning group id >= 0 — modules of one group must take the
                                    * same keep level k (formats stay per module); -1 = a group of its own; NULL = all -1 */
    double budget_bits;            /* sum_m params[m]*bits[m][f_m][k_m] <= budget_bits * sum_m params[m] */
    double time_limit_s;           /* <= 0: none (passed to ilp_solve) */
} joint_problem;

/* fmt[m], keep[m] receive the chosen format and keep-level indices. res (may
 * be NULL) as ilp_solve fills it; objective, avg_bits, bytes and
 * min_feasible_budget are recomputed from the per-module data. Returns 0,
 * ERR_ARG (bad sizes, negative or non-finite params, NaN/inf cost or bits of
 * an allowed candidate, a group left with no allowed candidate, a front over
 * the cap), ERR_NOMEM, ERR_INFEASIBLE (message names the smallest feasible
 * budget). A unit whose params sum to 0 weighs nothing: bits 0 for ilp_solve. */
int joint_solve(const joint_problem *p, int *fmt, int *keep, ilp_result *res, mx_error *e);

/* The smallest budget any allowed assignment meets; NAN when invalid. */
double joint_min_budget(const joint_problem *p);

#endif
