/* Perplexity of a model (optionally with some modules fake-quantized) on a
 * token stream: consecutive non-overlapping windows, each prefixed with BOS. */
#ifndef MXALLOC_EVAL_H
#define MXALLOC_EVAL_H

#include <stddef.h>

#include "kernels/tf.h"
#include "src/err.h"

typedef struct eval_result {
    long tokens;    /* scored tokens */
    long windows;
    double nll;     /* mean negative log-likelihood, nats/token */
    double ppl;     /* exp(nll) */
} eval_result;

/* Called after each window; return non-zero to cancel (ERR_CANCELLED). */
typedef int (*eval_progress_fn)(void *user, long done_windows, long total_windows);

/* Score `tokens` (without leading BOS) in windows of ctx tokens; bos is fed
 * before each window. At most max_tokens are scored (0 = all full windows). */
int eval_perplexity(const tf_config *c, const tf_weights *w, const int *tokens, long n_tokens,
                    int bos, int ctx, long max_tokens, eval_progress_fn progress, void *user,
                    eval_result *out, mx_error *e);

#endif
