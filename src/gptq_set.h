/* GPTQ's calibration data for a model (kernels/gptq.h): the second moments
 * H = sum x x^T of every linear's input over calibration windows, factored
 * once, and the one call that turns a module into its quantized values either
 * by GPTQ (when a set is given and the format is one GPTQ applies to) or by
 * rounding to nearest (mx_fake_quant). Every place that quantizes a module
 * for scoring, measuring or writing goes through gptq_set_quant. */
#ifndef MXALLOC_GPTQ_SET_H
#define MXALLOC_GPTQ_SET_H

#include <stdint.h>

#include "kernels/err.h"
#include "kernels/mx.h"
#include "src/model.h"

typedef struct gptq_set {
    int n_slots;        /* n_layers * TF_NLIN */
    float **u;          /* [n_slots]: the factor of each input (cols x cols) at the slot
                         * layer * TF_NLIN + the first linear reading it (q for q/k/v,
                         * gate for gate/up, o, down); NULL elsewhere: rounded */
} gptq_set;

/* Forward passes of m (fp32) over the windows of ctx tokens of tokens[0..n)
 * (bos fed first, as eval_window_tokens), at most max_tokens (0 = all whole
 * windows), accumulating each input's second moments; then the factors.
 * Returns 0 or ERR_*; on error *g holds nothing to free. Memory: cols^2
 * doubles per distinct input (4 per layer) while collecting, cols^2 floats
 * kept. */
int gptq_set_collect(gptq_set *g, const model *m, const int *tokens, long n_tokens, int bos, int ctx,
                     long max_tokens, mx_error *e);
/* The same from a text file tokenized as corpus_load does (tok_path NULL:
 * the model's tokenizer). want_hash non-zero: the text must be the one of
 * that xxh64 (score_hash_bytes) and give max_tokens tokens of windows (what a
 * score table or a config recorded), else ERR_ARG "TEXT is not the
 * calibration text ...". */
int gptq_set_from_text(gptq_set *g, const model *m, const char *tok_path, const char *text_path, int ctx,
                       long max_tokens, uint64_t want_hash, mx_error *e);
void gptq_set_free(gptq_set *g);

/* out (module i's rows x cols) = module i of m in f: GPTQ when g is non-NULL
 * and gptq_applies(f) (kernels/gptq.h), else mx_fake_quant. Returns 0 or
 * ERR_NOMEM. */
int gptq_set_quant(const gptq_set *g, const model *m, int i, mx_format f, float *out, mx_error *e);
/* The same for weights w (rows x cols) standing for linear `kind` (enum
 * tf_linear) of block `layer` (searches hold weight views, not the model). */
int gptq_set_quant_w(const gptq_set *g, int layer, int kind, mx_format f, const float *w, size_t rows,
                     size_t cols, float *out, mx_error *e);

#endif
