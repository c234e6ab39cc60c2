/* The `?` box: the key bindings, printed from the binding table, then the
 * commands. Any key closes it. */

#include "ui/ui_app.h"

void ui_pane_help(const ui_app *a)
{
    (void)a;
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
    ui_rect r = {(rows - h) / 2, (cols - w) / 2, h, w};
    for (int y = 0; y < h; y++)
        mvhline(r.y + y, r.x, ' ', w);
    ui_pane_box(&r, "help (any key closes)");
    int y = r.y + 1;
    for (int i = 0; i < n && y < r.y + h - 1; i++, y++) {
        if (lines[i][0] != ' ')
            attron(A_BOLD);
        mvaddnstr(y, r.x + 2, lines[i], w - 4);
        attroff(A_BOLD);
    }
}
