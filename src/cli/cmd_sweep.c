/* mxalloc sweep SCORES --from A --to B --step S: the Pareto table. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "solver/proj.h"
#include "solver/alloc_setup.h"
#include "solver/budget.h"
#include "src/cli/alloc_args.h"
#include "src/cli/cli.h"
#include "src/cache.h"
#include "src/file_write.h"
#include "src/cli/cmd.h"

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
#include <stdarg.h>
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

int cmd_sweep(int argc, char **argv)
{
    static const char prog[] = "mxalloc sweep";
    enum { O_FROM = 1, O_TO, O_STEP, O_CSV };
    static const struct option own[] = {
        {"from", required_argument, NULL, O_FROM}, {"to", required_argument, NULL, O_TO},
        {"step", required_argument, NULL, O_STEP}, {"csv", required_argument, NULL, O_CSV},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    alloc_opts o;
    alloc_opts_init(&o);
    const char *from_s = NULL, *to_s = NULL, *step_s = "0.25", *csv = NULL;
    int status = 0, c, started = 0;
    while (!status && (c = alloc_getopt(prog, argc, argv, own, &o, &started)) != -1) {
        switch (c) {
        case 'h':
            usage(stdout);
            alloc_args_free(&o);
            return 0;
        case O_FROM: from_s = optarg; break;
        case O_TO: to_s = optarg; break;
        case O_STEP: step_s = optarg; break;
        case O_CSV: csv = optarg; break;
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
    if (status) {
        alloc_args_free(&o);
        return status;
    }
    score_table t;
    alloc_setup s = {0};
    mx_error e = {0};
    int *choice = NULL;
    mx_format *fmts = NULL;
    sbuf out = {0}, cs = {0};
    o.budget = isnan(from) ? 8.25 : from;
    int rc = alloc_load(&o, &t, &s, &choice, &fmts, &e);
    double lo = NAN, hi = NAN;
    if (!rc) {
        budget_range(&s.p, &lo, &hi);
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
    if (!rc) {
        double minb = lo;
        sb_printf(&out, "%8s %8s %12s %10s", "budget", "bits", "objective", "proj_ppl");
        sb_printf(&cs, "budget,avg_bits,bytes,objective,projected_ppl,optimal");
        for (int i = 0; i < t.n_formats; i++) {
            sb_printf(&out, " %5s", mx_format_label(t.formats[i]));
            sb_printf(&cs, ",%s", mx_format_name(t.formats[i]));
        }
        sb_printf(&out, "\n");
        sb_printf(&cs, "\n");
        /* an automatic start is off the step grid: then the grid points above it */
        double grid0 = auto_from ? ceil(from / step - 1e-9) * step : from;
        if (auto_from && grid0 <= from + 1e-9)
            grid0 += step;
        int n_steps = (int)floor((to - grid0) / step + 1e-9) + 1 + auto_from;
        if (n_steps < 1)
            n_steps = 1;
        for (int k = 0; k < n_steps && !rc; k++) {
            double b = auto_from ? (k == 0 ? from : grid0 + (k - 1) * step) : from + k * step;
            s.p.budget_bits = b;
            ilp_result r;
            if (b < minb - 1e-12) {
                sb_printf(&out, "%8.6g %8s (infeasible: the smallest feasible budget is %.4f)\n", b, "-",
                          ceil(minb * 1e4 - 1e-6) / 1e4);
                continue;
            }
            rc = alloc_setup_solve(&o, &s, choice, &r, &e);
            if (rc == ERR_INFEASIBLE) {  /* the byte limit */
                sb_printf(&out, "%8.6g %8s (%s)\n", b, "-", e.msg);
                rc = 0;
                continue;
            }
            if (rc)
                break;
            int count[MX_NFORMATS] = {0};
            for (int m = 0; m < t.n_modules; m++)
                count[choice[m]]++;
            double ppl = alloc_setup_project(&t, &s, choice, fmts);
            sb_printf(&out, "%8.6g %8.4f %12.6g %10.4f", b, r.avg_bits, r.objective, ppl);
            sb_printf(&cs, "%.10g,%.10g,%.0f,%.10g,%.10g,%d", b, r.avg_bits, r.bytes, r.objective, ppl,
                      r.optimal);
            for (int i = 0; i < t.n_formats; i++) {
                sb_printf(&out, " %5d", count[i]);
                sb_printf(&cs, ",%d", count[i]);
            }
            sb_printf(&out, "%s\n", !o.greedy && !r.optimal ? "  (time limit)" : "");
            sb_printf(&cs, "\n");
        }
        if (!rc && (out.oom || cs.oom))
            rc = err_set(&e, ERR_NOMEM, "out of memory");
    }
    if (!rc && csv)
        rc = fw_write_atomic(csv, cs.p, cs.len, &e);
    if (rc)
        fprintf(stderr, "mxalloc sweep: %s\n", e.msg);
    else
        fwrite(out.p, 1, out.len, stdout);
    free(out.p);
    free(cs.p);
    free(choice);
    free(fmts);
    alloc_setup_free(&s);
    score_table_free(&t);
    alloc_args_free(&o);
    return rc ? 1 : 0;
}
