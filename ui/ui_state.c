/* Workbench constraints -> ilp_problem -> solution + projection. */
#include "kernels/clock.h"
#include "ui/ui_state.h"
#include "src/module_name.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kernels/tf.h"
#include "solver/budget.h"
#include "solver/proj.h"
#include "solver/alloc_setup.h"
#include "src/model.h"
#include "src/uniform.h"
#include "ui/ui_progress.h"

const char *ui_format_short(mx_format f)
{
    /* the traits table's label, which every parser accepts */
    return mx_format_label(f);
}

void ui_state_init(ui_state *s)
{
    memset(s, 0, sizeof *s);
    score_table_init(&s->t);
    for (int f = 0; f < MX_NFORMATS; f++)
        s->fmt_ok[f] = 1;
    s->budget = 6.0;
    s->proj_ppl = s->fp32_ppl = s->near_ppl = NAN;
    s->near_fmt = -1;
    s->curve_stale = 1;
    snprintf(s->alloc_name, sizeof s->alloc_name, "ilp");
    s->view_hi = NAN;
    s->range_lo = s->range_hi = NAN;
}

static void free_cands(ui_state *s)
{
    for (int i = 0; i < s->n_cand; i++)
        free(s->cand[i].fmts);
    s->n_cand = 0;
}

void ui_snap_free(ui_snap *p)
{
    free(p->pin);
    p->pin = NULL;
}

void ui_state_clear_history(ui_state *s)
{
    for (int i = 0; i < s->n_undo; i++)
        ui_snap_free(&s->undo[i]);
    for (int i = 0; i < s->n_redo; i++)
        ui_snap_free(&s->redo[i]);
    s->n_undo = s->n_redo = 0;
}

static void free_arrays(ui_state *s)
{
    free_cands(s);
    ui_state_clear_history(s);
    free(s->pin);
    free(s->choice);
    free(s->tmp_choice);
    s->pin = s->choice = s->tmp_choice = NULL;
}

void ui_state_free(ui_state *s)
{
    ui_prune_free(s);
    free_arrays(s);
    score_table_free(&s->t);
}

int ui_state_has_scores(const ui_state *s)
{
    return s->t.n_modules > 0 && s->t.n_formats > 0;
}

static void mark_stale(ui_state *s)
{
    s->solved = 0;
    s->curve_stale = 1;
}

/* The projection of the current method: its factor and band (as alloc reports them). */
static void set_projection(ui_state *s)
{
    proj_default_fit(&s->t, s->method, &s->proj);
    s->proj_band = proj_fit_residual(&s->t, s->method, &s->proj);
}

int ui_state_set_table(ui_state *s, score_table *t, const char *path, mx_error *e)
{
    if (t->n_modules <= 0 || t->n_formats <= 0)
        return err_set(e, ERR_FORMAT, "%s: score table has no modules or no candidate formats",
                       path ? path : "scores");
    int method = -1;
    for (int m = 0; m < SCORE_NMETHODS && method < 0; m++)
        if (score_table_has(t, (score_method)m))
            method = m;
    if (method < 0)
        return err_set(e, ERR_FORMAT, "%s: score table holds no scores", path ? path : "scores");
    size_t n = (size_t)t->n_modules;
    int *pin = malloc(n * sizeof *pin), *choice = malloc(n * sizeof *choice), *tmp = malloc(n * sizeof *tmp);
    if (!pin || !choice || !tmp) {
        free(pin);
        free(choice);
        free(tmp);
        return err_set(e, ERR_NOMEM, "out of memory for %d modules", t->n_modules);
    }
    free_arrays(s);
    score_table_free(&s->t);
    s->t = *t;
    score_table_init(t);
    s->pin = pin;
    s->choice = choice;
    s->tmp_choice = tmp;
    for (size_t i = 0; i < n; i++)
        s->pin[i] = s->choice[i] = -1;
    snprintf(s->scores_path, sizeof s->scores_path, "%s", path ? path : "");
    s->method = (score_method)method;
    set_projection(s);
    s->fp32_ppl = exp(s->t.fp32_loss);
    s->n_meas = 0;
    mark_stale(s);
    return 0;
}

