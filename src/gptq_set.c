/* GPTQ's calibration second moments and the module quantizer (src/gptq_set.h). */
#include "src/gptq_set.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/gemm.h"
#include "kernels/gptq.h"
#include "src/corpus.h"
#include "src/eval.h"
#include "src/score.h"

/* Which input a linear reads: q/k/v share the attention norm's output,
 * gate/up the MLP norm's. */
static int input_of(int kind)
{
    return kind == TF_K || kind == TF_V ? TF_Q : kind == TF_UP ? TF_GATE : kind;
}

/* The factor slot of linear kind of block layer (src/gptq_set.h). */
static int slot_of(int layer, int kind)
{
    return layer * TF_NLIN + input_of(kind);
}

typedef struct acc {
    double **h;      /* [n_slots]: sums of x x^T, at the slots only */
    int *cols;       /* [n_slots] */
    float *tmp;      /* [max cols^2] one window's x^T x */
} acc;

/* Every block linear: accumulate its input's x^T x (once per input, at its
 * slot), then compute what gemm_linear would. */
static void on_linear(void *user, int layer, int which, int n, int rows, int cols, const float *x,
                      const float *w, float beta, float *y)
{
    acc *a = user;
    double *h = a->h[layer * TF_NLIN + which];
    if (h) {
        gemm_f32(1, 0, cols, cols, n, 1.0f, x, cols, x, cols, 0.0f, a->tmp, cols);
        for (size_t i = 0; i < (size_t)cols * cols; i++)
            h[i] += a->tmp[i];
    }
    gemm_linear(n, rows, cols, x, w, beta, y);
}

void gptq_set_free(gptq_set *g)
{
    for (int k = 0; g->u && k < g->n_slots; k++)
        free(g->u[k]);
    free(g->u);
    g->u = NULL;
    g->n_slots = 0;
}

int gptq_set_collect(gptq_set *g, const model *m, const int *tokens, long n_tokens, int bos, int ctx,
                     long max_tokens, mx_error *e)
{
    memset(g, 0, sizeof *g);
    const tf_config *c = &m->cfg;
    long nw = eval_window_count(n_tokens, ctx, max_tokens);
    if (nw < 1)
        return err_set(e, ERR_ARG, "gptq: the calibration text holds no window of %d tokens", ctx);
    int nl = c->n_layers * TF_NLIN, maxc = 1, rc = 0;
    acc a = {calloc((size_t)nl, sizeof *a.h), calloc((size_t)nl, sizeof *a.cols), NULL};
    g->n_slots = nl;
    g->u = calloc((size_t)nl, sizeof *g->u);
    tf_ctx *t = tf_ctx_create(c, ctx, 0);
    int *in = malloc(2 * (size_t)ctx * sizeof *in);
    if (!a.h || !a.cols || !g->u || !t || !in)
        goto nomem;
    for (int i = 0; i < m->n_modules; i++) {
        const model_module *mm = &m->modules[i];
        int k = slot_of(mm->layer, mm->kind);
        if (!a.h[k] && !(a.h[k] = calloc((size_t)mm->cols * mm->cols, sizeof **a.h)))
            goto nomem;
        a.cols[k] = mm->cols;
        maxc = mm->cols > maxc ? mm->cols : maxc;
    }
    if (!(a.tmp = malloc((size_t)maxc * maxc * sizeof *a.tmp)))
        goto nomem;
    tf_ctx_set_linear(t, on_linear, &a);
    for (long k = 0; k < nw; k++) {
        eval_window_tokens(tokens, k, ctx, bos, in, in + ctx);
        if (tf_forward(t, &m->weights, in, ctx, 0)) {
            rc = err_set(e, ERR_ARG, "gptq: a calibration token is outside the vocabulary");
            goto done;
        }
    }
    for (int k = 0; k < nl && rc == 0; k++) {
        if (!a.h[k])
            continue;
        if (!(g->u[k] = malloc((size_t)a.cols[k] * a.cols[k] * sizeof **g->u)))
            goto nomem;
        if ((rc = gptq_factor(a.h[k], (size_t)a.cols[k], GPTQ_DEFAULT_DAMP, g->u[k], e)))
            err_prefix(e, "block %d: ", k / TF_NLIN);
    }
    goto done;
nomem:
    rc = err_set(e, ERR_NOMEM, "gptq: out of memory for the calibration second moments");
done:
    if (rc)
        gptq_set_free(g);
    for (int k = 0; a.h && k < nl; k++)
        free(a.h[k]);
    free(a.h);
    free(a.cols);
    free(a.tmp);
    free(in);
    tf_ctx_free(t);
    return rc;
}

int gptq_set_from_text(gptq_set *g, const model *m, const char *tok_path, const char *text_path, int ctx,
                       long max_tokens, uint64_t want_hash, mx_error *e)
{
    corpus cp;
    memset(g, 0, sizeof *g);
    int rc = corpus_load(&cp, m, tok_path, text_path, ctx, max_tokens, e);
    if (rc)
        return rc;
    uint64_t h = score_hash_bytes(cp.text, cp.len);
    long nw = eval_window_count(cp.n_tokens, ctx, max_tokens);
    if (want_hash && (h != want_hash || nw * ctx != max_tokens))
        rc = err_set(e, ERR_ARG, "%s is not the calibration text (xxh64 %016llx, %ld tokens; want %016llx, %ld)",
                     text_path, (unsigned long long)h, nw * ctx, (unsigned long long)want_hash, max_tokens);
    else
        rc = gptq_set_collect(g, m, cp.tokens, cp.n_tokens, cp.bos, ctx, max_tokens, e);
    corpus_free(&cp);
    return rc;
}

int gptq_set_quant(const gptq_set *g, const model *m, int i, mx_format f, float *out, mx_error *e)
{
    const model_module *mm = &m->modules[i];
    return gptq_set_quant_w(g, mm->layer, mm->kind, f, mm->w, (size_t)mm->rows, (size_t)mm->cols, out, e);
}

int gptq_set_quant_w(const gptq_set *g, int layer, int kind, mx_format f, const float *w, size_t rows,
                     size_t cols, float *out, mx_error *e)
{
    int k = slot_of(layer, kind);
    if (!g || !g->u || k < 0 || k >= g->n_slots || !g->u[k] || !gptq_applies(f)) {
        mx_fake_quant(f, w, out, rows, cols);
        return 0;
    }
    return gptq_quantize(f, w, out, rows, cols, g->u[k], e);
}
