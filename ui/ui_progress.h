/* What the status line says about a running job: its phase, a count with its
 * unit, the rate and the time left. The rate is measured from the first report
 * of the current phase (phases run at different speeds: a search's annealing
 * steps, then its slower refinement). Pure: the caller passes the clock. */
#ifndef MXALLOC_UI_PROGRESS_H
#define MXALLOC_UI_PROGRESS_H

#include <stddef.h>

typedef struct ui_progress {
    int job;                /* ui_job_kind of the reports */
    char phase[24];         /* "kl", "annealing", "refining" ... ("" : none) */
    char unit[16];          /* what count counts ("modules", "steps"; "": a fraction) */
    double count, total;    /* count of total (total <= 0: unknown) */
    double t0, c0;          /* clock and count at the phase's first report */
    double t;               /* clock of the last report, seconds */
} ui_progress;

void ui_progress_reset(ui_progress *p);
/* One report: job kind, phase and unit (NULL: none), count of total, at time now. */
void ui_progress_update(ui_progress *p, int job, const char *phase, const char *unit, double count,
                        double total, double now);
/* Fraction done, 0..1. */
double ui_progress_frac(const ui_progress *p);
/* "kl 12/35 modules  2.1/s  ETA 0:06" (fields known so far only). */
void ui_progress_text(const ui_progress *p, char *out, size_t len);

#endif
