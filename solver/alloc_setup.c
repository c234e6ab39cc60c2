/* The problem an alloc_opts describes over a score table (library part; the
 * command-line parsing is in src/cli/alloc_args.c). */
#include "solver/alloc_setup.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/tf.h"
#include "solver/proj.h"
#include "src/cache.h"

void alloc_opts_init(alloc_opts *o)
{
    memset(o, 0, sizeof *o);
    o->budget = NAN;
    o->score_method = -1;
    o->calibrate = -1;
}

void alloc_opts_free(alloc_opts *o)
{
    free(o->pins);
    o->pins = NULL;
}

void alloc_setup_free(alloc_setup *s)
{
    free(s->params);
    free(s->bits);
    free(s->cost);
    free(s->allowed);
    free(s->group);
    free(s->latency);
    hw_table_free(&s->hw);
    memset(s, 0, sizeof *s);
    hw_table_init(&s->hw);
}

/* Per module and table format, ms per token from the hardware table. */
static int fill_latency(const alloc_opts *o, const score_table *t, alloc_setup *s, mx_error *e)
{
    int n = t->n_modules, nf = t->n_formats;
    const char *name = o->hw_table_path ? o->hw_table_path : "the hardware table";
    s->latency = malloc((size_t)n * nf * sizeof *s->latency);
    if (!s->latency)
        return err_set(e, ERR_NOMEM, "out of memory");
    for (int m = 0; m < n; m++)
        for (int i = 0; i < nf; i++) {
            size_t at = (size_t)m * nf + i;
            const score_module *sm = &t->modules[m];
            const hw_entry *he = hw_table_find(o->hw, t->formats[i], sm->rows, sm->cols);
            s->latency[at] = he ? he->us_per_token / 1000.0 : NAN;
            if (!he && s->allowed[at])
                return err_set(e, ERR_ARG, "%s has no %s row for %dx%d (module %s): profile it or leave it out "
                               "with --formats", name, mx_format_name(t->formats[i]), sm->rows, sm->cols, sm->name);
        }
    s->hw_used = o->hw;
    return 0;
}

