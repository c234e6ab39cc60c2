/* The curses workbench: event loop, keys, mouse, and drawing of the panes.
 * Every number shown comes from ui_wb / ui_state (the library), never from
 * here; this file only reacts and draws. */
#define NCURSES_WIDECHAR 1
#include <curses.h>
#include <langinfo.h>
#include <locale.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kernels/tf.h"
#include "ui/ui.h"
#include "ui/ui_cmdline.h"
#include "ui/ui_layout.h"
#include "ui/ui_plot.h"
#include "ui/ui_scale.h"
#include "ui/ui_term.h"

enum { MODE_NORMAL = 0, MODE_COMMAND, MODE_PIN, MODE_HELP };
enum { PAIR_BIN0 = 1, PAIR_TITLE = PAIR_BIN0 + UI_NBINS, PAIR_ERR, PAIR_OK, PAIR_CURVE, PAIR_MEAS, PAIR_CUR };

#define BUDGET_FINE 0.05
#define BUDGET_COARSE 0.5

typedef struct ui_app {
    ui_wb *wb;
    ui_layout lay;
    int n_layers;
    int *mod_at;            /* [n_layers * TF_NLIN] module index or -1 */
    int cur_layer, cur_kind, first_layer;
    int view_fmt;           /* mx_format whose scores colour the heatmap */
    int show_assigned;      /* 1: colour by the assigned format instead */
    int color, utf8;
    int mode;
    char status[1024];
    int status_err;
    int dragging;
    double key_ms;          /* last key-to-screen time */
    double t_key;           /* when the key being handled arrived (0: none) */
    WINDOW *cmdwin;
} ui_app;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void app_msg(void *user, ui_msg_level level, const char *text)
{
    ui_app *a = user;
    /* Multi-line output (help) keeps only the last line: the overlay shows the rest. */
    snprintf(a->status, sizeof a->status, "%s", text);
    a->status_err = level == UI_MSG_ERROR;
}

/* ---- helpers ---- */

static const ui_state *st(const ui_app *a)
{
    return &a->wb->st;
}

static int cur_module(const ui_app *a)
{
    return a->mod_at[a->cur_layer * TF_NLIN + a->cur_kind];
}

static void build_index(ui_app *a)
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
        /* the first candidate narrower than fp32/bf16 is the most telling default view */
        a->view_fmt = wb->st.t.formats[wb->st.t.n_formats - 1];
    }
}

static void relayout(ui_app *a)
{
    int rows, cols;
    getmaxyx(stdscr, rows, cols);
    ui_layout_compute(rows, cols, a->n_layers, TF_NLIN, a->wb->search.n > 0, &a->lay);
    if (a->cur_layer < a->first_layer)
        a->first_layer = a->cur_layer;
    if (a->cur_layer >= a->first_layer + a->lay.heat_rows)
        a->first_layer = a->cur_layer - a->lay.heat_rows + 1;
    if (a->cmdwin)
        delwin(a->cmdwin);
    a->cmdwin = NULL;
    if (ui_rect_visible(&a->lay.cmd))
        a->cmdwin = newwin(1, a->lay.cmd.w, a->lay.cmd.y, a->lay.cmd.x);
    else
        a->cmdwin = newwin(1, cols > 0 ? cols : 1, rows > 0 ? rows - 1 : 0, 0);
    if (a->cmdwin) {
        keypad(a->cmdwin, TRUE);
        nodelay(a->cmdwin, TRUE); /* the loop poll()s; getch must never block */
    }
}

static attr_t bin_attr(const ui_app *a, int bin)
{
    if (bin < 0)
        return A_NORMAL;
    if (a->color)
        return COLOR_PAIR(PAIR_BIN0 + bin);
    return bin >= UI_NBINS - 2 ? A_BOLD : A_NORMAL;
}

static void box_title(const ui_rect *r, const char *title)
{
    if (!ui_rect_visible(r) || r->h < 2 || r->w < 4)
        return;
    attrset(A_NORMAL);
    /* WACS_*: Unicode box drawing in a UTF-8 locale, the VT100 set otherwise */
    mvhline_set(r->y, r->x + 1, WACS_HLINE, r->w - 2);
    mvhline_set(r->y + r->h - 1, r->x + 1, WACS_HLINE, r->w - 2);
    mvvline_set(r->y + 1, r->x, WACS_VLINE, r->h - 2);
    mvvline_set(r->y + 1, r->x + r->w - 1, WACS_VLINE, r->h - 2);
    mvadd_wch(r->y, r->x, WACS_ULCORNER);
    mvadd_wch(r->y, r->x + r->w - 1, WACS_URCORNER);
    mvadd_wch(r->y + r->h - 1, r->x, WACS_LLCORNER);
    mvadd_wch(r->y + r->h - 1, r->x + r->w - 1, WACS_LRCORNER);
    if (title && r->w > 6) {
        attron(A_BOLD);
        mvaddnstr(r->y, r->x + 2, title, r->w - 4);
        attroff(A_BOLD);
    }
}

/* ---- panes ---- */

