/* Exact format assignment: an integer program over cached scores.
 *   minimize   sum_m sum_f cost[m][f] x[m][f]
 *   subject to sum_f x[m][f] = 1 for every module m,
 *              sum params[m] bits[m][f] x[m][f] <= budget_bits * sum params[m],
 *              optional total-bytes limit, allowed formats, shared-format groups.
 * The bytes limit (bytes = params * bits / 8) is the same linear form as the
 * budget, so the two merge into one capacity min(budget * P, 8 * max_bytes).
 * Before GLPK sees it the problem is reduced: a group becomes one set of
 * variables (summed params*bits and costs); formats allowed for the whole
 * unit that are dominated (no fewer bits and no lower cost than another) are
 * dropped; units left with one format are constants. The LP relaxation of
 * this multiple-choice knapsack is solved exactly on the formats' convex
 * hulls; its bound fixes most units, and a dynamic program over (bits, cost)
 * states of the rest, pruned by dominance and the LP of the units not yet
 * reached, proves the optimum (no tolerance: the cheapest answer found).
 * Only a search too large for its memory cap goes on in GLPK's branch and
 * bound. Costs may be negative; NaN or infinite costs/bits of an allowed
 * format are ERR_ARG. GLPK's terminal output is silenced per call and its
 * per-thread environment is freed after each solve (no leak when a worker
 * thread exits), so ilp_solve may run in any thread, several at once. */
#ifndef MXALLOC_ILP_H
#define MXALLOC_ILP_H

#include "kernels/err.h"

typedef struct ilp_problem {
    int n_modules, n_formats;
    const double *params;          /* [n_modules] */
    const double *bits;            /* [n_modules * n_formats], bits per weight incl. scales */
    const double *cost;            /* [n_modules * n_formats], e.g. loss increase */
    const unsigned char *allowed;  /* [n_modules * n_formats] 0/1, or NULL: all allowed (pins = one allowed) */
    const int *group;              /* [n_modules] group id >= 0 shares one format, -1 = none; or NULL */
    double budget_bits;            /* average bits per weight, scales included */
    double max_bytes;              /* second limit on total bytes; <= 0: none */
    double time_limit_s;           /* for the whole solve; <= 0: none */
    /* A second resource, e.g. predicted latency (src/hw_table.h): per module
     * and format, any unit, finite and >= 0 for allowed formats; NULL: none.
     * With max_latency > 0 the answer also keeps sum latency[m][x_m] <=
     * max_latency (relative slack 1e-12), solved by ilp_lat.c: GLPK's branch
     * and bound with both rows over every allowed format of each unit (a
     * format dominated in bits and cost may be the faster one), exact up to
     * GLPK's tolerances (tightened; the answer is re-checked against both
     * limits). Without max_latency the array only fills ilp_result.latency. */
    const double *latency;         /* [n_modules * n_formats] or NULL */
    double max_latency;            /* <= 0: no limit */
} ilp_problem;

typedef struct ilp_result {
    double objective;
    double avg_bits;
    double bytes;
    double gap;       /* relative MIP gap; 0 when proven optimal */
    int optimal;      /* 1 proven optimal, 0 time limit hit with a feasible answer */
    double min_feasible_budget; /* filled on ERR_INFEASIBLE (and on success) */
    double bound;     /* proven lower bound on the objective (== objective when optimal) */
    double latency;   /* sum of p->latency over the answer; NAN without p->latency */
} ilp_result;

/* Solve; choice[m] receives the chosen format index (0..n_formats-1).
 * ERR_INFEASIBLE names the smallest feasible budget in e->msg and res (or,
 * with a latency limit, the smallest latency, or that the two limits
 * exclude each other). */
int ilp_solve(const ilp_problem *p, int *choice, ilp_result *res, mx_error *e);

/* ilp_solve warm-started from start[m], a format index per module (NULL:
 * none), e.g. the answer at the previous budget: repaired to fit when the
 * budget fell, it is an incumbent the search prunes against from the start.
 * Entries that are out of range, not allowed or split a group are ignored,
 * so any array of n_modules ints will do; start may be choice. The answer
 * is ilp_solve's (a start changes only the time, and which of exactly equal
 * optima), the LP bound is recomputed: it is exact and costs less than a
 * millisecond at 882 modules. */
int ilp_solve_from(const ilp_problem *p, const int *start, int *choice, ilp_result *res,
                   mx_error *e);

/* The published baseline: rank modules by sensitivity, give the most sensitive
 * ones the wider format until the budget is spent. Same inputs and outputs.
 * Precisely: every unit (module, or group sharing a format) starts at its
 * narrowest allowed format (fewest bits; ties: lower cost). Its sensitivity
 * is its cost at that format (loss increase when it alone is quantized that
 * far). Units are visited once, most sensitive first (ties: lower index);
 * each gets the widest allowed format (most bits; ties: lower cost) that the
 * remaining budget pays for, else stays where it is. No second pass, no cost
 * comparison between wider formats: it is a baseline, not an optimizer.
 * res->gap and res->bound are NAN, res->optimal 0. */
int ilp_greedy(const ilp_problem *p, int *choice, ilp_result *res, mx_error *e);

/* The smallest latency sum any assignment honouring allowed/groups reaches
 * (bits not considered); NAN without p->latency or when invalid. */
double ilp_min_latency(const ilp_problem *p);

/* The objective, average bits and bytes (and latency) of choice (a format index per
 * module) under p, as the solvers report them; res's other fields stay. */
void ilp_result_of(const ilp_problem *p, const int *choice, ilp_result *res);

/* The smallest average-bits budget any assignment honouring allowed/groups
 * meets (the byte limit is not considered); NAN when the problem is invalid
 * (no allowed format for some module or group, bad sizes). */
double ilp_min_budget(const ilp_problem *p);

/* Free the calling thread's GLPK environment. ilp_solve already does so after
 * each solve; a thread that may have reached GLPK some other way calls this
 * before it ends (GLPK never frees it at thread exit). Callers above solver/
 * use this instead of GLPK itself. */
void ilp_thread_done(void);

#endif
