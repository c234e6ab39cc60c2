/* The header line: model, size, what the heatmap shows. */
#include <stdio.h>
#include <string.h>

#include "kernels/tf.h"
#include "ui/ui_app.h"

void ui_pane_title(const ui_app *a)
{
    const ui_rect *r = &a->lay.title;
    const ui_wb *wb = a->wb;
    char buf[1024];
    const char *name = strrchr(wb->m.path, '/');
    name = name ? name + 1 : wb->m.path;
    char view[96];
    if (a->show_assigned)
        snprintf(view, sizeof view, "view: assigned format");
    else
        snprintf(view, sizeof view, "view: %s score of %s", score_method_name(a->wb->st.method),
                 mx_format_name((mx_format)a->view_fmt));
    const char *sp = strrchr(wb->st.scores_path, '/'); /* which score file: `:status` says more */
    sp = sp ? sp + 1 : wb->st.scores_path;
    snprintf(buf, sizeof buf, " mxalloc  %.200s  %d layers x %d modules  %s  ?:help  scores %.100s", name,
             wb->m.cfg.n_layers, TF_NLIN, ui_state_has_scores(&a->wb->st) ? view : "no scores", sp[0] ? sp : "none");
    attrset(a->color ? COLOR_PAIR(UI_PAIR_TITLE) | A_BOLD : A_REVERSE);
    mvhline(r->y, r->x, ' ', r->w);
    mvaddnstr(r->y, r->x, buf, r->w);
    attrset(A_NORMAL);
}
