/* Private to solver/search*.c: the backward pass from arbitrary logit
 * gradients (tf_backward starts from hard targets; distillation needs soft
 * ones), built from the per-op functions of kernels/tf_backward.h. */
#ifndef MXALLOC_SEARCH_INTERNAL_H
#define MXALLOC_SEARCH_INTERNAL_H

#include "kernels/tf.h"
#include "kernels/tf_backward.h"

typedef struct search_bwd {
    tf_config c;
    int max_n;
    float *dres, *dxn, *da, *dg, *du, *dao, *dq, *dk, *dv, *dq_raw, *dk_raw;
} search_bwd;

int search_bwd_init(search_bwd *b, const tf_config *c, int max_n);
void search_bwd_free(search_bwd *b);
/* Given dlogits [n][vocab] (dL/dlogits of the forward last run on t with
 * weights w, a TF_KEEP_ACTS context), ACCUMULATE dL/dW of every linear into
 * lin[layer * TF_NLIN + kind]. Returns 0 or ERR_NOMEM. */
int search_bwd_run(search_bwd *b, tf_ctx *t, const tf_weights *w, const float *dlogits,
                   float *const *lin);

#endif
