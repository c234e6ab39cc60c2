/* Value scales for the heatmap and the Pareto plot. Pure.
 * Scores span decades, so bins are logarithmic; each bin has a character too,
 * so the map stays readable without colour. */
#ifndef MXALLOC_UI_SCALE_H
#define MXALLOC_UI_SCALE_H

#define UI_NBINS 6

/* Smallest and largest finite positive value of v[0..n) (n may be 0): 0 when
 * found, -1 when there is none (lo = hi = NAN). */
int ui_scale_range(const double *v, int n, double *lo, double *hi);
/* Bin 0..nbins-1 of v on a log scale over [lo, hi]; values <= 0 are bin 0,
 * NAN is -1. */
int ui_scale_bin(double v, double lo, double hi, int nbins);
/* Fill character of a bin for the monochrome encoding (' ' for -1). */
char ui_scale_char(int bin);
/* The bin's lower edge (for the legend). */
double ui_scale_edge(int bin, double lo, double hi, int nbins);

/* Map v in [lo, hi] to 0..n-1 (clamped); NAN -> -1. Linear. */
int ui_scale_map(double v, double lo, double hi, int n);

/* Bits-per-weight bins for the "assigned format" view: 0 (4-ish) .. 5 (32). */
int ui_bits_bin(double bits);

/* "1.2e-03"-style compact rendering in at most width characters. */
void ui_fmt_num(char *out, int width, double v);

#endif
