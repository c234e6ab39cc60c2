/* The live search panel: step, settled modules and three strips (loss,
 * temperature or multiplier, bits) of a dMX / GAMMA run. */
#include <math.h>
#include <stdio.h>

#include "ui/ui_app.h"

/* One curve in a strip of the search panel. */
static void draw_strip(const ui_app *a, int y, int x, int w, int h, const char *name, const double *v, int n)
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
    ui_pane_canvas(a, &c, y, x + 15);
    ui_canvas_free(&c);
}

void ui_pane_search(const ui_app *a)
{
    const ui_rect *r = &a->lay.search;
    if (!ui_rect_visible(r))
        return;
    const ui_search_hist *h = &a->wb->search;
    ui_pane_box(r, "search");
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
