/* The command-line options `mxalloc alloc` and `mxalloc sweep` share. */
#include "src/cli/alloc_args.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/cli/cli.h"
#include "src/module_name.h"

const char alloc_common_usage[] =
    "  --pin NAME=FMT      fix a module's format (repeatable); NAME is the HF name\n"
    "                      or LAYER.KIND (0.q, 3.down), FMT any format name or label\n"
    "  --formats LIST      comma-separated candidate formats (default: all in the score file)\n"
    "  --group G[,G]       share one format per layer: qkv (q,k,v) and/or gateup (gate,up)\n"
    "  --max-bytes N       also limit the total weight size (bytes, scales included)\n"
    "  --solver S          ilp (exact, default) or greedy (the sensitivity-ranked baseline);\n"
    "                      --method S is the old spelling\n"
    "  --score-method S    kl, fisher, gamma or fisher-out (default: the first the score\n"
    "                      file has, in that order)\n"
    "  --calibrate         fit the projection to the measured uniform-format losses\n"
    "                      (the default when the score file has them; then an error if not)\n"
    "  --no-calibrate      take the scores at face value (projection factor 1)\n"
    "  --time-limit S      stop the solver after S seconds with the best answer found\n"
    "  --target T          count bits as T stores them: mx (packed MX, default) or\n"
    "                      llama-cpp (the GGUF `mxalloc quantize` writes: MXFP4/MXINT8 only\n"
    "                      on rows of whole 32-blocks, MXFP6/MXFP8/bf16 as BF16 = 16 bits)\n"
    "  --hw-table FILE     a latency cost table (mxalloc hwprofile): print each answer's\n"
    "                      predicted latency of the block linears\n"
    "  --max-latency MS    also limit that latency (ms per token at the table's batch,\n"
    "                      summed over the block linears; needs --hw-table)\n";

enum {
    O_PIN = ALLOC_OPT_BASE, O_FORMATS, O_GROUP, O_MAX_BYTES, O_SOLVER, O_SCORE_METHOD, O_CALIBRATE,
    O_NO_CALIBRATE, O_TIME_LIMIT, O_TARGET, O_HW_TABLE, O_MAX_LATENCY
};

static const struct option alloc_common_options[] = {
    {"pin", required_argument, NULL, O_PIN},
    {"formats", required_argument, NULL, O_FORMATS},
    {"group", required_argument, NULL, O_GROUP},
    {"max-bytes", required_argument, NULL, O_MAX_BYTES},
    {"solver", required_argument, NULL, O_SOLVER},
    {"method", required_argument, NULL, O_SOLVER}, /* deprecated: README and tests used it */
    {"score-method", required_argument, NULL, O_SCORE_METHOD},
    {"calibrate", no_argument, NULL, O_CALIBRATE},
    {"no-calibrate", no_argument, NULL, O_NO_CALIBRATE},
    {"time-limit", required_argument, NULL, O_TIME_LIMIT},
    {"target", required_argument, NULL, O_TARGET},
    {"hw-table", required_argument, NULL, O_HW_TABLE},
    {"max-latency", required_argument, NULL, O_MAX_LATENCY},
    {NULL, 0, NULL, 0},
};

static int set_pin(const char *prog, char *val, alloc_opts *o)
{
    char *eq = strrchr(val, '=');
    mx_format f;
    if (!eq || eq == val) {
        fprintf(stderr, "%s: --pin wants NAME=FMT, got '%s'\n", prog, val);
        return 2;
    }
    if (mx_format_parse(eq + 1, &f)) {
        fprintf(stderr, "%s: --pin %s: unknown format '%s' (%s)\n", prog, val, eq + 1,
                mx_format_valid_names(eq + 1));
        return 2;
    }
    *eq = 0; /* the name is the text before '=' (argv is writable) */
    const char *name = val;
    int layer, kind;
    if (strncmp(val, "model.", 6) && !module_name_split(val, &layer, &kind)) {
        char hf[128];
        char *kept = module_name_hf(layer, kind, hf, sizeof hf) ? NULL : cli_keep(strdup(hf));
        if (!kept) {
            fprintf(stderr, "%s: out of memory\n", prog);
            return 2;
        }
        name = kept;
    }
    alloc_pin *np = realloc(o->pins, (size_t)(o->n_pins + 1) * sizeof *np);
    if (!np) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return 2;
    }
    o->pins = np;
    o->pins[o->n_pins++] = (alloc_pin){name, f};
    return 1;
}

