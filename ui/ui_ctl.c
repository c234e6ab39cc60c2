/* The workbench controller: what keys and commands change, and the solves and
 * sweeps that follow, done once when the state changes so that the panes only
 * read cached results. No drawing here. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernels/tf.h"
#include "ui/ui_app.h"

void ui_ctl_msg(void *user, ui_msg_level level, const char *text)
{
    ui_app *a = user;
    /* Multi-line output (help) keeps only the last line: the overlay shows the rest. */
    snprintf(a->status, sizeof a->status, "%s", text);
    for (char *c = a->status; *c; c++) /* one line (a generated sample has newlines) */
        if (*c == '\n' || *c == '\r' || *c == '\t')
            *c = ' ';
    a->status_err = level == UI_MSG_ERROR;
}

void ui_ctl_clear_msg(ui_app *a)
{
    a->status[0] = '\0';
    a->status_err = 0;
}

int ui_ctl_cur_module(const ui_app *a)
{
    if (!a->mod_at)
        return -1;
    return a->mod_at[a->cur_layer * TF_NLIN + a->cur_kind];
}

void ui_ctl_build_index(ui_app *a)
{
    const ui_wb *wb = a->wb;
    for (int i = 0; i < a->n_layers * TF_NLIN; i++)
        a->mod_at[i] = -1;
    if (ui_state_has_scores(&wb->st)) {
        for (int i = 0; i < wb->st.t.n_modules; i++) {
            const score_module *m = &wb->st.t.modules[i];
            if (m->layer >= 0 && m->layer < a->n_layers && m->kind >= 0 && m->kind < TF_NLIN)
                a->mod_at[m->layer * TF_NLIN + m->kind] = i;
        }
        /* the narrowest candidate (the first of equals) is the most telling default view */
        const score_table *t = &wb->st.t;
        a->view_fmt = t->formats[0];
        for (int k = 1; k < t->n_formats; k++)
            if (mx_bits_per_weight(t->formats[k], 0, 0) < mx_bits_per_weight((mx_format)a->view_fmt, 0, 0))
                a->view_fmt = t->formats[k];
    }
}

unsigned ui_ctl_set_budget(ui_app *a, double b)
{
    ui_state *s = &a->wb->st;
    if (!ui_state_has_scores(s)) {
        ui_ctl_msg(a, UI_MSG_ERROR, a->wb->scores_hint);
        return UI_REDO_DRAW;
    }
    /* the range was cached when the constraints last changed */
    double lo = s->range_lo, hi = s->range_hi;
    if (isfinite(lo) && b < lo)
        b = lo;
    if (isfinite(hi) && b > hi)
        b = hi;
    ui_snap before = {0};
    ui_state_snap(s, &before);
    /* steps of 0.001, but never rounded below the smallest feasible budget */
    s->budget = round(b * 1000) / 1000;
    if (isfinite(lo) && s->budget < lo)
        s->budget = ceil(lo * 1000 - 1e-9) / 1000;
    ui_state_record(s, &before);
    ui_ctl_clear_msg(a);
    return UI_REDO_SOLVE | UI_REDO_DRAW;
}

int ui_ctl_list_rows(const ui_app *a)
{
    int n = a->lay.heat.h - 4;
    return n > 0 ? n : 0;
}

int ui_ctl_list_pos(const ui_app *a)
{
    int m = ui_ctl_cur_module(a);
    for (int i = 0; m >= 0 && a->list_order && i < a->wb->st.t.n_modules; i++)
        if (a->list_order[i] == m)
            return i;
    return -1;
}

void ui_ctl_set_cursor(ui_app *a, int m)
{
    const score_module *sm = &a->wb->st.t.modules[m];
    if (sm->layer >= 0 && sm->layer < a->n_layers && sm->kind >= 0 && sm->kind < TF_NLIN) {
        a->cur_layer = sm->layer;
        a->cur_kind = sm->kind;
    }
    ui_ctl_scroll(a);
}

void ui_ctl_scroll(ui_app *a)
{
    if (a->list_view) {
        int p = ui_ctl_list_pos(a), rows = ui_ctl_list_rows(a);
        if (p >= 0 && p < a->list_top)
            a->list_top = p;
        if (p >= 0 && rows > 0 && p >= a->list_top + rows)
            a->list_top = p - rows + 1;
    }
    if (a->cur_layer < a->first_layer)
        a->first_layer = a->cur_layer;
    if (a->cur_layer >= a->first_layer + a->lay.heat_rows)
        a->first_layer = a->cur_layer - a->lay.heat_rows + 1;
}

