/* mxalloc sweep SCORES --from A --to B --step S: the Pareto table. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "solver/proj.h"
#include "solver/alloc_setup.h"
#include "src/cli/alloc_args.h"
#include "src/cli/cli.h"
#include "src/cache.h"
#include "src/file_write.h"
#include "src/cli/cmd.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: mxalloc sweep SCORES [--from BITS] [--to BITS] [--step BITS] [options]\n\n"
               "Solve the assignment for every budget from --from to --to (default 4.25 to\n"
               "8.25, step 0.25) and print budget, achieved bits, objective, projected ppl\n"
               "and how many modules use each format.\n\n"
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
    const char *from_s = "4.25", *to_s = "8.25", *step_s = "0.25", *csv = NULL;
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
    double from = 0, to = 0, step = 0;
    if (!status)
        status = cli_positive(prog, "--from", from_s, &from);
    if (!status)
        status = cli_positive(prog, "--to", to_s, &to);
    if (!status)
        status = cli_positive(prog, "--step", step_s, &step);
    if (!status && (to < from || (to - from) / step > 100000)) {
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
    o.budget = from;
    int rc = alloc_load(&o, &t, &s, &choice, &fmts, &e);
    if (!rc) {
        double minb = ilp_min_budget(&s.p);
        sb_printf(&out, "%8s %8s %12s %10s", "budget", "bits", "objective", "proj_ppl");
        sb_printf(&cs, "budget,avg_bits,bytes,objective,projected_ppl,optimal");
        for (int i = 0; i < t.n_formats; i++) {
            sb_printf(&out, " %5s", mx_format_label(t.formats[i]));
            sb_printf(&cs, ",%s", mx_format_name(t.formats[i]));
        }
        sb_printf(&out, "\n");
        sb_printf(&cs, "\n");
        int n_steps = (int)floor((to - from) / step + 1e-9) + 1;
        for (int k = 0; k < n_steps && !rc; k++) {
            double b = from + k * step;
            s.p.budget_bits = b;
            ilp_result r;
            if (b < minb - 1e-12) {
                sb_printf(&out, "%8.4g %8s (infeasible: the smallest feasible budget is %.4f)\n", b, "-",
                          ceil(minb * 1e4 - 1e-6) / 1e4);
                continue;
            }
            rc = alloc_setup_solve(&o, &s, choice, &r, &e);
            if (rc == ERR_INFEASIBLE) {  /* the byte limit */
                sb_printf(&out, "%8.4g %8s (%s)\n", b, "-", e.msg);
                rc = 0;
                continue;
            }
            if (rc)
                break;
            int count[MX_NFORMATS] = {0};
            for (int m = 0; m < t.n_modules; m++)
                count[choice[m]]++;
            double ppl = alloc_setup_project(&t, &s, choice, fmts);
            sb_printf(&out, "%8.4g %8.4f %12.6g %10.4f", b, r.avg_bits, r.objective, ppl);
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
