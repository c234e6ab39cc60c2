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
/* alloc_setup_load (solver/alloc_setup.h) plus the solver's arrays
 * *choice and *fmts of t->n_modules entries each (malloc'ed; freed and NULL on
 * error). 0, or an ERR_* with e set. */
int alloc_load(const alloc_opts *o, score_table *t, alloc_setup *s, int **choice, mx_format **fmts, mx_error *e);
/* alloc_opts_free and cli_release: what the options held. */
void alloc_args_free(alloc_opts *o);
/* The shared part of --help. */
extern const char alloc_common_usage[];

#endif
