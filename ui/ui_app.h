/* The curses workbench's own state, shared by the event loop (ui_app.c), the
 * controller (ui_ctl.c), the key bindings (ui_keys.c) and the panes
 * (ui_pane_*.c). Panes only draw: everything they show was computed by the
 * controller when the state changed (ui_state_update_view), never while
 * drawing. */
#ifndef MXALLOC_UI_APP_H
#define MXALLOC_UI_APP_H

#define NCURSES_WIDECHAR 1
#include <curses.h>

#include "ui/ui.h"
#include "ui/ui_layout.h"
#include "ui/ui_list.h"
#include "ui/ui_plot.h"
#include "ui/ui_scale.h"

enum { UI_MODE_NORMAL = 0, UI_MODE_COMMAND, UI_MODE_PIN, UI_MODE_HELP, UI_MODE_SAMPLE };
enum { UI_PAIR_BIN0 = 1, UI_PAIR_TITLE = UI_PAIR_BIN0 + UI_NBINS, UI_PAIR_ERR, UI_PAIR_OK, UI_PAIR_CURVE,
       UI_PAIR_MEAS, UI_PAIR_CUR };

/* What an action leaves to be redone (bits, or-ed): the loop re-solves, then
 * updates the cached views, re-lays out, repaints. */
enum {
    UI_REDO_DRAW = 1u << 0,   /* draw the screen */
    UI_REDO_SOLVE = 1u << 1,  /* re-solve for the current budget */
    UI_REDO_LAYOUT = 1u << 2, /* recompute the pane geometry */
    UI_REDO_CLEAR = 1u << 3,  /* repaint every cell (Ctrl-L) */
    UI_REDO_INDEX = 1u << 4,  /* the score table changed: rebuild the grid index */
    UI_REDO_QUIT = 1u << 5,   /* leave the workbench */
};

#define UI_BUDGET_FINE 0.05
#define UI_BUDGET_COARSE 0.5
#define UI_CURVE_POINTS 24 /* points of the Pareto curve */

typedef struct ui_app {
    ui_wb *wb;
    ui_layout lay;
    int n_layers;
    int *mod_at;            /* [n_layers * TF_NLIN] module index or -1 */
    int cur_layer, cur_kind, first_layer;
    int view_fmt;           /* mx_format whose scores colour the heatmap */
    int show_assigned;      /* 1: colour by the assigned format instead */
    int list_view;          /* 1: the sorted module list in the heatmap's place */
    ui_list_key list_key;   /* its sort column ... */
    int list_desc;          /* ... largest first */
    int *list_order;        /* [n_modules] module indices in list order (ui_ctl_apply) */
    int list_top;           /* first list row shown */
    double heat_lo, heat_hi;/* score range of view_fmt over every module (ui_ctl_apply) */
    int color, utf8;
    int mode;
    char status[1024];
    int status_err;
    int dragging;
    int quit_armed;         /* q pressed while a job runs: the next q quits */
    int help_top;           /* first help line shown (the box scrolls) */
    char find[128];         /* the last `/` text: n / N repeat it */
    int plot_x0, plot_w;    /* the Pareto plot's drawing columns (plot_w 0: none) ... */
    double plot_xlo, plot_xhi; /* ... and the bits at its two ends: a click there sets the budget */
    double key_ms;          /* last key-to-screen time */
    double t_key;           /* when the key being handled arrived (0: none) */
    WINDOW *cmdwin;
} ui_app;

/* ---- controller (ui_ctl.c): state changes, no drawing ---- */

