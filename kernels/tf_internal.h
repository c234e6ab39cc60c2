/* Private layout of tf_ctx, shared by kernels/tf*.c only. */
#ifndef MXALLOC_TF_INTERNAL_H
#define MXALLOC_TF_INTERNAL_H

#include "kernels/pool.h"
#include "kernels/tf.h"

#define TF_NLL_MAX_CHUNK 128 /* upper bound of chunk_rows */

struct tf_ctx {
    tf_config c;
    int max_n;
    int n;          /* rows of the last forward */
    int flags;
    int nthreads;   /* threads of the parallel phases (>= 1) */
    pool *pool;     /* their pool, made on first use (tf_ctx_pool); NULL until then */
    int att_group;  /* heads per attention phase: att_scratch holds this many n x n buffers */
    float *xs;      /* (n_layers+1) x [max_n][dim] block inputs */
    tf_layer_acts *acts;
    int n_acts;     /* n_layers with TF_KEEP_ACTS, else 1 */
    float *rope;    /* [max_n][head_dim/2][2] cos, sin */
    float *xf, *rf; /* final norm output [max_n][dim] and inverse rms [max_n] */
    float *chunk;   /* [chunk_rows][vocab] logits for tf_nll */
    int chunk_rows;
    float *att_scratch; /* [att_group][max_n*max_n] when att is not kept */
    tf_linear_fn linear; /* tf_ctx_set_linear; NULL: gemm_linear on the weights */
    void *linear_user;
};

/* Causal grouped-query attention of block activations A on t->n rows:
 * reads A->q, A->k, A->v, writes A->ao (and A->att when kept). */
void tf_attention(tf_ctx *t, tf_layer_acts *A);

/* One head's causal softmax P of scale * Q K^T into S [n][n] (row t holds
 * columns 0..t, the rest 0; scale 1/sqrt(hd)), q / k at row strides qs / ks.
 * The forward's exact recipe: the backward recomputes P with these so that
 * both paths of tf_backward (kept and recomputed P) agree bitwise. */
void tf_attn_scores(float *S, const float *q, int qs, const float *k, int ks, int n, int hd);
void tf_causal_softmax(float *S, int n);

#endif