static void draw_title(ui_app *a)
{
    const ui_rect *r = &a->lay.title;
    const ui_wb *wb = a->wb;
    char buf[1024];
    const char *name = strrchr(wb->m.path, '/');
    name = name ? name + 1 : wb->m.path;
    char view[96];
    if (a->show_assigned)
        snprintf(view, sizeof view, "view: assigned format");
    else
        snprintf(view, sizeof view, "view: %s score of %s", score_method_name(st(a)->method),
                 mx_format_name((mx_format)a->view_fmt));
    snprintf(buf, sizeof buf, " mxalloc  %.200s  %d layers x %d modules  %s%s", name, wb->m.cfg.n_layers, TF_NLIN,
             ui_state_has_scores(st(a)) ? view : "no scores", "   ?:help");
    attrset(a->color ? COLOR_PAIR(PAIR_TITLE) | A_BOLD : A_REVERSE);
    mvhline(r->y, r->x, ' ', r->w);
    mvaddnstr(r->y, r->x, buf, r->w);
    attrset(A_NORMAL);
}

/* The bar spans [min budget, the knee of the curve] (keys may go beyond). */
static void bar_range(ui_state *s, double *lo, double *hi)
{
    ui_state_budget_range(s, lo, hi);
    if (s->curve_stale)
        ui_state_sweep(s, 24, NULL);
    if (isfinite(s->view_hi) && s->view_hi < *hi)
        *hi = s->view_hi > s->budget ? s->view_hi : s->budget;
}

static void draw_budget(ui_app *a)
{
    const ui_rect *r = &a->lay.budget;
    ui_state *s = &a->wb->st;
    move(r->y, r->x);
    clrtoeol();
    move(r->y + 1, r->x);
    clrtoeol();
    if (!ui_state_has_scores(s)) {
        mvaddnstr(r->y, r->x, "budget  (no scores loaded)", r->w);
        return;
    }
    double lo, hi;
    bar_range(s, &lo, &hi);
    int x0, w;
    ui_layout_budget_track(&a->lay, &x0, &w);
    mvaddstr(r->y, r->x, "budget [");
    int pos = isfinite(lo) ? ui_scale_map(s->budget, lo, hi, w) : -1;
    for (int i = 0; i < w; i++) {
        if (i == pos) {
            attron(A_REVERSE | A_BOLD);
            addch('|');
            attroff(A_REVERSE | A_BOLD);
        } else {
            addch(i < pos ? '=' : '-');
        }
    }
    printw("] %5.2f b", s->budget);
    char buf[512];
    if (s->solved) {
        double kb = s->res.bytes / 1024.0;
        char near[128] = "";
        if (s->near_fmt >= 0 && isfinite(s->near_ppl) && isfinite(s->proj_ppl))
            snprintf(near, sizeof near, ", %+.2f%% vs %s", 100 * (s->proj_ppl / s->near_ppl - 1),
                     mx_format_name((mx_format)s->near_fmt));
        char meas[64] = "";
        if (isfinite(a->wb->last_meas_ppl))
            snprintf(meas, sizeof meas, "  measured %.4f @%.2fb", a->wb->last_meas_ppl, a->wb->last_meas_bits);
        char gap[48] = "";
        if (!s->res.optimal)
            snprintf(gap, sizeof gap, "  [time limit: gap %.2g%%]", 100 * s->res.gap);
        if (isfinite(s->proj_ppl))
            snprintf(buf, sizeof buf, "avg %.3f b/w  size %.1f KB  proj ppl %.4f (%+.2f%% vs fp32%s)%s%s",
                     s->res.avg_bits, kb, s->proj_ppl, 100 * (s->proj_ppl / s->fp32_ppl - 1), near, meas, gap);
        else
            snprintf(buf, sizeof buf, "avg %.3f b/w  size %.1f KB  proj ppl n/a  score sum %.3g nats%s%s",
                     s->res.avg_bits, kb, s->res.objective, meas, gap);
        attrset(A_BOLD);
    } else {
        snprintf(buf, sizeof buf, "%s", s->err[0] ? s->err : "no solution");
        attrset(a->color ? COLOR_PAIR(PAIR_ERR) | A_BOLD : A_BOLD);
    }
    mvaddnstr(r->y + 1, r->x, buf, r->w);
    attrset(A_NORMAL);
}

