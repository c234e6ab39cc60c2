/* Perplexity evaluation: window layout, agreement with the float64 reference
 * (tiny random models, and a few windows of the real stories260K model when
 * the data is present), error handling, progress and cancellation. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/eval.h"
#include "src/model.h"
#include "src/tok.h"
#include "tests/ref_forward.h"
#include "tests/test_data.h"
#include "tests/testmodel.h"
#include "tests/tf_rand.h"

static tf_config tiny_cfg(void)
{
    tf_config c = {.dim = 24, .hidden_dim = 40, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2,
                   .head_dim = 6, .vocab_size = 37, .max_seq = 16, .rope_theta = 10000.0f,
                   .norm_eps = 1e-5f, .rope_style = TF_ROPE_HALF, .qk_norm = 1};
    return c;
}

static void test_windows(void **state)
{
    (void)state;
    assert_int_equal(eval_window_count(100, 10, 0), 10);
    assert_int_equal(eval_window_count(109, 10, 0), 10);
    assert_int_equal(eval_window_count(9, 10, 0), 0);
    assert_int_equal(eval_window_count(100, 10, 35), 3);
    assert_int_equal(eval_window_count(100, 10, 500), 10);
    assert_int_equal(eval_window_count(100, 0, 0), 0);
    int tok[12], in[4], tgt[4];
    for (int i = 0; i < 12; i++)
        tok[i] = 100 + i;
    eval_window_tokens(tok, 1, 4, 1, in, tgt);
    int want_in[4] = {1, 104, 105, 106}, want_tgt[4] = {104, 105, 106, 107};
    assert_memory_equal(in, want_in, sizeof in);
    assert_memory_equal(tgt, want_tgt, sizeof tgt);
    eval_window_tokens(tok, 0, 1, 7, in, tgt);
    assert_int_equal(in[0], 7);
    assert_int_equal(tgt[0], 100);
}

/* Reference perplexity over the same windows, in double. */
static double ref_mean_nll(const tf_config *c, const tf_weights *w, const int *tok, long nw,
                           int ctx, int bos)
{
    int *in = malloc(sizeof(int) * ctx), *tgt = malloc(sizeof(int) * ctx);
    double s = 0;
    for (long k = 0; k < nw; k++) {
        eval_window_tokens(tok, k, ctx, bos, in, tgt);
        double v = ref_nll_sum(c, w, in, ctx, tgt);
        assert_true(v >= 0);
        s += v;
    }
    free(in);
    free(tgt);
    return s / (double)(nw * ctx);
}

static int count_calls(void *user, long done, long total)
{
    long *calls = user;
    assert_int_equal(done, calls[0] + 1);
    calls[0]++;
    calls[1] = total;
    return calls[2] && done >= calls[2];
}

