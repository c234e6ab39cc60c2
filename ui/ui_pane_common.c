/* Drawing helpers every pane uses: boxes, score-bin colours, braille canvases. */

#include "ui/ui_app.h"

attr_t ui_pane_bin_attr(const ui_app *a, int bin)
{
    if (bin < 0)
        return A_NORMAL;
    if (a->color)
        return COLOR_PAIR(UI_PAIR_BIN0 + bin);
    return bin >= UI_NBINS - 2 ? A_BOLD : A_NORMAL;
}

void ui_pane_box(const ui_rect *r, const char *title)
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

void ui_pane_canvas(const ui_app *a, const ui_canvas *c, int y, int x)
{
    for (int cy = 0; cy < c->h; cy++)
        for (int cx = 0; cx < c->w; cx++) {
            char s[5];
            ui_canvas_cell(c, cx, cy, s);
            char m = c->mark[cy * c->w + cx];
            attr_t at = A_NORMAL;
            if (m == '@')
                at = (a->color ? COLOR_PAIR(UI_PAIR_CUR) : 0) | A_BOLD | A_REVERSE;
            else if (m == 'o')
                at = (a->color ? COLOR_PAIR(UI_PAIR_MEAS) : 0) | A_BOLD;
            else if (a->color)
                at = COLOR_PAIR(UI_PAIR_CURVE);
            attrset(at);
            mvaddstr(y + cy, x + cx, s);
        }
    attrset(A_NORMAL);
}
