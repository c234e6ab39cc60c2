/* Private to solver/ilp*.c and greedy.c: an ilp_problem reduced to units
 * (a module, or a group sharing one format) with per-unit candidate formats. */
#ifndef MXALLOC_ILP_UNITS_H
#define MXALLOC_ILP_UNITS_H

#include "solver/ilp.h"

typedef struct ilp_item {
    int f;        /* format index */
    double w;     /* sum over members of params * bits (total bits) */
    double c;     /* sum over members of cost */
} ilp_item;

typedef struct ilp_unit {
    int n_members, member0;   /* members[member0 .. +n_members) */
    int n_items, item0;       /* items[item0 ..): allowed formats, (w, c) ascending */
    int n_front;              /* first n_front items: the Pareto front (c strictly decreasing) */
} ilp_unit;

typedef struct ilp_units {
    int n_units;
    ilp_unit *units;
    int *members;             /* module indices, grouped by unit */
    ilp_item *items;
    double total_params;      /* P */
    double cap;               /* min(budget * P, 8 * max_bytes) in bits */
    double w_min;             /* sum of the narrowest item of every unit */
    int bytes_binding;        /* the byte limit is the smaller capacity */
} ilp_units;

/* Validate p and build the units (groups merged, allowed formats intersected,
 * items sorted by bits then cost, dominated ones moved behind the front).
 * need_budget: also validate budget_bits/max_bytes. 0 or ERR_ARG/ERR_NOMEM/
 * ERR_INFEASIBLE (a group with no common allowed format). */
int ilp_units_build(const ilp_problem *p, int need_budget, ilp_units *u, mx_error *e);
void ilp_units_free(ilp_units *u);

/* Capacity check with a relative slack of 1e-12 (bits are given rounded);
 * ilp_units_room is what is left under that slack (< 0: does not fit). */
int ilp_units_fits(const ilp_units *u, double w);
double ilp_units_room(const ilp_units *u, double w);

/* ilp_units_build with the budget, then the feasibility check both solvers
 * start with: *res starts empty (gap, bound NAN) and gets min_feasible_budget; ERR_INFEASIBLE names the
 * smallest feasible budget (or size). On any error *u is left freed. */
int ilp_units_prepare(const ilp_problem *p, ilp_units *u, ilp_result *res, mx_error *e);

/* One item per unit into pick (n_units entries; on entry the start's front
 * item of each unit, -1 where there is none: see ilp_units_start), filling
 * r's optimal, gap and bound. 0 or an ERR_*. */
typedef int (*ilp_pick_fn)(const ilp_problem *p, const ilp_units *u, int *pick, ilp_result *r,
                           mx_error *e);
/* A whole solve: ilp_units_prepare, pick, ilp_units_expand into choice, and
 * *res (when not NULL) filled whatever happens. start (NULL: none) is a
 * format per module the pick may start from; it may be choice itself. */
int ilp_units_run(const ilp_problem *p, ilp_pick_fn pick, const int *start, int *choice,
                  ilp_result *res, mx_error *e);

/* pick[i]: the front item of unit i that start[] (a format per module) names
 * or, when start names a dominated item, the front item that dominates it;
 * -1 when start is NULL, its members disagree or the format is not allowed. */
void ilp_units_start(const ilp_problem *p, const ilp_units *u, const int *start, int *pick);

/* GLPK's branch and bound over the units (solver/ilp_glpk.c): one item per
 * unit among its candidates, the bit capacity u->cap and, with lim1, a
 * second limit. */
typedef struct ilp_glpk_in {
    const unsigned char *keep; /* per item: candidates among the front; NULL: every item */
    const int *start;          /* per unit, an incumbent item handed to GLPK first; NULL: none */
    const double *lim1;        /* per item, its weight in the second limit; NULL: none */
    double lcap;               /* the second limit (checked with a relative slack of 1e-12) */
    double time_limit_s;       /* <= 0: none */
} ilp_glpk_in;
/* pick gets the answer, re-checked exactly against both limits (an overshot
 * limit is tightened and the solve repeated, four tries). A unit with one
 * candidate gets it. 1 proven optimal, 0 feasible at the time limit, -1 no
 * answer (infeasible or failed), -2 out of memory. */
int ilp_glpk_pick(const ilp_units *u, const ilp_glpk_in *in, int *pick);

/* The latency-limited pick (solver/ilp_lat.c): p->latency and
 * p->max_latency > 0. */
int ilp_lat_pick(const ilp_problem *p, const ilp_units *u, int *pick, ilp_result *r, mx_error *e);
/* Sum of p->latency over unit i's members in format f. */
double ilp_units_latency(const ilp_problem *p, const ilp_units *u, int i, int f);

/* Expand a per-unit item choice to per-module formats and fill res's
 * objective/avg_bits/bytes from the original per-module data. */
void ilp_units_expand(const ilp_problem *p, const ilp_units *u, const int *unit_item, int *choice,
                      ilp_result *res);

#endif