static void draw_heat(ui_app *a)
{
    const ui_rect *r = &a->lay.heat;
    const ui_state *s = st(a);
    int cw = a->lay.cell_w, have = ui_state_has_scores(s);
    box_title(r, have ? (a->show_assigned ? "allocation" : "sensitivity") : "modules");
    int y = r->y + 1, x = r->x + 1;
    mvaddstr(y, x, "   ");
    for (int k = 0; k < TF_NLIN; k++) {
        char lab[16];
        snprintf(lab, sizeof lab, "%-*.*s", cw, cw - 1, model_kind_label(k));
        mvaddstr(y, x + UI_LABEL_W + k * cw, lab);
    }
    /* score range over the whole column set of the viewed format (log bins) */
    double lo = NAN, hi = NAN;
    if (have) {
        double *v = malloc((size_t)s->t.n_modules * sizeof *v);
        if (v) {
            for (int i = 0; i < s->t.n_modules; i++)
                v[i] = s->t.modules[i].score[s->method][a->view_fmt];
            ui_scale_range(v, s->t.n_modules, &lo, &hi);
            free(v);
        }
    }
    for (int row = 0; row < a->lay.heat_rows; row++) {
        int layer = a->first_layer + row;
        if (layer >= a->n_layers)
            break;
        int yy = y + 1 + row;
        mvprintw(yy, x, "%3d ", layer);
        for (int k = 0; k < TF_NLIN; k++) {
            int m = a->mod_at[layer * TF_NLIN + k];
            char cell[16];
            int bin = -1, tw = cw - 2; /* text, then the pin marker, then a gap */
            if (m < 0 || !have) {
                snprintf(cell, sizeof cell, "%-*s", tw, m < 0 && have ? "" : " ..");
            } else if (a->show_assigned) {
                int f = s->solved ? s->choice[m] : -1;
                if (a->wb->search.n > 0 && ui_search_settled(&a->wb->search, m))
                    f = a->wb->search.likely[m];
                bin = f >= 0 ? ui_bits_bin(s->t.modules[m].bits[f]) : -1;
                snprintf(cell, sizeof cell, "%-*.*s", tw, tw, f >= 0 ? ui_format_short((mx_format)f) : "?");
            } else {
                double v = s->t.modules[m].score[s->method][a->view_fmt];
                bin = ui_scale_bin(v, lo, hi, UI_NBINS);
                memset(cell, ui_scale_char(bin), (size_t)tw);
                cell[tw] = '\0';
                if (isnan(v))
                    memcpy(cell, "n/a", tw < 3 ? (size_t)tw : 3);
            }
            int pinned = m >= 0 && have && s->pin[m] >= 0;
            size_t cl = strlen(cell);
            cell[cl] = pinned ? '!' : ' ';
            cell[cl + 1] = '\0';
            attr_t at = bin_attr(a, bin);
            if (pinned)
                at |= A_UNDERLINE | A_BOLD;
            if (layer == a->cur_layer && k == a->cur_kind)
                at |= A_REVERSE;
            attrset(at);
            mvaddstr(yy, x + UI_LABEL_W + k * cw, cell);
            attrset(A_NORMAL);
            addch(' ');
            attrset(A_NORMAL);
        }
    }
    if (a->first_layer > 0)
        mvaddstr(y, x + 1, "^");
    if (a->first_layer + a->lay.heat_rows < a->n_layers)
        mvaddstr(y + a->lay.heat_rows, x, "v");
    /* legend: two rows above the bottom border */
    int ly = r->y + r->h - 3;
    move(ly, x);
    if (!have) {
        mvaddnstr(ly, x, "no scores: run `mxalloc score ...`", r->w - 2);
        mvaddnstr(ly + 1, x, "or :load-scores FILE", r->w - 2);
        return;
    }
    if (a->show_assigned) {
        mvaddnstr(ly, x, "fmt:", r->w - 2);
        int xx = x + 5;
        for (int j = 0; j < s->t.n_formats && xx + 5 < r->x + r->w; j++) {
            mx_format f = s->t.formats[j];
            attrset(bin_attr(a, ui_bits_bin(s->t.modules[0].bits[f])));
            mvaddstr(ly, xx, ui_format_short(f));
            attrset(A_NORMAL);
            xx += 5;
        }
        mvaddnstr(ly + 1, x, "! = pinned", r->w - 2);
    } else {
        char e0[16], e1[16];
        mvaddnstr(ly, x, "low", r->w - 2);
        int xx = x + 4;
        for (int b = 0; b < UI_NBINS && xx + 2 < r->x + r->w; b++) {
            attrset(bin_attr(a, b));
            mvaddch(ly, xx, ui_scale_char(b));
            addch(ui_scale_char(b));
            attrset(A_NORMAL);
            xx += 2;
        }
        mvaddnstr(ly, xx + 1, "high  ! pin", r->x + r->w - 2 - xx);
        ui_fmt_num(e0, 7, lo);
        ui_fmt_num(e1, 7, hi);
        char buf[96];
        snprintf(buf, sizeof buf, "%s..%s nats (log)", e0, e1);
        mvaddnstr(ly + 1, x, buf, r->w - 2);
    }
}

static void draw_info(ui_app *a)
{
    const ui_rect *r = &a->lay.info;
    if (!ui_rect_visible(r))
        return;
    const ui_state *s = st(a);
    box_title(r, "module");
    int m = cur_module(a), x = r->x + 2, w = r->w - 4, y = r->y + 1;
    if (m < 0 || w < 8)
        return;
    const model_module *mm = &a->wb->m.modules[m];
    char buf[256];
    attron(A_BOLD);
    mvaddnstr(y++, x, mm->name, w);
    attroff(A_BOLD);
    snprintf(buf, sizeof buf, "shape %d x %d  params %lld", mm->rows, mm->cols, (long long)mm->params);
    mvaddnstr(y++, x, buf, w);
    if (!ui_state_has_scores(s))
        return;
    int f = s->solved ? s->choice[m] : -1;
    snprintf(buf, sizeof buf, "format %s%s%s", f >= 0 ? mx_format_name((mx_format)f) : "-",
             s->pin[m] >= 0 ? "  (pinned)" : "",
             a->wb->search.n > 0 && ui_search_settled(&a->wb->search, m) ? "  (search settled)" : "");
    mvaddnstr(y++, x, buf, w);
    snprintf(buf, sizeof buf, "%s score (nats) per format:", score_method_name(s->method));
    mvaddnstr(y++, x, buf, w);
    int ncol = w >= 40 ? 2 : 1, colw = w / ncol;
    int rows_left = r->y + r->h - 1 - y;
    for (int j = 0; j < s->t.n_formats; j++) {
        int row = j / ncol, col = j % ncol;
        if (row >= rows_left)
            break;
        mx_format g = s->t.formats[j];
        char num[16];
        ui_fmt_num(num, 8, s->t.modules[m].score[s->method][g]);
        snprintf(buf, sizeof buf, "%c%-10s %8s", (int)g == f ? '>' : ' ', mx_format_name(g), num);
        if ((int)g == f)
            attron(A_BOLD);
        mvaddnstr(y + row, x + col * colw, buf, colw - 1);
        attroff(A_BOLD);
    }
}