static void test_tiny_vs_ref(void **state)
{
    (void)state;
    tf_config c = tiny_cfg();
    tf_rand_model m;
    assert_int_equal(tf_rand_model_init(&m, &c, 0, 77), 0);
    int n = 70, tok[70];
    uint64_t s = 5;
    for (int i = 0; i < n; i++)
        tok[i] = (int)((tf_rand_uniform(&s) + 1.0f) * 0.5f * c.vocab_size) % c.vocab_size;
    eval_result r;
    mx_error e = {0};
    long calls[3] = {0, 0, 0};
    assert_int_equal(eval_perplexity(&c, &m.w, tok, n, 2, 16, 0, count_calls, calls, &r, &e), 0);
    assert_int_equal(r.windows, 4);
    assert_int_equal(r.tokens, 64);
    assert_int_equal(calls[0], 4);
    assert_int_equal(calls[1], 4);
    double ref = ref_mean_nll(&c, &m.w, tok, 4, 16, 2);
    print_message("    nll %.9f ref %.9f\n", r.nll, ref);
    assert_true(fabs(r.nll - ref) < 1e-6 * ref);
    assert_true(fabs(r.ppl - exp(ref)) < 1e-5 * exp(ref));

    /* max_tokens, shorter windows */
    assert_int_equal(eval_perplexity(&c, &m.w, tok, n, 2, 5, 23, NULL, NULL, &r, &e), 0);
    assert_int_equal(r.windows, 4);
    assert_int_equal(r.tokens, 20);
    ref = ref_mean_nll(&c, &m.w, tok, 4, 5, 2);
    assert_true(fabs(r.nll - ref) < 1e-6 * ref);

    /* a reused workspace gives the same numbers */
    tf_ctx *t = tf_ctx_create(&c, 16, 0);
    assert_non_null(t);
    eval_result r2;
    assert_int_equal(eval_perplexity_ctx(t, &m.w, tok, n, 2, 5, 23, NULL, NULL, &r2, &e), 0);
    assert_true(r2.nll == r.nll);
    /* ctx beyond the workspace */
    assert_int_equal(eval_perplexity_ctx(t, &m.w, tok, n, 2, 17, 0, NULL, NULL, &r2, &e), ERR_ARG);
    tf_ctx_free(t);

    /* cancellation after 2 windows */
    long c2[3] = {0, 0, 2};
    assert_int_equal(eval_perplexity(&c, &m.w, tok, n, 2, 16, 0, count_calls, c2, &r, &e),
                     ERR_CANCELLED);
    assert_int_equal(c2[0], 2);

    /* errors */
    assert_int_equal(eval_perplexity(&c, &m.w, tok, n, 2, 17, 0, NULL, NULL, &r, &e), ERR_ARG);
    assert_non_null(strstr(e.msg, "maximum context"));
    assert_int_equal(eval_perplexity(&c, &m.w, tok, 15, 2, 16, 0, NULL, NULL, &r, &e), ERR_ARG);
    assert_non_null(strstr(e.msg, "fewer than one window"));
    assert_int_equal(eval_perplexity(&c, &m.w, tok, 0, 2, 16, 0, NULL, NULL, &r, &e), ERR_ARG);
    assert_int_equal(eval_perplexity(&c, &m.w, tok, n, 37, 16, 0, NULL, NULL, &r, &e), ERR_ARG);
    tok[3] = 37;
    assert_int_equal(eval_perplexity(&c, &m.w, tok, n, 2, 16, 0, NULL, NULL, &r, &e), ERR_ARG);
    assert_non_null(strstr(e.msg, "token 3"));
    tf_rand_model_free(&m);
}

/* ---- real model (skipped without data) ---------------------------------- */

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) {
        b[n] = 0;
        *len = (size_t)n;
    }
    return b;
}

