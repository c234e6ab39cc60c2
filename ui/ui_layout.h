/* Where each pane goes for a terminal size. Pure arithmetic, unit-tested:
 *   row 0          title
 *   rows 1-2       budget bar + numbers
 *   body           heatmap (left) | module info (right)
 *                  Pareto plot (left) | search panel (right), when room
 *   row rows-2     status line
 *   row rows-1     command line / key hints                                   */
#ifndef MXALLOC_UI_LAYOUT_H
#define MXALLOC_UI_LAYOUT_H

typedef struct ui_rect {
    int y, x, h, w; /* h == 0 or w == 0: hidden */
} ui_rect;

typedef struct ui_layout {
    int rows, cols;
    int too_small;     /* below UI_MIN_ROWS x UI_MIN_COLS: only a message is drawn */
    int cell_w;        /* heatmap cell width (characters) */
    int heat_rows;     /* transformer blocks visible at once (scrolls beyond) */
    ui_rect title, budget, heat, info, pareto, search, status, cmd;
} ui_layout;

#define UI_MIN_ROWS 12
#define UI_MIN_COLS 60
#define UI_LABEL_W 4   /* the layer-number column of the heatmap */

/* n_layers: rows of the heatmap; n_kinds: its columns; search: the live search
 * panel wants room (it takes the Pareto plot's place when both don't fit). */
void ui_layout_compute(int rows, int cols, int n_layers, int n_kinds, int search, ui_layout *out);

/* 1 when the rectangle is drawn. */
static inline int ui_rect_visible(const ui_rect *r)
{
    return r->h > 0 && r->w > 0;
}

/* The heatmap cell under screen position (y, x) given the first visible layer;
 * 0 and *layer, *kind set, or -1 outside the grid. */
int ui_layout_heat_hit(const ui_layout *l, int first_layer, int n_layers, int n_kinds, int y, int x,
                       int *layer, int *kind);
/* Budget under column x of the budget bar, for a bar spanning [lo, hi]; -1 when
 * x is outside the bar. */
double ui_layout_budget_at(const ui_layout *l, double lo, double hi, int x);
/* Bar geometry: first column and width of the draggable track. */
void ui_layout_budget_track(const ui_layout *l, int *x0, int *w);

#endif