static int set_groups(const char *prog, const char *val, alloc_opts *o)
{
    const char *p = val;
    while (*p) {
        size_t len = strcspn(p, ",");
        if (len == 3 && !strncmp(p, "qkv", 3))
            o->group_qkv = 1;
        else if (len == 6 && !strncmp(p, "gateup", 6))
            o->group_gateup = 1;
        else if (len) {
            fprintf(stderr, "%s: --group: unknown group '%.*s' (qkv, gateup)\n", prog, (int)len, p);
            return 2;
        }
        p += len + (p[len] == ',');
    }
    return 1;
}

/* One common option: 1 handled, 0 not common, 2 a usage error (printed). */
static int common_option(const char *prog, int c, char *arg, alloc_opts *o)
{
    switch (c) {
    case O_CALIBRATE: o->calibrate = 1; return 1;
    case O_NO_CALIBRATE: o->calibrate = 0; return 1;
    case O_PIN: return set_pin(prog, arg, o);
    case O_GROUP: return set_groups(prog, arg, o);
    case O_FORMATS: {
        mx_format fs[MX_NFORMATS];
        int n;
        if (cli_format_list(prog, "--formats", arg, fs, &n))
            return 2;
        o->formats_mask = 0;
        for (int i = 0; i < n; i++)
            o->formats_mask |= 1u << fs[i];
        return 1;
    }
    case O_MAX_BYTES: return cli_positive(prog, "--max-bytes", arg, &o->max_bytes) ? 2 : 1;
    case O_HW_TABLE: o->hw_table_path = arg; return 1;
    case O_MAX_LATENCY: return cli_positive(prog, "--max-latency", arg, &o->max_latency_ms) ? 2 : 1;
    case O_TIME_LIMIT: return cli_positive(prog, "--time-limit", arg, &o->time_limit_s) ? 2 : 1;
    case O_SOLVER:
        if (!strcmp(arg, "ilp"))
            o->greedy = 0;
        else if (!strcmp(arg, "greedy"))
            o->greedy = 1;
        else {
            fprintf(stderr, "%s: --solver: '%s' is not ilp or greedy\n", prog, arg);
            return 2;
        }
        return 1;
    case O_TARGET:
        if (mx_target_parse(arg, &o->target)) {
            fprintf(stderr, "%s: --target: '%s' is not mx or llama-cpp\n", prog, arg);
            return 2;
        }
        return 1;
    case O_SCORE_METHOD: {
        score_method m;
        if (score_method_parse(arg, &m)) {
            fprintf(stderr, "%s: --score-method: '%s' is not kl, fisher, gamma or fisher-out\n", prog, arg);
            return 2;
        }
        o->score_method = (int)m;
        return 1;
    }
    default: return 0;
    }
}

int alloc_getopt(const char *prog, int argc, char **argv, const struct option *own, alloc_opts *o,
                 int *started)
{
    struct option opts[48];
    int n = 0;
    for (const struct option *p = alloc_common_options; p->name && n < 47; p++)
        opts[n++] = *p;
    for (const struct option *p = own; p->name && n < 47; p++)
        opts[n++] = *p;
    opts[n] = (struct option){NULL, 0, NULL, 0};
    for (;;) {
        int c = cli_getopt(prog, argc, argv, NULL, opts, started);
        int k = c >= ALLOC_OPT_BASE ? common_option(prog, c, optarg, o) : 0;
        if (k == 2)
            return '?';
        if (!k)
            return c;
    }
}

int alloc_scores_arg(const char *prog, int argc, char **argv, alloc_opts *o)
{
    if (o->max_latency_ms > 0 && !o->hw_table_path) {
        fprintf(stderr, "%s: --max-latency needs --hw-table FILE\n", prog);
        return 2;
    }
    if (o->max_latency_ms > 0 && o->greedy) {
        fprintf(stderr, "%s: --solver greedy does not take --max-latency\n", prog);
        return 2;
    }
    if (optind < argc)
        o->scores_path = argv[optind++];
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[optind]);
        return 2;
    }
    if (!o->scores_path) {
        fprintf(stderr, "%s: missing the SCORES file\n", prog);
        return 2;
    }
    return 0;
}

int alloc_load(const alloc_opts *o, alloc_run *r, mx_error *e)
{
    memset(r, 0, sizeof *r);
    int rc = alloc_setup_load(o, &r->t, &r->s, e);
    if (rc)
        return rc;
    size_t n = (size_t)(r->t.n_modules ? r->t.n_modules : 1);
    r->choice = malloc(n * sizeof *r->choice);
    r->fmts = malloc(n * sizeof *r->fmts);
    return r->choice && r->fmts ? 0 : err_set(e, ERR_NOMEM, "out of memory");
}

void alloc_run_free(alloc_run *r)
{
    free(r->choice);
    free(r->fmts);
    alloc_setup_free(&r->s);
    score_table_free(&r->t);
}

void alloc_args_free(alloc_opts *o)
{
    alloc_opts_free(o);
    cli_release();
}
