/* The options `mxalloc alloc` and `mxalloc sweep` share (binary only):
 * getopt_long entries, their handler and their --help text. */
#ifndef MXALLOC_ALLOC_ARGS_H
#define MXALLOC_ALLOC_ARGS_H

#include <getopt.h>

#include "solver/alloc_setup.h"

/* The vals of the common options start here; a command's own vals stay below. */
#define ALLOC_OPT_BASE 0x1000
/* cli_getopt over the common options plus a command's own (ending with {0};
 * vals below ALLOC_OPT_BASE): handles the common ones into *o and returns the
 * next own option's val, -1 after the last option (the SCORES file is then
 * argv[optind]), or '?' after printing a usage error (then exit 2). A
 * LAYER.KIND pin ("0.q=e2m1") becomes its HF name, kept until cli_release. */
int alloc_getopt(const char *prog, int argc, char **argv, const struct option *own, alloc_opts *o,
                 int *started);
/* The SCORES file after the options into o->scores_path: 0, or 2 after a
 * message (missing, or a second positional argument). */
int alloc_scores_arg(const char *prog, int argc, char **argv, alloc_opts *o);
/* What alloc and sweep work on: the score table, the solver's problem and
 * its per-module arrays (choice: the index into t.formats, fmts: the format). */
typedef struct alloc_run {
    score_table t;
    alloc_setup s;
    int *choice;
    mx_format *fmts;
} alloc_run;
/* alloc_setup_load (solver/alloc_setup.h) plus choice and fmts of
 * t.n_modules entries each. 0, or an ERR_* with e set; r is to be freed by
 * alloc_run_free either way. */
int alloc_load(const alloc_opts *o, alloc_run *r, mx_error *e);
void alloc_run_free(alloc_run *r);
/* alloc_opts_free and cli_release: what the options held. */
void alloc_args_free(alloc_opts *o);
/* The shared part of --help. */
extern const char alloc_common_usage[];

#endif
