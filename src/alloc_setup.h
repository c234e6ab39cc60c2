/* Shared by `mxalloc alloc`, `mxalloc sweep` and the workbench: the common
 * options, and turning a score table plus those options into an ilp_problem.
 * alloc_parse_common/alloc_common_help (src/alloc_args.c) belong to the CLI
 * and print; the rest is library code (libmxcore). */
#ifndef MXALLOC_ALLOC_SETUP_H
#define MXALLOC_ALLOC_SETUP_H

#include "solver/ilp.h"
#include "solver/score_table.h"
#include "src/err.h"

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
    int score_method;           /* -1: the first the table has (kl, fisher, gamma) */
    int calibrate;              /* -1 (default): fit when the table allows, 1: fit or fail, 0: c = 1 */
    double time_limit_s;
    int json;
    const char *out_path;
} alloc_opts;

/* Parse one common option at argv[*i] (advancing *i past its value).
 * Returns 1 when consumed, 0 when not a common option, 2 on a usage error,
 * 3 on bad input such as an unknown format name (exit status 1); the message
 * is printed to stderr with the prog name. */
int alloc_parse_common(const char *prog, int argc, char **argv, int *i, alloc_opts *o);
/* An option with a value of a command's own ("--opt V" or "--opt=V") at
 * argv[*i]: 1 and *out set (advancing *i past a separate value), 0 when
 * argv[*i] is not opt, 2 when the value is missing (printed). */
int alloc_take_value(const char *prog, const char *opt, int argc, char **argv, int *i, const char **out);
void alloc_opts_init(alloc_opts *o);
void alloc_opts_free(alloc_opts *o);
/* The shared part of --help. */
extern const char alloc_common_help[];

/* The problem for table t: arrays owned by *s. */
typedef struct alloc_setup {
    ilp_problem p;
    score_method method;
    double *params, *bits, *cost;
    unsigned char *allowed;
    int *group;
    double calib_c;             /* 1 unless calibrated */
    int calib_points;
} alloc_setup;

/* Validate the options against t (unknown module or format in a pin, pin
 * outside --formats, missing score method, NaN scores ...) and build the
 * problem. Errors are one line in e. */
int alloc_setup_build(const alloc_opts *o, const score_table *t, alloc_setup *s, mx_error *e);
void alloc_setup_free(alloc_setup *s);
/* What alloc and sweep start with: read o->scores_path into *t (cache_read),
 * alloc_setup_build, and proj_calibrate when o->calibrate. *t is a table or
 * empty even on error (score_table_free it); *s is empty on error. */
int alloc_setup_load(const alloc_opts *o, score_table *t, alloc_setup *s, mx_error *e);

/* Solve with the method the options ask for. */
int alloc_setup_solve(const alloc_opts *o, alloc_setup *s, int *choice, ilp_result *r, mx_error *e);

/* Short column label of a format for the per-layer view ("fp4", "e2m3", "i8" ...). */
/* Map a solver choice (table format indices) to formats in fmts[n_modules]
 * and return the projected perplexity with the setup's factor (NAN when the
 * table cannot project, e.g. no fp32 loss). */
double alloc_setup_project(const score_table *t, const alloc_setup *s, const int *choice,
                           mx_format *fmts);

const char *alloc_short_label(mx_format f);

#endif
