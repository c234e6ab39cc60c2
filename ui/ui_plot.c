/* Braille / ASCII dot canvas. */
#include "ui/ui_plot.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int ui_canvas_init(ui_canvas *c, int w, int h, int braille)
{
    memset(c, 0, sizeof *c);
    if (w < 1 || h < 1)
        return -1;
    c->w = w;
    c->h = h;
    c->braille = braille;
    c->cells = calloc((size_t)w * h, 1);
    c->mark = calloc((size_t)w * h, 1);
    if (!c->cells || !c->mark) {
        ui_canvas_free(c);
        return -1;
    }
    return 0;
}

void ui_canvas_free(ui_canvas *c)
{
    free(c->cells);
    free(c->mark);
    memset(c, 0, sizeof *c);
}

void ui_canvas_clear(ui_canvas *c)
{
    memset(c->cells, 0, (size_t)c->w * c->h);
    memset(c->mark, 0, (size_t)c->w * c->h);
}

int ui_canvas_dots_w(const ui_canvas *c)
{
    return c->w * (c->braille ? 2 : 1);
}

int ui_canvas_dots_h(const ui_canvas *c)
{
    return c->h * (c->braille ? 4 : 1);
}

void ui_canvas_dot(ui_canvas *c, int dx, int dy)
{
    if (dx < 0 || dy < 0 || dx >= ui_canvas_dots_w(c) || dy >= ui_canvas_dots_h(c))
        return;
    if (!c->braille) {
        c->cells[dy * c->w + dx] = 1;
        return;
    }
    /* Braille dot numbering: column 0 rows 0-2 = bits 0,1,2, row 3 = bit 6;
     * column 1 rows 0-2 = bits 3,4,5, row 3 = bit 7. */
    static const uint8_t bit[4][2] = {{0x01, 0x08}, {0x02, 0x10}, {0x04, 0x20}, {0x40, 0x80}};
    c->cells[(dy / 4) * c->w + dx / 2] |= bit[dy % 4][dx % 2];
}

/* Bresenham; with phase, every other dot from *phase on. */
static void line(ui_canvas *c, int x0, int y0, int x1, int y1, int *phase)
{
    int dx = abs(x1 - x0), sx = x0 < x1 ? 1 : -1;
    int dy = -abs(y1 - y0), sy = y0 < y1 ? 1 : -1;
    int err = dx + dy;
    for (;;) {
        if (!phase || (*phase)++ % 2 == 0)
            ui_canvas_dot(c, x0, y0);
        if (x0 == x1 && y0 == y1)
            break;
        int e2 = 2 * err;
        if (e2 >= dy) {
            err += dy;
            x0 += sx;
        }
        if (e2 <= dx) {
            err += dx;
            y0 += sy;
        }
    }
}

void ui_canvas_line(ui_canvas *c, int x0, int y0, int x1, int y1)
{
    line(c, x0, y0, x1, y1, NULL);
}

void ui_canvas_dotted(ui_canvas *c, int x0, int y0, int x1, int y1, int *phase)
{
    line(c, x0, y0, x1, y1, phase);
}

static int map1(double v, double lo, double hi, int n)
{
    if (!(hi > lo) || !isfinite(v))
        return 0;
    int i = (int)lround((v - lo) / (hi - lo) * (n - 1));
    return i < 0 ? 0 : i > n - 1 ? n - 1 : i;
}

void ui_canvas_map(const ui_canvas *c, double x, double y, double xlo, double xhi, double ylo, double yhi,
                   int *dx, int *dy)
{
    int W = ui_canvas_dots_w(c), H = ui_canvas_dots_h(c);
    *dx = map1(x, xlo, xhi, W);
    *dy = H - 1 - map1(y, ylo, yhi, H);
}

void ui_canvas_mark(ui_canvas *c, double x, double y, double xlo, double xhi, double ylo, double yhi,
                    char ch)
{
    int dx, dy;
    ui_canvas_map(c, x, y, xlo, xhi, ylo, yhi, &dx, &dy);
    int cx = c->braille ? dx / 2 : dx, cy = c->braille ? dy / 4 : dy;
    c->mark[cy * c->w + cx] = ch;
}

int ui_canvas_cell(const ui_canvas *c, int cx, int cy, char out[5])
{
    memset(out, 0, 5);
    char m = c->mark[cy * c->w + cx];
    uint8_t bits = c->cells[cy * c->w + cx];
    if (m) {
        out[0] = m;
        return 0;
    }
    if (!bits) {
        out[0] = ' ';
        return 1;
    }
    if (!c->braille) {
        out[0] = '.';
        return 0;
    }
    unsigned cp = 0x2800u + bits;
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 0;
}
