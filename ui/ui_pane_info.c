/* The module pane: the module under the cursor, its format and scores. */
#include <stdio.h>
#include <string.h>

#include "kernels/tf.h"
#include "ui/ui_app.h"

void ui_pane_info(const ui_app *a)
{
    const ui_rect *r = &a->lay.info;
    if (!ui_rect_visible(r))
        return;
    const ui_state *s = &a->wb->st;
    ui_pane_box(r, "module");
    int m = ui_ctl_cur_module(a), x = r->x + 2, w = r->w - 4, y = r->y + 1;
    if (m < 0 || w < 8)
        return;
    const model_module *mm = &a->wb->m.modules[m];
    char buf[256];
    /* a name wider than the pane shows its end: the layer and kind tell modules apart */
    size_t nl = strlen(mm->name);
    int cut = (int)nl > w;
    attron(A_BOLD);
    if (cut)
        mvaddch(y, x, '~');
    mvaddnstr(y++, x + cut, cut ? mm->name + nl - (size_t)(w - 1) : mm->name, w - cut);
    attroff(A_BOLD);
    snprintf(buf, sizeof buf, "shape %d x %d  params %lld", mm->rows, mm->cols, (long long)mm->params);
    mvaddnstr(y++, x, buf, w);
    if (!ui_state_has_scores(s))
        return;
    int f = s->solved ? s->choice[m] : -1;
    double keep = ui_state_keep_frac(s, m);
    char kept[48] = "";
    if (s->prune_on && s->solved)
        snprintf(kept, sizeof kept, "  keep %.0f%% of its %s", 100.0 * keep, mm->kind <= TF_O ? "attention" : "MLP");
    snprintf(buf, sizeof buf, "format %s%s%s%s", f >= 0 && keep > 0 ? mx_format_name((mx_format)f) : "-", kept,
             s->pin[m] >= 0 ? "  (pinned)" : "",
             ui_ctl_search_format(a, m) >= 0 ? "  (search settled)" : "");
    mvaddnstr(y++, x, buf, w);
    snprintf(buf, sizeof buf, "%s score (nats) per format:", score_method_name(s->method));
    mvaddnstr(y++, x, buf, w);
    int ncol = w >= 40 ? 2 : 1, colw = w / ncol;
    int rows_left = r->y + r->h - 1 - y;
    for (int j = 0; j < s->t.n_formats; j++) {
        int row = j / ncol, col = j % ncol;
        if (row >= rows_left)
            break;
        mx_format g = s->t.formats[j];
        char num[16];
        ui_fmt_num(num, 8, s->t.modules[m].score[s->method][g]);
        const char *nm = mx_format_name(g); /* its label where the name does not fit */
        if ((int)strlen(nm) > 10 && colw - 1 < (int)strlen(nm) + 10)
            nm = mx_format_label(g);
        snprintf(buf, sizeof buf, "%c%-10s %8s", (int)g == f ? '>' : ' ', nm, num);
        if ((int)g == f)
            attron(A_BOLD);
        mvaddnstr(y + row, x + col * colw, buf, colw - 1);
        attroff(A_BOLD);
    }
}
