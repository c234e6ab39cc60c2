/* mxalloc sweep SCORES --from A --to B --step S: the Pareto table. */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "solver/proj.h"
#include "solver/alloc_setup.h"
#include "solver/budget.h"
#include "src/cli/alloc_args.h"
#include "src/cli/cli.h"
#include "src/cache.h"
#include "src/cli/cmd.h"
#include "src/corpus.h"
#include "src/gptq_set.h"
#include "src/eval.h"
#include "src/file_write.h"
#include "src/model.h"
#include "src/stats.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: mxalloc sweep SCORES [--from BITS] [--to BITS] [--step BITS] [options]\n\n"
               "Solve the assignment for every budget from --from to --to (step 0.25 by\n"
               "default) and print budget, achieved bits, objective, projected ppl and how\n"
               "many modules use each format. Default --from: the smallest feasible budget\n"
               "(rounded up, so it is feasible), then the multiples of the step above it;\n"
               "default --to: 8.25 (or a few steps above --from), at most every module in\n"
               "its widest allowed format.\n\n"
               "%s"
               "  --csv FILE          also write the table as CSV (atomically)\n"
               "  --measure K         measure the perplexity of K of the budgets (spread over\n"
               "                      the feasible ones) and print it beside the projection,\n"
               "                      with the error; needs --model and --eval-text\n"
               "  --model MODEL       the model the scores are for\n"
               "  --eval-text FILE    held-out text to measure on (never the calibration text)\n"
               "  --tokenizer FILE    its tokenizer (default: the model's own)\n"
               "  --ctx N             window (default: the scores' context)\n"
               "  --eval-tokens N     measure at most N tokens (default: the whole text)\n"
               "  --gptq-text FILE    with scores made by `score --gptq`: their calibration text\n"
               "  --help              this text\n",
               alloc_common_usage);
}

/* Append to a growing text buffer. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || b->len + (size_t)n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (n >= 0 && cap < b->len + (size_t)n + 1)
            cap *= 2;
        char *q = n < 0 ? NULL : realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* One row of the table. */
typedef struct row {
    double budget;
    int feasible;
    char why[600];        /* when not feasible */
    ilp_result r;
    double proj;          /* projected ppl */
    int count[MX_NFORMATS];
    mx_format *fmts;      /* [n_modules], kept for rows to measure */
    double meas;          /* measured ppl, NAN when not measured */
} row;

typedef struct measure_opts {
    long k;
    const char *model, *text, *tokenizer;
    const char *gptq_text; /* the calibration text of scores made by GPTQ */
    long ctx, max_tokens;
} measure_opts;

/* Measure the K rows spread evenly over the feasible ones (first and last
 * included) on the evaluation text, with the table's modules mapped by name. */
