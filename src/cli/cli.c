/* Option parsing shared by the subcommands (src/cli.h). */
#include "src/cli/cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/cfg.h"
#include "src/gptq_set.h"
#include "src/prune.h"
#include "src/score.h"

int cli_parse_long(const char *s, long lo, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo)
        return -1;
    *out = v;
    return 0;
}

int cli_parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

int cli_getopt(const char *prog, int argc, char **argv, const char *shortopts, const struct option *opts,
               int *started)
{
    char so[64];
    /* ':' first: a missing value is ':' rather than '?'; "h" so -h works everywhere */
    snprintf(so, sizeof so, ":h%s", shortopts ? shortopts : "");
    if (!*started) {
        optind = 0; /* 0, not 1: also forgets the state of an earlier argv */
        opterr = 0;
        *started = 1;
    }
    int c = getopt_long(argc, argv, so, opts, NULL);
    if (c == ':' || c == '?') {
        const char *a = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
        if (c == ':')
            fprintf(stderr, "%s: %s needs a value\n", prog, a);
        else if (optopt && strncmp(a, "--", 2))
            fprintf(stderr, "%s: unknown option '-%c' (see --help)\n", prog, optopt);
        else
            fprintf(stderr, "%s: unknown option '%s' (see --help)\n", prog, a);
        return '?';
    }
    return c;
}

const char *cli_one_arg(const char *prog, const char *what, int argc, char **argv, const char *missing)
{
    if (optind != argc - 1)
        fprintf(stderr, optind >= argc ? "%s: missing %s\n" : "%s: exactly one %s expected\n", prog, what);
    else if (missing)
        fprintf(stderr, "%s: %s\n", prog, missing);
    else
        return argv[optind];
    return NULL;
}

int cli_long(const char *prog, const char *opt, const char *s, long lo, long hi, long *out)
{
    long v;
    if (cli_parse_long(s, lo, &v) || v > hi) {
        fprintf(stderr, "%s: %s: '%s' is not an integer in [%ld, %ld]\n", prog, opt, s, lo, hi);
        return 2;
    }
    *out = v;
    return 0;
}

int cli_positive(const char *prog, const char *opt, const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end); /* overflow is Inf: "invalid value" below */
    if (end == s || *end) {
        fprintf(stderr, "%s: %s: not a number: '%s'\n", prog, opt, s);
        return 2;
    }
    if (!isfinite(v) || !(v > 0)) {
        fprintf(stderr, "%s: %s: invalid value '%s' (want a positive number)\n", prog, opt, s);
        return 2;
    }
    *out = v;
    return 0;
}

int cli_format(const char *prog, const char *opt, const char *s, mx_format *out)
{
    if (!mx_format_parse(s, out))
        return 0;
    fprintf(stderr, "%s: %s: unknown format '%s' (%s)\n", prog, opt, s, mx_format_valid_names(s));
    return 2;
}

int cli_format_or_config(const char *prog, const char *fmt_name, const char *cfg_path, mx_format *uniform)
{
    *uniform = MX_FP32;
    if (fmt_name && cfg_path) {
        fprintf(stderr, "%s: --format and --config are mutually exclusive\n", prog);
        return 2;
    }
    return fmt_name ? cli_format(prog, "--format", fmt_name, uniform) : 0;
}

int cli_ctx(const char *prog, model *m, long ctx, long max_tokens, const char *tokens_opt)
{
    int trained = model_extend_ctx(m, ctx);
    if (trained)
        fprintf(stderr, "warning: --ctx %ld exceeds the model's trained context %d\n", ctx, trained);
    if (max_tokens && max_tokens < ctx) { /* report the limit, not the text's length */
        fprintf(stderr, "%s: %s %ld is less than one window of %ld tokens (--ctx)\n", prog, tokens_opt, max_tokens,
                ctx);
        return 1;
    }
    return 0;
}

int cli_module_formats(const model *m, mx_format uniform, const char *cfg_path, mx_format *fmts, mx_error *e)
{
    for (int i = 0; i < m->n_modules; i++)
        fmts[i] = uniform;
    if (!cfg_path)
        return 0;
    mx_cfg cfg;
    cfg_init(&cfg);
    int rc = cfg_load(cfg_path, &cfg, e);
    if (!rc)
        rc = cfg_formats_for_model(&cfg, m, fmts, e);
    if (!rc)
        rc = cfg_refuse_prune(&cfg, cfg_path, "the packed path", e);
    if (!rc && !strcmp(cfg.rounding, "gptq"))
        rc = err_set(e, ERR_ARG, "%s was quantized by GPTQ: the packed path rounds to nearest", cfg_path);
    cfg_free(&cfg);
    return rc;
}

