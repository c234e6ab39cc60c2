/* Synthetic score tables for the programs that need a score file without a
 * model: tests/mkscores.c (the CLI tests' tables) and the fuzz_cache seeds
 * of tests/fuzz_seeds.c. */
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

#endif
