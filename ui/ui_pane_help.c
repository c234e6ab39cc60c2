/* The `?` box: the key bindings, printed from the binding table, then the
 * commands. On a short terminal it scrolls (j/k, arrows, Space, PgUp/PgDn);
 * any other key closes it. */

#include "ui/ui_app.h"

void ui_pane_help(ui_app *a)
{
    int rows, cols;
    getmaxyx(stdscr, rows, cols);
    int w = 86;
    if (w > cols)
        w = cols;
    char lines[64][UI_HELP_LINE];
    int n = ui_keys_help_lines(w - 4, lines, 64);
    int h = n + 3;
    if (h > rows)
        h = rows;
    int shown = h - 2, top_max = n > shown ? n - shown : 0;
    a->help_top = a->help_top < 0 ? 0 : a->help_top > top_max ? top_max : a->help_top;
    ui_rect r = {(rows - h) / 2, (cols - w) / 2, h, w};
    for (int y = 0; y < h; y++)
        mvhline(r.y + y, r.x, ' ', w);
    char title[64];
    if (top_max)
        snprintf(title, sizeof title, "help %d-%d of %d (j/k scroll, other keys close)", a->help_top + 1,
                 a->help_top + shown, n);
    else
        snprintf(title, sizeof title, "help (any key closes)");
    ui_pane_box(&r, title);
    int y = r.y + 1;
    for (int i = a->help_top; i < n && y < r.y + h - 1; i++, y++) {
        if (lines[i][0] != ' ')
            attron(A_BOLD);
        mvaddnstr(y, r.x + 2, lines[i], w - 4);
        attroff(A_BOLD);
    }
}