int ui_state_set_max_latency(ui_state *s, double ms, mx_error *e)
{
    if (!s->hw && ms > 0)
        return err_set(e, ERR_ARG, "latency: no hardware table (tui --hw-table FILE, from mxalloc hwprofile)");
    s->max_latency_ms = ms > 0 ? ms : 0;
    mark_stale(s);
    return 0;
}

int ui_state_set_method(ui_state *s, score_method m, mx_error *e)
{
    if (!score_table_has(&s->t, m))
        return err_set(e, ERR_ARG, "the score table has no %s scores", score_method_name(m));
    s->method = m;
    set_projection(s);
    mark_stale(s);
    return 0;
}

int ui_state_pin(ui_state *s, int module, mx_format f, mx_error *e)
{
    if (module < 0 || module >= s->t.n_modules)
        return err_set(e, ERR_ARG, "no module %d", module);
    if (score_table_format_index(&s->t, f) < 0)
        return err_set(e, ERR_ARG, "%s is not a candidate format of these scores", mx_format_name(f));
    if (!s->fmt_ok[f])
        return err_set(e, ERR_ARG, "%s is excluded (see: formats)", mx_format_name(f));
    s->pin[module] = f;
    mark_stale(s);
    return 0;
}

void ui_state_unpin(ui_state *s, int module)
{
    for (int i = 0; i < s->t.n_modules; i++)
        if (module < 0 || i == module)
            s->pin[i] = -1;
    mark_stale(s);
}

int ui_state_set_formats(ui_state *s, const char *list, mx_error *e)
{
    unsigned char ok[MX_NFORMATS] = {0};
    if (!strcasecmp(list, "all")) {
        memset(ok, 1, sizeof ok);
    } else {
        /* the one format-list parser (kernels/mx.h): names, labels, aliases */
        mx_format fl[MX_NFORMATS];
        char bad[64];
        int n = mx_format_parse_list(list, fl, bad, sizeof bad);
        if (n == -1)
            return err_set(e, ERR_ARG, "formats: unknown format '%s' (%s)", bad, mx_format_valid_names(bad));
        if (n == -2)
            return err_set(e, ERR_ARG, "formats: %s is listed twice", bad);
        for (int i = 0; i < n; i++) {
            if (score_table_format_index(&s->t, fl[i]) < 0 && ui_state_has_scores(s))
                return err_set(e, ERR_ARG, "formats: %s is not a candidate format of these scores",
                               mx_format_name(fl[i]));
            ok[fl[i]] = 1;
        }
    }
    int any = 0;
    for (int j = 0; j < s->t.n_formats; j++)
        any |= ok[s->t.formats[j]];
    if (!any && ui_state_has_scores(s))
        return err_set(e, ERR_ARG, "formats: no candidate format left");
    for (int i = 0; i < s->t.n_modules; i++)
        if (s->pin[i] >= 0 && !ok[s->pin[i]])
            return err_set(e, ERR_ARG, "formats: %s is pinned to %s (unpin it first)", s->t.modules[i].name,
                           mx_format_name((mx_format)s->pin[i]));
    memcpy(s->fmt_ok, ok, sizeof ok);
    mark_stale(s);
    return 0;
}

void ui_state_set_target(ui_state *s, mx_target t)
{
    s->target = t;
    if (t != MX_TARGET_MX)
        s->prune_on = 0; /* the joint bits are packed MX's */
    mark_stale(s);
}

void ui_state_set_group(ui_state *s, int gateup, int on)
{
    if (gateup)
        s->group_gateup = on;
    else
        s->group_qkv = on;
    mark_stale(s);
}

