/* Uniform formats (every module in one format) of a score table: their average
 * bits per weight and the ones nearest to an assignment's average. One
 * definition for `alloc`, `score` and the workbench. */
#ifndef MXALLOC_UNIFORM_H
#define MXALLOC_UNIFORM_H

#include "src/score_table.h"

/* Parameter-weighted average bits per weight (scales included) with every
 * module of t in f; a module whose bits[f] is NAN counts mx_bits_per_weight of
 * its shape. NAN for a table without parameters. */
double uniform_avg_bits(const score_table *t, mx_format f);

/* The candidate format of t whose uniform average bits is closest to avg_bits
 * (the first on a tie), as an mx_format value; -1 when t has none. The
 * workbench's "nearest uniform". */
int uniform_nearest(const score_table *t, double avg_bits);

/* The candidate formats of t (with measured_only, only those with a measured
 * uniform loss) around avg_bits: *below the widest with bits <= avg_bits
 * (+1e-9), *above the narrowest with more (mx_format values, -1 when none),
 * their bits in *below_bits / *above_bits (either may be NULL). `alloc`
 * prints both. */
void uniform_bracket(const score_table *t, double avg_bits, int measured_only, int *below, double *below_bits,
                     int *above, double *above_bits);

#endif