static void draw_canvas(const ui_app *a, const ui_canvas *c, int y, int x)
{
    for (int cy = 0; cy < c->h; cy++)
        for (int cx = 0; cx < c->w; cx++) {
            char s[5];
            ui_canvas_cell(c, cx, cy, s);
            char m = c->mark[cy * c->w + cx];
            attr_t at = A_NORMAL;
            if (m == '@')
                at = (a->color ? COLOR_PAIR(PAIR_CUR) : 0) | A_BOLD | A_REVERSE;
            else if (m == 'o')
                at = (a->color ? COLOR_PAIR(PAIR_MEAS) : 0) | A_BOLD;
            else if (a->color)
                at = COLOR_PAIR(PAIR_CURVE);
            attrset(at);
            mvaddstr(y + cy, x + cx, s);
        }
    attrset(A_NORMAL);
}

static void draw_pareto(ui_app *a)
{
    const ui_rect *r = &a->lay.pareto;
    if (!ui_rect_visible(r))
        return;
    ui_state *s = &a->wb->st;
    if (!ui_state_has_scores(s)) {
        box_title(r, "Pareto");
        return;
    }
    if (s->curve_stale)
        ui_state_sweep(s, 24, NULL);
    /* Projected perplexity when the projection is available, else the
     * solver's own objective (summed scores, nats/token): same shape. */
    int use_ppl = s->n_curve > 0 && isfinite(s->curve_ppl[0]);
    if (r->w >= 64)
        box_title(r, use_ppl ? "Pareto: projected ppl vs avg bits  (@ current, o measured)"
                             : "Pareto: summed score (nats) vs avg bits  (@ current)");
    else
        box_title(r, use_ppl ? "ppl vs bits (@ now, o measured)" : "score sum vs bits (@ now)");
    if (s->n_curve < 1)
        return;
    const double *cy = use_ppl ? s->curve_ppl : s->curve_obj;
    double xlo = s->curve_bits[0], xhi = xlo, ylo = cy[0], yhi = ylo;
    for (int i = 0; i < s->n_curve; i++) {
        xlo = fmin(xlo, s->curve_bits[i]);
        xhi = fmax(xhi, s->curve_bits[i]);
        ylo = fmin(ylo, cy[i]);
        yhi = fmax(yhi, cy[i]);
    }
    for (int i = 0; use_ppl && i < s->n_meas; i++) {
        xlo = fmin(xlo, s->meas_bits[i]);
        xhi = fmax(xhi, s->meas_bits[i]);
        ylo = fmin(ylo, s->meas_ppl[i]);
        yhi = fmax(yhi, s->meas_ppl[i]);
    }
    if (use_ppl && isfinite(s->fp32_ppl))
        ylo = fmin(ylo, s->fp32_ppl);
    if (!(yhi > ylo))
        yhi = ylo + 1e-3;
    if (!(xhi > xlo))
        xhi = xlo + 1e-3;
    int lw = 9; /* y-axis labels */
    int cw = r->w - 2 - lw, ch = r->h - 3;
    if (cw < 4 || ch < 2)
        return;
    ui_canvas c;
    if (ui_canvas_init(&c, cw, ch, a->utf8))
        return;
    int px = 0, py = 0;
    for (int i = 0; i < s->n_curve; i++) {
        int dx, dy;
        ui_canvas_map(&c, s->curve_bits[i], cy[i], xlo, xhi, ylo, yhi, &dx, &dy);
        if (i > 0)
            ui_canvas_line(&c, px, py, dx, dy);
        else
            ui_canvas_dot(&c, dx, dy);
        px = dx;
        py = dy;
    }
    for (int i = 0; use_ppl && i < s->n_meas; i++)
        ui_canvas_mark(&c, s->meas_bits[i], s->meas_ppl[i], xlo, xhi, ylo, yhi, 'o');
    if (s->solved)
        ui_canvas_mark(&c, s->res.avg_bits, use_ppl ? s->proj_ppl : s->res.objective, xlo, xhi, ylo, yhi, '@');
    draw_canvas(a, &c, r->y + 1, r->x + 1 + lw);
    ui_canvas_free(&c);
    char lab[32];
    snprintf(lab, sizeof lab, use_ppl ? "%8.3f" : "%8.2e", yhi);
    mvaddstr(r->y + 1, r->x + 1, lab);
    snprintf(lab, sizeof lab, use_ppl ? "%8.3f" : "%8.2e", ylo);
    mvaddstr(r->y + ch, r->x + 1, lab);
    snprintf(lab, sizeof lab, "%.2f b", xlo);
    mvaddstr(r->y + r->h - 2, r->x + 1 + lw, lab);
    snprintf(lab, sizeof lab, "%.2f b", xhi);
    mvaddstr(r->y + r->h - 2, r->x + r->w - 1 - (int)strlen(lab), lab);
}

