/* History of a running dMX / GAMMA search as the live panel shows it: the
 * curves (task loss, temperature or multiplier, expected bits) and, per
 * module, the most likely format and how long it has stayed the same. Pure. */
#ifndef MXALLOC_UI_SEARCH_H
#define MXALLOC_UI_SEARCH_H

#include "ui/ui_jobs.h"

/* A module counts as settled once its most likely format held this many steps. */
#define UI_SETTLE_STEPS 20

typedef struct ui_search_hist {
    int n, cap;
    long *step;
    double *loss, *temp, *bits, *reg;
    int n_modules;
    int *likely;   /* [n_modules] latest most likely mx_format, -1 before the first step */
    int *stable;   /* [n_modules] consecutive steps with the same likely format */
} ui_search_hist;

int ui_search_hist_init(ui_search_hist *h, int n_modules); /* 0 or -1 */
void ui_search_hist_free(ui_search_hist *h);
void ui_search_hist_reset(ui_search_hist *h);
/* Append one step (s->likely may be NULL or of another length: ignored). 0 or -1. */
int ui_search_hist_add(ui_search_hist *h, const ui_search_step *s);
int ui_search_settled(const ui_search_hist *h, int module);
int ui_search_n_settled(const ui_search_hist *h);

#endif