void ui_ctl_move_cursor(ui_app *a, int dl, int dk)
{
    int n = a->wb->st.t.n_modules, p = ui_ctl_list_pos(a);
    if (a->list_view && p >= 0) {
        long q = (long)p + dl;
        ui_ctl_set_cursor(a, a->list_order[q < 0 ? 0 : q >= n ? n - 1 : q]);
        return;
    }
    a->cur_layer += dl;
    a->cur_kind += dk;
    if (a->cur_layer < 0)
        a->cur_layer = 0;
    if (a->cur_layer >= a->n_layers)
        a->cur_layer = a->n_layers - 1;
    if (a->cur_kind < 0)
        a->cur_kind = 0;
    if (a->cur_kind >= TF_NLIN)
        a->cur_kind = TF_NLIN - 1;
    ui_ctl_scroll(a);
}

void ui_ctl_cycle_format(ui_app *a, int dir)
{
    const ui_state *s = &a->wb->st;
    if (!ui_state_has_scores(s))
        return;
    int j = score_table_format_index(&s->t, (mx_format)a->view_fmt);
    j = (j + dir + s->t.n_formats) % s->t.n_formats;
    a->view_fmt = s->t.formats[j];
    a->show_assigned = 0;
}

int ui_ctl_search_format(const ui_app *a, int m)
{
    const ui_search_hist *h = &a->wb->search;
    return a->wb->job.kind == UI_JOB_SEARCH && h->n > 0 && ui_search_settled(h, m) ? h->likely[m] : -1;
}

/* The grid cell p holds a module whose name contains text. */
static int cell_matches(const ui_app *a, int p, const char *text)
{
    int m = a->mod_at[p];
    return m >= 0 && ui_state_name_matches(a->wb->m.modules[m].name, text);
}

void ui_ctl_find(ui_app *a, const char *text, int dir)
{
    int n = a->n_layers * TF_NLIN, cur = a->cur_layer * TF_NLIN + a->cur_kind, hits = 0, at = -1, k = 0;
    for (int step = 1; step <= n && at < 0; step++) {
        int p = ((cur + dir * step) % n + n) % n;
        if (cell_matches(a, p, text))
            at = p;
    }
    char msg[300];
    if (at < 0) {
        snprintf(msg, sizeof msg, "find: no module name contains '%.200s'", text);
        ui_ctl_msg(a, UI_MSG_ERROR, msg);
        return;
    }
    for (int p = 0; p < n; p++) /* which match of how many, in grid order */
        if (cell_matches(a, p, text)) {
            hits++;
            k += p <= at;
        }
    a->cur_layer = at / TF_NLIN;
    a->cur_kind = at % TF_NLIN;
    ui_ctl_scroll(a);
    snprintf(msg, sizeof msg, "find '%.100s': %.120s (%d of %d; n / N next / previous)", text,
             a->wb->m.modules[a->mod_at[at]].name, k, hits);
    ui_ctl_msg(a, UI_MSG_INFO, msg);
}

unsigned ui_ctl_run_line(ui_app *a, const char *line)
{
    ui_wb *wb = a->wb;
    ui_ctl_clear_msg(a);
    ui_cmd c;
    char err[600];
    int rc = ui_cmd_parse(line, &c, err, sizeof err);
    if (rc < 0) {
        ui_ctl_msg(a, UI_MSG_ERROR, err);
        return UI_REDO_DRAW;
    }
    if (rc == 1)
        return UI_REDO_DRAW;
    if (c.id == UI_CMD_HELP) {
        a->mode = UI_MODE_HELP;
        a->help_top = 0;
        return UI_REDO_DRAW;
    }
    if (c.id == UI_CMD_FIND) { /* the cursor is the app's: script mode lists the matches */
        snprintf(a->find, sizeof a->find, "%.127s", c.argv[0]);
        ui_ctl_find(a, a->find, 1);
        return UI_REDO_DRAW;
    }
    /* ui_wb_exec solves itself when a command changes the constraints */
    ui_wb_exec(wb, &c);
    unsigned redo = UI_REDO_DRAW;
    if (c.id == UI_CMD_LOAD_SCORES)
        redo |= UI_REDO_INDEX;
    if (wb->quit)
        redo |= UI_REDO_QUIT;
    return redo;
}

