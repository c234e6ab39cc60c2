/* Greedy decoding over the batched forward pass (see generate.h). */
#include "src/generate.h"

#include <stdlib.h>
#include <string.h>

void gen_opts_init(gen_opts *o)
{
    memset(o, 0, sizeof *o);
    o->stop_ids[0] = o->stop_ids[1] = -1;
}

void gen_result_free(gen_result *r)
{
    free(r->ids);
    memset(r, 0, sizeof *r);
    r->stop_id = -1;
}

const char *gen_stop_name(gen_stop s)
{
    switch (s) {
    case GEN_STOP_LENGTH: return "length";
    case GEN_STOP_EOS: return "eos";
    case GEN_STOP_CONTEXT: return "context";
    case GEN_STOP_CANCELLED: return "cancelled";
    }
    return "?";
}

static int argmax(const float *v, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best]) /* strict: the lowest id wins ties */
            best = i;
    return best;
}

int gen_greedy(const tf_config *c, const tf_weights *w, const int *prompt, int n_prompt,
               const gen_opts *o, gen_result *r, mx_error *e)
{
    memset(r, 0, sizeof *r);
    r->stop_id = -1;
    if (tf_config_check(c))
        return err_set(e, ERR_ARG, "unusable model configuration");
    int ctx = o->ctx > 0 ? o->ctx : c->max_seq;
    if (o->max_new < 0)
        return err_set(e, ERR_ARG, "negative token count %d", o->max_new);
    if (n_prompt < 1)
        return err_set(e, ERR_ARG, "empty prompt (no token to start from)");
    if (n_prompt > ctx)
        return err_set(e, ERR_ARG, "the prompt has %d tokens, more than the context %d",
                       n_prompt, ctx);
    for (int i = 0; i < n_prompt; i++)
        if (prompt[i] < 0 || prompt[i] >= c->vocab_size)
            return err_set(e, ERR_ARG, "prompt token %d is outside the vocabulary (%d)",
                           prompt[i], c->vocab_size);
    /* The sequence never grows past ctx, nor past the prompt + max_new. */
    long cap = (long)n_prompt + o->max_new;
    if (cap > ctx)
        cap = ctx;
    r->ids = malloc(sizeof *r->ids * (size_t)cap);
    if (!r->ids)
        return err_set(e, ERR_NOMEM, "out of memory");
    memcpy(r->ids, prompt, sizeof *prompt * (size_t)n_prompt);
    r->n_prompt = n_prompt;
    r->stop = GEN_STOP_LENGTH;
    if (o->max_new == 0 || n_prompt == ctx) {
        r->stop = o->max_new == 0 ? GEN_STOP_LENGTH : GEN_STOP_CONTEXT;
        return 0;
    }
    /* The longest window fed is one short of the final sequence. */
    int max_n = (int)cap - 1 > n_prompt ? (int)cap - 1 : n_prompt;
    tf_ctx *t = tf_ctx_create(c, max_n, 0);
    float *logits = malloc(sizeof *logits * (size_t)c->vocab_size);
    if (!t || !logits) {
        tf_ctx_free(t);
        free(logits);
        gen_result_free(r);
        return err_set(e, ERR_NOMEM, "out of memory for a window of %d tokens", max_n);
    }
    int n = n_prompt;
    for (;;) {
        if (r->n_new == o->max_new) {
            r->stop = GEN_STOP_LENGTH;
            break;
        }
        if (n >= ctx) {
            r->stop = GEN_STOP_CONTEXT;
            break;
        }
        /* No KV cache: the whole window again (see generate.h). */
        if (tf_forward(t, w, r->ids, n, 0)) {
            tf_ctx_free(t);
            free(logits);
            gen_result_free(r);
            return err_set(e, ERR_INTERNAL, "forward pass refused a window of %d", n);
        }
        tf_logits(t, w, n - 1, 1, logits);
        int next = argmax(logits, c->vocab_size);
        if (next == o->stop_ids[0] || next == o->stop_ids[1]) {
            r->stop = GEN_STOP_EOS;
            r->stop_id = next;
            break;
        }
        r->ids[n++] = next;
        r->n_new++;
        if (o->on_token && o->on_token(o->user, next, r->n_new)) {
            r->stop = GEN_STOP_CANCELLED;
            break;
        }
    }
    tf_ctx_free(t);
    free(logits);
    return 0;
}

long gen_encode_prompt(const tok *tk, const char *text, size_t len, int **out, mx_error *e)
{
    *out = NULL;
    int bos = tok_window_bos(tk);
    if (bos < 0)
        return err_set(e, ERR_FORMAT, "the tokenizer has neither a BOS nor an EOS token");
    int *ids = NULL;
    long n = tok_encode(tk, text, len, &ids, e);
    if (n < 0)
        return n;
    if (n > 0 && ids[0] == bos) {
        *out = ids;
        return n;
    }
    int *withbos = realloc(ids, sizeof *ids * (size_t)(n + 1));
    if (!withbos) {
        free(ids);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    memmove(withbos + 1, withbos, sizeof *withbos * (size_t)n);
    withbos[0] = bos;
    *out = withbos;
    return n + 1;
}

long gen_decode_continuation(const tok *tk, const gen_result *r, char **out, mx_error *e)
{
    *out = NULL;
    char *all = NULL, *pre = NULL;
    long na = tok_decode(tk, r->ids, r->n_prompt + r->n_new, &all, e);
    if (na < 0)
        return na;
    long np = tok_decode(tk, r->ids, r->n_prompt, &pre, e);
    if (np < 0) {
        free(all);
        return np;
    }
    int prefix = np <= na && !memcmp(all, pre, (size_t)np);
    free(pre);
    if (prefix) {
        memmove(all, all + np, (size_t)(na - np) + 1);
        *out = all;
        return na - np;
    }
    /* The decoder changed the prompt's text once more came after it (not
     * expected from any tokenizer we read): fall back to the tokens alone. */
    free(all);
    return tok_decode(tk, r->ids + r->n_prompt, r->n_new, out, e);
}

long gen_text(const tf_config *c, const tf_weights *w, const tok *tk, const char *prompt,
             int max_new, int ctx, gen_token_fn on_token, void *user, gen_result *r,
             char **text, mx_error *e)
{
    memset(r, 0, sizeof *r);
    *text = NULL;
    int *ids = NULL;
    long n = gen_encode_prompt(tk, prompt, strlen(prompt), &ids, e);
    if (n < 0)
        return (int)n;
    if (n > (ctx > 0 ? ctx : c->max_seq)) {
        free(ids);
        return err_set(e, ERR_ARG, "the prompt has %ld tokens, more than the context %d", n,
                       ctx > 0 ? ctx : c->max_seq);
    }
    gen_opts o;
    gen_opts_init(&o);
    o.max_new = max_new;
    o.ctx = ctx;
    o.stop_ids[0] = tok_eos(tk);
    o.stop_ids[1] = tok_bos(tk);
    o.on_token = on_token;
    o.user = user;
    int rc = gen_greedy(c, w, ids, (int)n, &o, r, e);
    free(ids);
    if (rc)
        return rc;
    long tl = gen_decode_continuation(tk, r, text, e);
    if (tl < 0)
        gen_result_free(r);
    return tl;
}
