/* The box showing the last generated text sample. */
#include <stdio.h>

#include "ui/ui_app.h"

/* The last generated sample, word-wrapped in a box (any key closes). */
void ui_pane_sample(const ui_app *a)
{
    const ui_gen_job *g = &a->wb->gen;
    if (!g->text)
        return;
    int rows, cols;
    getmaxyx(stdscr, rows, cols);
    int w = cols < 86 ? cols : 86, h = rows < 16 ? rows : 16;
    ui_rect r = {(rows - h) / 2, (cols - w) / 2, h, w};
    for (int y = 0; y < h; y++)
        mvhline(r.y + y, r.x, ' ', w);
    char title[128];
    snprintf(title, sizeof title, "sample: %d tokens, %s, stop %s (any key closes)", g->n_new,
             g->fmts ? "allocation" : "fp32", g->stop ? g->stop : "?");
    ui_pane_box(&r, title);
    /* prompt + continuation, wrapped at spaces; width counted in UTF-8 characters */
    char buf[4096];
    snprintf(buf, sizeof buf, "%s%s", g->prompt, g->text);
    int width = w - 4, y = r.y + 1;
    const char *p = buf;
    while (*p && y < r.y + h - 1 && width > 0) {
        const char *brk = NULL, *q = p;
        int chars = 0;
        while (*q && *q != '\n' && chars < width) {
            if (*q == ' ')
                brk = q;
            if (((unsigned char)*q & 0xC0) != 0x80)
                chars++;
            q++;
        }
        while (((unsigned char)*q & 0xC0) == 0x80) /* never split a character */
            q++;
        const char *end = (*q && *q != '\n' && brk) ? brk : q;
        mvaddnstr(y++, r.x + 2, p, (int)(end - p));
        p = end;
        if (*p == ' ' || *p == '\n')
            p++;
    }
}
