/* The key-binding table of the workbench: each entry maps its keys to an
 * action and says what it does; the `?` box is printed from this table, so
 * every key that does something is documented, and a key not in it says so
 * on the status line. Actions return what must be redone (UI_REDO_*). */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/tf.h"
#include "ui/ui_app.h"
#include "ui/ui_cmdline.h"

static unsigned budget_by(ui_app *a, double d)
{
    return ui_ctl_set_budget(a, a->wb->st.budget + d);
}

static unsigned act_budget(ui_app *a, const int *arg)
{
    return budget_by(a, arg[0] * UI_BUDGET_FINE);
}

static unsigned act_budget_coarse(ui_app *a, const int *arg)
{
    return budget_by(a, arg[0] * UI_BUDGET_COARSE);
}

/* { }: the latency limit 2% tighter / looser, from the current allocation's
 * latency when there is no limit yet (as the `latency` command). */
static unsigned act_latency(ui_app *a, const int *arg)
{
    const ui_state *s = &a->wb->st;
    if (!s->hw) {
        ui_ctl_msg(a, UI_MSG_ERROR, "no hardware table: start with --hw-table FILE (mxalloc hwprofile writes one)");
        return UI_REDO_DRAW;
    }
    double base = s->max_latency_ms > 0 ? s->max_latency_ms : s->solved ? s->res.latency : NAN;
    if (!(base > 0)) {
        ui_ctl_msg(a, UI_MSG_ERROR, "latency: no allocation to start from");
        return UI_REDO_DRAW;
    }
    char line[64];
    snprintf(line, sizeof line, "latency %.6g", base * (1 + 0.02 * arg[0]));
    return ui_ctl_run_line(a, line);
}

/* P: prune mode on (computing its scores the first time) or off. */
static unsigned act_prune(ui_app *a, const int *arg)
{
    (void)arg;
    return ui_ctl_run_line(a, a->wb->st.prune_on ? "prune off" : "prune on");
}

static unsigned act_move(ui_app *a, const int *arg)
{
    ui_ctl_move_cursor(a, arg[0], arg[1]);
    return UI_REDO_DRAW;
}

static unsigned act_format(ui_app *a, const int *arg)
{
    ui_ctl_cycle_format(a, arg[0]);
    return UI_REDO_DRAW;
}

static unsigned act_view(ui_app *a, const int *arg)
{
    (void)arg;
    a->show_assigned = !a->show_assigned;
    return UI_REDO_DRAW;
}

/* L: the sorted module list in the grid's place, or back. */
static unsigned act_list(ui_app *a, const int *arg)
{
    (void)arg;
    if (!ui_state_has_scores(&a->wb->st)) {
        ui_ctl_msg(a, UI_MSG_ERROR, a->wb->scores_hint);
        return UI_REDO_DRAW;
    }
    a->list_view = !a->list_view;
    return UI_REDO_LAYOUT | UI_REDO_DRAW;
}

/* o: the next sort column, in its natural direction; O: the other direction. */
static unsigned act_sort(ui_app *a, const int *arg)
{
    if (!a->list_view) {
        ui_ctl_msg(a, UI_MSG_INFO, "sorting is for the module list (L shows it)");
        return UI_REDO_DRAW;
    }
    if (arg[0]) {
        a->list_key = (ui_list_key)((a->list_key + 1) % UI_LIST_NKEYS);
        a->list_desc = ui_list_key_desc(a->list_key);
    } else {
        a->list_desc = !a->list_desc;
    }
    a->list_top = 0;
    return UI_REDO_DRAW;
}

static unsigned act_pin(ui_app *a, const int *arg)
{
    (void)arg;
    return ui_ctl_start_pin(a);
}

static unsigned act_unpin(ui_app *a, const int *arg)
{
    (void)arg;
    const ui_wb *wb = a->wb;
    int m = ui_ctl_cur_module(a);
    if (!ui_state_has_scores(&wb->st) || m < 0)
        return UI_REDO_DRAW;
    char line[200];
    snprintf(line, sizeof line, "unpin %s", wb->st.t.modules[m].name);
    return ui_ctl_run_line(a, line);
}

static unsigned act_eval(ui_app *a, const int *arg)
{
    (void)arg;
    return ui_ctl_run_line(a, "eval");
}

static unsigned act_score(ui_app *a, const int *arg)
{
    (void)arg;
    return ui_ctl_run_line(a, "score");
}

static unsigned act_sample(ui_app *a, const int *arg)
{
    (void)arg;
    return ui_ctl_run_line(a, "generate");
}

static unsigned act_cancel(ui_app *a, const int *arg)
{
    (void)arg;
    if (a->wb->job.kind == UI_JOB_NONE)
        return UI_REDO_DRAW;
    return ui_ctl_run_line(a, "cancel");
}