/* One curve in a strip of the search panel. */
static void draw_strip(ui_app *a, int y, int x, int w, int h, const char *name, const double *v, int n)
{
    if (h < 1 || w < 12 || n < 1)
        return;
    double lo = v[0], hi = v[0];
    for (int i = 0; i < n; i++) {
        lo = fmin(lo, v[i]);
        hi = fmax(hi, v[i]);
    }
    char lab[64];
    snprintf(lab, sizeof lab, "%-6.6s%8.4g", name, v[n - 1]);
    mvaddnstr(y, x, lab, w);
    int cw = w - 15;
    if (cw < 2)
        return;
    ui_canvas c;
    if (ui_canvas_init(&c, cw, h, a->utf8))
        return;
    int W = ui_canvas_dots_w(&c), first = n > W ? n - W : 0, px = 0, py = 0;
    for (int i = first; i < n; i++) {
        int dx, dy;
        ui_canvas_map(&c, i - first, v[i], 0, W - 1, lo, hi > lo ? hi : lo + 1e-9, &dx, &dy);
        if (i > first)
            ui_canvas_line(&c, px, py, dx, dy);
        px = dx;
        py = dy;
    }
    draw_canvas(a, &c, y, x + 15);
    ui_canvas_free(&c);
}

static void draw_search(ui_app *a)
{
    const ui_rect *r = &a->lay.search;
    if (!ui_rect_visible(r))
        return;
    const ui_search_hist *h = &a->wb->search;
    box_title(r, "search");
    if (h->n == 0) {
        mvaddnstr(r->y + 1, r->x + 2, "no search yet (:anneal dmx|gamma)", r->w - 4);
        return;
    }
    char buf[128];
    snprintf(buf, sizeof buf, "step %ld  settled %d/%d  reg %.4g", h->step[h->n - 1], ui_search_n_settled(h),
             h->n_modules, h->reg[h->n - 1]);
    mvaddnstr(r->y + 1, r->x + 2, buf, r->w - 4);
    int sh = (r->h - 3) / 3;
    if (sh < 1)
        sh = 1;
    draw_strip(a, r->y + 2, r->x + 1, r->w - 2, sh, "loss", h->loss, h->n);
    draw_strip(a, r->y + 2 + sh, r->x + 1, r->w - 2, sh, a->wb->anneal.method == SEARCH_GAMMA ? "mult" : "temp",
               h->temp, h->n);
    draw_strip(a, r->y + 2 + 2 * sh, r->x + 1, r->w - 2, sh, "bits", h->bits, h->n);
}

static void draw_status(ui_app *a)
{
    const ui_rect *r = &a->lay.status;
    ui_wb *wb = a->wb;
    attrset(A_NORMAL);
    move(r->y, r->x);
    clrtoeol();
    char right[96] = "";
    if (ui_state_has_scores(st(a)))
        snprintf(right, sizeof right, " solve %.1f ms  key %.1f ms", st(a)->solve_ms, a->key_ms);
    int rw = (int)strlen(right);
    int x = r->x;
    if (wb->job.kind != UI_JOB_NONE) {
        double frac = wb->job_total > 0 ? wb->job_done / wb->job_total : 0;
        int bw = 20, fill = (int)(frac * bw + 0.5);
        char bar[64];
        snprintf(bar, sizeof bar, "%s [", ui_job_name(wb->job.kind));
        mvaddstr(r->y, x, bar);
        attron(A_REVERSE);
        for (int i = 0; i < fill; i++)
            addch(' ');
        attroff(A_REVERSE);
        for (int i = fill; i < bw; i++)
            addch('.');
        printw("] %3.0f%% (Esc cancels) ", 100 * frac);
        x = getcurx(stdscr);
    }
    const char *msg = a->status[0] ? a->status : wb->scores_hint;
    if (a->mode == MODE_COMMAND && ui_cmdline_hint()[0])
        msg = ui_cmdline_hint();
    attrset(a->status_err ? (a->color ? COLOR_PAIR(PAIR_ERR) | A_BOLD : A_BOLD | A_REVERSE) : A_NORMAL);
    int room = r->w - (x - r->x) - rw - 2;
    if (room > 0)
        mvaddnstr(r->y, x, msg, room);
    attrset(A_DIM);
    if (rw < r->w)
        mvaddstr(r->y, r->x + r->w - rw, right);
    attrset(A_NORMAL);
}

