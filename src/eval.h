/* Perplexity of a model (optionally with some modules fake-quantized) on a
 * token stream: consecutive non-overlapping windows, each prefixed with BOS. */
#ifndef MXALLOC_EVAL_H
#define MXALLOC_EVAL_H

#include <stddef.h>

#include "kernels/mx.h"
#include "kernels/tf.h"
#include "kernels/err.h"
#include "src/model.h"

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

/* Windows eval_perplexity scores: min(n_tokens, max_tokens if > 0) / ctx
 * (the last partial window is dropped). */
long eval_window_count(long n_tokens, int ctx, long max_tokens);
/* Window k of the stream: inputs in[ctx] = [bos, t_kc .. t_kc+ctx-2] and
 * targets tgt[ctx] = [t_kc .. t_kc+ctx-1] (kc = k*ctx): every window token is
 * predicted once and the input never exceeds ctx positions. */
void eval_window_tokens(const int *tokens, long k, int ctx, int bos, int *in, int *tgt);

/* eval_perplexity with a caller's workspace (tf_ctx_max_n(t) >= ctx), to
 * reuse it across calls (e.g. one per candidate assignment). */
int eval_perplexity_ctx(tf_ctx *t, const tf_weights *w, const int *tokens, long n_tokens,
                        int bos, int ctx, long max_tokens, eval_progress_fn progress, void *user,
                        eval_result *out, mx_error *e);

/* A weights view of model m with module i fake-quantized to formats[i]
 * (gptq_set_quant into owned copies, swapped in by pointer: GPTQ with g's
 * calibration data, rounding to nearest when g is NULL; MX_FP32 keeps the
 * original). Embedding, norms and lm_head are never touched. */
typedef struct eval_qweights {
    tf_weights w;    /* pass &q.w to the forward pass */
    float **copies;  /* [n_modules], NULL where the original is used */
    int n;
} eval_qweights;
struct gptq_set;
int eval_qweights_init(eval_qweights *q, const model *m, const mx_format *formats, const struct gptq_set *g,
                       mx_error *e);
/* The same with structured pruning: masks[layer * PRUNE_NPARTS + part] the
 * kept units of each pruning group (src/prune.h; NULL entries, or masks
 * NULL: none), applied by prune_apply (the kept submatrix quantized as such,
 * zeros elsewhere). A pruned module with g non-NULL is ERR_ARG (GPTQ runs on
 * whole matrices). */
int eval_qweights_init_pruned(eval_qweights *q, const model *m, const mx_format *formats,
                              const struct gptq_set *g, unsigned char *const *masks, mx_error *e);
void eval_qweights_free(eval_qweights *q);

#endif