const tf_weights *cli_quant_weights(const model *m, mx_format uniform, const char *cfg_path,
                                    const gptq_set *g, eval_qweights *q, int *have_q, mx_error *e)
{
    mx_format *fmts = malloc(sizeof *fmts * (size_t)(m->n_modules ? m->n_modules : 1));
    const tf_weights *w = NULL;
    unsigned char **masks = NULL;
    mx_cfg cfg;
    cfg_init(&cfg);
    *have_q = 0;
    if (!fmts) {
        err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < m->n_modules; i++)
        fmts[i] = uniform;
    if (cfg_path && (cfg_load(cfg_path, &cfg, e) || cfg_formats_for_model(&cfg, m, fmts, e) ||
                     cfg_prune_masks(&cfg, m, &masks, e)))
        goto out;
    if (!g && !strcmp(cfg.rounding, "gptq")) {
        err_set(e, ERR_ARG, "%s was quantized by GPTQ: this command rounds to nearest (ppl and quantize take "
                "--gptq-text FILE)", cfg_path);
        goto out;
    }
    int any_q = masks != NULL;
    for (int i = 0; i < m->n_modules; i++)
        any_q |= fmts[i] != MX_FP32;
    w = &m->weights;
    if (any_q) {
        if (eval_qweights_init_pruned(q, m, fmts, g, masks, e)) {
            w = NULL;
            goto out;
        }
        *have_q = 1;
        w = &q->w;
    }
out:
    cfg_prune_masks_free(masks, m->cfg.n_layers * PRUNE_NPARTS);
    cfg_free(&cfg);
    free(fmts);
    return w;
}

int cli_format_list(const char *prog, const char *opt, const char *list, mx_format out[MX_NFORMATS], int *n)
{
    char bad[64];
    int k = mx_format_parse_list(list, out, bad, sizeof bad);
    if (k > 0) {
        *n = k;
        return 0;
    }
    if (k == -1)
        fprintf(stderr, "%s: %s: unknown format '%s' (%s)\n", prog, opt, bad, mx_format_valid_names(bad));
    else if (k == -2)
        fprintf(stderr, "%s: %s: %s listed twice\n", prog, opt, bad);
    else
        fprintf(stderr, "%s: %s: empty list\n", prog, opt);
    return 2;
}

static char **kept;
static size_t n_kept;

char *cli_keep(char *s)
{
    char **k = s ? realloc(kept, (n_kept + 1) * sizeof *k) : NULL;
    if (!k) {
        free(s);
        return NULL;
    }
    kept = k;
    kept[n_kept++] = s;
    return s;
}

void cli_release(void)
{
    for (size_t i = 0; i < n_kept; i++)
        free(kept[i]);
    free(kept);
    kept = NULL;
    n_kept = 0;
}

int cli_gptq(const char *prog, const model *m, const char *cfg_path, const char *gptq_text, const char *tok_path,
             gptq_set *g, int *have)
{
    mx_cfg cfg;
    mx_error e = {0};
    cfg_init(&cfg);
    *have = 0;
    if (cfg_path && cfg_load(cfg_path, &cfg, &e)) {
        fprintf(stderr, "%s: %s\n", prog, e.msg);
        return 1;
    }
    int gptq = !strcmp(cfg.rounding, "gptq"), rc = 0;
    if (!gptq_text) {
        if (gptq)
            fprintf(stderr, "%s: %s was quantized by GPTQ on a calibration text (xxh64 %s, %ld tokens in windows "
                    "of %d): pass that text with --gptq-text FILE\n", prog, cfg_path, cfg.gptq_text,
                    cfg.gptq_tokens, cfg.gptq_ctx);
        rc = gptq;
        goto out;
    }
    if (cfg_path && !gptq) {
        fprintf(stderr, "%s: %s rounds to nearest: --gptq-text does not apply to it\n", prog, cfg_path);
        rc = 2;
        goto out;
    }
    int ctx = gptq ? cfg.gptq_ctx : score_default_ctx(m);
    long tokens = gptq ? cfg.gptq_tokens : SCORE_DEFAULT_TOKENS;
    if (ctx > m->cfg.max_seq) {
        fprintf(stderr, "%s: %s: GPTQ windows of %d tokens exceed the model's context %d\n", prog, cfg_path, ctx,
                m->cfg.max_seq);
        rc = 1;
        goto out;
    }
    uint64_t want = gptq ? strtoull(cfg.gptq_text, NULL, 16) : 0;
    if (gptq_set_from_text(g, m, tok_path, gptq_text, ctx, tokens, want, &e)) {
        fprintf(stderr, "%s: --gptq-text: %s%s%s\n", prog, e.msg, gptq ? " of " : "", gptq ? cfg_path : "");
        rc = 1;
        goto out;
    }
    *have = 1;
out:
    cfg_free(&cfg);
    return rc;
}

int cli_levels(const char *list, double *lv, int *n, int max)
{
    char buf[256];
    if (strlen(list) >= sizeof buf)
        return -1;
    snprintf(buf, sizeof buf, "%s", list);
    *n = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        double v;
        if (*n == max || cli_parse_double(t, &v) || !(v >= 0.0 && v <= 1.0))
            return -1;
        for (int k = 0; k < *n; k++)
            if (lv[k] == v)
                return -1;
        lv[(*n)++] = v;
    }
    return *n ? 0 : -1;
}
