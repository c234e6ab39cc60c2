/* The Pareto plot: the cached curve of projected perplexity (or summed
 * scores) against average bits with the projection's band (dotted), the
 * measured points (one letter per score method or search), the current one
 * and the references: fp32 (a y-axis label) and the uniform formats the
 * score table measured (4, 6, 8, i for mxint8). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "src/uniform.h"
#include "ui/ui_app.h"

/* The uniform formats with a measured perplexity, drawn as their digit (the
 * mse scale mode's as their glyph, a letter). */
static char uniform_mark(mx_format f)
{
    const char *n = mx_format_name(f);
    if (mx_format_scale_mode(f) != MX_SCALE_OCP_FLOOR)
        return mx_traits_of(f)->glyph;
    return f == MX_INT8 ? 'i' : !strncmp(n, "mxfp", 4) ? n[4] : 0;
}

/* "measured k kl  d dmx  .. band +-0.4%": the measured points' letters that are on the
 * plot, in a fixed order, and the band's width. */
static void pareto_legend(const ui_state *s, double band, char *out, size_t len)
{
    static const struct {
        char mark;
        const char *what;
    } marks[] = {{'k', "kl"}, {'f', "fisher"}, {'F', "fisher-out"}, {'g', "gamma"}, {'d', "dmx"}};
    size_t n = 0;
    out[0] = '\0';
    if (s->n_meas > 0)
        n = (size_t)snprintf(out, len, "measured ");
    for (size_t k = 0; k < sizeof marks / sizeof marks[0]; k++)
        for (int i = 0; i < s->n_meas; i++)
            if (s->meas_mark[i] == marks[k].mark) {
                n += (size_t)snprintf(out + n, len - n, "%c %s  ", marks[k].mark, marks[k].what);
                break;
            }
    if (band > 0 && n < len)
        snprintf(out + n, len - n, ".. band +-%.1f%%", 100 * band);
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
        ui_pane_box(r, use_ppl ? "Pareto: projected ppl vs avg bits  (@ current, 4 6 8 i uniform)"
                             : "Pareto: summed score (nats) vs avg bits  (@ current)");
    else
        ui_pane_box(r, use_ppl ? "ppl vs bits (@ now)" : "score sum vs bits (@ now)");
    if (s->n_curve < 1)
        return;
    const double *cy = use_ppl ? s->curve_ppl : s->curve_obj;
    /* the band: projected ppl x (1 -/+ the fit's largest residual), as alloc reports it */
    double band = use_ppl && isfinite(s->proj_band) && s->proj_band > 0 ? s->proj_band : 0;
    double xlo = s->curve_bits[0], xhi = xlo, ylo = cy[0], yhi = ylo;
    for (int i = 0; i < s->n_curve; i++) {
        xlo = fmin(xlo, s->curve_bits[i]);
        xhi = fmax(xhi, s->curve_bits[i]);
        ylo = fmin(ylo, cy[i] * (1 - band));
        yhi = fmax(yhi, cy[i] * (1 + band));
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
    for (int side = -1; band > 0 && side <= 1; side += 2) {
        int px = 0, py = 0, phase = 0;
        for (int i = 0; i < s->n_curve; i++) {
            int dx, dy;
            ui_canvas_map(&c, s->curve_bits[i], cy[i] * (1 + side * band), xlo, xhi, ylo, yhi, &dx, &dy);
            if (i > 0)
                ui_canvas_dotted(&c, px, py, dx, dy, &phase);
            px = dx;
            py = dy;
        }
    }
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
        ui_canvas_mark(&c, s->meas_bits[i], s->meas_ppl[i], xlo, xhi, ylo, yhi, s->meas_mark[i]);
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
    int lx = r->x + 1 + lw + (int)strlen(lab) + 2;
    snprintf(lab, sizeof lab, "%.2f b", xhi);
    int rx = r->x + r->w - 1 - (int)strlen(lab);
    mvaddstr(r->y + r->h - 2, rx, lab);
    /* between the axis ends: what the letters and the dots mean */
    char legend[160];
    pareto_legend(s, band, legend, sizeof legend);
    if (rx - 2 - lx > 0)
        mvaddnstr(r->y + r->h - 2, lx, legend, rx - 2 - lx);
}