int alloc_setup_build(const alloc_opts *o, const score_table *t, alloc_setup *s, mx_error *e)
{
    memset(s, 0, sizeof *s);
    hw_table_init(&s->hw);
    if (o->max_latency_ms > 0 && !o->hw)
        return err_set(e, ERR_ARG, "--max-latency needs --hw-table FILE");
    int n = t->n_modules, nf = t->n_formats;
    if (n <= 0 || nf <= 0)
        return err_set(e, ERR_FORMAT, "the score file has no modules or no formats");
    if (o->score_method >= 0) {
        s->method = (score_method)o->score_method;
        if (!score_table_has(t, s->method))
            return err_set(e, ERR_ARG, "the score file has no %s scores", score_method_name(s->method));
    } else {
        int m = 0;
        while (m < SCORE_NMETHODS && !score_table_has(t, (score_method)m))
            m++;
        if (m == SCORE_NMETHODS)
            return err_set(e, ERR_FORMAT, "the score file holds no scores");
        s->method = (score_method)m;
    }
    if (o->formats_mask)
        for (int f = 0; f < MX_NFORMATS; f++)
            if ((o->formats_mask >> f & 1) && score_table_format_index(t, (mx_format)f) < 0)
                return err_set(e, ERR_ARG, "--formats: %s is not in the score file", mx_format_name((mx_format)f));
    s->params = malloc((size_t)n * sizeof *s->params);
    s->bits = malloc((size_t)n * nf * sizeof *s->bits);
    s->cost = malloc((size_t)n * nf * sizeof *s->cost);
    s->allowed = malloc((size_t)n * nf);
    s->group = malloc((size_t)n * sizeof *s->group);
    if (!s->params || !s->bits || !s->cost || !s->allowed || !s->group) {
        alloc_setup_free(s);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    for (int m = 0; m < n; m++) {
        const score_module *sm = &t->modules[m];
        s->params[m] = (double)sm->params;
        for (int i = 0; i < nf; i++) {
            mx_format f = t->formats[i];
            size_t at = (size_t)m * nf + i;
            /* the table's bits are packed MX; another target stores some formats otherwise */
            s->bits[at] = o->target == MX_TARGET_MX || !isfinite(sm->bits[f])
                              ? sm->bits[f] : mx_target_bits(o->target, f, (size_t)sm->rows, (size_t)sm->cols);
            s->cost[at] = score_cost(sm, s->method, f);
            s->allowed[at] = (!o->formats_mask || (o->formats_mask >> f & 1)) && isfinite(s->bits[at]);
        }
        int g = -1;
        /* group ids are 2 * layer (+1): a layer must be one a table of n modules can have */
        if ((o->group_qkv || o->group_gateup) && (sm->layer < 0 || sm->layer >= n)) {
            int rc = err_set(e, ERR_FORMAT, "module %s: layer %d out of range for %d modules",
                             sm->name, sm->layer, n);
            alloc_setup_free(s);
            return rc;
        }
        if (o->group_qkv && (sm->kind == TF_Q || sm->kind == TF_K || sm->kind == TF_V))
            g = 2 * sm->layer;
        if (o->group_gateup && (sm->kind == TF_GATE || sm->kind == TF_UP))
            g = 2 * sm->layer + 1;
        s->group[m] = g;
    }
    for (int k = 0; k < o->n_pins; k++) {
        int m = score_table_find(t, o->pins[k].name);
        if (m < 0) {
            alloc_setup_free(s);
            return err_set(e, ERR_ARG, "--pin: no module %s in the score file", o->pins[k].name);
        }
        mx_format f = o->pins[k].fmt;
        int i = score_table_format_index(t, f);
        if (i < 0 || (o->formats_mask && !(o->formats_mask >> f & 1))) {
            alloc_setup_free(s);
            return err_set(e, ERR_ARG, "--pin %s: format %s is not among the candidate formats",
                           o->pins[k].name, mx_format_name(f));
        }
        if (!isfinite(s->bits[(size_t)m * nf + i])) {
            alloc_setup_free(s);
            return err_set(e, ERR_ARG, "--pin %s: %s cannot store %s for rows of %d (not whole blocks of %d)",
                           o->pins[k].name, mx_target_name(o->target), mx_format_name(f),
                           t->modules[m].cols, MX_BLOCK);
        }
        memset(&s->allowed[(size_t)m * nf], 0, (size_t)nf);
        s->allowed[(size_t)m * nf + i] = 1;
    }
    /* A missing (NaN) score of an allowed format is an error, not a silent skip. */
    for (int m = 0; m < n; m++)
        for (int i = 0; i < nf; i++) {
            size_t at = (size_t)m * nf + i;
            if (s->allowed[at] && !isfinite(s->cost[at])) {
                int rc = err_set(e, ERR_FORMAT, "module %s has no finite %s score for %s",
                                 t->modules[m].name, score_method_name(s->method),
                                 mx_format_name(t->formats[i]));
                alloc_setup_free(s);
                return rc;
            }
        }
    /* Equal costs (e.g. two formats at 0) go to the wider format: a nudge far
     * below any difference the table's costs can show. */
    double cmin = INFINITY;
    for (size_t at = 0; at < (size_t)n * nf; at++)
        if (s->allowed[at] && s->cost[at] > 0 && s->cost[at] < cmin)
            cmin = s->cost[at];
    double nudge = isfinite(cmin) ? 1e-6 * cmin : 1e-15;
    for (int m = 0; m < n; m++) {
        double bmax = 0;
        for (int i = 0; i < nf; i++)
            if (s->allowed[(size_t)m * nf + i] && s->bits[(size_t)m * nf + i] > bmax)
                bmax = s->bits[(size_t)m * nf + i];
        for (int i = 0; i < nf; i++)
            if (s->allowed[(size_t)m * nf + i] && bmax > 0)
                s->cost[(size_t)m * nf + i] += nudge * (bmax - s->bits[(size_t)m * nf + i]) / bmax;
    }
    if (o->hw) {
        int rc = fill_latency(o, t, s, e);
        if (rc) {
            alloc_setup_free(s);
            return rc;
        }
    }
    proj_fit_identity(&s->fit);
    s->p = (ilp_problem){
        .n_modules = n, .n_formats = nf, .params = s->params, .bits = s->bits, .cost = s->cost,
        .allowed = s->allowed, .group = (o->group_qkv || o->group_gateup) ? s->group : NULL,
        .budget_bits = o->budget, .max_bytes = o->max_bytes, .time_limit_s = o->time_limit_s,
        .latency = s->latency, .max_latency = o->max_latency_ms};
    return 0;
}

int alloc_setup_load(const alloc_opts *o, score_table *t, alloc_setup *s, mx_error *e)
{
    memset(s, 0, sizeof *s);
    hw_table_init(&s->hw);
    hw_table hw;
    hw_table_init(&hw);
    alloc_opts oo = *o;
    int rc = cache_read(o->scores_path, t, e);
    if (!rc && o->hw_table_path && !o->hw && !(rc = hw_table_read(o->hw_table_path, &hw, e)))
        oo.hw = &hw;
    if (!rc)
        rc = alloc_setup_build(&oo, t, s, e);
    if (!rc && oo.hw == &hw) { /* the setup keeps the table it read */
        s->hw = hw;
        s->hw_used = NULL; /* alloc_setup_hw: the own copy (the setup may move) */
        hw_table_init(&hw);
    }
    hw_table_free(&hw);
    if (!rc && o->calibrate < 0)
        proj_default_fit(t, s->method, &s->fit);
    else if (!rc && o->calibrate > 0 && (rc = proj_calibrate(t, s->method, &s->fit, e)))
        alloc_setup_free(s);
    return rc;
}

const hw_table *alloc_setup_hw(const alloc_setup *s)
{
    return s->hw.n ? &s->hw : s->hw_used;
}

int alloc_setup_solve(const alloc_opts *o, alloc_setup *s, int *choice, ilp_result *r, mx_error *e)
{
    if (o->greedy && s->p.max_latency > 0)
        return err_set(e, ERR_ARG, "--solver greedy does not take --max-latency (the integer program does)");
    return o->greedy ? ilp_greedy(&s->p, choice, r, e) : ilp_solve(&s->p, choice, r, e);
}

double alloc_setup_project(const score_table *t, const alloc_setup *s, const int *choice,
                           mx_format *fmts)
{
    for (int m = 0; m < t->n_modules; m++)
        fmts[m] = t->formats[choice[m]];
    double ppl = proj_ppl(proj_loss(t, &s->fit, proj_score_sum(t, s->method, fmts)));
    return isfinite(ppl) ? ppl : NAN;
}

int alloc_setup_anchor(const score_table *t, score_method meth, double budget, mx_format *fmts)
{
    alloc_opts o;
    alloc_opts_init(&o);
    o.score_method = (int)meth;
    o.budget = budget;
    alloc_setup s;
    ilp_result r;
    int *choice = malloc((size_t)(t->n_modules > 0 ? t->n_modules : 1) * sizeof *choice);
    int rc = choice ? alloc_setup_build(&o, t, &s, NULL) : -1;
    if (!rc) {
        rc = alloc_setup_solve(&o, &s, choice, &r, NULL);
        for (int m = 0; !rc && m < t->n_modules; m++)
            fmts[m] = t->formats[choice[m]];
        alloc_setup_free(&s);
    }
    free(choice);
    alloc_opts_free(&o);
    return rc ? -1 : 0;
}