static void draw_hints(ui_app *a)
{
    if (a->mode == MODE_COMMAND || !a->cmdwin)
        return;
    werase(a->cmdwin);
    const char *h;
    if (a->mode == MODE_PIN)
        h = "pin: press the number of a format, Esc cancels";
    else
        h = "<-/-> budget  PgUp/Dn coarse  hjkl move  f format  a view  p pin  u unpin  e eval  : cmd  ? help  q quit";
    wattron(a->cmdwin, A_DIM);
    mvwaddnstr(a->cmdwin, 0, 0, h, getmaxx(a->cmdwin) - 1);
    wattroff(a->cmdwin, A_DIM);
    wnoutrefresh(a->cmdwin);
}

static const char *const help_lines[] = {
    "Keys",
    "  Left/Right, -/+     budget -/+ 0.05 bits per weight",
    "  PgDn/PgUp           budget -/+ 0.5",
    "  mouse               click or drag the budget bar; click a cell",
    "  h j k l, Up/Down    move the cursor (Shift-Left/Right too)",
    "  f / F               next / previous format for the score view",
    "  a                   toggle: score view / assigned formats",
    "  p then 1..9         pin the module under the cursor to a format",
    "  u                   unpin it      e  measure perplexity (eval)",
    "  S                   compute kl scores for the --text (score)",
    "  Esc                 cancel the running job",
    "  :                   command line (Tab completes, Up/Down history)",
    "  ?                   this help     q, Ctrl-C  quit",
    "Commands",
    NULL,
};

static void draw_help(ui_app *a)
{
    int rows, cols;
    getmaxyx(stdscr, rows, cols);
    int n = 0;
    while (help_lines[n])
        n++;
    int h = n + UI_CMD_COUNT + 3, w = 86;
    if (w > cols)
        w = cols;
    if (h > rows)
        h = rows;
    ui_rect r = {(rows - h) / 2, (cols - w) / 2, h, w};
    for (int y = 0; y < h; y++)
        mvhline(r.y + y, r.x, ' ', w);
    box_title(&r, "help (any key closes)");
    int y = r.y + 1;
    for (int i = 0; help_lines[i] && y < r.y + h - 1; i++, y++) {
        if (help_lines[i][0] != ' ')
            attron(A_BOLD);
        mvaddnstr(y, r.x + 2, help_lines[i], w - 4);
        attroff(A_BOLD);
    }
    for (int i = 0; i < UI_CMD_COUNT && y < r.y + h - 1; i++, y++) {
        char buf[160];
        snprintf(buf, sizeof buf, "  %s", ui_cmd_usage((ui_cmd_id)i));
        mvaddnstr(y, r.x + 2, buf, w - 4);
    }
    (void)a;
}

static void draw(ui_app *a)
{
    erase();
    if (a->lay.too_small) {
        mvprintw(0, 0, "terminal too small: need %dx%d", UI_MIN_COLS, UI_MIN_ROWS);
        draw_status(a);
    } else {
        draw_title(a);
        draw_budget(a);
        draw_heat(a);
        draw_info(a);
        draw_pareto(a);
        draw_search(a);
        draw_status(a);
        if (a->mode == MODE_HELP)
            draw_help(a);
    }
    wnoutrefresh(stdscr);
    if (a->mode == MODE_COMMAND) {
        curs_set(1);
        ui_cmdline_redraw();
    } else {
        curs_set(0);
        draw_hints(a);
    }
    doupdate();
}

/* ---- actions ---- */

static void set_budget(ui_app *a, double b)
{
    ui_state *s = &a->wb->st;
    if (!ui_state_has_scores(s)) {
        app_msg(a, UI_MSG_ERROR, a->wb->scores_hint);
        return;
    }
    double lo, hi;
    ui_state_budget_range(s, &lo, &hi);
    if (isfinite(lo) && b < lo)
        b = lo;
    if (isfinite(hi) && b > hi)
        b = hi;
    s->budget = round(b * 1000) / 1000;
    a->status[0] = '\0';
    a->status_err = 0;
    ui_wb_resolve(a->wb, 0);
}

static void move_cursor(ui_app *a, int dl, int dk)
{
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
    if (a->cur_layer < a->first_layer)
        a->first_layer = a->cur_layer;
    if (a->cur_layer >= a->first_layer + a->lay.heat_rows)
        a->first_layer = a->cur_layer - a->lay.heat_rows + 1;
}

static void cycle_format(ui_app *a, int dir)
{
    const ui_state *s = st(a);
    if (!ui_state_has_scores(s))
        return;
    int j = score_table_format_index(&s->t, (mx_format)a->view_fmt);
    j = (j + dir + s->t.n_formats) % s->t.n_formats;
    a->view_fmt = s->t.formats[j];
    a->show_assigned = 0;
}

static void run_line(ui_app *a, const char *line)
{
    ui_wb *wb = a->wb;
    a->status[0] = '\0';
    a->status_err = 0;
    ui_cmd c;
    char err[600];
    int rc = ui_cmd_parse(line, &c, err, sizeof err);
    if (rc < 0) {
        app_msg(a, UI_MSG_ERROR, err);
        return;
    }
    if (rc == 1)
        return;
    if (c.id == UI_CMD_HELP) {
        a->mode = MODE_HELP;
        return;
    }
    ui_wb_exec(wb, &c);
    if (c.id == UI_CMD_LOAD_SCORES)
        build_index(a);
}

