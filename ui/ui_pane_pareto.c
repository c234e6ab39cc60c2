/* The Pareto plot: the cached curve of projected perplexity (or summed
 * scores) against average bits, the measured points, the current one and
 * the references: fp32 (a y-axis label) and the uniform formats the score
 * table measured (4, 6, 8, i for mxint8). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "src/uniform.h"
#include "ui/ui_app.h"

/* The uniform formats with a measured perplexity, drawn as their digit. */
static char uniform_mark(mx_format f)
{
    const char *n = mx_format_name(f);
    return f == MX_INT8 ? 'i' : !strncmp(n, "mxfp", 4) ? n[4] : 0;
}

void ui_pane_pareto(ui_app *a)
{
    const ui_rect *r = &a->lay.pareto;
    a->plot_w = 0;
    if (!ui_rect_visible(r))
        return;
    const ui_state *s = &a->wb->st;
    if (!ui_state_has_scores(s)) {
        ui_pane_box(r, "Pareto");
        return;
    }
    /* Projected perplexity when the projection is available, else the
     * solver's own objective (summed scores, nats/token): same shape. */
    int use_ppl = s->n_curve > 0 && isfinite(s->curve_ppl[0]);
    if (r->w >= 64)
        ui_pane_box(r, use_ppl ? "Pareto: projected ppl vs avg bits  (@ current, o measured, 4 6 8 i uniform)"
                             : "Pareto: summed score (nats) vs avg bits  (@ current)");
    else
        ui_pane_box(r, use_ppl ? "ppl vs bits (@ now, o measured)" : "score sum vs bits (@ now)");
    if (s->n_curve < 1)
        return;
    const double *cy = use_ppl ? s->curve_ppl : s->curve_obj;
    double xlo = s->curve_bits[0], xhi = xlo, ylo = cy[0], yhi = ylo;
    for (int i = 0; i < s->n_curve; i++) {
        xlo = fmin(xlo, s->curve_bits[i]);
        xhi = fmax(xhi, s->curve_bits[i]);
        ylo = fmin(ylo, cy[i]);
        yhi = fmax(yhi, cy[i]);
    }
    for (int i = 0; use_ppl && i < s->n_meas; i++) {
        xlo = fmin(xlo, s->meas_bits[i]);
        xhi = fmax(xhi, s->meas_bits[i]);
        ylo = fmin(ylo, s->meas_ppl[i]);
        yhi = fmax(yhi, s->meas_ppl[i]);
    }
    /* the measured uniform formats near the view (within half a bit of it) */
    const score_table *t = &s->t;
    double ub[MX_NFORMATS], up[MX_NFORMATS];
    char mark[MX_NFORMATS];
    int nu = 0;
    for (int j = 0; use_ppl && j < t->n_formats; j++) {
        mx_format f = t->formats[j];
        ub[nu] = uniform_avg_bits(t, f);
        up[nu] = exp(t->uniform_loss[f]);
        mark[nu] = uniform_mark(f);
        if (mark[nu] && isfinite(ub[nu]) && isfinite(up[nu]) && ub[nu] <= xhi + 0.5)
            nu++;
    }
    for (int i = 0; i < nu; i++) {
        xlo = fmin(xlo, ub[i]);
        xhi = fmax(xhi, ub[i]);
        ylo = fmin(ylo, up[i]);
        yhi = fmax(yhi, up[i]);
    }
    if (use_ppl && isfinite(s->fp32_ppl))
        ylo = fmin(ylo, s->fp32_ppl);
    if (!(yhi > ylo))
        yhi = ylo + 1e-3;
    if (!(xhi > xlo))
        xhi = xlo + 1e-3;
    int lw = 9; /* y-axis labels */
    int cw = r->w - 2 - lw, ch = r->h - 3;
    if (cw < 4 || ch < 2)
        return;
    ui_canvas c;
    if (ui_canvas_init(&c, cw, ch, a->utf8))
        return;
    int px = 0, py = 0;
    for (int i = 0; i < s->n_curve; i++) {
        int dx, dy;
        ui_canvas_map(&c, s->curve_bits[i], cy[i], xlo, xhi, ylo, yhi, &dx, &dy);
        if (i > 0)
            ui_canvas_line(&c, px, py, dx, dy);
        else
            ui_canvas_dot(&c, dx, dy);
        px = dx;
        py = dy;
    }
    for (int i = 0; i < nu; i++)
        ui_canvas_mark(&c, ub[i], up[i], xlo, xhi, ylo, yhi, mark[i]);
    for (int i = 0; use_ppl && i < s->n_meas; i++)
        ui_canvas_mark(&c, s->meas_bits[i], s->meas_ppl[i], xlo, xhi, ylo, yhi, 'o');
    if (s->solved)
        ui_canvas_mark(&c, s->res.avg_bits, use_ppl ? s->proj_ppl : s->res.objective, xlo, xhi, ylo, yhi, '@');
    ui_pane_canvas(a, &c, r->y + 1, r->x + 1 + lw);
    a->plot_x0 = r->x + 1 + lw;
    a->plot_w = cw;
    a->plot_xlo = xlo;
    a->plot_xhi = xhi;
    int fp32_row = -1; /* fp32's level, marked on the axis (the bottom label is its value when lowest) */
    if (use_ppl && isfinite(s->fp32_ppl) && ch >= 4) {
        int dx, dy;
        ui_canvas_map(&c, xlo, s->fp32_ppl, xlo, xhi, ylo, yhi, &dx, &dy);
        fp32_row = r->y + 1 + dy * ch / ui_canvas_dots_h(&c);
        if (fp32_row >= r->y + ch)
            fp32_row = r->y + ch - 1;
    }
    ui_canvas_free(&c);
    char lab[32];
    snprintf(lab, sizeof lab, use_ppl ? "%8.3f" : "%8.2e", yhi);
    mvaddstr(r->y + 1, r->x + 1, lab);
    snprintf(lab, sizeof lab, use_ppl ? "%8.3f" : "%8.2e", ylo);
    mvaddstr(r->y + ch, r->x + 1, lab);
    if (fp32_row > r->y + 1)
        mvaddstr(fp32_row, r->x + 1, "  fp32 >");

    snprintf(lab, sizeof lab, "%.2f b", xlo);
    mvaddstr(r->y + r->h - 2, r->x + 1 + lw, lab);
    snprintf(lab, sizeof lab, "%.2f b", xhi);
    mvaddstr(r->y + r->h - 2, r->x + r->w - 1 - (int)strlen(lab), lab);
}
