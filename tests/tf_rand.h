/* Tiny transformer models with seeded random weights, built in memory, for the
 * forward-pass, eval and benchmark programs. */
#ifndef MXALLOC_TF_RAND_H
#define MXALLOC_TF_RAND_H

#include <stdint.h>

#include "kernels/tf.h"

typedef struct tf_rand_model {
    tf_config c;
    tf_weights w;             /* views into store */
    float *store;
    float *lin[64][TF_NLIN];  /* writable module pointers (first 64 layers) */
    tf_layer_weights *layers;
} tf_rand_model;

/* Fill a model of config c (tied: lm_head = tok_emb). Weights are scaled so
 * activations stay O(1) and attention is far from uniform. 0 or -1 (memory). */
int tf_rand_model_init(tf_rand_model *m, const tf_config *c, int tied, uint64_t seed);
void tf_rand_model_free(tf_rand_model *m);

/* Deterministic uniform in [-1, 1). */
float tf_rand_uniform(uint64_t *state);

#endif
