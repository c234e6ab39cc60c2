/* Phase, count, rate and ETA of a running job (see ui_progress.h). */
#include "ui/ui_progress.h"

#include <stdio.h>
#include <string.h>

void ui_progress_reset(ui_progress *p)
{
    memset(p, 0, sizeof *p);
    p->job = -1;
}

void ui_progress_update(ui_progress *p, int job, const char *phase, const char *unit, double count,
                        double total, double now)
{
    phase = phase ? phase : "";
    unit = unit ? unit : "";
    /* a new job or phase, or a count going back (a job restarted): rate from here */
    if (job != p->job || strcmp(phase, p->phase) || count < p->count) {
        p->job = job;
        snprintf(p->phase, sizeof p->phase, "%s", phase);
        p->t0 = now;
        p->c0 = count;
    }
    snprintf(p->unit, sizeof p->unit, "%s", unit);
    p->count = count;
    p->total = total;
    p->t = now;
}

double ui_progress_frac(const ui_progress *p)
{
    if (!(p->total > 0))
        return 0;
    double f = p->count / p->total;
    return f < 0 ? 0 : f > 1 ? 1 : f;
}

static void clock_text(double s, char *out, size_t len)
{
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(out, len, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(out, len, "%ld:%02ld", t / 60, t % 60);
}

void ui_progress_text(const ui_progress *p, char *out, size_t len)
{
    size_t n = 0;
    out[0] = '\0';
#define PUT(...) (n += (size_t)snprintf(out + n, n < len ? len - n : 0, __VA_ARGS__))
    if (p->phase[0])
        PUT("%s ", p->phase);
    if (p->unit[0] && p->total > 0)
        PUT("%.0f/%.0f %s", p->count, p->total, p->unit);
    else
        PUT("%3.0f%%", 100 * ui_progress_frac(p));
    double dt = p->t - p->t0, dc = p->count - p->c0;
    /* a rate needs some of the phase behind it: the first reports would guess wildly */
    if (dt >= 1.0 && dc > 0) {
        double rate = dc / dt;
        if (p->unit[0])
            PUT(rate >= 10 ? "  %.0f/s" : rate >= 1 ? "  %.1f/s" : "  %.2f/s", rate);
        if (p->total > 0 && p->count < p->total) {
            char eta[24];
            clock_text((p->total - p->count) / rate, eta, sizeof eta);
            PUT("  ETA %s", eta);
        }
    }
#undef PUT
    if (n >= len && len)
        out[len - 1] = '\0';
}
