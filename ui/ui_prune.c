/* The workbench's prune mode: joint format + keep-level solves over
 * prune_scores (solver/prune_alloc.h), its budget range and curve. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/clock.h"
#include "solver/prune_alloc.h"
#include "src/cfg.h"
#include "src/prune_score.h"
#include "ui/ui_state.h"

void ui_prune_free(ui_state *s)
{
    if (s->ps)
        prune_scores_free(s->ps);
    if (s->plan)
        prune_plan_free(s->plan);
    free(s->ps);
    free(s->plan);
    free(s->level);
    s->ps = NULL;
    s->plan = NULL;
    s->level = NULL;
    s->pm = NULL;
    s->prune_on = 0;
}

int ui_state_set_prune(ui_state *s, prune_scores *ps, prune_plan *plan, const model *m, mx_error *e)
{
    if (ps->n_modules != s->t.n_modules || m->n_modules != s->t.n_modules)
        return err_set(e, ERR_ARG, "prune: the scores are for %d modules, the table has %d", ps->n_modules,
                       s->t.n_modules);
    for (int i = 0; i < m->n_modules; i++)
        if (strcmp(m->modules[i].name, s->t.modules[i].name))
            return err_set(e, ERR_ARG, "prune: module %d is %s in the model, %s in the scores", i,
                           m->modules[i].name, s->t.modules[i].name);
    prune_scores *p = malloc(sizeof *p);
    prune_plan *pl = malloc(sizeof *pl);
    int *level = malloc((size_t)m->n_modules * sizeof *level);
    if (!p || !pl || !level) {
        free(p);
        free(pl);
        free(level);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    int on = s->prune_on;
    ui_prune_free(s);
    *p = *ps;
    *pl = *plan;
    memset(ps, 0, sizeof *ps);
    memset(plan, 0, sizeof *plan);
    s->ps = p;
    s->plan = pl;
    s->pm = m;
    s->level = level;
    s->prune_on = on;
    if (!(s->prune_weight > 0))
        s->prune_weight = 1.0;
    s->solved = 0;
    s->curve_stale = 1;
    return 0;
}

int ui_state_set_prune_on(ui_state *s, int on, mx_error *e)
{
    if (on && !s->ps)
        return err_set(e, ERR_ARG, "prune: no pruning scores (prune on computes them)");
    if (on && s->target != MX_TARGET_MX)
        return err_set(e, ERR_ARG, "prune: the joint budget counts packed MX bits (target mx first)");
    s->prune_on = on;
    s->solved = 0;
    s->curve_stale = 1;
    return 0;
}

void ui_state_set_prune_weight(ui_state *s, double w)
{
    s->prune_weight = w;
    s->solved = 0;
    s->curve_stale = 1;
}

double ui_state_keep_frac(const ui_state *s, int i)
{
    if (!s->prune_on || !s->solved || !s->ps)
        return 1.0;
    int g = prune_group_of(s->pm, i);
    return (double)s->ps->kept[g * s->ps->n_levels + s->level[i]] / s->plan->g[g].n_units;
}

unsigned char **ui_state_prune_masks(const ui_state *s, int *nomem)
{
    *nomem = 0;
    if (!s->prune_on || !s->solved || !s->ps)
        return NULL;
    unsigned char **m = prune_alloc_masks(s->ps, s->plan, s->pm, s->level);
    *nomem = m == NULL;
    return m;
}

/* The solver's options for the constraints: allowed formats and pins. */
static int opts_for(const ui_state *s, prune_alloc_opts *o, unsigned char **fmt_ok, unsigned char **keep_all)
{
    const prune_scores *ps = s->ps;
    int nm = ps->n_modules, nf = ps->n_formats;
    *fmt_ok = malloc((size_t)nm * nf);
    *keep_all = malloc((size_t)nm);
    if (!*fmt_ok || !*keep_all) {
        free(*fmt_ok);
        free(*keep_all);
        return -1;
    }
    for (int i = 0; i < nm; i++) {
        (*keep_all)[i] = s->pin[i] >= 0;
        for (int f = 0; f < nf; f++)
            (*fmt_ok)[(size_t)i * nf + f] =
                s->fmt_ok[ps->formats[f]] && (s->pin[i] < 0 || s->pin[i] == (int)ps->formats[f]);
    }
    *o = (prune_alloc_opts){.mode = PRUNE_MODE_JOINT, .prune_format = -1, .budget_bits = s->budget,
                            .keep_all = *keep_all, .prune_weight = s->prune_weight, .fmt_ok = *fmt_ok};
    return 0;
}

/* exp(the table's fp32 loss + the answer's summed scores): the same scale as
 * the formats-only projection's fp32 end. */
static double project(const ui_state *s, const int *fmt, const int *level)
{
    return s->fp32_ppl * exp(prune_alloc_additive(s->ps, s->pm, fmt, level));
}

