/* A dot canvas for line plots in a text grid: each character cell holds 2x4
 * dots (Unicode braille, U+2800 + bit pattern), or with an ASCII fallback one
 * character per cell. Pure; the drawing code turns cells into characters. */
#ifndef MXALLOC_UI_PLOT_H
#define MXALLOC_UI_PLOT_H

#include <stdint.h>

typedef struct ui_canvas {
    int w, h;          /* in character cells */
    int braille;       /* 1: 2x4 dots per cell, 0: 1x1 */
    uint8_t *cells;    /* [h*w] dot bits (braille order) */
    char *mark;        /* [h*w] an overriding character (0 = none), e.g. the current point */
} ui_canvas;

int ui_canvas_init(ui_canvas *c, int w, int h, int braille); /* 0 or -1 */
void ui_canvas_free(ui_canvas *c);
void ui_canvas_clear(ui_canvas *c);
/* Dot resolution. */
int ui_canvas_dots_w(const ui_canvas *c);
int ui_canvas_dots_h(const ui_canvas *c);
/* Set one dot (dy = 0 is the top row); out-of-range is ignored. */
void ui_canvas_dot(ui_canvas *c, int dx, int dy);
/* Line between two dots (Bresenham). */
void ui_canvas_line(ui_canvas *c, int x0, int y0, int x1, int y1);
/* The same line with every other dot (a band's edge beside a solid curve);
 * *phase carries the pattern from one segment to the next. */
void ui_canvas_dotted(ui_canvas *c, int x0, int y0, int x1, int y1, int *phase);
/* Data coordinates -> dot coordinates for a plot over [xlo,xhi] x [ylo,yhi]
 * (y grows upward in data, downward on screen). */
void ui_canvas_map(const ui_canvas *c, double x, double y, double xlo, double xhi, double ylo, double yhi,
                   int *dx, int *dy);
/* Put a marker character over the cell holding data point (x, y). */
void ui_canvas_mark(ui_canvas *c, double x, double y, double xlo, double xhi, double ylo, double yhi,
                    char ch);
/* The cell's text: UTF-8 braille (3 bytes) or an ASCII char, or the marker;
 * out needs 5 bytes. Returns 1 when the cell is empty (" "). */
int ui_canvas_cell(const ui_canvas *c, int cx, int cy, char out[5]);

#endif