static int measure_rows(const measure_opts *mo, const score_table *t, row *rows, int n_rows, double *fp32_ppl,
                        mx_error *e)
{
    int nf = 0;
    for (int i = 0; i < n_rows; i++)
        nf += rows[i].feasible;
    if (nf == 0)
        return 0;
    model m;
    int rc = model_load(mo->model, &m, e);
    if (rc)
        return rc;
    corpus cp = {0};
    tf_ctx *tc = NULL;
    mx_format *mf = malloc((size_t)m.n_modules * sizeof *mf);
    int ctx = (int)(mo->ctx > 0 ? mo->ctx : t->ctx > 0 ? t->ctx : 256);
    if (t->model_hash && t->model_hash != m.content_hash)
        rc = err_set(e, ERR_ARG, "--model %s: the scores were computed for other weights (%s)", mo->model,
                     t->model);
    else if (!mf)
        rc = err_set(e, ERR_NOMEM, "out of memory");
    gptq_set gs = {0};
    if (!rc && t->gptq && !mo->gptq_text)
        rc = err_set(e, ERR_ARG, "the scores were made by GPTQ: --measure needs their calibration text "
                     "(--gptq-text FILE)");
    if (!rc && t->gptq)
        rc = gptq_set_from_text(&gs, &m, mo->tokenizer, mo->gptq_text, t->ctx, t->calib_tokens, t->text_hash, e);
    if (!rc)
        rc = corpus_load(&cp, &m, mo->tokenizer, mo->text, ctx, mo->max_tokens, e);
    if (!rc && !(tc = tf_ctx_create(&m.cfg, ctx, 0)))
        rc = err_set(e, ERR_NOMEM, "out of memory for the forward pass");
    long k = mo->k < nf ? mo->k : nf;
    eval_result er;
    if (!rc && !(rc = eval_perplexity_ctx(tc, &m.weights, cp.tokens, cp.n_tokens, cp.bos, ctx, mo->max_tokens,
                                          NULL, NULL, &er, e)))
        *fp32_ppl = er.ppl;
    for (long j = 0, seen = 0; !rc && j < k; j++) {
        /* the j-th of k picks among the feasible rows */
        long want = k == 1 ? 0 : (long)llround((double)j * (nf - 1) / (double)(k - 1));
        int at = -1;
        seen = 0;
        for (int i = 0; i < n_rows && at < 0; i++)
            if (rows[i].feasible && seen++ == want)
                at = i;
        for (int i = 0; i < m.n_modules; i++) {
            int ti = score_table_find(t, m.modules[i].name);
            mf[i] = ti >= 0 ? rows[at].fmts[ti] : MX_FP32;
        }
        eval_qweights q;
        if ((rc = eval_qweights_init(&q, &m, mf, t->gptq ? &gs : NULL, e)))
            break;
        rc = eval_perplexity_ctx(tc, &q.w, cp.tokens, cp.n_tokens, cp.bos, ctx, mo->max_tokens, NULL, NULL,
                                 &er, e);
        eval_qweights_free(&q);
        if (!rc)
            rows[at].meas = er.ppl;
    }
    tf_ctx_free(tc);
    corpus_free(&cp);
    gptq_set_free(&gs);
    free(mf);
    model_free(&m);
    return rc;
}

