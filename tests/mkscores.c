/* Test helper: write a synthetic score file (cache_write) shaped like a small
 * llama model, for the alloc/sweep/export CLI tests.
 *   mkscores OUT [LAYERS] [nan|noisy|noisy-nokld]
 * "nan": one module lacks its mxfp4 score; "noisy": the loss deltas of the
 * precise formats fall below zero as measurement noise makes them (the KL
 * divergences stay positive); "noisy-nokld": the same without KL values. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/tf.h"
#include "src/cache.h"
#include "tests/score_fixture.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: mkscores OUT [LAYERS] [nan]\n");
        return 2;
    }
    int layers = argc > 2 ? atoi(argv[2]) : 4;
    int with_nan = argc > 3 && !strcmp(argv[3], "nan");
    int noisy = argc > 3 && !strncmp(argv[3], "noisy", 5), no_kld = argc > 3 && !strcmp(argv[3], "noisy-nokld");
    static const int rows[TF_NLIN] = {64, 32, 32, 64, 172, 172, 64};
    static const int cols[TF_NLIN] = {64, 64, 64, 64, 64, 64, 172};
    static const mx_format fmts[] = {MX_FP4_E2M1, MX_FP6_E2M3, MX_FP6_E3M2, MX_FP8_E4M3, MX_INT8, MX_BF16};
    static const double err[] = {1.0, 0.07, 0.11, 0.016, 0.005, 1e-5};
    int nf = (int)(sizeof fmts / sizeof *fmts);
    score_table t;
    if (score_fixture_alloc(&t, layers, rows, cols))
        return 1;
    snprintf(t.model, sizeof t.model, "synthetic-%dL", layers);
    snprintf(t.key, sizeof t.key, "00112233deadbeef");
    t.model_hash = 0x1234;
    t.methods = 1u << SCORE_KL;
    t.n_formats = nf;
    for (int i = 0; i < nf; i++)
        t.formats[i] = fmts[i];
    t.calib_tokens = 4096;
    t.ctx = 128;
    t.fp32_loss = 1.5;
    uint64_t s = 7;
    double sum[MX_NFORMATS] = {0};
    for (int j = 0; j < t.n_modules; j++) {
        score_module *m = &t.modules[j];
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        double sens = 0.002 * exp(2.0 * ((s >> 11) / 9007199254740992.0) - 1) * (m->kind == TF_DOWN ? 3 : 1);
        for (int i = 0; i < nf; i++) {
            mx_format f = fmts[i];
            m->bits[f] = mx_bits_per_weight(f, (size_t)m->rows, (size_t)m->cols);
            m->score[SCORE_KL][f] = sens * err[i];
            m->kld[f] = no_kld ? NAN : sens * err[i];
            if (noisy && err[i] < 0.1) /* noise of +-0.05 sens: below zero for the precise ones */
                m->score[SCORE_KL][f] = sens * (err[i] - 0.05 * (1 + (int)(((s >> 7) + (uint64_t)i) % 3)));
            sum[f] += m->score[SCORE_KL][f];
        }
    }
    for (int i = 0; i < nf; i++)  /* measured uniform losses: 1.2x the summed scores */
        t.uniform_loss[fmts[i]] = t.fp32_loss + 1.2 * sum[fmts[i]];
    if (with_nan)
        t.modules[3].score[SCORE_KL][MX_FP4_E2M1] = NAN;
    mx_error e;
    int rc = cache_write(argv[1], &t, &e);
    if (rc)
        fprintf(stderr, "mkscores: %s\n", e.msg);
    score_table_free(&t);
    return rc ? 1 : 0;
}