int ui_state_find_module(const ui_state *s, const char *name, mx_error *e)
{
    int i = score_table_find(&s->t, name);
    if (i >= 0)
        return i;
    /* LAYER.KIND */
    const char *dot = strchr(name, '.');
    if (dot && dot > name) {
        char *end;
        long layer = strtol(name, &end, 10);
        if (end == dot)
            for (int k = 0; k < TF_NLIN; k++)
                if (!strcasecmp(dot + 1, model_kind_label(k)))
                    for (int m = 0; m < s->t.n_modules; m++)
                        if (s->t.modules[m].layer == layer && s->t.modules[m].kind == k)
                            return m;
    }
    err_set(e, ERR_ARG, "no module '%s' (a full name or LAYER.KIND such as 0.q)", name);
    return -1;
}

/* The problem of the current constraints, built by alloc_setup_build as for
 * `mxalloc alloc` (so a missing score of an allowed format is an error here
 * too). Free with alloc_setup_free; *as is empty on error. */
static int build_problem(ui_state *s, alloc_setup *as, mx_error *e)
{
    const score_table *t = &s->t;
    alloc_opts o;
    alloc_opts_init(&o);
    o.budget = s->budget;
    o.time_limit_s = s->time_limit_s > 0 ? s->time_limit_s : 0;
    o.score_method = (int)s->method;
    o.group_qkv = s->group_qkv;
    o.group_gateup = s->group_gateup;
    o.target = s->target;
    o.hw = s->hw;
    o.max_latency_ms = s->hw ? s->max_latency_ms : 0;
    for (int j = 0; j < t->n_formats; j++)
        if (s->fmt_ok[t->formats[j]])
            o.formats_mask |= 1u << t->formats[j];
    mx_error le = {0};
    int rc = 0, n_pins = 0;
    if (!o.formats_mask)
        rc = err_set(&le, ERR_ARG, "formats: no candidate format of these scores is allowed");
    for (int i = 0; !rc && i < t->n_modules; i++)
        n_pins += s->pin[i] >= 0;
    if (!rc && n_pins && !(o.pins = malloc((size_t)n_pins * sizeof *o.pins)))
        rc = err_set(&le, ERR_NOMEM, "out of memory");
    for (int i = 0; !rc && i < t->n_modules; i++)
        if (s->pin[i] >= 0)
            o.pins[o.n_pins++] = (alloc_pin){t->modules[i].name, (mx_format)s->pin[i]};
    if (!rc)
        rc = alloc_setup_build(&o, t, as, &le);
    alloc_opts_free(&o);
    if (rc) {
        memset(as, 0, sizeof *as);
        if (e)
            *e = le;
    }
    return rc;
}

void ui_state_budget_range(ui_state *s, double *lo, double *hi)
{
    *lo = *hi = NAN;
    if (!ui_state_has_scores(s))
        return;
    if (s->prune_on) {
        ui_prune_range(s, lo, hi);
        return;
    }
    alloc_setup as;
    if (build_problem(s, &as, NULL))
        return;
    budget_range(&as.p, lo, hi);
    alloc_setup_free(&as);
}

/* The current allocation as the problem's format indices (-1: none), where
 * the solver starts: a budget step re-solves from the last answer. */
static void solve_start(const ui_state *s, int *start)
{
    for (int i = 0; i < s->t.n_modules; i++)
        start[i] = score_table_format_index(&s->t, (mx_format)s->choice[i]);
}

static void nearest_uniform(ui_state *s)
{
    const score_table *t = &s->t;
    s->near_ppl = NAN;
    s->near_measured = 0;
    s->near_fmt = uniform_nearest(t, s->res.avg_bits);
    if (s->near_fmt < 0)
        return;
    if (!isnan(t->uniform_loss[s->near_fmt])) {
        s->near_ppl = exp(t->uniform_loss[s->near_fmt]);
        s->near_measured = 1;
    } else {
        for (int i = 0; i < t->n_modules; i++)
            s->tmp_choice[i] = s->near_fmt;
        s->near_ppl = ui_state_project(s, s->tmp_choice);
    }
}