static void start_pin(ui_app *a)
{
    const ui_state *s = st(a);
    if (!ui_state_has_scores(s)) {
        app_msg(a, UI_MSG_ERROR, a->wb->scores_hint);
        return;
    }
    if (cur_module(a) < 0)
        return;
    char buf[512];
    int n = snprintf(buf, sizeof buf, "pin to:");
    for (int j = 0; j < s->t.n_formats && j < 9 && n < (int)sizeof buf; j++)
        n += snprintf(buf + n, sizeof buf - (size_t)n, " %d %s", j + 1, ui_format_short(s->t.formats[j]));
    app_msg(a, UI_MSG_INFO, buf);
    a->mode = MODE_PIN;
}

static void finish_pin(ui_app *a, int key)
{
    ui_state *s = &a->wb->st;
    a->mode = MODE_NORMAL;
    int j = key - '1';
    if (key == 27 || j < 0 || j >= s->t.n_formats || j >= 9) {
        app_msg(a, UI_MSG_INFO, "pin cancelled");
        return;
    }
    char line[256];
    snprintf(line, sizeof line, "pin %s %s", s->t.modules[cur_module(a)].name, mx_format_name(s->t.formats[j]));
    run_line(a, line);
}

static void handle_mouse(ui_app *a)
{
    MEVENT me;
    if (getmouse(&me) != OK)
        return;
    ui_state *s = &a->wb->st;
    int on_bar = me.y == a->lay.budget.y;
    if (me.bstate & (BUTTON1_PRESSED | BUTTON1_CLICKED) && on_bar)
        a->dragging = 1;
    if ((a->dragging || on_bar) && ui_state_has_scores(s) &&
        (me.bstate & (BUTTON1_PRESSED | BUTTON1_CLICKED | BUTTON1_RELEASED | REPORT_MOUSE_POSITION))) {
        double lo, hi;
        bar_range(s, &lo, &hi);
        int x0, w;
        ui_layout_budget_track(&a->lay, &x0, &w);
        int x = me.x < x0 ? x0 : me.x >= x0 + w ? x0 + w - 1 : me.x;
        double b = ui_layout_budget_at(&a->lay, lo, hi, x);
        if (b > 0)
            set_budget(a, b);
    }
    if (me.bstate & (BUTTON1_RELEASED | BUTTON1_CLICKED))
        a->dragging = 0;
    int layer, kind;
    if (!on_bar && (me.bstate & (BUTTON1_PRESSED | BUTTON1_CLICKED)) &&
        ui_layout_heat_hit(&a->lay, a->first_layer, a->n_layers, TF_NLIN, me.y, me.x, &layer, &kind) == 0) {
        a->cur_layer = layer;
        a->cur_kind = kind;
    }
}

/* Returns 1 to quit. */
static int handle_key(ui_app *a, int ch)
{
    ui_wb *wb = a->wb;
    if (ch == KEY_RESIZE) {
        relayout(a);
        clearok(curscr, TRUE);
        return 0;
    }
    if (a->mode == MODE_COMMAND) {
        char *line;
        int r = ui_cmdline_feed(ch, &line);
        if (r != 0)
            a->mode = MODE_NORMAL;
        if (r == 1) {
            run_line(a, line);
            free(line);
        }
        return wb->quit;
    }
    if (a->mode == MODE_HELP) {
        a->mode = MODE_NORMAL;
        return 0;
    }
    if (a->mode == MODE_PIN) {
        finish_pin(a, ch);
        return 0;
    }
    double b = wb->st.budget;
    switch (ch) {
    case 'q': case 3: return 1;
    case KEY_LEFT: case '-': set_budget(a, b - BUDGET_FINE); break;
    case KEY_RIGHT: case '+': case '=': set_budget(a, b + BUDGET_FINE); break;
    case KEY_NPAGE: set_budget(a, b - BUDGET_COARSE); break;
    case KEY_PPAGE: set_budget(a, b + BUDGET_COARSE); break;
    case 'h': case KEY_SLEFT: move_cursor(a, 0, -1); break;
    case 'l': case KEY_SRIGHT: move_cursor(a, 0, 1); break;
    case 'k': case KEY_UP: move_cursor(a, -1, 0); break;
    case 'j': case KEY_DOWN: move_cursor(a, 1, 0); break;
    case 'f': cycle_format(a, 1); break;
    case 'F': cycle_format(a, -1); break;
    case 'a': case '\t': a->show_assigned = !a->show_assigned; break;
    case 'p': start_pin(a); break;
    case 'u':
        if (ui_state_has_scores(&wb->st) && cur_module(a) >= 0) {
            char line[200];
            snprintf(line, sizeof line, "unpin %s", wb->st.t.modules[cur_module(a)].name);
            run_line(a, line);
        }
        break;
    case 'e': run_line(a, "eval"); break;
    case 'S': run_line(a, "score"); break;
    case 27:
        if (wb->job.kind != UI_JOB_NONE)
            run_line(a, "cancel");
        break;
    case '?': a->mode = MODE_HELP; break;
    case ':':
        a->mode = MODE_COMMAND;
        ui_cmdline_begin(a->cmdwin);
        break;
    case KEY_MOUSE: handle_mouse(a); break;
    case 12: clearok(curscr, TRUE); break; /* Ctrl-L */
    default: break;
    }
    return wb->quit;
}