unsigned ui_ctl_start_pin(ui_app *a)
{
    const ui_state *s = &a->wb->st;
    if (!ui_state_has_scores(s)) {
        ui_ctl_msg(a, UI_MSG_ERROR, a->wb->scores_hint);
        return UI_REDO_DRAW;
    }
    if (ui_ctl_cur_module(a) < 0)
        return UI_REDO_DRAW;
    char buf[512];
    int n = snprintf(buf, sizeof buf, "pin to:");
    for (int j = 0; j < s->t.n_formats && j < 9 && n < (int)sizeof buf; j++)
        n += snprintf(buf + n, sizeof buf - (size_t)n, " %d %s", j + 1, ui_format_short(s->t.formats[j]));
    ui_ctl_msg(a, UI_MSG_INFO, buf);
    a->mode = UI_MODE_PIN;
    return UI_REDO_DRAW;
}

unsigned ui_ctl_finish_pin(ui_app *a, int key)
{
    ui_state *s = &a->wb->st;
    int j = key - '1', n = s->t.n_formats < 9 ? s->t.n_formats : 9;
    if (key == 27) {
        a->mode = UI_MODE_NORMAL;
        ui_ctl_msg(a, UI_MSG_INFO, "pin cancelled");
        return UI_REDO_DRAW;
    }
    if (j < 0 || j >= n) { /* say so and keep waiting: a typo is not a cancel */
        char msg[96];
        snprintf(msg, sizeof msg, "pin: press 1..%d for a format, Esc to cancel", n);
        ui_ctl_msg(a, UI_MSG_ERROR, msg);
        return UI_REDO_DRAW;
    }
    a->mode = UI_MODE_NORMAL;
    char line[256];
    snprintf(line, sizeof line, "pin %s %s", s->t.modules[ui_ctl_cur_module(a)].name,
             mx_format_name(s->t.formats[j]));
    return ui_ctl_run_line(a, line);
}

/* The heatmap's colour scale: the score range of the viewed format over the
 * whole column set (log bins). */
static void heat_range(ui_app *a)
{
    const ui_state *s = &a->wb->st;
    a->heat_lo = a->heat_hi = NAN;
    if (!ui_state_has_scores(s))
        return;
    double *v = malloc((size_t)s->t.n_modules * sizeof *v);
    if (!v)
        return;
    for (int i = 0; i < s->t.n_modules; i++)
        v[i] = s->t.modules[i].score[s->method][a->view_fmt];
    ui_scale_range(v, s->t.n_modules, &a->heat_lo, &a->heat_hi);
    free(v);
}

unsigned ui_ctl_apply(ui_app *a, unsigned redo)
{
    if (redo & UI_REDO_SOLVE)
        ui_wb_resolve(a->wb, 0);
    if (redo & UI_REDO_INDEX)
        ui_ctl_build_index(a);
    /* after any change: the range and the curve, only when stale */
    ui_state_update_view(&a->wb->st, UI_CURVE_POINTS);
    heat_range(a);
    if (a->list_view) { /* bits follow the allocation: sort after every solve */
        int n = a->wb->st.t.n_modules;
        int *o = realloc(a->list_order, (size_t)(n > 0 ? n : 1) * sizeof *o);
        if (o) {
            a->list_order = o;
            ui_list_sort(&a->wb->st, a->list_key, a->list_desc, (mx_format)a->view_fmt, o);
            ui_ctl_scroll(a);
        } else {
            a->list_view = 0;
            ui_ctl_msg(a, UI_MSG_ERROR, "out of memory for the module list");
            redo |= UI_REDO_LAYOUT;
        }
    }
    if (a->wb->quit)
        redo |= UI_REDO_QUIT;
    return redo & ~(unsigned)(UI_REDO_SOLVE | UI_REDO_INDEX);
}

void ui_ctl_bar_range(const ui_app *a, double *lo, double *hi)
{
    const ui_state *s = &a->wb->st;
    *lo = s->range_lo;
    *hi = s->range_hi;
    if (isfinite(s->view_hi) && s->view_hi < *hi)
        *hi = s->view_hi > s->budget ? s->view_hi : s->budget;
}