static void test_stories260k(void **state)
{
    (void)state;
    char mp[4096], xp[4096];
    need_data(xp, sizeof xp, "tinystories-text/tinystories_sample_30k.txt"); /* before loading */
    model m;
    tok *tk = load_stories260k(&m, mp, sizeof mp);
    mx_error e = {0};
    size_t len;
    char *text = slurp(xp, &len);
    assert_non_null(text);
    int *ids = NULL;
    long n = tok_encode(tk, text, len, &ids, &e);
    assert_true(n > 1000);
    assert_int_equal(ids[0], tok_bos(tk));
    int bos = tok_bos(tk);

    /* SOURCE.md: mean NLL 1.563 on the first 381 tokens (one BOS-prefixed window) */
    eval_result r;
    assert_int_equal(eval_perplexity(&m.cfg, &m.weights, ids + 1, n - 1, bos, 381, 381, NULL,
                                     NULL, &r, &e), 0);
    print_message("    first 381 tokens: nll %.4f ppl %.3f\n", r.nll, r.ppl);
    assert_true(fabs(r.nll - 1.563) < 0.01);

    /* two windows of 96 against the float64 reference on the same windows */
    int ctx = 96;
    assert_int_equal(eval_perplexity(&m.cfg, &m.weights, ids + 1, n - 1, bos, ctx, 2 * ctx, NULL,
                                     NULL, &r, &e), 0);
    double ref = ref_mean_nll(&m.cfg, &m.weights, ids + 1, 2, ctx, bos);
    print_message("    ctx %d x2: nll %.7f ref %.7f\n", ctx, r.nll, ref);
    assert_true(fabs(r.ppl - exp(ref)) < 5e-4 * exp(ref));
    assert_true(fabs(r.nll - ref) < 1e-5 * ref);

    /* every linear fake-quantized (mxfp4; q_proj of layer 1 kept fp32): the
     * reference sees the same copies */
    mx_format *fm = malloc(sizeof *fm * m.n_modules);
    for (int i = 0; i < m.n_modules; i++)
        fm[i] = MX_FP4_E2M1;
    int keep = model_find_module(&m, "model.layers.1.self_attn.q_proj");
    assert_true(keep >= 0);
    fm[keep] = MX_FP32;
    eval_qweights q;
    assert_int_equal(eval_qweights_init(&q, &m, fm, NULL, &e), 0);
    assert_ptr_equal(q.w.tok_emb, m.weights.tok_emb);
    assert_ptr_equal(q.w.lm_head, m.weights.lm_head);
    assert_ptr_equal(q.w.layers[1].lin[TF_Q], m.modules[keep].w);
    assert_ptr_not_equal(q.w.layers[1].lin[TF_K], m.weights.layers[1].lin[TF_K]);
    assert_ptr_equal(m.weights.layers[1].lin[TF_K], m.modules[keep + 1].w); /* model untouched */
    eval_result rq;
    assert_int_equal(eval_perplexity(&m.cfg, &q.w, ids + 1, n - 1, bos, ctx, 2 * ctx, NULL, NULL,
                                     &rq, &e), 0);
    double refq = ref_mean_nll(&m.cfg, &q.w, ids + 1, 2, ctx, bos);
    print_message("    mxfp4: nll %.7f ref %.7f (fp32 %.7f)\n", rq.nll, refq, r.nll);
    assert_true(fabs(rq.nll - refq) < 1e-5 * refq);
    assert_true(rq.nll > r.nll + 0.01);
    eval_qweights_free(&q);
    fm[0] = (mx_format)MX_NFORMATS;
    assert_int_equal(eval_qweights_init(&q, &m, fm, NULL, &e), ERR_ARG);
    free(fm);

    /* converted to HF safetensors and GGUF: the same perplexity (RoPE pair
     * layout and q/k row order differ, the function does not) */
    char dir[4096], dst[4200];
    assert_int_equal(tm_tmpdir(dir, sizeof dir), 0);
    for (int kind = 0; kind < 2; kind++) {
        snprintf(dst, sizeof dst, "%s/%s", dir, kind ? "m.gguf" : "hf");
        if (tm_convert(mp, dst, kind ? TM_FMT_GGUF : TM_FMT_HF, TM_F32, &e))
            fail_msg("%s", e.msg);
        model m2;
        if (model_load(dst, &m2, &e))
            fail_msg("%s", e.msg);
        assert_int_equal(m2.cfg.rope_style, TF_ROPE_HALF);
        eval_result r2;
        assert_int_equal(eval_perplexity(&m2.cfg, &m2.weights, ids + 1, n - 1, bos, ctx, 2 * ctx,
                                         NULL, NULL, &r2, &e), 0);
        print_message("    %s: nll %.7f\n", kind ? "gguf" : "hf", r2.nll);
        assert_true(fabs(r2.nll - r.nll) < 1e-5 * r.nll);
        model_free(&m2);
    }
    tm_rmtree(dir);

    /* the model's maximum context is the limit */
    assert_int_equal(eval_perplexity(&m.cfg, &m.weights, ids + 1, n - 1, bos, m.cfg.max_seq + 1,
                                     0, NULL, NULL, &r, &e), ERR_ARG);
    free(ids);
    free(text);
    tok_free(tk);
    model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_windows),
        cmocka_unit_test(test_tiny_vs_ref),
        cmocka_unit_test(test_stories260k),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
