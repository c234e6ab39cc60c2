/* Shared by `mxalloc alloc`, `mxalloc sweep` and the workbench: the common
 * options, and turning a score table plus those options into an ilp_problem.
 * Reading the options from a command line is the front end's
 * (src/cli/alloc_args.h). */
#ifndef MXALLOC_ALLOC_SETUP_H
#define MXALLOC_ALLOC_SETUP_H

#include "solver/ilp.h"
#include "solver/proj.h"
#include "src/hw_table.h"
#include "src/score_table.h"
#include "kernels/err.h"

typedef struct alloc_pin {
    const char *name;
    mx_format fmt;
} alloc_pin;

typedef struct alloc_opts {
    const char *scores_path;
    double budget;              /* NAN when not given */
    double max_bytes;           /* 0: none */
    int n_pins;
    alloc_pin *pins;            /* malloc'ed, names point into argv */
    unsigned formats_mask;      /* bit per mx_format; 0 = every table format */
    int group_qkv, group_gateup;
    int greedy;
    mx_target target;           /* what the bits count (kernels/mx.h): MX_TARGET_MX default */
    int score_method;           /* -1: the first the table has (kl, fisher, gamma) */
    int calibrate;              /* -1 (default): fit when the table allows, 1: fit or fail, 0: c = 1 */
    double time_limit_s;
    int json;
    const char *out_path;
    /* Latency (src/hw_table.h): a cost table, from hw_table_path (read by
     * alloc_setup_load) or given as hw; max_latency_ms limits the predicted
     * sum over the block linears of their rows' us_per_token / 1000 (ms per
     * token at the table's batch; the overhead row is not part of it). */
    const char *hw_table_path;
    const hw_table *hw;         /* used when not NULL (path then only names it) */
    double max_latency_ms;      /* 0: none (needs a table) */
} alloc_opts;

void alloc_opts_init(alloc_opts *o);
void alloc_opts_free(alloc_opts *o);

/* The problem for table t: arrays owned by *s. */
typedef struct alloc_setup {
    ilp_problem p;
    score_method method;
    double *params, *bits, *cost;
    unsigned char *allowed;
    int *group;
    proj_fit fit;               /* the projection: the identity unless calibrated */
    double *latency;            /* [n * nf] ms per token, NULL without a table */
    hw_table hw;                /* the table alloc_setup_load read (hw.n == 0: none) */
    const hw_table *hw_used;    /* alloc_opts.hw when given; read alloc_setup_hw */
} alloc_setup;

/* Validate the options against t (a hardware table without a row for an
 * allowed format at a module's shape, unknown module or format in a pin, pin
 * outside --formats, missing score method, NaN scores ...) and build the
 * problem. Errors are one line in e. */
int alloc_setup_build(const alloc_opts *o, const score_table *t, alloc_setup *s, mx_error *e);
void alloc_setup_free(alloc_setup *s);
/* What alloc and sweep start with: read o->scores_path into *t (cache_read),
 * alloc_setup_build, and proj_calibrate when o->calibrate. *t is a table or
 * empty even on error (score_table_free it); *s is empty on error. */
int alloc_setup_load(const alloc_opts *o, score_table *t, alloc_setup *s, mx_error *e);

/* The table latency came from, or NULL. */
const hw_table *alloc_setup_hw(const alloc_setup *s);

/* Solve with the method the options ask for (greedy refuses a latency limit). */
int alloc_setup_solve(const alloc_opts *o, alloc_setup *s, int *choice, ilp_result *r, mx_error *e);

/* The allocation a projection anchor measures (score_anchor_fn, src/score.h):
 * the integer program's, exactly solved, for method meth's scores in t at
 * budget bits, every table format allowed, no pins or groups. 0 and fmts set,
 * or -1 when the budget is infeasible or the problem cannot be built. */
int alloc_setup_anchor(const score_table *t, score_method meth, double budget, mx_format *fmts);

/* Map a solver choice (table format indices) to formats in fmts[n_modules]
 * and return the projected perplexity with the setup's factor (NAN when the
 * table cannot project, e.g. no fp32 loss). */
double alloc_setup_project(const score_table *t, const alloc_setup *s, const int *choice,
                           mx_format *fmts);

#endif
