/* The budget bar and the numbers of the current solution (read from the
 * cached state: the range and the solution were computed when it changed). */
#include <math.h>
#include <stdio.h>

#include "ui/ui_app.h"

void ui_pane_budget(const ui_app *a)
{
    const ui_rect *r = &a->lay.budget;
    const ui_state *s = &a->wb->st;
    move(r->y, r->x);
    clrtoeol();
    move(r->y + 1, r->x);
    clrtoeol();
    if (!ui_state_has_scores(s)) {
        mvaddnstr(r->y, r->x, "budget  (no scores loaded)", r->w);
        return;
    }
    double lo, hi;
    ui_ctl_bar_range(a, &lo, &hi);
    int x0, w;
    ui_layout_budget_track(&a->lay, &x0, &w);
    mvaddstr(r->y, r->x, "budget [");
    int pos = isfinite(lo) ? ui_scale_map(s->budget, lo, hi, w) : -1;
    for (int i = 0; i < w; i++) {
        if (i == pos) {
            attron(A_REVERSE | A_BOLD);
            addch('|');
            attroff(A_REVERSE | A_BOLD);
        } else {
            addch(i < pos ? '=' : '-');
        }
    }
    printw("] %5.2f b", s->budget);
    char buf[512];
    if (s->solved) {
        double kb = s->res.bytes / 1024.0;
        char near[128] = "";
        if (s->near_fmt >= 0 && isfinite(s->near_ppl) && isfinite(s->proj_ppl))
            snprintf(near, sizeof near, "  %+.2f%% vs %s", 100 * (s->proj_ppl / s->near_ppl - 1),
                     mx_format_name((mx_format)s->near_fmt));
        char meas[64] = "";
        if (ui_state_is_current(s, a->wb->meas_fmts)) /* a measurement only beside what it measured */
            snprintf(meas, sizeof meas, "  measured %.4f", a->wb->meas_ppl);
        char lat[64] = "", gap[48] = "";
        if (s->hw && isfinite(s->res.latency)) { /* latency beside memory (--hw-table) */
            if (s->max_latency_ms > 0)
                snprintf(lat, sizeof lat, "  lat %.4g<=%.4g ms", s->res.latency, s->max_latency_ms);
            else
                snprintf(lat, sizeof lat, "  lat %.4g ms", s->res.latency);
        }
        if (!s->res.optimal)
            snprintf(gap, sizeof gap, "  [time limit: gap %.2g%%]", 100 * s->res.gap);
        if (isfinite(s->proj_ppl))
            /* most important first: at 80 columns the line ends after the measurement */
            snprintf(buf, sizeof buf, "%s  avg %.3f b/w  proj ppl %.4f (%+.2f%% vs fp32)%s%s  size %.1f KB%s%s",
                     s->alloc_name, s->res.avg_bits, s->proj_ppl, 100 * (s->proj_ppl / s->fp32_ppl - 1), meas,
                     near, kb, lat, gap);
        else
            snprintf(buf, sizeof buf, "%s  avg %.3f b/w  proj ppl n/a  score sum %.3g nats%s  size %.1f KB%s%s",
                     s->alloc_name, s->res.avg_bits, s->res.objective, meas, kb, lat, gap);
        attrset(A_BOLD);
    } else {
        snprintf(buf, sizeof buf, "%s", s->err[0] ? s->err : "no solution");
        attrset(a->color ? COLOR_PAIR(UI_PAIR_ERR) | A_BOLD : A_BOLD);
    }
    mvaddnstr(r->y + 1, r->x, buf, r->w);
    attrset(A_NORMAL);
}
