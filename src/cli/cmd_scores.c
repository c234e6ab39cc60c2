/* mxalloc scores show: print a score file as a table or as JSON. */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/mx.h"
#include "src/cache.h"
#include "src/cli/cli.h"
#include "src/cli/cmd.h"
#include "solver/proj.h"
#include "src/score_table.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mxalloc scores show FILE [--format F] [--score-method M] [--sort] [--json]\n\n"
            "Print a score file (from mxalloc score): per module (layer order) and format,\n"
            "the estimated loss increase in nats/token as mean ± standard error over the\n"
            "calibration windows (the mean alone where the error is unknown), the KL\n"
            "divergence of the kl method likewise, plus the fp32 and uniform losses, the\n"
            "projection's measured anchors and its fit per method.\n\n"
            "  --format F   show only format F (and sort by it with --sort)\n"
            "  --score-method M  show only method M (kl, fisher, gamma, fisher-out); default: every\n"
            "               method present (--method M is the older spelling)\n"
            "  --sort       most sensitive first, by the score of --format (default: the\n"
            "               table's lowest-bit format) under the first method shown\n"
            "  --json       {\"model\", \"method\", \"fp32_loss\", \"uniform_loss\", \"modules\": [{\"name\",\n"
            "               \"params\", \"formats\": {F: {\"bits\", \"score\", \"se\", \"kld\", \"kld_se\"}}}],\n"
            "               \"anchors\": [{\"method\", \"avg_bits\", \"score_sum\", \"loss\"}],\n"
            "               \"projection\": {M: {\"c1\", \"c2\", \"n_uniform\", \"n_mixed\", \"residual\"}}}\n"
            "               (with several methods: per format \"M\" and \"M_se\" per method M\n"
            "               instead of \"score\" and \"se\"; an unknown value has no key)\n");
}

static const char *method_label(unsigned methods)
{
    int n = 0;
    const char *one = "none";
    for (int s = 0; s < SCORE_NMETHODS; s++)
        if (methods & (1u << s)) {
            n++;
            one = score_method_name((score_method)s);
        }
    if (n > 1)
        return (methods & ~((1u << SCORE_KL) | (1u << SCORE_FISHER))) ? "several" : "both";
    return one;
}

