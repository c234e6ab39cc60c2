/* Synthetic score tables for the programs that need a score file without a
 * model: tests/mkscores.c (the CLI tests' tables), the fuzz_cache seeds of
 * tests/fuzz_seeds.c and the workbench's unit tests (tests/test_ui_*.c). */
#ifndef MXALLOC_SCORE_FIXTURE_H
#define MXALLOC_SCORE_FIXTURE_H

#include "kernels/tf.h"
#include "src/score_table.h"

/* score_table_alloc for layers * TF_NLIN modules in a llama model's order,
 * each named by module_name_hf, with its layer, kind and the shape
 * rows[kind] x cols[kind]; scores, bits and losses stay NAN. 0, or the error
 * of score_table_alloc. */
int score_fixture_alloc(score_table *t, int layers, const int rows[TF_NLIN],
                        const int cols[TF_NLIN]);

/* The workbench tests' sensitivity level of format f: 0 for fp32, then 1e-4
 * (fp8_e4m3), 1e-3 (fp6_e2m3), 1e-2 (anything else): narrower costs more. */
double score_fixture_level(mx_format f);

/* What a workbench test's table holds (score_fixture_synthetic). */
typedef struct score_fixture_spec {
    int layers;
    const mx_format *formats; /* the candidates, in table order */
    int n_formats;
    unsigned methods;         /* bit (1u << score_method) per method scored */
    int down_cols;            /* down_proj is 64 x down_cols, the rest 64 x 64 */
    /* The score of method for a module, given score_fixture_level of the
     * format; NULL: the level itself. */
    double (*score)(int method, double level, int layer, int kind);
} score_fixture_spec;

/* score_fixture_alloc for spec, the modules renamed
 * model.layers.<layer>.x.<kind>_proj (the names the tests look up), model
 * "synthetic", fp32 loss 2.0, ctx 64; every candidate format gets its bits
 * and, for each method of spec->methods, its score; the rest stays NAN. 0, or
 * the error of score_table_alloc. */
int score_fixture_synthetic(score_table *t, const score_fixture_spec *spec);

#endif
