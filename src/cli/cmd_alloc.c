/* mxalloc alloc SCORES --budget B: the format assignment for one budget. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/tf.h"
#include "solver/proj.h"
#include "solver/alloc_setup.h"
#include "src/cli/alloc_args.h"
#include "src/cache.h"
#include "src/cfg.h"
#include "src/cli/cli.h"
#include "src/cli/cmd.h"
#include "src/model.h"
#include "src/uniform.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: mxalloc alloc SCORES --budget BITS [options]\n\n"
               "Solve the per-module MX format assignment minimizing the summed sensitivity\n"
               "scores under an average bits-per-weight budget (block scales included).\n\n"
               "  --budget BITS       average bits per weight, e.g. 4.5\n"
               "%s"
               "  --json              print {avg_bits, bytes, objective, projected_ppl, formats}\n"
               "                      (with --hw-table also latency_ms, max_latency_ms, hw_batch,\n"
               "                      overhead_ms)\n"
               "  --out CFG.json      write the assignment config (atomically)\n"
               "  --help              this text\n",
               alloc_common_usage);
}

static void print_table(const score_table *t, const int *choice)
{
    /* Rows are bounded by the module count (cache_read guarantees layer <
     * n_modules; a table from elsewhere with wilder layers is not drawn). */
    int layers = 0;
    for (int m = 0; m < t->n_modules; m++)
        if (t->modules[m].layer >= layers && t->modules[m].layer < t->n_modules)
            layers = t->modules[m].layer + 1;
    printf("\nper layer:\n  layer");
    for (int k = 0; k < TF_NLIN; k++)
        printf(" %5s", model_kind_label(k));
    printf("\n");
    int (*grid)[TF_NLIN] = malloc((size_t)(layers ? layers : 1) * sizeof *grid);
    if (!grid)
        return;
    for (int l = 0; l < layers; l++)
        for (int k = 0; k < TF_NLIN; k++)
            grid[l][k] = -1;
    for (int m = 0; m < t->n_modules; m++) {
        const score_module *sm = &t->modules[m];
        if (sm->layer >= 0 && sm->layer < layers && sm->kind >= 0 && sm->kind < TF_NLIN)
            grid[sm->layer][sm->kind] = (int)t->formats[choice[m]];
    }
    for (int l = 0; l < layers; l++) {
        printf("  %5d", l);
        for (int k = 0; k < TF_NLIN; k++)
            printf(" %5s", grid[l][k] < 0 ? "-" : mx_format_label((mx_format)grid[l][k]));
        printf("\n");
    }
    free(grid);
}

/* Uniform formats measured in the table nearest to avg bits (below, above). */
static void print_nearest_uniform(const score_table *t, double avg_bits, mx_target target)
{
    int lo, hi;
    double blo, bhi;
    /* the uniform formats were measured as packed MX: say so when bits count otherwise */
    const char *as = target == MX_TARGET_MX ? "" : " as packed MX";
    uniform_bracket(t, avg_bits, 1, &lo, &blo, &hi, &bhi);
    if (lo >= 0)
        printf("nearest uniform below: %s at %.4f bits%s, measured ppl %.4f\n", mx_format_name((mx_format)lo), blo,
               as, exp(t->uniform_loss[lo]));
    if (hi >= 0)
        printf("nearest uniform above: %s at %.4f bits%s, measured ppl %.4f\n", mx_format_name((mx_format)hi), bhi,
               as, exp(t->uniform_loss[hi]));
}

static int write_config(const char *path, const alloc_opts *o, const score_table *t,
                        const alloc_setup *s, const int *choice, const ilp_result *r, double ppl,
                        mx_error *e)
{
    mx_cfg c;
    cfg_init(&c);
    snprintf(c.model, sizeof c.model, "%s", t->model);
    c.budget_bits = o->budget;
    c.avg_bits = r->avg_bits;
    c.projected_ppl = ppl;
    cfg_set_scores(&c, t, s->method);
    int rc = 0;
    c.target = o->target;
    for (int m = 0; m < t->n_modules && !rc; m++)
        if (!(rc = cfg_set_format(&c, t->modules[m].name, t->formats[choice[m]], e)) && t->modules[m].rows > 0)
            rc = cfg_set_shape(&c, t->modules[m].name, t->modules[m].rows, t->modules[m].cols, e);
    for (int k = 0; k < o->n_pins && !rc; k++)
        rc = cfg_set_pin(&c, o->pins[k].name, o->pins[k].fmt, e);
    if (!rc)
        rc = cfg_save(path, &c, e);
    cfg_free(&c);
    return rc;
}