static json_t *num(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static int print_json(const score_table *t, unsigned methods, int only_f)
{
    json_t *o = json_object(), *u = json_object(), *mods = json_array(), *fl = json_array();
    char hash[20];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)t->model_hash);
    json_object_set_new(o, "model", json_string(t->model));
    json_object_set_new(o, "model_hash", json_string(hash));
    json_object_set_new(o, "key", json_string(t->key));
    json_object_set_new(o, "method", json_string(method_label(methods)));
    json_object_set_new(o, "calib_tokens", json_integer(t->calib_tokens));
    json_object_set_new(o, "ctx", json_integer(t->ctx));
    json_object_set_new(o, "fp32_loss", num(t->fp32_loss));
    int multi = strcmp(method_label(methods), "kl") && strcmp(method_label(methods), "fisher") &&
                strcmp(method_label(methods), "gamma");
    for (int fi = 0; fi < t->n_formats; fi++) {
        mx_format f = t->formats[fi];
        if (only_f >= 0 && (int)f != only_f)
            continue;
        json_array_append_new(fl, json_string(mx_format_name(f)));
        json_object_set_new(u, mx_format_name(f), num(t->uniform_loss[f]));
    }
    json_object_set_new(o, "formats", fl);
    json_object_set_new(o, "uniform_loss", u);
    for (int i = 0; i < t->n_modules; i++) {
        const score_module *sm = &t->modules[i];
        json_t *jm = json_object(), *jf = json_object();
        json_object_set_new(jm, "name", json_string(sm->name));
        json_object_set_new(jm, "layer", json_integer(sm->layer));
        json_object_set_new(jm, "params", json_integer(sm->params));
        for (int fi = 0; fi < t->n_formats; fi++) {
            mx_format f = t->formats[fi];
            if (only_f >= 0 && (int)f != only_f)
                continue;
            json_t *c = json_object();
            json_object_set_new(c, "bits", num(sm->bits[f]));
            for (int s = 0; s < SCORE_NMETHODS; s++) {
                if (!(methods & (1u << s)))
                    continue;
                const char *name = multi ? score_method_name((score_method)s) : "score";
                json_object_set_new(c, name, num(sm->score[s][f]));
                if (isfinite(sm->se[s][f])) {
                    char key[40];
                    snprintf(key, sizeof key, "%s_se", name);
                    json_object_set_new(c, multi ? key : "se", json_real(sm->se[s][f]));
                }
            }
            if ((methods & (1u << SCORE_KL)) && isfinite(sm->kld[f])) {
                json_object_set_new(c, "kld", json_real(sm->kld[f]));
                if (isfinite(sm->kld_se[f]))
                    json_object_set_new(c, "kld_se", json_real(sm->kld_se[f]));
            }
            json_object_set_new(jf, mx_format_name(f), c);
        }
        json_object_set_new(jm, "formats", jf);
        json_array_append_new(mods, jm);
    }
    json_object_set_new(o, "modules", mods);
    json_t *an = json_array(), *pj = json_object();
    for (int k = 0; k < t->n_anchors; k++) {
        const score_anchor *a = &t->anchors[k];
        if (!(methods & (1u << a->method)))
            continue;
        json_t *ja = json_object();
        json_object_set_new(ja, "method", json_string(score_method_name((score_method)a->method)));
        json_object_set_new(ja, "avg_bits", num(a->bits));
        json_object_set_new(ja, "score_sum", num(a->score_sum));
        json_object_set_new(ja, "loss", num(a->loss));
        json_array_append_new(an, ja);
    }
    for (int m = 0; m < SCORE_NMETHODS; m++) {
        proj_fit f;
        if (!(methods & t->methods & (1u << m)) || proj_calibrate(t, (score_method)m, &f, NULL))
            continue;
        json_t *jp = json_object();
        json_object_set_new(jp, "c1", num(f.c1));
        json_object_set_new(jp, "c2", num(f.c2));
        json_object_set_new(jp, "n_uniform", json_integer(f.n_uniform));
        json_object_set_new(jp, "n_mixed", json_integer(f.n_mixed));
        json_object_set_new(jp, "residual", num(proj_fit_residual(t, (score_method)m, &f)));
        json_object_set_new(pj, score_method_name((score_method)m), jp);
    }
    json_object_set_new(o, "anchors", an);
    json_object_set_new(o, "projection", pj);
    char *s = json_dumps(o, JSON_REAL_PRECISION(9));
    json_decref(o);
    if (!s) {
        fprintf(stderr, "mxalloc scores: out of memory\n");
        return 1;
    }
    printf("%s\n", s);
    free(s);
    return 0;
}

typedef struct sort_item {
    int i;
    double v;
} sort_item;

static int by_score_desc(const void *a, const void *b)
{
    const sort_item *x = a, *y = b;
    int nx = !isfinite(x->v), ny = !isfinite(y->v);
    if (nx != ny)
        return nx - ny; /* missing scores last */
    if (!nx && x->v != y->v)
        return x->v < y->v ? 1 : -1;
    return x->i - y->i;
}

/* A mean and its standard error, or the mean alone (same width) when the error is unknown. */
static void print_cell(double mean, double se)
{
    if (isfinite(se))
        printf(" %10.3e ± %7.1e", mean, se);
    else
        printf(" %10.3e %9s", mean, "");
}

