/* Rewrite a score file's kl scores on another basis, to measure what the
 * allocation does with it (bench/basis_real.sh): alloc --score-method kl
 * then costs max(score, 0), the KL divergences being dropped.
 *   score_basis IN OUT delta        the mean loss deltas as they are
 *   score_basis IN OUT shrink Z     max(0, mean - Z se)
 *   score_basis IN OUT js           James-Stein positive part: mean max(0, 1 - se^2 / mean^2)
 * A missing standard error leaves the mean as it is. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/cache.h"

static double basis(const char *mode, double z, double mean, double se)
{
    if (isnan(mean) || isnan(se) || !strcmp(mode, "delta"))
        return mean;
    if (!strcmp(mode, "shrink"))
        return fmax(0.0, mean - z * se);
    return mean > 0 ? mean * fmax(0.0, 1.0 - se * se / (mean * mean)) : 0.0; /* js */
}

int main(int argc, char **argv)
{
    const char *mode = argc > 3 ? argv[3] : "";
    int shrink = !strcmp(mode, "shrink");
    if ((argc != 4 + shrink) || (!shrink && strcmp(mode, "delta") && strcmp(mode, "js"))) {
        fprintf(stderr, "usage: score_basis IN OUT delta|js|shrink Z\n");
        return 2;
    }
    double z = shrink ? atof(argv[4]) : 0.0;
    score_table t;
    mx_error e = {0};
    if (cache_read(argv[1], &t, &e)) {
        fprintf(stderr, "score_basis: %s\n", e.msg);
        return 1;
    }
    for (int i = 0; i < t.n_modules; i++) {
        score_module *m = &t.modules[i];
        for (int f = 0; f < MX_NFORMATS; f++) {
            m->score[SCORE_KL][f] = basis(mode, z, m->score[SCORE_KL][f], m->se[SCORE_KL][f]);
            m->kld[f] = m->kld_se[f] = NAN;
        }
    }
    int rc = cache_write(argv[2], &t, &e);
    if (rc)
        fprintf(stderr, "score_basis: %s\n", e.msg);
    score_table_free(&t);
    return rc ? 1 : 0;
}
