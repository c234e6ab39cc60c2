/* Uniform-format figures of a score table (src/uniform.h). */
#include "src/uniform.h"

#include <math.h>

double uniform_avg_bits(const score_table *t, mx_format f)
{
    double num = 0, den = 0;
    for (int i = 0; i < t->n_modules; i++) {
        const score_module *m = &t->modules[i];
        double b = m->bits[f];
        if (isnan(b))
            b = mx_bits_per_weight(f, (size_t)m->rows, (size_t)m->cols);
        num += b * (double)m->params;
        den += (double)m->params;
    }
    return den > 0 ? num / den : NAN;
}

int uniform_nearest(const score_table *t, double avg_bits)
{
    int best_f = -1;
    double best = INFINITY;
    for (int j = 0; j < t->n_formats; j++) {
        double d = fabs(uniform_avg_bits(t, t->formats[j]) - avg_bits);
        if (d < best) {
            best = d;
            best_f = (int)t->formats[j];
        }
    }
    return best_f;
}

void uniform_bracket(const score_table *t, double avg_bits, int measured_only, int *below, double *below_bits,
                     int *above, double *above_bits)
{
    double blo = -INFINITY, bhi = INFINITY;
    *below = *above = -1;
    for (int i = 0; i < t->n_formats; i++) {
        mx_format f = t->formats[i];
        if (measured_only && !isfinite(t->uniform_loss[f]))
            continue;
        double b = uniform_avg_bits(t, f);
        if (!isfinite(b))
            continue;
        if (b <= avg_bits + 1e-9 && b > blo)
            blo = b, *below = (int)f;
        if (b > avg_bits + 1e-9 && b < bhi)
            bhi = b, *above = (int)f;
    }
    if (below_bits)
        *below_bits = blo;
    if (above_bits)
        *above_bits = bhi;
}
