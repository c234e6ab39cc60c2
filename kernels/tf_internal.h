/* Private layout of tf_ctx, shared by kernels/tf*.c only. */
#ifndef MXALLOC_TF_INTERNAL_H
#define MXALLOC_TF_INTERNAL_H

#include "kernels/tf.h"

#define TF_NLL_MAX_CHUNK 128 /* upper bound of chunk_rows */

struct tf_ctx {
    tf_config c;
    int max_n;
    int n;          /* rows of the last forward */
    int flags;
    int nthreads;   /* softmax workers (>= 1) */
    int att_group;  /* heads per attention phase: att_scratch holds this many n x n buffers */
    float *xs;      /* (n_layers+1) x [max_n][dim] block inputs */
    tf_layer_acts *acts;
    int n_acts;     /* n_layers with TF_KEEP_ACTS, else 1 */
    float *rope;    /* [max_n][head_dim/2][2] cos, sin */
    float *xf, *rf; /* final norm output [max_n][dim] and inverse rms [max_n] */
    float *chunk;   /* [chunk_rows][vocab] logits for tf_nll */
    int chunk_rows;
    float *att_scratch; /* [att_group][max_n*max_n] when att is not kept */
};

/* Causal grouped-query attention of block activations A on t->n rows:
 * reads A->q, A->k, A->v, writes A->ao (and A->att when kept). */
void tf_attention(tf_ctx *t, tf_layer_acts *A);

#endif
