/* The module list: the heatmap's modules one per row, sorted by a column
 * (ui_list.h; the order comes from ui_ctl_apply), with the cursor's row
 * reversed. Columns: LAYER.KIND (the short name alloc --pin takes), shape,
 * the current format (! pinned), its bits, the viewed format's score
 * coloured as the heatmap colours it, and the name's end where room is left. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "src/module_name.h"
#include "ui/ui_app.h"

void ui_pane_list(const ui_app *a)
{
    const ui_rect *r = &a->lay.heat;
    const ui_state *s = &a->wb->st;
    char title[64];
    snprintf(title, sizeof title, "modules by %s%s", ui_list_key_name(a->list_key), a->list_desc ? " (v)" : "");
    ui_pane_box(r, title);
    int x = r->x + 1, w = r->w - 2, y = r->y + 1, rows = ui_ctl_list_rows(a);
    if (!ui_state_has_scores(s) || !a->list_order || w < 30)
        return;
    char head[160], sc[16];
    snprintf(sc, sizeof sc, "%.6s:%s", score_method_name(s->method), ui_format_short((mx_format)a->view_fmt));
    /* fixed columns: the cursor mark, 7 id, 10 shape, 6 format, 5 bits, 8 score (with gaps): 41 */
    int name_w = w - 41;
    snprintf(head, sizeof head, " %-7s %10s %-6s %5s %8s%s", "module", "shape", "format", "bits", sc,
             name_w >= 8 ? " name" : "");
    attron(A_BOLD);
    mvaddnstr(y, x, head, w);
    attroff(A_BOLD);
    int cur = ui_ctl_cur_module(a), n = s->t.n_modules;
    for (int i = 0; i < rows && a->list_top + i < n; i++) {
        int m = a->list_order[a->list_top + i], yy = y + 1 + i;
        const score_module *sm = &s->t.modules[m];
        int f = ui_ctl_search_format(a, m);
        if (f < 0)
            f = s->solved ? s->choice[m] : -1;
        char id[16], shape[24], fmt[16], bits[16], score[16], line[200];
        if (module_name_short(sm->layer, sm->kind, id, sizeof id))
            snprintf(id, sizeof id, "?");
        snprintf(shape, sizeof shape, "%dx%d", sm->rows, sm->cols);
        snprintf(fmt, sizeof fmt, "%s%s", f >= 0 ? ui_format_short((mx_format)f) : "?", s->pin[m] >= 0 ? "!" : "");
        if (f >= 0)
            snprintf(bits, sizeof bits, "%5.2f", sm->bits[f]);
        else
            snprintf(bits, sizeof bits, "%5s", "-");
        double v = sm->score[s->method][a->view_fmt];
        ui_fmt_num(score, 8, v);
        attr_t at = m == cur ? A_REVERSE : A_NORMAL;
        attrset(at);
        /* the mark shows the cursor where reverse video does not (a capture, a dumb terminal) */
        snprintf(line, sizeof line, "%c%-7s %10s %-6s %5s ", m == cur ? '>' : ' ', id, shape, fmt, bits);
        mvaddnstr(yy, x, line, w);
        attrset(at | ui_pane_bin_attr(a, isnan(v) ? -1 : ui_scale_bin(v, a->heat_lo, a->heat_hi, UI_NBINS)));
        printw("%8s", score);
        attrset(at);
        if (name_w >= 8) { /* the name's end: the layer and kind tell modules apart */
            size_t nl = strlen(sm->name);
            int cut = (int)nl > name_w;
            printw(" %s", cut ? "~" : "");
            addnstr(cut ? sm->name + nl - (size_t)(name_w - 1) : sm->name, name_w - cut);
        }
        attrset(A_NORMAL);
    }
    if (a->list_top > 0)
        mvaddstr(y, r->x + r->w - 2, "^");
    if (a->list_top + rows < n)
        mvaddstr(y + rows, r->x + r->w - 2, "v");
    char legend[160];
    snprintf(legend, sizeof legend, "%d modules  o sort  O reverse  L grid", n);
    mvaddnstr(r->y + r->h - 2, x, legend, w);
}
