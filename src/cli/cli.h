/* What every subcommand's option parsing shares (binary only): getopt_long
 * with one message style, one number parser, one format and format-list
 * parser, and the names that must outlive an option's argv slot. Every helper
 * that prints writes one line "PROG: ..." to stderr and returns 2 (usage). */
#ifndef MXALLOC_CLI_H
#define MXALLOC_CLI_H

#include <getopt.h>
#include <stddef.h>

#include "kernels/mx.h"
#include "src/eval.h"
#include "src/model.h"

/* A whole decimal integer >= lo: 0, or -1 (nothing, trailing text, overflow, < lo). */
int cli_parse_long(const char *s, long lo, long *out);
/* A whole finite number: 0, or -1. */
int cli_parse_double(const char *s, double *out);

/* getopt_long over a subcommand's argv (argv[0] is the subcommand), the one
 * option parser of every subcommand. shortopts (may be NULL) lists short
 * options besides -h (which is always there). Call with *started = 0 before
 * the first option (a full getopt reset). Returns the option's val, -1 after
 * the last option (positional arguments are then argv[optind..argc-1]), or '?'
 * after printing "PROG: unknown option 'X' (see --help)" or "PROG: X needs a
 * value". */
int cli_getopt(const char *prog, int argc, char **argv, const char *shortopts, const struct option *opts,
               int *started);

/* The one positional argument (what: "MODEL", "FILE" ...) left after the
 * options: argv[optind], or NULL after "PROG: missing WHAT", "PROG: exactly
 * one WHAT expected" or, when missing is not NULL (a required option is
 * absent), "PROG: MISSING" (then exit 2). */
const char *cli_one_arg(const char *prog, const char *what, int argc, char **argv, const char *missing);

/* Integer in [lo, hi]: 0, or 2 after "PROG: OPT: 'S' is not an integer in [lo, hi]". */
int cli_long(const char *prog, const char *opt, const char *s, long lo, long hi, long *out);
/* A positive finite number: 0, or 2 after "PROG: OPT: not a number: 'S'" or
 * "PROG: OPT: invalid value 'S' (want a positive number)". */
int cli_positive(const char *prog, const char *opt, const char *s, double *out);

/* One format name (canonical, label or alias; kernels/mx.h): 0, or 2 after
 * "PROG: OPT: unknown format 'S' (valid: ...)". */
int cli_format(const char *prog, const char *opt, const char *s, mx_format *out);
/* --format F and --config CFG, which exclude each other: *uniform = F's format
 * (MX_FP32 without --format): 0, or 2 after a message. */
int cli_format_or_config(const char *prog, const char *fmt_name, const char *cfg_path, mx_format *uniform);
/* Windows of ctx tokens on m (model_extend_ctx, with a warning past the
 * trained context) and a token limit (option tokens_opt, 0 = none) of at least
 * one window: 0, or 1 after "PROG: TOKENS_OPT N is less than one window ...". */
int cli_ctx(const char *prog, model *m, long ctx, long max_tokens, const char *tokens_opt);
/* The format of every module of m (fmts[m->n_modules]): uniform, overridden
 * by the config cfg_path's formats when given. 0, or an ERR_* with e set. */
int cli_module_formats(const model *m, mx_format uniform, const char *cfg_path, mx_format *fmts, mx_error *e);
/* The weights ppl and generate run: every module of m in uniform, overridden
 * by the formats of the config cfg_path when given. m's own weights when all
 * stay fp32, else q's fake-quantized view (then *have_q = 1: eval_qweights_free
 * it). NULL with e set on error (a bad config, out of memory). Modules are
 * quantized with g (src/gptq_set.h; NULL: rounded to nearest, refused for a
 * config made by GPTQ). */
struct gptq_set;
const tf_weights *cli_quant_weights(const model *m, mx_format uniform, const char *cfg_path,
                                    const struct gptq_set *g, eval_qweights *q, int *have_q, mx_error *e);
/* `--gptq-text FILE` of ppl and quantize: GPTQ's calibration data into *g
 * (*have = 1: gptq_set_free it). With a config made by GPTQ (rounding
 * "gptq"), FILE must be its calibration text (the same xxh64 and token
 * count) and its windows are used; without a config, the windows of
 * `mxalloc score`'s defaults. Without FILE: nothing, unless the config needs
 * it. 0, or 1/2 after a one-line message (a config that needs FILE, another
 * text, a config that rounds to nearest). */
struct gptq_set;
int cli_gptq(const char *prog, const model *m, const char *cfg_path, const char *gptq_text, const char *tok_path,
             struct gptq_set *g, int *have);
/* A comma-separated list: 0 with *n >= 1 formats in list order, or 2 after a
 * message naming the unknown, duplicate or missing entry. */
int cli_format_list(const char *prog, const char *opt, const char *list, mx_format out[MX_NFORMATS], int *n);

/* Kept fractions, comma separated (prune and anneal --prune --levels): 0 with
 * 1..max distinct values in [0, 1] in lv[0 .. *n), else -1. */
int cli_levels(const char *list, double *lv, int *n, int max);

/* Keep a malloc'ed string until cli_release (names an option rewrote, e.g. a
 * LAYER.KIND pin made an HF name). Returns s, or NULL (s freed) when out of memory. */
char *cli_keep(char *s);
void cli_release(void);

#endif