int cmd_sweep(int argc, char **argv)
{
    static const char prog[] = "mxalloc sweep";
    enum { O_FROM = 1, O_TO, O_STEP, O_CSV, O_MEASURE, O_MODEL, O_EVAL_TEXT, O_TOKENIZER, O_CTX, O_EVAL_TOKENS,
           O_GPTQ_TEXT };
    static const struct option own[] = {
        {"from", required_argument, NULL, O_FROM},       {"to", required_argument, NULL, O_TO},
        {"step", required_argument, NULL, O_STEP},       {"csv", required_argument, NULL, O_CSV},
        {"measure", required_argument, NULL, O_MEASURE}, {"model", required_argument, NULL, O_MODEL},
        {"eval-text", required_argument, NULL, O_EVAL_TEXT},
        {"tokenizer", required_argument, NULL, O_TOKENIZER},
        {"ctx", required_argument, NULL, O_CTX},         {"eval-tokens", required_argument, NULL, O_EVAL_TOKENS},
        {"gptq-text", required_argument, NULL, O_GPTQ_TEXT},
        {"help", no_argument, NULL, 'h'},                {NULL, 0, NULL, 0}};
    measure_opts mo = {0};
    alloc_opts o;
    alloc_opts_init(&o);
    const char *from_s = NULL, *to_s = NULL, *step_s = "0.25", *csv = NULL;
    int status = 0, c, started = 0;
    while (!status && (c = alloc_getopt(prog, argc, argv, own, &o, &started)) != -1) {
        switch (c) {
        case 'h': usage(stdout); status = -1; break; /* done: exit 0 */
        case O_FROM: from_s = optarg; break;
        case O_TO: to_s = optarg; break;
        case O_STEP: step_s = optarg; break;
        case O_CSV: csv = optarg; break;
        case O_MEASURE: status = cli_long(prog, "--measure", optarg, 1, 1000, &mo.k) ? 2 : 0; break;
        case O_MODEL: mo.model = optarg; break;
        case O_EVAL_TEXT: mo.text = optarg; break;
        case O_GPTQ_TEXT: mo.gptq_text = optarg; break;
        case O_TOKENIZER: mo.tokenizer = optarg; break;
        case O_CTX: status = cli_long(prog, "--ctx", optarg, 1, INT_MAX, &mo.ctx) ? 2 : 0; break;
        case O_EVAL_TOKENS:
            status = cli_long(prog, "--eval-tokens", optarg, 1, LONG_MAX, &mo.max_tokens) ? 2 : 0;
            break;
        default: status = 2; break;
        }
    }
    if (!status)
        status = alloc_scores_arg(prog, argc, argv, &o);
    double from = NAN, to = NAN, step = 0;
    if (!status && from_s)
        status = cli_positive(prog, "--from", from_s, &from);
    if (!status && to_s)
        status = cli_positive(prog, "--to", to_s, &to);
    if (!status)
        status = cli_positive(prog, "--step", step_s, &step);
    if (!status && from_s && to_s && (to < from || (to - from) / step > 100000)) {
        fprintf(stderr, "mxalloc sweep: --from %s --to %s --step %s is not a usable range\n", from_s, to_s, step_s);
        status = 2;
    }
    if (!status && mo.k && (!mo.model || !mo.text)) {
        fprintf(stderr, "mxalloc sweep: --measure needs --model MODEL and --eval-text FILE\n");
        status = 2;
    }
    if (status) {
        alloc_args_free(&o);
        return status < 0 ? 0 : status;
    }
    alloc_run run;
    mx_error e = {0};
    sbuf out = {0}, cs = {0};
    o.budget = isnan(from) ? 8.25 : from;
    int rc = alloc_load(&o, &run, &e);
    double lo = NAN, hi = NAN;
    if (!rc) {
        budget_range(&run.s.p, &lo, &hi);
        if (!isfinite(lo))
            rc = err_set(&e, ERR_INFEASIBLE, "no assignment is feasible (pins, formats or target)");
    }
    /* defaults from the problem: never start on an infeasible budget */
    int auto_from = isnan(from);
    if (!rc && auto_from)
        from = ceil(lo * 1e4 - 1e-6) / 1e4;
    if (!rc && isnan(to))
        to = fmin(fmax(8.25, from + 4 * step), fmax(from, hi));
    if (!rc && (to < from || (to - from) / step > 100000))
        rc = err_set(&e, ERR_ARG, "--from %.4g --to %.4g --step %.4g is not a usable range", from, to, step);
    row *rows = NULL;
    int n_rows = 0;
    if (!rc) {
        /* an automatic start is off the step grid: then the grid points above it */
        double grid0 = auto_from ? ceil(from / step - 1e-9) * step : from;
        if (auto_from && grid0 <= from + 1e-9)
            grid0 += step;
        int n_steps = (int)floor((to - grid0) / step + 1e-9) + 1 + auto_from;
        if (n_steps < 1)
            n_steps = 1;
        if (!(rows = calloc((size_t)n_steps, sizeof *rows)))
            rc = err_set(&e, ERR_NOMEM, "out of memory");
        for (int k = 0; k < n_steps && !rc; k++) {
            row *w = &rows[n_rows++];
            w->budget = auto_from ? (k == 0 ? from : grid0 + (k - 1) * step) : from + k * step;
            w->meas = NAN;
            run.s.p.budget_bits = w->budget;
            if (w->budget < lo - 1e-12) {
                snprintf(w->why, sizeof w->why, "infeasible: the smallest feasible budget is %.4f",
                         ceil(lo * 1e4 - 1e-6) / 1e4);
                continue;
            }
            rc = alloc_setup_solve(&o, &run.s, run.choice, &w->r, &e);
            if (rc == ERR_INFEASIBLE) {  /* the byte limit */
                snprintf(w->why, sizeof w->why, "%s", e.msg);
                rc = 0;
                continue;
            }
            if (rc)
                break;
            w->feasible = 1;
            for (int m = 0; m < run.t.n_modules; m++)
                w->count[run.choice[m]]++;
            w->proj = alloc_setup_project(&run.t, &run.s, run.choice, run.fmts);
            if (mo.k && !(w->fmts = malloc((size_t)run.t.n_modules * sizeof *w->fmts)))
                rc = err_set(&e, ERR_NOMEM, "out of memory");
            else if (mo.k)
                memcpy(w->fmts, run.fmts, (size_t)run.t.n_modules * sizeof *run.fmts);
        }
    }
    double fp32_eval = NAN, fp32_calib = exp(run.t.fp32_loss);
    if (!rc && mo.k)
        rc = measure_rows(&mo, &run.t, rows, n_rows, &fp32_eval, &e);
    if (!rc) {
        sb_printf(&out, "%8s %8s %12s %10s", "budget", "bits", "objective", "proj_ppl");
        sb_printf(&cs, "budget,avg_bits,bytes,objective,projected_ppl,optimal");
        int lat = alloc_setup_hw(&run.s) != NULL;
        if (lat) { /* predicted ms/token of the block linears (--hw-table) */
            sb_printf(&out, " %10s", "lat_ms");
            sb_printf(&cs, ",latency_ms");
        }
        if (mo.k) {
            sb_printf(&out, " %10s %7s", "meas_ppl", "error");
            sb_printf(&cs, ",measured_ppl,rel_error");
        }
        for (int i = 0; i < run.t.n_formats; i++) {
            sb_printf(&out, " %5s", mx_format_label(run.t.formats[i]));
            sb_printf(&cs, ",%s", mx_format_name(run.t.formats[i]));
        }
        sb_printf(&out, "\n");
        sb_printf(&cs, "\n");
        double errs[1000];
        int n_err = 0;
        for (int k = 0; k < n_rows; k++) {
            const row *w = &rows[k];
            if (!w->feasible) {
                sb_printf(&out, "%8.6g %8s (%s)\n", w->budget, "-", w->why);
                continue;
            }
            sb_printf(&out, "%8.6g %8.4f %12.6g %10.4f", w->budget, w->r.avg_bits, w->r.objective, w->proj);
            sb_printf(&cs, "%.10g,%.10g,%.0f,%.10g,%.10g,%d", w->budget, w->r.avg_bits, w->r.bytes,
                      w->r.objective, w->proj, w->r.optimal);
            if (lat) {
                sb_printf(&out, " %10.6f", w->r.latency);
                sb_printf(&cs, ",%.10g", w->r.latency);
            }
            if (mo.k && isfinite(w->meas)) {
                /* the texts differ: compare the ratios to each text's fp32 perplexity */
                double re = proj_rel_error(w->proj / fp32_calib, w->meas / fp32_eval);
                sb_printf(&out, " %10.4f %+6.2f%%", w->meas, 100 * re);
                sb_printf(&cs, ",%.10g,%.10g", w->meas, re);
                if (n_err < 1000 && isfinite(re))
                    errs[n_err++] = fabs(re);
            } else if (mo.k) {
                sb_printf(&out, " %10s %7s", "-", "-");
                sb_printf(&cs, ",,");
            }
            for (int i = 0; i < run.t.n_formats; i++) {
                sb_printf(&out, " %5d", w->count[i]);
                sb_printf(&cs, ",%d", w->count[i]);
            }
            sb_printf(&out, "%s\n", !o.greedy && !w->r.optimal ? "  (time limit)" : "");
            sb_printf(&cs, "\n");
        }
        if (n_err) {
            double med = stats_median(errs, n_err); /* sorts: errs[n_err - 1] is the worst */
            sb_printf(&out, "fp32 ppl: %.4f on %s, %.4f on the calibration text; error = of the ratio to fp32\n",
                      fp32_eval, mo.text, fp32_calib);
            sb_printf(&out, "projection error |projected - measured| / measured over %d budgets: median %.2f%%, "
                      "worst %.2f%%\n", n_err, 100 * med, 100 * errs[n_err - 1]);
        }
        if (out.oom || cs.oom)
            rc = err_set(&e, ERR_NOMEM, "out of memory");
    }
    if (!rc && csv)
        rc = fw_write_atomic(csv, cs.p, cs.len, &e);
    if (rc)
        fprintf(stderr, "mxalloc sweep: %s\n", e.msg);
    else
        fwrite(out.p, 1, out.len, stdout);
    for (int k = 0; k < n_rows; k++)
        free(rows[k].fmts);
    free(rows);
    free(out.p);
    free(cs.p);
    alloc_run_free(&run);
    alloc_args_free(&o);
    return rc ? 1 : 0;
}