int cmd_alloc(int argc, char **argv)
{
    static const char prog[] = "mxalloc alloc";
    enum { O_BUDGET = 1, O_OUT, O_JSON };
    static const struct option own[] = {
        {"budget", required_argument, NULL, O_BUDGET}, {"out", required_argument, NULL, O_OUT},
        {"json", no_argument, NULL, O_JSON},           {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    alloc_opts o;
    alloc_opts_init(&o);
    const char *budget_s = NULL;
    int status = 0, c, started = 0;
    while (!status && (c = alloc_getopt(prog, argc, argv, own, &o, &started)) != -1) {
        switch (c) {
        case 'h': usage(stdout); status = -1; break; /* done: exit 0 */
        case O_JSON: o.json = 1; break;
        case O_BUDGET: budget_s = optarg; break;
        case O_OUT: o.out_path = optarg; break;
        default: status = 2; break;
        }
    }
    if (!status)
        status = alloc_scores_arg(prog, argc, argv, &o);
    if (!status && !budget_s) {
        fprintf(stderr, "mxalloc alloc: missing --budget\n");
        usage(stderr);
        status = 2;
    }
    if (!status)
        status = cli_positive(prog, "--budget", budget_s, &o.budget);
    if (status) {
        alloc_args_free(&o);
        return status < 0 ? 0 : status;
    }
    alloc_run run;
    mx_error e = {0};
    ilp_result r;
    int rc = alloc_load(&o, &run, &e);
    if (!rc)
        rc = alloc_setup_solve(&o, &run.s, run.choice, &r, &e);
    double ppl = NAN;
    if (!rc)
        ppl = alloc_setup_project(&run.t, &run.s, run.choice, run.fmts);
    if (!rc && o.out_path)
        rc = write_config(o.out_path, &o, &run.t, &run.s, run.choice, &r, ppl, &e);
    if (rc) {
        fprintf(stderr, "mxalloc alloc: %s\n", e.msg);
    } else if (o.json) {
        json_t *j = json_object(), *f = json_object();
        json_object_set_new(j, "budget_bits", json_real(o.budget));
        json_object_set_new(j, "avg_bits", json_real(r.avg_bits));
        json_object_set_new(j, "bytes", json_real(r.bytes));
        json_object_set_new(j, "objective", json_real(r.objective));
        if (!isnan(r.latency)) {
            const hw_table *hw = alloc_setup_hw(&run.s);
            json_object_set_new(j, "latency_ms", json_real(r.latency));
            json_object_set_new(j, "max_latency_ms", o.max_latency_ms > 0 ? json_real(o.max_latency_ms) : json_null());
            json_object_set_new(j, "hw_batch", json_integer(hw->batch));
            json_object_set_new(j, "overhead_ms", isnan(hw->overhead_us) ? json_null() : json_real(hw->overhead_us / 1000));
        }
        json_object_set_new(j, "projected_ppl", isnan(ppl) ? json_null() : json_real(ppl));
        /* the band: the fit's largest residual on its uniform-format anchors */
        double res = proj_fit_residual(&run.t, run.s.method, &run.s.fit);
        if (isfinite(ppl) && isfinite(res))
            json_object_set_new(j, "projected_ppl_band", json_pack("[ff]", ppl * (1 - res), ppl * (1 + res)));
        json_object_set_new(j, "optimal", json_boolean(r.optimal));
        json_object_set_new(j, "method", json_string(o.greedy ? "greedy" : "ilp"));
        json_object_set_new(j, "score_method", json_string(score_method_name(run.s.method)));
        json_object_set_new(j, "target", json_string(mx_target_name(o.target)));
        for (int m = 0; m < run.t.n_modules; m++)
            json_object_set_new(f, run.t.modules[m].name, json_string(mx_format_name(run.fmts[m])));
        json_object_set_new(j, "formats", f);
        char *txt = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
        if (txt)
            printf("%s\n", txt);
        free(txt);
        json_decref(j);
    } else {
        printf("scores: %s (%s, model %s)\n", o.scores_path, score_method_name(run.s.method), run.t.model);
        printf("%-48s %-14s %6s %12s\n", "module", "format", "bits", "score");
        for (int m = 0; m < run.t.n_modules; m++) {
            size_t at = (size_t)m * run.t.n_formats + run.choice[m];
            printf("%-48s %-14s %6.3f %12.5g\n", run.t.modules[m].name, mx_format_name(run.fmts[m]), run.s.bits[at],
                   run.s.cost[at]);
        }
        print_table(&run.t, run.choice);
        printf("\nmethod: %s%s\n", o.greedy ? "greedy baseline" : "integer program",
               o.greedy ? "" : (r.optimal ? " (proven optimal)" : ""));
        if (!o.greedy && !r.optimal)
            printf("time limit reached: relative gap %.3g to the lower bound %.6g\n", r.gap, r.bound);
        printf("budget: %.4f bits/weight, achieved %.4f%s%s\n", o.budget, r.avg_bits,
               o.target == MX_TARGET_MX ? "" : " as stored by ", o.target == MX_TARGET_MX ? "" : mx_target_name(o.target));
        printf("size: %.0f bytes (%.2f MiB)\n", r.bytes, r.bytes / 1048576.0);
        if (!isnan(r.latency)) {
            const hw_table *hw = alloc_setup_hw(&run.s);
            printf("latency: %.6f ms/token predicted for the block linears at batch %d", r.latency, hw->batch);
            if (o.max_latency_ms > 0)
                printf(" (limit %.6f)", o.max_latency_ms);
            if (!isnan(hw->overhead_us))
                printf("; + overhead %.6f = %.6f ms/token for the whole pass", hw->overhead_us / 1000,
                       r.latency + hw->overhead_us / 1000);
            printf("\n");
        }
        printf("objective: %.6g (summed %s scores, nats/token)\n", r.objective, score_method_name(run.s.method));
        if (isnan(ppl))
            printf("projected ppl: n/a (the score file has no fp32 loss)\n");
        else
            printf("projected ppl: %.4f (fp32 %.4f%s)\n", ppl, exp(run.t.fp32_loss),
                   run.s.fit.n_uniform + run.s.fit.n_mixed ? ", calibrated" : "");
        if (run.s.fit.n_uniform + run.s.fit.n_mixed)
            printf("calibration: loss increase = %.4g S%+.4g S^2 from %d uniform formats and %d measured "
                   "allocations (largest fit residual %.2f%% in ppl)\n",
                   run.s.fit.c1, run.s.fit.c2, run.s.fit.n_uniform, run.s.fit.n_mixed,
                   100 * proj_fit_residual(&run.t, run.s.method, &run.s.fit));
        print_nearest_uniform(&run.t, r.avg_bits, o.target);
        if (o.out_path)
            printf("wrote %s\n", o.out_path);
    }
    alloc_run_free(&run);
    alloc_args_free(&o);
    return rc ? 1 : 0;
}
