/* An independent float64 reference of the transformer forward pass, written
 * separately from kernels/tf*.c: one token at a time with a KV cache, naive
 * loops, double everywhere (weights are read as float and widened). For tests. */
#ifndef MXALLOC_REF_FORWARD_H
#define MXALLOC_REF_FORWARD_H

#include "kernels/tf.h"

/* Logits of every position: out[n][vocab] (double). Returns 0, -1 on a bad
 * argument or out of memory. */
int ref_forward(const tf_config *c, const tf_weights *w, const int *tokens, int n, double *out);

/* Sum of -log p(targets[i] | tokens[0..i]) over i in [0, n). Returns < 0 on error. */
double ref_nll_sum(const tf_config *c, const tf_weights *w, const int *tokens, int n,
                   const int *targets);

#endif