static void init_colors(ui_app *a)
{
    a->color = has_colors() && !getenv("NO_COLOR");
    if (!a->color)
        return;
    start_color();
    use_default_colors();
    /* cool -> hot; on 256-colour terminals a smoother ramp */
    static const short c8[UI_NBINS] = {COLOR_BLUE, COLOR_CYAN, COLOR_GREEN, COLOR_YELLOW, COLOR_MAGENTA, COLOR_RED};
    static const short c256[UI_NBINS] = {24, 37, 71, 178, 208, 160};
    for (int b = 0; b < UI_NBINS; b++)
        init_pair((short)(PAIR_BIN0 + b), COLOR_BLACK, COLORS >= 256 ? c256[b] : c8[b]);
    init_pair(PAIR_TITLE, COLOR_WHITE, COLOR_BLUE);
    init_pair(PAIR_ERR, COLOR_RED, -1);
    init_pair(PAIR_OK, COLOR_GREEN, -1);
    init_pair(PAIR_CURVE, COLOR_CYAN, -1);
    init_pair(PAIR_MEAS, COLOR_YELLOW, -1);
    init_pair(PAIR_CUR, COLOR_RED, -1);
}

int ui_app_run(ui_wb *wb)
{
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        fprintf(stderr, "mxalloc: the workbench needs a terminal (use --script FILE otherwise)\n");
        return 1;
    }
    setlocale(LC_ALL, "");
    ui_app a;
    memset(&a, 0, sizeof a);
    a.wb = wb;
    a.n_layers = wb->m.cfg.n_layers > 0 ? wb->m.cfg.n_layers : 1;
    a.mod_at = malloc((size_t)a.n_layers * TF_NLIN * sizeof *a.mod_at);
    if (!a.mod_at) {
        fprintf(stderr, "mxalloc: out of memory\n");
        return 1;
    }
    const char *cs = nl_langinfo(CODESET);
    a.utf8 = cs && (!strcmp(cs, "UTF-8") || !strcmp(cs, "utf8"));
    build_index(&a);
    if (!ui_state_has_scores(&wb->st))
        a.view_fmt = MX_FP32;
    wb->msg = app_msg;
    wb->msg_user = &a;
    wb->interactive = 1;
    wb->st.time_limit_s = 0.04; /* key-to-screen under ~50 ms; the gap is shown when hit */

    if (ui_term_install()) {
        free(a.mod_at);
        fprintf(stderr, "mxalloc: cannot install signal handlers\n");
        return 1;
    }
    if (!getenv("ESCDELAY"))
        set_escdelay(25);
    if (!initscr()) {
        ui_term_uninstall();
        free(a.mod_at);
        return 1;
    }
    raw();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    mousemask(ALL_MOUSE_EVENTS | REPORT_MOUSE_POSITION, NULL);
    mouseinterval(0);
    init_colors(&a);
    ui_cmdline_init(wb);
    relayout(&a);
    if (wb->scores_hint[0])
        app_msg(&a, UI_MSG_INFO, wb->scores_hint);
    draw(&a);

    int quit = 0, had_scores = ui_state_has_scores(&wb->st);
    while (!quit) {
        struct pollfd p[3] = {{STDIN_FILENO, POLLIN, 0}, {ui_queue_fd(&wb->q), POLLIN, 0}, {ui_term_quit_fd(), POLLIN, 0}};
        int r = poll(p, 3, wb->job.kind != UI_JOB_NONE ? 250 : -1);
        if (ui_term_quit_signal())
            break;
        int dirty = r == 0;
        if (r > 0 && (p[0].revents & (POLLHUP | POLLERR)))
            break;
        /* Keys (and KEY_RESIZE after SIGWINCH interrupted poll). */
        int ch;
        while (!quit && (ch = wgetch(a.mode == MODE_COMMAND && a.cmdwin ? a.cmdwin : stdscr)) != ERR) {
            if (!a.t_key)
                a.t_key = now_ms();
            quit = handle_key(&a, ch);
            dirty = 1;
        }
        ui_event ev;
        while (ui_queue_pop(&wb->q, &ev)) {
            int kind = ev.kind;
            ui_wb_handle_event(wb, &ev);
            if (kind == UI_EV_DONE && !had_scores && ui_state_has_scores(&wb->st)) {
                build_index(&a); /* scores computed in the background */
                had_scores = 1;
            }
            if (kind == UI_EV_SEARCH || kind == UI_EV_DONE)
                relayout(&a); /* the search panel may appear */
            dirty = 1;
        }
        if (dirty && !quit) {
            draw(&a);
            if (a.t_key) {
                a.key_ms = now_ms() - a.t_key;
                a.t_key = 0;
            }
        }
    }
    ui_cmdline_shutdown();
    if (a.cmdwin)
        delwin(a.cmdwin);
    endwin();
    ui_term_uninstall();
    wb->msg = ui_script_msg;
    wb->msg_user = NULL;
    wb->interactive = 0;
    wb->st.time_limit_s = 0;
    free(a.mod_at);
    int sig = ui_term_quit_signal();
    return sig ? 128 + sig : 0;
}