/* One table, per module in ord: method s's scores, or (s < 0) the KL divergences. */
static void print_section(const score_table *t, const sort_item *ord, int only_f, int s)
{
    printf("%-40s %9s", "module", "params");
    for (int fi = 0; fi < t->n_formats; fi++)
        if (only_f < 0 || (int)t->formats[fi] == only_f)
            printf(" %20s", mx_format_name(t->formats[fi]));
    printf("\n");
    for (int k = 0; k < t->n_modules; k++) {
        const score_module *sm = &t->modules[ord[k].i];
        printf("%-40s %9lld", sm->name, (long long)sm->params);
        for (int fi = 0; fi < t->n_formats; fi++) {
            mx_format f = t->formats[fi];
            if (only_f < 0 || (int)f == only_f)
                print_cell(s < 0 ? sm->kld[f] : sm->score[s][f], s < 0 ? sm->kld_se[f] : sm->se[s][f]);
        }
        printf("\n");
    }
}

static void print_text(const score_table *t, unsigned methods, int only_f, int sort)
{
    printf("model       %s\n", t->model);
    printf("methods     ");
    for (int s = 0, first = 1; s < SCORE_NMETHODS; s++)
        if (t->methods & (1u << s)) {
            printf("%s%s", first ? "" : ", ", score_method_name((score_method)s));
            first = 0;
        }
    printf("\ncalibration %ld tokens, ctx %d", t->calib_tokens, t->ctx);
    if (t->ctx > 0)
        printf(" (%ld window%s)", t->calib_tokens / t->ctx, t->calib_tokens / t->ctx == 1 ? "" : "s");
    printf("\n");
    printf("fp32 loss   %.6f nats/token\n", t->fp32_loss);
    printf("uniform     ");
    for (int fi = 0; fi < t->n_formats; fi++) {
        mx_format f = t->formats[fi];
        if (only_f < 0 || (int)f == only_f)
            printf("%s %.6f (%+.6f)  ", mx_format_name(f), t->uniform_loss[f],
                   t->uniform_loss[f] - t->fp32_loss);
    }
    printf("\n");

    sort_item *ord = malloc(sizeof *ord * (size_t)(t->n_modules ? t->n_modules : 1));
    if (!ord)
        return;
    int sort_f = only_f >= 0 ? only_f : (int)t->formats[t->n_formats - 1];
    if (sort && only_f < 0) /* lowest-bit candidate */
        for (int fi = 0; fi < t->n_formats; fi++)
            if (mx_element_bits(t->formats[fi]) < mx_element_bits((mx_format)sort_f))
                sort_f = (int)t->formats[fi];
    int first_method = -1;
    for (int s = 0; s < SCORE_NMETHODS && first_method < 0; s++)
        if (methods & (1u << s))
            first_method = s;
    for (int i = 0; i < t->n_modules; i++) {
        ord[i].i = i;
        ord[i].v = first_method >= 0 ? t->modules[i].score[first_method][sort_f] : NAN;
    }
    if (sort)
        qsort(ord, (size_t)t->n_modules, sizeof *ord, by_score_desc);

    char sorted[64] = "";
    if (sort)
        snprintf(sorted, sizeof sorted, ", sorted by %s", mx_format_name((mx_format)sort_f));
    for (int s = 0; s < SCORE_NMETHODS; s++)
        if (methods & (1u << s)) {
            printf("\n%s scores (loss increase, nats/token, mean ± standard error)%s\n",
                   score_method_name((score_method)s), sorted);
            print_section(t, ord, only_f, s);
        }
    int any_kld = 0;
    for (int i = 0; i < t->n_modules && (methods & (1u << SCORE_KL)); i++)
        for (int fi = 0; fi < t->n_formats; fi++)
            any_kld |= isfinite(t->modules[i].kld[t->formats[fi]]);
    if (any_kld) {
        printf("\nkl divergence (KL(fp32 || quantized), nats/token, mean ± standard error)%s\n",
               sorted);
        print_section(t, ord, only_f, -1);
    }
    printf("\nbits/weight ");
    for (int fi = 0; fi < t->n_formats; fi++) {
        mx_format f = t->formats[fi];
        if ((only_f < 0 || (int)f == only_f) && t->n_modules > 0)
            printf("%s %.3f  ", mx_format_name(f), t->modules[0].bits[f]);
    }
    printf("\n");
    int n_an = 0;
    for (int k = 0; k < t->n_anchors; k++)
        n_an += (methods >> t->anchors[k].method) & 1;
    if (n_an) {
        printf("\nanchors (measured allocations the projection is fitted to; calibration loss, nats/token)\n");
        for (int k = 0; k < t->n_anchors; k++) {
            const score_anchor *a = &t->anchors[k];
            if ((methods >> a->method) & 1)
                printf("%-10s %6.3f bits  score sum %10.4g  loss %.6f (%+.6f)\n",
                       score_method_name((score_method)a->method), a->bits, a->score_sum, a->loss,
                       a->loss - t->fp32_loss);
        }
    }
    for (int m = 0; m < SCORE_NMETHODS; m++) {
        proj_fit f;
        if ((methods & t->methods & (1u << m)) && !proj_calibrate(t, (score_method)m, &f, NULL))
            printf("projection (%s): loss increase = %.4g S%+.4g S^2 from %d uniform formats and %d measured "
                   "allocations (largest fit residual %.2f%% in ppl)\n",
                   score_method_name((score_method)m), f.c1, f.c2, f.n_uniform, f.n_mixed,
                   100 * proj_fit_residual(t, (score_method)m, &f));
    }
    free(ord);
}

