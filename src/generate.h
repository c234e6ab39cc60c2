/* Greedy text generation: the quickest check that a loaded model, or a
 * fake-quantized view of it (eval_qweights), still produces sensible text.
 * Used by `mxalloc generate` and the workbench's `:generate`.
 *
 * There is no KV cache: every new token reruns the whole window (prompt +
 * tokens so far) through the batched forward pass, O(n^2) work in the text
 * length. That is plenty for a short sample of a small model; the point is
 * that it uses exactly the forward pass perplexity is measured with. */
#ifndef MXALLOC_GENERATE_H
#define MXALLOC_GENERATE_H

#include <stddef.h>

#include "kernels/tf.h"
#include "kernels/err.h"
#include "src/tok.h"

typedef enum gen_stop {
    GEN_STOP_LENGTH = 0, /* max_new tokens were generated */
    GEN_STOP_EOS,        /* a stop id (EOS, or BOS: a new document) came next */
    GEN_STOP_CONTEXT,    /* the window reached ctx tokens */
    GEN_STOP_CANCELLED   /* on_token asked to stop */
} gen_stop;

/* Called after each generated token (n_new counts it); non-zero cancels. */
typedef int (*gen_token_fn)(void *user, int id, int n_new);

typedef struct gen_opts {
    int max_new;         /* generate at most this many tokens (>= 0) */
    int ctx;             /* longest window (prompt + generated); 0 = the model's max_seq */
    int stop_ids[2];     /* ids that end the text when they come next (not kept); -1 = none */
    gen_token_fn on_token;
    void *user;
} gen_opts;

/* Defaults: max_new 0, ctx 0, no stop ids, no callback. */
void gen_opts_init(gen_opts *o);

typedef struct gen_result {
    int *ids;            /* [n_prompt + n_new]: the prompt, then the generated tokens */
    int n_prompt, n_new;
    gen_stop stop;
    int stop_id;         /* the stop id that came next (GEN_STOP_EOS), else -1 */
} gen_result;

/* Greedy decoding: at each step the next token is the argmax of the last
 * position's logits (the lowest id on ties), until max_new tokens, a stop id,
 * or ctx tokens in the window. The prompt must hold 1..ctx ids in [0, vocab).
 * Returns 0 (also when cancelled: r->stop says so) or a negative ERR_* with
 * one line in e; on error r holds nothing to free. */
int gen_greedy(const tf_config *c, const tf_weights *w, const int *prompt, int n_prompt,
               const gen_opts *o, gen_result *r, mx_error *e);
void gen_result_free(gen_result *r);

/* The prompt as generation sees it: tok_encode(text), with tok_window_bos
 * put first when the encoding does not start with it, so that a prompt opens a
 * document exactly as every perplexity window does. *out is malloc'd; returns
 * the count (>= 1) or a negative ERR_* (tokenizer without BOS and EOS ...). */
long gen_encode_prompt(const tok *tk, const char *text, size_t len, int **out, mx_error *e);

/* The text of the generated tokens as it continues the prompt: the decoding
 * of prompt + continuation minus the decoding of the prompt when that is a
 * prefix (so a SentencePiece "▁word" keeps its space), else the continuation
 * decoded alone. *out is malloc'd and NUL-terminated; returns its length or a
 * negative ERR_*. */
long gen_decode_continuation(const tok *tk, const gen_result *r, char **out, mx_error *e);

/* Short name of a stop reason: "length", "eos", "context", "cancelled". */
const char *gen_stop_name(gen_stop s);

/* The whole text-to-text path both front ends use: encode the prompt,
 * decode greedily with EOS and BOS as stop ids (llama2.c-trained models
 * start the next story with BOS), decode the continuation into *text.
 * ctx 0 = the model's max_seq. Returns the text's length (it may hold NUL
 * bytes) or a negative ERR_*; on success the caller frees r (gen_result_free)
 * and *text. */
long gen_text(const tf_config *c, const tf_weights *w, const tok *tk, const char *prompt,
             int max_new, int ctx, gen_token_fn on_token, void *user, gen_result *r,
             char **text, mx_error *e);

#endif
