/* mxalloc prune: joint structured pruning and MX format choice at a budget. */
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/clock.h"
#include "solver/prune_alloc.h"
#include "src/cfg.h"
#include "src/cli/cli.h"
#include "src/cli/cmd.h"
#include "src/corpus.h"
#include "src/module_name.h"
#include "src/prune.h"
#include "src/prune_score.h"
#include "src/score.h"

#define PRUNE_DEFAULT_LEVELS "1,0.75,0.5,0.25,0"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mxalloc prune MODEL [--tokenizer FILE] --text FILE --budget B\n"
            "                     [--mode joint|prune|quant] [--formats LIST] [--levels LIST]\n"
            "                     [--method fisher|fisher-out|kl] [--prune-format F]\n"
            "                     [--keep-whole NAME]...\n"
            "                     [--ctx N] [--tokens N]\n"
            "                     [--out CFG.json] [--json]\n\n"
            "Choose, per block, how much of the attention (whole GQA groups) and of the MLP\n"
            "(intermediate channels) to keep, and per module an MX format, so that the\n"
            "average bits per original weight (scales included) is at most B and the\n"
            "projected loss is least. Units go in order of Wanda's activation-weighted\n"
            "magnitude on the calibration text; a group's pruning loss is measured, the\n"
            "quantization of what is kept is scored by Fisher; joint mode solves at\n"
            "several weights of the two, adds the single-axis optima, measures each answer\n"
            "on the calibration text and keeps the best (see mxalloc(1)).\n\n"
            "  --text FILE        the calibration text (required)\n"
            "  --budget B         average bits per weight of the unpruned model (required)\n"
            "  --mode M           joint (default): formats and keep levels together;\n"
            "                     prune: every module in --prune-format, levels chosen;\n"
            "                     quant: nothing pruned, formats chosen\n"
            "  --method M         how the kept part's quantization is scored: fisher\n"
            "                     (default), fisher-out (output-space Fisher) or kl\n"
            "                     (measured per module, format and level: small models)\n"
            "  --formats LIST     candidate MX formats (default: the six MX formats)\n"
            "  --levels LIST      kept fractions per group (default " PRUNE_DEFAULT_LEVELS ";\n"
            "                     0 skips the sublayer)\n"
            "  --prune-format F   the format of --mode prune (default mxfp8_e4m3)\n"
            "  --keep-whole NAME  never prune the group of module NAME (HF name or L.KIND)\n"
            "  --ctx N            calibration window (default: score's)\n"
            "  --tokens N         calibration tokens at most (default %d; 0 = all)\n"
            "  --out FILE         write the config (formats and \"prune\"); ppl --config\n"
            "                     and generate --config apply it\n"
            "  --json             print the answer as JSON\n",
            SCORE_DEFAULT_TOKENS);
}

/* Print the answer: per group the kept fraction, per module the format. */
static void report(const model *m, const prune_scores *s, const prune_plan *p, const int *fmt, const int *level,
                   const prune_answer *a, prune_mode mode, double budget, double secs, int json)
{
    const ilp_result *r = &a->res;
    if (json) {
        printf("{\"mode\": \"%s\", \"method\": \"%s\", \"budget_bits\": %.9g, \"avg_bits\": %.9g, \"optimal\": %s, "
               "\"from\": \"%s\", \"candidates\": %d, \"fp32_loss\": %.9g, \"additive_loss\": %.9g, "
               "\"measured_loss\": %.9g, \"projected_ppl\": %.9g, \"calib_tokens\": %ld, \"seconds\": %.3f, "
               "\"kept\": {", prune_mode_name(mode), prune_method_name(s->method), budget, r->avg_bits, r->optimal ? "true" : "false", a->from,
               a->candidates, s->fp32_loss, a->additive_loss, a->measured_loss, exp(a->measured_loss),
               s->calib_tokens, secs);
    } else
        printf("mode %s (%s)  budget %.4g bits  avg %.4f bits  (%s, best of %d measured)\n"
               "calibration ppl: fp32 %.4f, scores' sum %.4f, measured %.4f\n", prune_mode_name(mode),
               prune_method_name(s->method), budget,
               r->avg_bits, a->from, a->candidates, exp(s->fp32_loss), exp(a->additive_loss),
               exp(a->measured_loss));
    for (int g = 0; g < p->n_groups; g++) {
        int k = -1;
        for (int i = 0; i < m->n_modules && k < 0; i++)
            if (prune_group_of(m, i) == g)
                k = level[i];
        char name[CFG_NAME_MAX];
        prune_group_name(p->g[g].layer, p->g[g].part, name, sizeof name);
        double frac = (double)s->kept[g * s->n_levels + k] / p->g[g].n_units;
        if (json)
            printf("%s\"%s\": %.6g", g ? ", " : "", name, frac);
        else {
            printf("  %-28s keep %3.0f%%", name, 100.0 * frac);
            for (int i = 0; i < m->n_modules; i++)
                if (prune_group_of(m, i) == g)
                    printf("  %s %s", model_kind_label(m->modules[i].kind),
                           frac > 0 ? mx_format_name(s->formats[fmt[i]]) : "-");
            printf("\n");
        }
    }
    if (json)
        printf("}}\n");
}

