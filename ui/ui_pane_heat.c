/* The heatmap: one row per layer, one cell per linear module, coloured by
 * score (log bins) or by the assigned format, with its legend. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernels/tf.h"
#include "ui/ui_app.h"

void ui_pane_heat(const ui_app *a)
{
    const ui_rect *r = &a->lay.heat;
    const ui_state *s = &a->wb->st;
    int cw = a->lay.cell_w, have = ui_state_has_scores(s);
    ui_pane_box(r, have ? (a->show_assigned ? "allocation" : "sensitivity") : "modules");
    int y = r->y + 1, x = r->x + 1;
    mvaddstr(y, x, "   ");
    for (int k = 0; k < TF_NLIN; k++) {
        char lab[16];
        snprintf(lab, sizeof lab, "%-*.*s", cw, cw - 1, model_kind_label(k));
        mvaddstr(y, x + UI_LABEL_W + k * cw, lab);
    }
    /* score range of the viewed format (log bins), from ui_ctl_apply */
    double lo = a->heat_lo, hi = a->heat_hi;
    for (int row = 0; row < a->lay.heat_rows; row++) {
        int layer = a->first_layer + row;
        if (layer >= a->n_layers)
            break;
        int yy = y + 1 + row;
        mvprintw(yy, x, "%3d ", layer);
        for (int k = 0; k < TF_NLIN; k++) {
            int m = a->mod_at[layer * TF_NLIN + k];
            char cell[16];
            int bin = -1, tw = cw - 2; /* text, then the pin marker, then a gap */
            if (m < 0 || !have) {
                snprintf(cell, sizeof cell, "%-*s", tw, m < 0 && have ? "" : " ..");
            } else if (a->show_assigned) {
                int f = ui_ctl_search_format(a, m);
                if (f < 0)
                    f = s->solved ? s->choice[m] : -1;
                bin = f >= 0 ? ui_bits_bin(s->t.modules[m].bits[f]) : -1;
                double keep = ui_state_keep_frac(s, m);
                if (keep < 1.0 && f >= 0) { /* pruned: the share kept, coloured by its format */
                    char pc[8];
                    snprintf(pc, sizeof pc, keep > 0 ? "%.0f%%" : "off", 100.0 * keep);
                    snprintf(cell, sizeof cell, "%-*.*s", tw, tw, pc);
                    if (keep == 0)
                        bin = -1;
                } else
                    snprintf(cell, sizeof cell, "%-*.*s", tw, tw, f >= 0 ? ui_format_short((mx_format)f) : "?");
            } else {
                double v = s->t.modules[m].score[s->method][a->view_fmt];
                bin = ui_scale_bin(v, lo, hi, UI_NBINS);
                memset(cell, ui_scale_char(bin), (size_t)tw);
                cell[tw] = '\0';
                if (isnan(v))
                    memcpy(cell, "n/a", tw < 3 ? (size_t)tw : 3);
            }
            int pinned = m >= 0 && have && s->pin[m] >= 0;
            size_t cl = strlen(cell);
            cell[cl] = pinned ? '!' : ' ';
            cell[cl + 1] = '\0';
            attr_t at = ui_pane_bin_attr(a, bin);
            if (pinned)
                at |= A_UNDERLINE | A_BOLD;
            if (layer == a->cur_layer && k == a->cur_kind)
                at |= A_REVERSE;
            attrset(at);
            mvaddstr(yy, x + UI_LABEL_W + k * cw, cell);
            attrset(A_NORMAL);
            addch(' ');
            attrset(A_NORMAL);
        }
    }
    if (a->first_layer > 0)
        mvaddstr(y, x + 1, "^");
    if (a->first_layer + a->lay.heat_rows < a->n_layers)
        mvaddstr(y + a->lay.heat_rows, x, "v");
    /* legend: two rows above the bottom border */
    int ly = r->y + r->h - 3;
    move(ly, x);
    if (!have) {
        mvaddnstr(ly, x, "no scores: run `mxalloc score ...`", r->w - 2);
        mvaddnstr(ly + 1, x, "or :load-scores FILE", r->w - 2);
        return;
    }
    if (a->show_assigned) {
        mvaddnstr(ly, x, "fmt:", r->w - 2);
        int xx = x + 5;
        for (int j = 0; j < s->t.n_formats && xx + 5 < r->x + r->w; j++) {
            mx_format f = s->t.formats[j];
            attrset(ui_pane_bin_attr(a, ui_bits_bin(s->t.modules[0].bits[f])));
            mvaddstr(ly, xx, ui_format_short(f));
            attrset(A_NORMAL);
            xx += 5;
        }
        mvaddnstr(ly + 1, x, s->prune_on ? "! = pinned (kept whole)  NN% = kept, off = skipped" : "! = pinned",
                  r->w - 2);
    } else {
        char e0[16], e1[16];
        mvaddnstr(ly, x, "low", r->w - 2);
        int xx = x + 4;
        for (int b = 0; b < UI_NBINS && xx + 2 < r->x + r->w; b++) {
            attrset(ui_pane_bin_attr(a, b));
            mvaddch(ly, xx, ui_scale_char(b));
            addch(ui_scale_char(b));
            attrset(A_NORMAL);
            xx += 2;
        }
        mvaddnstr(ly, xx + 1, "high  ! pin", r->x + r->w - 2 - xx);
        ui_fmt_num(e0, 7, lo);
        ui_fmt_num(e1, 7, hi);
        char buf[96];
        snprintf(buf, sizeof buf, "%s..%s nats (log)", e0, e1);
        mvaddnstr(ly + 1, x, buf, r->w - 2);
    }
}