int ui_state_solve(ui_state *s, mx_error *e)
{
    s->err[0] = '\0';
    s->solved = 0;
    if (!ui_state_has_scores(s))
        return err_set(e, ERR_ARG, "no scores: run `mxalloc score ...` or :load-scores FILE");
    if (s->prune_on) {
        int rc = ui_prune_solve(s, e);
        if (!rc)
            nearest_uniform(s);
        return rc;
    }
    double t0 = 1e3 * clock_now_s();
    alloc_setup as;
    mx_error le = {0};
    ilp_result r;
    memset(&r, 0, sizeof r);
    int rc = build_problem(s, &as, &le);
    if (!rc) {
        solve_start(s, s->tmp_choice);
        rc = ilp_solve_from(&as.p, s->tmp_choice, s->tmp_choice, &r, &le);
    }
    int n = as.p.n_modules;
    alloc_setup_free(&as);
    if (rc) {
        s->solve_ms = 1e3 * clock_now_s() - t0;
        snprintf(s->err, sizeof s->err, "%s", le.msg);
        if (e)
            *e = le;
        return rc;
    }
    s->res = r;
    snprintf(s->alloc_name, sizeof s->alloc_name, "ilp");
    for (int i = 0; i < n; i++)
        s->choice[i] = s->t.formats[s->tmp_choice[i]];
    s->proj_ppl = ui_state_project(s, s->choice);
    nearest_uniform(s);
    s->solved = 1;
    s->solve_ms = 1e3 * clock_now_s() - t0;
    return 0;
}