/* The status line message (wb->msg of the curses app). */
void ui_ctl_msg(void *user, ui_msg_level level, const char *text);
void ui_ctl_clear_msg(ui_app *a);
/* Module index under the cursor, or -1. */
int ui_ctl_cur_module(const ui_app *a);
/* Rebuild the (layer, kind) -> module index after the score table changed. */
void ui_ctl_build_index(ui_app *a);
/* Clamp the budget to the cached range and ask for a re-solve. */
unsigned ui_ctl_set_budget(ui_app *a, double b);
/* Grid: dl layers, dk kinds. List view: dl rows of the list (dk unused). */
void ui_ctl_move_cursor(ui_app *a, int dl, int dk);
/* Keep the cursor's layer (list view: its row) inside the visible rows. */
void ui_ctl_scroll(ui_app *a);
/* List rows shown at once in the list view (its box, header and legend take 4). */
int ui_ctl_list_rows(const ui_app *a);
/* The cursor's row in the list view, or -1. */
int ui_ctl_list_pos(const ui_app *a);
/* Put the cursor on module m (list clicks and moves). */
void ui_ctl_set_cursor(ui_app *a, int m);
void ui_ctl_cycle_format(ui_app *a, int dir);
/* While a search runs: module m's most likely format once it has settled, else -1. */
int ui_ctl_search_format(const ui_app *a, int m);
/* Move the cursor to the next (dir 1) or previous (-1) module, in grid order
 * and wrapping, whose name contains text (case-insensitive); says which. */
void ui_ctl_find(ui_app *a, const char *text, int dir);
/* Run one `:` command line; returns the redo bits. */
unsigned ui_ctl_run_line(ui_app *a, const char *line);
/* Pin mode: the prompt, then the format chosen by a key (1..9, Esc cancels). */
unsigned ui_ctl_start_pin(ui_app *a);
unsigned ui_ctl_finish_pin(ui_app *a, int key);
/* Carry out the redo bits that need no terminal (solve, index) and bring the
 * cached views up to date; returns the bits left for the terminal. */
unsigned ui_ctl_apply(ui_app *a, unsigned redo);
/* The budget bar spans [lo, hi]: the feasible range cut at the knee of the
 * curve (keys may go beyond). From the cached range: no solve. */
void ui_ctl_bar_range(const ui_app *a, double *lo, double *hi);

/* ---- key bindings (ui_keys.c) ---- */

#define UI_KEYS_MAX 6

typedef struct ui_key_binding {
    int keys[UI_KEYS_MAX];  /* curses key codes, 0-terminated */
    const char *help;       /* what it does, for the `?` box */
    unsigned (*action)(ui_app *a, const int *arg);
    int arg[2];             /* the action's arguments: a step, a direction */
} ui_key_binding;

/* The table, n entries. */
const ui_key_binding *ui_keys_table(int *n);
/* The binding of key, or NULL. */
const ui_key_binding *ui_keys_find(int key);
/* Printable name of a key ("Left", "PgUp", "C-l", "Esc", "x"). */
const char *ui_key_name(int key, char *buf, size_t len);
/* The keys of binding b as shown in the help ("Right + ="). */
void ui_keys_label(const ui_key_binding *b, char *buf, size_t len);
/* The text of the `?` box for an inner width: "Keys", every binding (two
 * columns when they fit), "Commands", every command's usage. Lines of at
 * most UI_HELP_LINE-1 bytes; returns the count (at most max). */
#define UI_HELP_LINE 192
int ui_keys_help_lines(int width, char lines[][UI_HELP_LINE], int max);
/* Handle one key in the current mode; unknown keys say so on the status
 * line. Returns the redo bits. */
unsigned ui_keys_dispatch(ui_app *a, int key);

/* ---- panes (ui_pane_*.c): drawing only ---- */

void ui_pane_box(const ui_rect *r, const char *title);
attr_t ui_pane_bin_attr(const ui_app *a, int bin);
void ui_pane_canvas(const ui_app *a, const ui_canvas *c, int y, int x);
void ui_pane_title(const ui_app *a);
void ui_pane_budget(const ui_app *a);
void ui_pane_heat(const ui_app *a);
void ui_pane_list(const ui_app *a);
void ui_pane_info(const ui_app *a);
/* Also records where its x axis lies (plot_*) for mouse clicks. */
void ui_pane_pareto(ui_app *a);
void ui_pane_search(const ui_app *a);
void ui_pane_status(const ui_app *a);
void ui_pane_hints(const ui_app *a);
void ui_pane_help(ui_app *a);
void ui_pane_sample(const ui_app *a);

#endif
