/* Pane geometry for the workbench. */
#include "ui/ui_layout.h"

#include <string.h>

static ui_rect rect(int y, int x, int h, int w)
{
    ui_rect r = {y, x, h > 0 ? h : 0, w > 0 ? w : 0};
    if (!r.h || !r.w)
        r.h = r.w = 0;
    return r;
}

void ui_layout_compute(int rows, int cols, int n_layers, int n_kinds, int search, ui_layout *l)
{
    memset(l, 0, sizeof *l);
    l->rows = rows;
    l->cols = cols;
    if (n_kinds < 1)
        n_kinds = 1;
    if (rows < UI_MIN_ROWS || cols < UI_MIN_COLS) {
        l->too_small = 1;
        l->status = rect(rows - 1, 0, 1, cols);
        return;
    }
    l->title = rect(0, 0, 1, cols);
    l->budget = rect(1, 0, 2, cols);
    l->status = rect(rows - 2, 0, 1, cols);
    l->cmd = rect(rows - 1, 0, 1, cols);

    int body_y = 3, body_h = rows - 5;
    /* Cells get about half the width, 4..8 characters each; the info pane keeps >= 28. */
    int cw = (cols / 2 - UI_LABEL_W - 2) / n_kinds;
    if (cw > 8)
        cw = 8;
    while (cw > 4 && cols - (UI_LABEL_W + 2 + cw * n_kinds) < 28)
        cw--;
    /* 6 shows a whole format label (e2m1), its pin mark and a gap: worth taking from
     * the info pane while it keeps 28 (80 columns: 48 + 32) */
    if (cw < 6 && cols - (UI_LABEL_W + 2 + 6 * n_kinds) >= 28)
        cw = 6;
    if (cw < 4)
        cw = 4;
    l->cell_w = cw;
    int heat_w = UI_LABEL_W + 2 + cw * n_kinds;
    if (heat_w > cols)
        heat_w = cols;
    /* header row + one row per layer + two legend rows + border rows */
    int want_h = n_layers + 5;
    int info_min_h = 9; /* the info pane needs this many rows for a module's details */
    if (want_h < info_min_h)
        want_h = info_min_h;
    int heat_h = want_h < body_h ? want_h : body_h;
    int rest = body_h - heat_h;
    /* Keep room for a useful plot: shrink the heatmap (it scrolls) if the plot would be tiny. */
    if (rest > 0 && rest < 7 && heat_h - (7 - rest) >= info_min_h && body_h >= 16) {
        heat_h -= 7 - rest;
        rest = 7;
    }
    l->heat = rect(body_y, 0, heat_h, heat_w);
    l->heat_rows = heat_h - 5 > 0 ? heat_h - 5 : 1;
    if (l->heat_rows > n_layers)
        l->heat_rows = n_layers;
    l->info = rect(body_y, heat_w, heat_h, cols - heat_w);

    int low_y = body_y + heat_h;
    if (rest >= 7) {
        if (search && cols >= 80) {
            int pw = cols / 2;
            l->pareto = rect(low_y, 0, rest, pw);
            l->search = rect(low_y, pw, rest, cols - pw);
        } else if (search) {
            l->search = rect(low_y, 0, rest, cols);
        } else {
            l->pareto = rect(low_y, 0, rest, cols);
        }
    } else if (search && ui_rect_visible(&l->info) && l->info.w >= 30) {
        /* No room below: the search panel takes the info pane's place. */
        l->search = l->info;
        l->info = rect(0, 0, 0, 0);
    }
}

int ui_layout_heat_hit(const ui_layout *l, int first_layer, int n_layers, int n_kinds, int y, int x,
                       int *layer, int *kind)
{
    if (!ui_rect_visible(&l->heat))
        return -1;
    /* border row, header row, then layers; border col, label, then cells */
    int r = y - (l->heat.y + 2);
    int c = x - (l->heat.x + 1 + UI_LABEL_W);
    if (r < 0 || r >= l->heat_rows || c < 0 || c >= l->cell_w * n_kinds)
        return -1;
    int ly = first_layer + r;
    if (ly >= n_layers)
        return -1;
    *layer = ly;
    *kind = c / l->cell_w;
    return 0;
}

void ui_layout_budget_track(const ui_layout *l, int *x0, int *w)
{
    /* "budget [" ... "] " then the numeric readout "12.34 b" */
    *x0 = l->budget.x + 8;
    *w = l->budget.w - 8 - 10;
    if (*w < 1)
        *w = 1;
}

double ui_layout_budget_at(const ui_layout *l, double lo, double hi, int x)
{
    int x0, w;
    ui_layout_budget_track(l, &x0, &w);
    if (x < x0 || x >= x0 + w)
        return -1;
    if (w == 1)
        return lo;
    return lo + (hi - lo) * (double)(x - x0) / (double)(w - 1);
}
