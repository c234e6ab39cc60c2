/* Perplexity over consecutive non-overlapping windows, each prefixed with BOS. */
#include "src/eval.h"

#include <math.h>
#include <stdlib.h>

long eval_window_count(long n_tokens, int ctx, long max_tokens)
{
    if (ctx <= 0 || n_tokens <= 0)
        return 0;
    long use = max_tokens > 0 && max_tokens < n_tokens ? max_tokens : n_tokens;
    return use / ctx;
}

void eval_window_tokens(const int *tokens, long k, int ctx, int bos, int *in, int *tgt)
{
    const int *t = tokens + k * (long)ctx;
    in[0] = bos;
    for (int i = 0; i < ctx; i++) {
        if (i + 1 < ctx)
            in[i + 1] = t[i];
        tgt[i] = t[i];
    }
}

int eval_perplexity_ctx(tf_ctx *t, const tf_weights *w, const int *tokens, long n_tokens,
                        int bos, int ctx, long max_tokens, eval_progress_fn progress, void *user,
                        eval_result *out, mx_error *e)
{
    const tf_config *c = tf_ctx_config(t);
    if (ctx <= 0)
        return err_set(e, ERR_ARG, "context length must be positive (got %d)", ctx);
    if (ctx > c->max_seq)
        return err_set(e, ERR_ARG, "context %d exceeds the model's maximum context %d", ctx,
                       c->max_seq);
    if (ctx > tf_ctx_max_n(t))
        return err_set(e, ERR_ARG, "context %d exceeds the workspace size %d", ctx,
                       tf_ctx_max_n(t));
    if (bos < 0 || bos >= c->vocab_size)
        return err_set(e, ERR_ARG, "BOS id %d outside the vocabulary (%d)", bos, c->vocab_size);
    long nw = eval_window_count(n_tokens, ctx, max_tokens);
    if (nw == 0)
        return err_set(e, ERR_ARG, "%ld tokens: fewer than one window of %d", n_tokens < 0 ? 0 : n_tokens,
                       ctx);
    for (long i = 0; i < nw * ctx; i++)
        if (tokens[i] < 0 || tokens[i] >= c->vocab_size)
            return err_set(e, ERR_ARG, "token %ld has id %d outside the vocabulary (%d)", i,
                           tokens[i], c->vocab_size);
    int *in = malloc(sizeof(int) * (size_t)ctx * 2);
    if (!in)
        return err_set(e, ERR_NOMEM, "out of memory");
    int *tgt = in + ctx;
    double sum = 0.0;
    int rc = 0;
    for (long k = 0; k < nw; k++) {
        eval_window_tokens(tokens, k, ctx, bos, in, tgt);
        if (tf_forward(t, w, in, ctx, 0)) {
            rc = err_set(e, ERR_INTERNAL, "forward pass refused window %ld", k);
            break;
        }
        sum += tf_nll(t, w, tgt, NULL);
        if (progress && progress(user, k + 1, nw)) {
            rc = err_set(e, ERR_CANCELLED, "cancelled after %ld of %ld windows", k + 1, nw);
            break;
        }
    }
    free(in);
    if (rc)
        return rc;
    out->windows = nw;
    out->tokens = nw * ctx;
    out->nll = sum / (double)out->tokens;
    out->ppl = exp(out->nll);
    return 0;
}

int eval_perplexity(const tf_config *c, const tf_weights *w, const int *tokens, long n_tokens,
                    int bos, int ctx, long max_tokens, eval_progress_fn progress, void *user,
                    eval_result *out, mx_error *e)
{
    if (tf_config_check(c))
        return err_set(e, ERR_ARG, "invalid model configuration");
    if (ctx <= 0 || ctx > c->max_seq)
        return err_set(e, ERR_ARG, "context %d outside [1, %d] (the model's maximum context)",
                       ctx, c->max_seq);
    tf_ctx *t = tf_ctx_create(c, ctx, 0);
    if (!t)
        return err_set(e, ERR_NOMEM, "out of memory for a %d-token workspace", ctx);
    int rc = eval_perplexity_ctx(t, w, tokens, n_tokens, bos, ctx, max_tokens, progress, user,
                                 out, e);
    tf_ctx_free(t);
    return rc;
}