int cmd_scores(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return 0;
    }
    if (argc < 2 || strcmp(argv[1], "show")) {
        fprintf(stderr, argc < 2 ? "mxalloc scores: missing action (show)\n"
                                 : "mxalloc scores: unknown action '%s' (show)\n",
                argc < 2 ? "" : argv[1]);
        usage(stderr);
        return 2;
    }
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'}, {"score-method", required_argument, NULL, 'm'},
        {"method", required_argument, NULL, 'm'}, /* the older spelling, kept */
        {"sort", no_argument, NULL, 's'},         {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    const char *fmt_name = NULL, *method_name = NULL;
    int json = 0, sort = 0, ch, started = 0;
    argc--;
    argv++;
    while ((ch = cli_getopt("mxalloc scores", argc, argv, NULL, opts, &started)) != -1) {
        switch (ch) {
        case 'f': fmt_name = optarg; break;
        case 'm': method_name = optarg; break;
        case 's': sort = 1; break;
        case 'j': json = 1; break;
        case 'h': usage(stdout); return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!cli_one_arg("mxalloc scores show", "FILE", argc, argv, NULL))
        return 2;
    mx_format f = MX_FP32;
    if (fmt_name && cli_format("mxalloc scores", "--format", fmt_name, &f))
        return 2;
    score_method sm = SCORE_KL;
    if (method_name && score_method_parse(method_name, &sm)) {
        fprintf(stderr, "mxalloc scores: --score-method: unknown method '%s' (kl, fisher, gamma, fisher-out)\n",
                method_name);
        return 2;
    }
    score_table t;
    mx_error e = {0};
    if (cache_read(argv[optind], &t, &e)) {
        fprintf(stderr, "mxalloc scores: %s\n", e.msg);
        return 1;
    }
    int rc = 1;
    if (fmt_name && score_table_format_index(&t, f) < 0) {
        fprintf(stderr, "mxalloc scores: %s: format %s is not in this table\n", argv[optind],
                mx_format_name(f));
        goto out;
    }
    unsigned methods = t.methods;
    if (method_name) {
        if (!score_table_has(&t, sm)) {
            fprintf(stderr, "mxalloc scores: %s: no %s scores in this table\n", argv[optind],
                    score_method_name(sm));
            goto out;
        }
        methods = 1u << sm;
    }
    if (t.n_formats <= 0 || t.n_modules <= 0) {
        fprintf(stderr, "mxalloc scores: %s: the table has no %s\n", argv[optind],
                t.n_formats <= 0 ? "formats" : "modules");
        goto out;
    }
    int only_f = fmt_name ? (int)f : -1;
    if (json)
        rc = print_json(&t, methods, only_f);
    else {
        print_text(&t, methods, only_f, sort);
        rc = 0;
    }
    if (fflush(stdout))
        rc = 1;
out:
    score_table_free(&t);
    return rc;
}