static unsigned act_command(ui_app *a, const int *arg)
{
    (void)arg;
    a->mode = UI_MODE_COMMAND;
    ui_cmdline_begin(a->cmdwin, arg[0] ? "find " : NULL);
    return UI_REDO_DRAW;
}

/* A command without arguments, by its id. */
static unsigned act_line(ui_app *a, const int *arg)
{
    return ui_ctl_run_line(a, ui_cmd_name((ui_cmd_id)arg[0]));
}

static unsigned act_find_next(ui_app *a, const int *arg)
{
    if (!a->find[0])
        ui_ctl_msg(a, UI_MSG_INFO, "no search yet (/ finds a module by name)");
    else
        ui_ctl_find(a, a->find, arg[0]);
    return UI_REDO_DRAW;
}

static unsigned act_help(ui_app *a, const int *arg)
{
    (void)arg;
    a->mode = UI_MODE_HELP;
    a->help_top = 0;
    return UI_REDO_DRAW;
}

/* Quitting loses a running job's work: the first q says so, a second quits. */
static unsigned act_quit(ui_app *a, const int *arg)
{
    (void)arg;
    if (a->wb->job.kind == UI_JOB_NONE || a->quit_armed)
        return UI_REDO_QUIT;
    /* Short: it shares the status line with the job's progress. */
    ui_ctl_msg(a, UI_MSG_ERROR, "q again quits (job lost)");
    a->quit_armed = 1;
    return UI_REDO_DRAW;
}

/* Ctrl-Z: give the terminal back and stop, as a shell's job would. raw()
 * delivers the key instead of the signal; the default action must run, not
 * the handlers curses or ui_term installed. */
static unsigned act_suspend(ui_app *a, const int *arg)
{
    (void)a;
    (void)arg;
    struct sigaction dfl, old;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGTSTP, &dfl, &old);
    endwin();
    raise(SIGTSTP);
    sigaction(SIGTSTP, &old, NULL);
    return UI_REDO_CLEAR | UI_REDO_DRAW;
}

static unsigned act_redraw(ui_app *a, const int *arg)
{
    (void)a;
    (void)arg;
    return UI_REDO_CLEAR | UI_REDO_DRAW;
}

static unsigned act_mouse(ui_app *a, const int *arg)
{
    (void)arg;
    MEVENT me;
    if (getmouse(&me) != OK)
        return UI_REDO_DRAW;
    unsigned redo = UI_REDO_DRAW;
    const ui_state *s = &a->wb->st;
    int on_bar = me.y == a->lay.budget.y;
    if (me.bstate & (BUTTON1_PRESSED | BUTTON1_CLICKED) && on_bar)
        a->dragging = 1;
    if ((a->dragging || on_bar) && ui_state_has_scores(s) &&
        (me.bstate & (BUTTON1_PRESSED | BUTTON1_CLICKED | BUTTON1_RELEASED | REPORT_MOUSE_POSITION))) {
        double lo, hi;
        ui_ctl_bar_range(a, &lo, &hi);
        int x0, w;
        ui_layout_budget_track(&a->lay, &x0, &w);
        int x = me.x < x0 ? x0 : me.x >= x0 + w ? x0 + w - 1 : me.x;
        double b = ui_layout_budget_at(&a->lay, lo, hi, x);
        if (b > 0)
            redo |= ui_ctl_set_budget(a, b);
    }
    if (me.bstate & (BUTTON1_RELEASED | BUTTON1_CLICKED))
        a->dragging = 0;
    /* a click on the Pareto plot: the budget of that column (the solver's point there) */
    const ui_rect *pr = &a->lay.pareto;
    if (!on_bar && a->plot_w > 1 && (me.bstate & (BUTTON1_PRESSED | BUTTON1_CLICKED)) && me.y > pr->y &&
        me.y < pr->y + pr->h - 2 && me.x >= a->plot_x0 && me.x < a->plot_x0 + a->plot_w)
        redo |= ui_ctl_set_budget(a, a->plot_xlo + (a->plot_xhi - a->plot_xlo) * (me.x - a->plot_x0 + 0.5) /
                                         a->plot_w);
    int layer, kind, row = me.y - (a->lay.heat.y + 2); /* the list: box, header, then rows */
    if (a->list_view && !on_bar && (me.bstate & (BUTTON1_PRESSED | BUTTON1_CLICKED)) && row >= 0 &&
        row < ui_ctl_list_rows(a) && a->list_top + row < s->t.n_modules && me.x > a->lay.heat.x &&
        me.x < a->lay.heat.x + a->lay.heat.w - 1)
        ui_ctl_set_cursor(a, a->list_order[a->list_top + row]);
    else if (!on_bar && (me.bstate & (BUTTON1_PRESSED | BUTTON1_CLICKED)) &&
        ui_layout_heat_hit(&a->lay, a->first_layer, a->n_layers, TF_NLIN, me.y, me.x, &layer, &kind) == 0) {
        a->cur_layer = layer;
        a->cur_kind = kind;
    }
    return redo;
}