int ui_prune_solve(ui_state *s, mx_error *e)
{
    double t0 = 1e3 * clock_now_s();
    prune_alloc_opts o;
    unsigned char *fmt_ok, *keep_all;
    int nm = s->ps->n_modules;
    int *fmt = malloc((size_t)nm * sizeof *fmt), *lv = malloc((size_t)nm * sizeof *lv), rc;
    mx_error le = {0};
    ilp_result r;
    if (!fmt || !lv || opts_for(s, &o, &fmt_ok, &keep_all)) {
        free(fmt);
        free(lv);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    rc = prune_alloc_solve(s->ps, s->pm, &o, fmt, lv, &r, &le);
    if (!rc) {
        s->res = r;
        snprintf(s->alloc_name, sizeof s->alloc_name, "prune");
        for (int i = 0; i < nm; i++) {
            s->choice[i] = (int)s->ps->formats[fmt[i]];
            s->level[i] = lv[i];
        }
        s->proj_ppl = project(s, fmt, lv);
        s->solved = 1;
    } else {
        snprintf(s->err, sizeof s->err, "%s", le.msg);
        if (e)
            *e = le;
    }
    s->solve_ms = 1e3 * clock_now_s() - t0;
    free(fmt);
    free(lv);
    free(fmt_ok);
    free(keep_all);
    return rc;
}

void ui_prune_range(ui_state *s, double *lo, double *hi)
{
    *lo = *hi = NAN;
    prune_alloc_opts o;
    unsigned char *fmt_ok, *keep_all;
    if (opts_for(s, &o, &fmt_ok, &keep_all))
        return;
    double min = prune_alloc_min_budget(s->ps, s->pm, &o);
    /* the widest: every module whole in its widest allowed format */
    const prune_scores *ps = s->ps;
    double bits = 0.0, params = 0.0;
    int ok = isfinite(min);
    for (int i = 0; ok && i < ps->n_modules; i++) {
        int g = prune_group_of(s->pm, i), whole = -1;
        for (int k = 0; k < ps->n_levels && whole < 0; k++)
            if (ps->kept[g * ps->n_levels + k] == s->plan->g[g].n_units)
                whole = k;
        double best = -1;
        for (int f = 0; whole >= 0 && f < ps->n_formats; f++)
            if (fmt_ok[(size_t)i * ps->n_formats + f]) {
                double b = ps->bits[((size_t)i * ps->n_formats + f) * ps->n_levels + whole];
                best = b > best ? b : best;
            }
        double p = (double)s->pm->modules[i].params;
        bits += (best > 0 ? best : 0) * p;
        params += p;
    }
    if (ok && params > 0) {
        *lo = min > UI_PRUNE_MIN_BUDGET ? min : UI_PRUNE_MIN_BUDGET;
        *hi = bits / params;
        if (*hi < *lo)
            *hi = *lo;
    }
    free(fmt_ok);
    free(keep_all);
}

int ui_prune_sweep(ui_state *s, int n, mx_error *e)
{
    double lo, hi;
    ui_prune_range(s, &lo, &hi);
    if (!(hi >= lo))
        return err_set(e, ERR_INFEASIBLE, "no feasible budget");
    prune_alloc_opts o;
    unsigned char *fmt_ok, *keep_all;
    int nm = s->ps->n_modules;
    int *fmt = malloc((size_t)nm * sizeof *fmt), *lv = malloc((size_t)nm * sizeof *lv);
    if (!fmt || !lv || opts_for(s, &o, &fmt_ok, &keep_all)) {
        free(fmt);
        free(lv);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    s->n_curve = 0;
    for (int k = 0; k < n; k++) {
        o.budget_bits = lo + (hi - lo) * k / (n - 1) + (k == 0 ? 1e-9 : 0);
        ilp_result r;
        if (prune_alloc_solve(s->ps, s->pm, &o, fmt, lv, &r, NULL))
            continue;
        s->curve_bits[s->n_curve] = r.avg_bits;
        s->curve_ppl[s->n_curve] = project(s, fmt, lv);
        s->curve_obj[s->n_curve] = r.objective;
        s->n_curve++;
    }
    s->view_hi = hi;
    s->curve_stale = 0;
    free(fmt);
    free(lv);
    free(fmt_ok);
    free(keep_all);
    return 0;
}

int ui_state_apply_pruned(ui_state *s, const int *fmts, const int *level, const char *name, mx_error *e)
{
    if (!s->prune_on || !s->ps)
        return err_set(e, ERR_ARG, "prune is off: a joint answer needs prune on");
    const prune_scores *ps = s->ps;
    int nm = ps->n_modules;
    int *fi = calloc((size_t)(nm > 0 ? nm : 1), sizeof *fi);
    if (!fi)
        return err_set(e, ERR_NOMEM, "out of memory");
    double bits = 0.0, params = 0.0;
    for (int i = 0; i < nm; i++) {
        fi[i] = -1;
        for (int f = 0; f < ps->n_formats && fi[i] < 0; f++)
            if ((int)ps->formats[f] == fmts[i])
                fi[i] = f;
        if (fi[i] < 0 || level[i] < 0 || level[i] >= ps->n_levels) {
            free(fi);
            return err_set(e, ERR_ARG, "%s: %s at level %d is not a candidate of the pruning scores",
                           s->pm->modules[i].name, mx_format_name((mx_format)fmts[i]), level[i]);
        }
        double p = (double)s->pm->modules[i].params;
        bits += p * ps->bits[((size_t)i * ps->n_formats + fi[i]) * ps->n_levels + level[i]];
        params += p;
    }
    for (int i = 0; i < nm; i++) {
        s->choice[i] = fmts[i];
        s->level[i] = level[i];
    }
    memset(&s->res, 0, sizeof s->res);
    s->res.objective = prune_alloc_additive(ps, s->pm, fi, level);
    s->res.avg_bits = params > 0 ? bits / params : NAN;
    s->res.bytes = bits / 8;
    s->res.latency = NAN;
    s->proj_ppl = project(s, fi, level);
    snprintf(s->alloc_name, sizeof s->alloc_name, "%s", name);
    s->solved = 1;
    s->err[0] = '\0';
    free(fi);
    return 0;
}