int cmd_prune(int argc, char **argv)
{
    static const struct option opts[] = {
        {"tokenizer", required_argument, NULL, 't'}, {"text", required_argument, NULL, 'x'},
        {"budget", required_argument, NULL, 'b'},    {"mode", required_argument, NULL, 'M'},
        {"formats", required_argument, NULL, 'F'},   {"levels", required_argument, NULL, 'L'},
        {"prune-format", required_argument, NULL, 'P'}, {"keep-whole", required_argument, NULL, 'K'},
        {"ctx", required_argument, NULL, 'c'},       {"tokens", required_argument, NULL, 'n'},
        {"out", required_argument, NULL, 'o'},       {"json", no_argument, NULL, 'j'},
        {"method", required_argument, NULL, 'm'},    {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *prog = "mxalloc prune", *tok_path = NULL, *text_path = NULL, *out_path = NULL;
    const char *keep_names[64];
    int n_keep_names = 0, json = 0, ch, started = 0, nf = 0, nl = 0, method = PRUNE_QUANT_FISHER;
    double budget = NAN, levels[PRUNE_MAX_LEVELS];
    long ctx = 0, max_tokens = SCORE_DEFAULT_TOKENS;
    mx_format formats[MX_NFORMATS], pf = MX_FP8_E4M3;
    prune_mode mode = PRUNE_MODE_JOINT;
    cli_levels(PRUNE_DEFAULT_LEVELS, levels, &nl, PRUNE_MAX_LEVELS);
    while ((ch = cli_getopt(prog, argc, argv, NULL, opts, &started)) != -1) {
        switch (ch) {
        case 't': tok_path = optarg; break;
        case 'x': text_path = optarg; break;
        case 'o': out_path = optarg; break;
        case 'j': json = 1; break;
        case 'h': usage(stdout); return 0;
        case 'b':
            if (cli_positive(prog, "--budget", optarg, &budget))
                return 2;
            break;
        case 'm':
            if (!strcmp(optarg, "kl"))
                method = PRUNE_QUANT_KL;
            else if (!strcmp(optarg, "fisher-out"))
                method = PRUNE_QUANT_FISHER_OUT;
            else if (strcmp(optarg, "fisher")) {
                fprintf(stderr, "%s: --method: '%s' is not fisher, fisher-out or kl\n", prog, optarg);
                return 2;
            }
            break;
        case 'M':
            if (prune_mode_parse(optarg, &mode)) {
                fprintf(stderr, "%s: --mode: '%s' is not joint, prune or quant\n", prog, optarg);
                return 2;
            }
            break;
        case 'F':
            if (cli_format_list(prog, "--formats", optarg, formats, &nf))
                return 2;
            break;
        case 'L':
            if (cli_levels(optarg, levels, &nl, PRUNE_MAX_LEVELS)) {
                fprintf(stderr, "%s: --levels: '%s' is not a list of 1..%d distinct fractions in [0, 1]\n", prog,
                        optarg, PRUNE_MAX_LEVELS);
                return 2;
            }
            break;
        case 'P':
            if (cli_format(prog, "--prune-format", optarg, &pf))
                return 2;
            break;
        case 'K':
            if (n_keep_names == 64) {
                fprintf(stderr, "%s: --keep-whole: at most 64\n", prog);
                return 2;
            }
            keep_names[n_keep_names++] = optarg;
            break;
        case 'c':
            if (cli_long(prog, "--ctx", optarg, 1, INT_MAX, &ctx))
                return 2;
            break;
        case 'n':
            if (cli_long(prog, "--tokens", optarg, 0, LONG_MAX, &max_tokens))
                return 2;
            break;
        default: usage(stderr); return 2;
        }
    }
    if (!cli_one_arg(prog, "MODEL", argc, argv,
                     !text_path ? "--text FILE is required" : isnan(budget) ? "--budget B is required" : NULL)) {
        usage(stderr);
        return 2;
    }
    if (!nf) {
        score_opts so;
        score_opts_init(&so);
        nf = 0;
        for (int f = 0; f < so.n_formats; f++)
            if (so.formats[f] != MX_FP32)
                formats[nf++] = so.formats[f];
    }
    int pfi = -1;
    for (int f = 0; f < nf; f++) {
        if (formats[f] == MX_FP32 || formats[f] == MX_BF16) {
            fprintf(stderr, "%s: --formats: candidates are MX formats (not %s)\n", prog, mx_format_name(formats[f]));
            return 2;
        }
        if (formats[f] == pf)
            pfi = f;
    }
    if (mode == PRUNE_MODE_PRUNE && pfi < 0) {
        if (nf == MX_NFORMATS) {
            fprintf(stderr, "%s: too many formats\n", prog);
            return 2;
        }
        pfi = nf;
        formats[nf++] = pf;
    }
    int rc = 1, *fmt = NULL, *level = NULL;
    mx_error e = {0};
    model m;
    corpus cp = {0};
    prune_plan plan = {0};
    prune_scores sc = {0};
    unsigned char *keep_all = NULL;
    mx_cfg cfg;
    cfg_init(&cfg);
    if (model_load(argv[optind], &m, &e)) {
        fprintf(stderr, "%s: %s\n", prog, e.msg);
        return 1;
    }
    if (!ctx)
        ctx = score_default_ctx(&m);
    if (cli_ctx(prog, &m, ctx, max_tokens, "--tokens"))
        goto out;
    fmt = malloc((size_t)m.n_modules * sizeof *fmt);
    level = malloc((size_t)m.n_modules * sizeof *level);
    keep_all = calloc((size_t)m.n_modules, 1);
    if (!fmt || !level || !keep_all) {
        fprintf(stderr, "%s: out of memory\n", prog);
        goto out;
    }
    for (int k = 0; k < n_keep_names; k++) {
        char name[CFG_NAME_MAX];
        int i = module_name_canonical(keep_names[k], name, sizeof name) ? -1 : model_find_module(&m, name);
        if (i < 0) {
            fprintf(stderr, "%s: --keep-whole: no module %s in %s\n", prog, keep_names[k], m.path);
            rc = 2;
            goto out;
        }
        for (int j = 0; j < m.n_modules; j++)
            if (prune_group_of(&m, j) == prune_group_of(&m, i))
                keep_all[j] = 1;
    }
    double t0 = clock_now_s();
    if (corpus_load(&cp, &m, tok_path, text_path, (int)ctx, max_tokens, &e) ||
        prune_plan_collect(&plan, &m, cp.tokens, cp.n_tokens, cp.bos, (int)ctx, max_tokens, &e) ||
        prune_scores_compute(&m, &plan, cp.tokens, cp.n_tokens, cp.bos, (int)ctx, max_tokens, formats, nf, levels,
                             nl, method, NULL, NULL, &sc, &e)) {
        fprintf(stderr, "%s: %s\n", prog, e.msg);
        goto out;
    }
    prune_alloc_opts po = {mode, pfi, budget, keep_all, 1.0, NULL};
    prune_calib cal = {cp.tokens, cp.n_tokens, cp.bos, (int)ctx, max_tokens};
    prune_answer a;
    if (prune_alloc_search(&sc, &plan, &m, &po, &cal, fmt, level, &a, &e)) {
        fprintf(stderr, "%s: %s\n", prog, e.msg);
        goto out;
    }
    double secs = clock_now_s() - t0;
    if (out_path) {
        snprintf(cfg.model, sizeof cfg.model, "%.255s", m.path);
        cfg.budget_bits = budget;
        cfg.avg_bits = a.res.avg_bits;
        cfg.projected_ppl = exp(a.measured_loss);
        if (prune_alloc_config(&sc, &plan, &m, fmt, level, &cfg, &e) || cfg_save(out_path, &cfg, &e)) {
            fprintf(stderr, "%s: %s\n", prog, e.msg);
            goto out;
        }
    }
    report(&m, &sc, &plan, fmt, level, &a, mode, budget, secs, json);
    rc = fflush(stdout) ? 1 : 0;
out:
    cfg_free(&cfg);
    prune_scores_free(&sc);
    prune_plan_free(&plan);
    corpus_free(&cp);
    free(fmt);
    free(level);
    free(keep_all);
    model_free(&m);
    return rc;
}