/* Help texts stay within 26 characters: the `?` box shows two columns. */
static const ui_key_binding bindings[] = {
    {{KEY_LEFT, '-'}, "budget -0.05 bits/weight", act_budget, {-1}},
    {{KEY_RIGHT, '+', '='}, "budget +0.05 bits/weight", act_budget, {1}},
    {{KEY_NPAGE}, "budget -0.5 bits/weight", act_budget_coarse, {-1}},
    {{KEY_PPAGE}, "budget +0.5 bits/weight", act_budget_coarse, {1}},
    {{'{'}, "latency limit -2%", act_latency, {-1}},
    {{'}'}, "latency limit +2%", act_latency, {1}},
    {{KEY_MOUSE}, "drag bar, click plot/cell", act_mouse, {0}},
    {{'h', KEY_SLEFT}, "cursor left", act_move, {0, -1}},
    {{'l', KEY_SRIGHT}, "cursor right", act_move, {0, 1}},
    {{'k', KEY_UP}, "up (layer or row above)", act_move, {-1, 0}},
    {{'j', KEY_DOWN}, "down (layer or row below)", act_move, {1, 0}},
    {{'g', KEY_HOME}, "first layer or row", act_move, {-(1 << 20), 0}},
    {{'G', KEY_END}, "last layer or row", act_move, {1 << 20, 0}},
    {{'f'}, "next format of the view", act_format, {1}},
    {{'F'}, "previous format of view", act_format, {-1}},
    {{'a', '\t'}, "scores / formats view", act_view, {0}},
    {{'L'}, "module list / grid", act_list, {0}},
    {{'o'}, "list: next sort column", act_sort, {1}},
    {{'O'}, "list: reverse the sort", act_sort, {0}},
    {{'p'}, "pin, then format 1..9", act_pin, {0}},
    {{'u'}, "unpin the cursor's module", act_unpin, {0}},
    {{'U'}, "undo the last edit", act_line, {UI_CMD_UNDO}},
    {{18}, "redo what U undid", act_line, {UI_CMD_REDO}},
    {{'e'}, "measure perplexity (eval)", act_eval, {0}},
    {{'P'}, "prune + formats on/off", act_prune, {0}},
    {{'S'}, "compute kl scores (score)", act_score, {0}},
    {{'s'}, "text sample (generate)", act_sample, {0}},
    {{27}, "cancel the running job", act_cancel, {0}},
    {{':'}, "command (Tab completes)", act_command, {0}},
    {{'/'}, "find a module by name", act_command, {1}},
    {{'n'}, "next match of the find", act_find_next, {1}},
    {{'N'}, "previous match", act_find_next, {-1}},
    {{'?', KEY_F(1)}, "this help", act_help, {0}},
    {{'q', KEY_F(10), 3}, "quit (twice if a job runs)", act_quit, {0}},
    {{26}, "suspend (fg resumes)", act_suspend, {0}},
    {{12}, "repaint the screen", act_redraw, {0}},
};

const ui_key_binding *ui_keys_table(int *n)
{
    *n = (int)(sizeof bindings / sizeof bindings[0]);
    return bindings;
}

const ui_key_binding *ui_keys_find(int key)
{
    if (key == 0)
        return NULL;
    for (size_t i = 0; i < sizeof bindings / sizeof bindings[0]; i++)
        for (int k = 0; k < UI_KEYS_MAX && bindings[i].keys[k]; k++)
            if (bindings[i].keys[k] == key)
                return &bindings[i];
    return NULL;
}

const char *ui_key_name(int key, char *buf, size_t len)
{
    static const struct {
        int key;
        const char *name;
    } names[] = {
        {KEY_LEFT, "Left"},    {KEY_RIGHT, "Right"},    {KEY_UP, "Up"},     {KEY_DOWN, "Down"},
        {KEY_NPAGE, "PgDn"},   {KEY_PPAGE, "PgUp"},     {KEY_SLEFT, "S-Left"}, {KEY_SRIGHT, "S-Right"},
        {KEY_HOME, "Home"},    {KEY_END, "End"},        {KEY_MOUSE, "mouse"}, {KEY_BACKSPACE, "Backspace"},
        {KEY_DC, "Delete"},    {KEY_IC, "Insert"},      {KEY_ENTER, "Enter"}, {27, "Esc"},
        {'\t', "Tab"},         {'\r', "Enter"},         {'\n', "Enter"},    {' ', "Space"},
        {127, "Backspace"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].key == key) {
            snprintf(buf, len, "%s", names[i].name);
            return buf;
        }
    if (key > 0 && key < 32)
        snprintf(buf, len, "C-%c", key + 'a' - 1);
    else if (key > 32 && key < 127)
        snprintf(buf, len, "%c", key);
    else if (key >= KEY_F(1) && key <= KEY_F(24))
        snprintf(buf, len, "F%d", key - KEY_F(0));
    else
        snprintf(buf, len, "key %d", key);
    return buf;
}

