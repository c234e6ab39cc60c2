/* The two bottom lines: the status line (job progress, the last message,
 * solve and key times) and the key hints under it. */
#include <stdio.h>
#include <string.h>

#include "ui/ui_app.h"
#include "ui/ui_cmdline.h"

void ui_pane_status(const ui_app *a)
{
    const ui_rect *r = &a->lay.status;
    const ui_wb *wb = a->wb;
    attrset(A_NORMAL);
    move(r->y, r->x);
    clrtoeol();
    char right[96] = "";
    if (ui_state_has_scores(&a->wb->st))
        snprintf(right, sizeof right, " solve %.1f ms  key %.1f ms", a->wb->st.solve_ms, a->key_ms);
    int rw = (int)strlen(right);
    int x = r->x;
    if (wb->job.kind != UI_JOB_NONE) {
        double frac = ui_progress_frac(&wb->prog);
        int bw = 12, fill = (int)(frac * bw + 0.5);
        char bar[64];
        snprintf(bar, sizeof bar, "%s [", ui_job_name(wb->job.kind));
        mvaddstr(r->y, x, bar);
        attron(A_REVERSE);
        for (int i = 0; i < fill; i++)
            addch(' ');
        attroff(A_REVERSE);
        for (int i = fill; i < bw; i++)
            addch('.');
        char what[96];
        ui_progress_text(&wb->prog, what, sizeof what);
        printw("] %s (Esc cancels) ", what);
        x = getcurx(stdscr);
    }
    const char *msg = a->status[0] ? a->status : wb->scores_hint;
    if (a->mode == UI_MODE_COMMAND && ui_cmdline_hint()[0])
        msg = ui_cmdline_hint();
    attrset(a->status_err ? (a->color ? COLOR_PAIR(UI_PAIR_ERR) | A_BOLD : A_BOLD | A_REVERSE) : A_NORMAL);
    int room = r->w - (x - r->x) - rw - 2;
    if (room > 0)
        mvaddnstr(r->y, x, msg, room);
    attrset(A_DIM);
    if (rw < r->w)
        mvaddstr(r->y, r->x + r->w - rw, right);
    attrset(A_NORMAL);
}

void ui_pane_hints(const ui_app *a)
{
    if (a->mode == UI_MODE_COMMAND || !a->cmdwin)
        return;
    werase(a->cmdwin);
    const char *h;
    if (a->mode == UI_MODE_PIN)
        h = "pin: press the number of a format, Esc cancels";
    else if (a->list_view)
        h = "<-/-> budget  jk move  o sort  O reverse  L grid  p pin  u unpin  e eval  : cmd  ? help  q quit";
    else
        h = "<-/-> budget  PgUp/Dn coarse  hjkl move  f format  a view  p pin  u unpin  e eval  s sample  : cmd  ? help  q quit";
    wattron(a->cmdwin, A_DIM);
    mvwaddnstr(a->cmdwin, 0, 0, h, getmaxx(a->cmdwin) - 1);
    wattroff(a->cmdwin, A_DIM);
    wnoutrefresh(a->cmdwin);
}