int ui_state_sweep(ui_state *s, int n, mx_error *e)
{
    s->n_curve = 0;
    if (!ui_state_has_scores(s))
        return err_set(e, ERR_ARG, "no scores");
    if (n > UI_CURVE_MAX)
        n = UI_CURVE_MAX;
    if (n < 2)
        n = 2;
    if (s->prune_on)
        return ui_prune_sweep(s, n, e);
    alloc_setup as;
    int rc = build_problem(s, &as, e);
    if (rc)
        return rc;
    ilp_problem p = as.p;
    double lo, hi;
    budget_range(&p, &lo, &hi);
    if (!(hi >= lo)) {
        alloc_setup_free(&as);
        return err_set(e, ERR_INFEASIBLE, "no feasible budget");
    }
    int *ch = malloc((size_t)p.n_modules * sizeof *ch), *fm = malloc((size_t)p.n_modules * sizeof *fm);
    if (!ch || !fm) {
        free(ch);
        free(fm);
        alloc_setup_free(&as);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    /* the curve is a picture: a short limit per point keeps redraws quick;
     * each point starts from the previous one */
    p.time_limit_s = s->time_limit_s > 0 ? s->time_limit_s / 4 : 0;
    solve_start(s, ch);
    for (int pass = 0; pass < 2; pass++) {
        s->n_curve = 0;
        for (int k = 0; k < n; k++) {
            p.budget_bits = lo + (hi - lo) * k / (n - 1);
            if (k == 0)
                p.budget_bits += 1e-9; /* the min budget itself, with rounding slack */
            ilp_result r;
            mx_error le = {0};
            if (ilp_solve_from(&p, ch, ch, &r, &le))
                continue;
            for (int i = 0; i < p.n_modules; i++)
                fm[i] = s->t.formats[ch[i]];
            s->curve_bits[s->n_curve] = r.avg_bits;
            s->curve_ppl[s->n_curve] = ui_state_project(s, fm); /* NAN when no projection */
            s->curve_obj[s->n_curve] = r.objective;
            s->n_curve++;
        }
        if (pass == 1 || s->n_curve < 2)
            break;
        /* the knee: the first point within 1% (of the range) of the best objective */
        double best = s->curve_obj[s->n_curve - 1], knee = hi;
        for (int k = 0; k < s->n_curve; k++)
            if (s->curve_obj[k] <= best + 1e-2 * fabs(s->curve_obj[0] - best)) {
                knee = s->curve_bits[k];
                break;
            }
        double top = knee + 0.15 * (knee - lo) + 0.25;
        if (top >= hi * 0.8)
            break;
        hi = top;
    }
    s->view_hi = hi;
    free(ch);
    free(fm);
    alloc_setup_free(&as);
    s->curve_stale = 0;
    return 0;
}

void ui_state_update_view(ui_state *s, int n)
{
    if (!s->curve_stale)
        return;
    ui_state_budget_range(s, &s->range_lo, &s->range_hi);
    if (ui_state_has_scores(s))
        ui_state_sweep(s, n, NULL);
}

int ui_state_snap(const ui_state *s, ui_snap *out)
{
    size_t n = (size_t)s->t.n_modules;
    out->pin = malloc((n ? n : 1) * sizeof *out->pin);
    if (!out->pin)
        return -1;
    if (n)
        memcpy(out->pin, s->pin, n * sizeof *out->pin);
    out->budget = s->budget;
    memcpy(out->fmt_ok, s->fmt_ok, sizeof out->fmt_ok);
    out->group_qkv = s->group_qkv;
    out->group_gateup = s->group_gateup;
    out->method = s->method;
    out->target = s->target;
    return 0;
}

static int snap_same(const ui_state *s, const ui_snap *p)
{
    return p->budget == s->budget && !memcmp(p->fmt_ok, s->fmt_ok, sizeof p->fmt_ok) &&
           p->group_qkv == s->group_qkv && p->group_gateup == s->group_gateup && p->method == s->method &&
           p->target == s->target && !memcmp(p->pin, s->pin, (size_t)s->t.n_modules * sizeof *p->pin);
}

#define SWAP(T, a, b) do { T t_ = (a); (a) = (b); (b) = t_; } while (0)

static void snap_swap(ui_state *s, ui_snap *p)
{
    unsigned char ok[MX_NFORMATS];
    memcpy(ok, s->fmt_ok, sizeof ok);
    memcpy(s->fmt_ok, p->fmt_ok, sizeof ok);
    memcpy(p->fmt_ok, ok, sizeof ok);
    SWAP(double, s->budget, p->budget);
    SWAP(int *, s->pin, p->pin); /* both hold n_modules entries */
    SWAP(int, s->group_qkv, p->group_qkv);
    SWAP(int, s->group_gateup, p->group_gateup);
    SWAP(score_method, s->method, p->method);
    SWAP(mx_target, s->target, p->target);
}

/* Push p (taken) onto a list of UI_UNDO_MAX, dropping the oldest when full. */
static void snap_push(ui_snap *list, int *n, ui_snap *p)
{
    if (*n == UI_UNDO_MAX) {
        ui_snap_free(&list[0]);
        memmove(list, list + 1, (UI_UNDO_MAX - 1) * sizeof *list);
        (*n)--;
    }
    list[(*n)++] = *p;
    p->pin = NULL;
}

void ui_state_record(ui_state *s, ui_snap *before)
{
    if (!before->pin || snap_same(s, before)) {
        ui_snap_free(before);
        return;
    }
    snap_push(s->undo, &s->n_undo, before);
    for (int i = 0; i < s->n_redo; i++)
        ui_snap_free(&s->redo[i]);
    s->n_redo = 0;
}

int ui_state_undo(ui_state *s, int redo, mx_error *e)
{
    ui_snap *from = redo ? s->redo : s->undo, *to = redo ? s->undo : s->redo;
    int *n_from = redo ? &s->n_redo : &s->n_undo, *n_to = redo ? &s->n_undo : &s->n_redo;
    if (*n_from == 0)
        return err_set(e, ERR_ARG, redo ? "nothing to redo" : "nothing to undo");
    /* the snapshot and the state trade places: it holds the constraints left */
    ui_snap *p = &from[--*n_from];
    snap_swap(s, p);
    snap_push(to, n_to, p);
    set_projection(s); /* the method may have changed back */
    mark_stale(s);
    return 0;
}

void ui_state_formats_text(const ui_state *s, char *out, size_t len)
{
    size_t n = 0;
    int all = 1;
    out[0] = '\0';
    for (int j = 0; j < s->t.n_formats; j++) {
        mx_format g = s->t.formats[j];
        all &= s->fmt_ok[g];
        if (s->fmt_ok[g])
            n += (size_t)snprintf(out + n, n < len ? len - n : 0, "%s%s", n ? "," : "", ui_format_short(g));
    }
    if (all)
        snprintf(out, len, "all");
}

int ui_state_name_matches(const char *name, const char *text)
{
    char hf[SCORE_NAME_MAX]; /* LAYER.KIND, as the module list shows names: that module */
    if (!module_name_canonical(text, hf, sizeof hf) && strcmp(hf, text) && !strcmp(hf, name))
        return 1;
    size_t n = strlen(text);
    for (const char *p = name; *p; p++)
        if (!strncasecmp(p, text, n))
            return 1;
    return n == 0;
}

int ui_state_cand_of(const ui_state *s, const int *fmts)
{
    for (int i = 0; i < s->n_cand; i++)
        if (!memcmp(s->cand[i].fmts, fmts, (size_t)s->t.n_modules * sizeof *fmts))
            return i;
    return -1;
}

int ui_state_is_current(const ui_state *s, const int *fmts)
{
    return s->solved && fmts && !memcmp(s->choice, fmts, (size_t)s->t.n_modules * sizeof *fmts);
}

static ui_cand *cand_named(ui_state *s, const char *name)
{
    for (int i = 0; i < s->n_cand; i++)
        if (!strcmp(s->cand[i].name, name))
            return &s->cand[i];
    return NULL;
}

/* Store fmts under name (replacing one of that name; the oldest goes when full). */
static int cand_put(ui_state *s, const int *fmts, const char *name, double bits, double ppl, mx_error *e)
{
    size_t sz = (size_t)s->t.n_modules * sizeof(int);
    int *copy = malloc(sz > 0 ? sz : 1);
    if (!copy)
        return err_set(e, ERR_NOMEM, "out of memory");
    memcpy(copy, fmts, sz);
    ui_cand *c = cand_named(s, name);
    if (!c) {
        if (s->n_cand == UI_CAND_MAX) {
            free(s->cand[0].fmts);
            memmove(s->cand, s->cand + 1, (UI_CAND_MAX - 1) * sizeof s->cand[0]);
            s->n_cand--;
        }
        c = &s->cand[s->n_cand++];
        c->meas_ppl = NAN;
    } else {
        if (memcmp(c->fmts, fmts, sz))
            c->meas_ppl = NAN; /* another allocation under an old name: its measurement is not this one's */
        free(c->fmts);
    }
    snprintf(c->name, sizeof c->name, "%s", name);
    c->fmts = copy;
    c->avg_bits = bits;
    c->proj_ppl = ppl;
    return 0;
}

int ui_state_apply(ui_state *s, const int *fmts, const char *name, mx_error *e)
{
    if (!ui_state_has_scores(s))
        return err_set(e, ERR_ARG, "no scores");
    if (s->prune_on) /* a candidate holds formats only */
        return err_set(e, ERR_ARG, "prune is on: candidates hold formats only (prune off first)");
    const score_table *t = &s->t;
    alloc_setup as;
    int rc = build_problem(s, &as, e);
    if (rc)
        return rc;
    for (int m = 0; !rc && m < t->n_modules; m++) /* the problem's format index, as ilp_solve's choice */
        if ((s->tmp_choice[m] = score_table_format_index(t, (mx_format)fmts[m])) < 0)
            rc = err_set(e, ERR_ARG, "%s: %s is not a format of these scores", t->modules[m].name,
                         mx_format_name((mx_format)fmts[m]));
    ilp_result r = {0};
    if (!rc)
        ilp_result_of(&as.p, s->tmp_choice, &r);
    alloc_setup_free(&as);
    if (rc)
        return rc;
    memcpy(s->choice, fmts, (size_t)t->n_modules * sizeof *fmts);
    s->res = r;
    s->res.bound = r.objective;
    s->res.optimal = 1;
    s->proj_ppl = ui_state_project(s, s->choice);
    nearest_uniform(s);
    s->solved = 1;
    s->err[0] = '\0';
    snprintf(s->alloc_name, sizeof s->alloc_name, "%s", name);
    return cand_put(s, fmts, name, s->res.avg_bits, s->proj_ppl, e);
}

int ui_state_keep(ui_state *s, const char *name, char kept[UI_CAND_NAME], mx_error *e)
{
    if (!s->solved)
        return err_set(e, ERR_ARG, "keep: %s", s->err[0] ? s->err : "no allocation to keep");
    if (s->prune_on)
        return err_set(e, ERR_ARG, "keep: prune is on and candidates hold formats only (export FILE keeps it)");
    char def[UI_CAND_NAME];
    if (!name || !*name) {
        /* "ilp@6.00"; a candidate kept again keeps its name */
        if (strchr(s->alloc_name, '@'))
            snprintf(def, sizeof def, "%s", s->alloc_name);
        else
            snprintf(def, sizeof def, "%.20s@%.2f", s->alloc_name, s->budget);
        name = def;
    }
    if (strlen(name) >= UI_CAND_NAME || !strcmp(name, "ilp"))
        return err_set(e, ERR_ARG, "keep: '%s' cannot name a candidate (ilp is the solver; at most %d characters)",
                       name, UI_CAND_NAME - 1);
    if (kept)
        snprintf(kept, UI_CAND_NAME, "%s", name);
    return cand_put(s, s->choice, name, s->res.avg_bits, s->proj_ppl, e);
}

int ui_state_use(ui_state *s, const char *name, mx_error *e)
{
    if (!strcmp(name, "ilp")) {
        mark_stale(s);
        return ui_state_solve(s, e);
    }
    ui_cand *c = cand_named(s, name);
    if (!c) {
        char list[256] = "ilp";
        size_t n = strlen(list);
        for (int i = 0; i < s->n_cand && n + 2 < sizeof list; i++)
            n += (size_t)snprintf(list + n, sizeof list - n, ", %s", s->cand[i].name);
        return err_set(e, ERR_ARG, "use: no candidate '%s' (%s)", name, list);
    }
    /* cand_put copies c->fmts before it frees it; the same formats keep their measurement */
    return ui_state_apply(s, c->fmts, name, e);
}

char ui_state_alloc_mark(const ui_state *s)
{
    if (!strncmp(s->alloc_name, "dmx@", 4))
        return 'd';
    if (!strncmp(s->alloc_name, "gamma@", 6))
        return 'g';
    static const char by_method[SCORE_NMETHODS] = {[SCORE_KL] = 'k', [SCORE_FISHER] = 'f', [SCORE_GAMMA] = 'g',
                                                   [SCORE_FISHER_OUT] = 'F'};
    return s->method >= 0 && s->method < SCORE_NMETHODS ? by_method[s->method] : 'o';
}

void ui_state_add_measured(ui_state *s, double bits, double ppl, char mark)
{
    if (s->n_meas == UI_MEAS_MAX) {
        memmove(s->meas_bits, s->meas_bits + 1, (UI_MEAS_MAX - 1) * sizeof(double));
        memmove(s->meas_ppl, s->meas_ppl + 1, (UI_MEAS_MAX - 1) * sizeof(double));
        memmove(s->meas_mark, s->meas_mark + 1, UI_MEAS_MAX - 1);
        s->n_meas--;
    }
    s->meas_bits[s->n_meas] = bits;
    s->meas_ppl[s->n_meas] = ppl;
    s->meas_mark[s->n_meas] = mark;
    s->n_meas++;
}

double ui_state_project(const ui_state *s, const int *fmts)
{
    /* solver/proj.h with the factor `mxalloc alloc` uses by default */
    int n = s->t.n_modules;
    mx_format *f = malloc((size_t)(n > 0 ? n : 1) * sizeof *f);
    if (!f)
        return NAN;
    for (int i = 0; i < n; i++)
        f[i] = (mx_format)fmts[i];
    double sum = proj_score_sum(&s->t, s->method, f);
    free(f);
    return proj_ppl(proj_loss(&s->t, &s->proj, sum));
}