void ui_keys_label(const ui_key_binding *b, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int k = 0; k < UI_KEYS_MAX && b->keys[k] && n + 1 < len; k++) {
        char name[32];
        ui_key_name(b->keys[k], name, sizeof name);
        n += (size_t)snprintf(buf + n, len - n, "%s%s", k ? " " : "", name);
    }
}

int ui_keys_help_lines(int width, char lines[][UI_HELP_LINE], int max)
{
    int nb, n = 0;
    const ui_key_binding *t = ui_keys_table(&nb);
    char label[UI_KEYS_MAX * 16];
    int lw = 0, hw = 0;
    for (int i = 0; i < nb; i++) {
        ui_keys_label(&t[i], label, sizeof label);
        int l = (int)strlen(label), h = (int)strlen(t[i].help);
        lw = l > lw ? l : lw;
        hw = h > hw ? h : hw;
    }
    int cell = 2 + lw + 1 + hw; /* indent, keys, gap, help */
    int ncol = width >= 2 * cell ? 2 : 1, rows = (nb + ncol - 1) / ncol;
    if (width > UI_HELP_LINE - 1)
        width = UI_HELP_LINE - 1;
    if (n < max)
        snprintf(lines[n++], UI_HELP_LINE, "Keys");
    for (int r = 0; r < rows && n < max; r++, n++) {
        int len = 0;
        lines[n][0] = '\0';
        for (int c = 0; c < ncol; c++) {
            int i = c * rows + r; /* column-major: the left column reads first */
            if (i >= nb)
                break;
            ui_keys_label(&t[i], label, sizeof label);
            char cellbuf[UI_HELP_LINE];
            snprintf(cellbuf, sizeof cellbuf, "  %-*s %s", lw, label, t[i].help);
            len += snprintf(lines[n] + len, (size_t)(UI_HELP_LINE - len), "%-*s", c + 1 < ncol ? cell : 0,
                            cellbuf);
            if (len >= UI_HELP_LINE)
                len = UI_HELP_LINE - 1;
        }
    }
    if (n < max)
        snprintf(lines[n++], UI_HELP_LINE, "Commands");
    for (int i = 0; i < UI_CMD_COUNT && n < max; i++)
        snprintf(lines[n++], UI_HELP_LINE, "  %s", ui_cmd_usage((ui_cmd_id)i));
    return n;
}

unsigned ui_keys_dispatch(ui_app *a, int key)
{
    if (key == KEY_RESIZE)
        return UI_REDO_LAYOUT | UI_REDO_CLEAR | UI_REDO_DRAW;
    switch (a->mode) {
    case UI_MODE_COMMAND: {
        char *line;
        unsigned redo = UI_REDO_DRAW;
        int r = ui_cmdline_feed(key, &line);
        if (r != 0)
            a->mode = UI_MODE_NORMAL;
        if (r == 1) {
            redo |= ui_ctl_run_line(a, line);
            free(line);
        }
        return redo;
    }
    case UI_MODE_HELP: { /* scroll keys move the text (ui_pane_help clamps), others close */
        static const struct {
            int key, step;
        } scroll[] = {{'j', 1}, {KEY_DOWN, 1}, {'k', -1}, {KEY_UP, -1}, {' ', 10}, {KEY_NPAGE, 10},
                      {KEY_PPAGE, -10}, {KEY_HOME, -1000}, {KEY_END, 1000}};
        for (size_t i = 0; i < sizeof scroll / sizeof scroll[0]; i++)
            if (key == scroll[i].key) {
                a->help_top += scroll[i].step;
                return UI_REDO_DRAW;
            }
        a->mode = UI_MODE_NORMAL;
        return UI_REDO_DRAW;
    }
    case UI_MODE_SAMPLE: /* any key closes the box */
        a->mode = UI_MODE_NORMAL;
        return UI_REDO_DRAW;
    case UI_MODE_PIN:
        return ui_ctl_finish_pin(a, key);
    default:
        break;
    }
    const ui_key_binding *b = ui_keys_find(key);
    if (!b || b->action != act_quit)
        a->quit_armed = 0;
    if (b)
        return b->action(a, b->arg);
    char name[32], msg[96];
    snprintf(msg, sizeof msg, "unknown key %s (? lists the keys)", ui_key_name(key, name, sizeof name));
    ui_ctl_msg(a, UI_MSG_INFO, msg);
    return UI_REDO_DRAW;
}
