/* Greedy generation (src/generate.c): every generated token is the argmax of
 * tf_logits over the window so far, and agrees with the float64 reference
 * decoding token by token; stop ids, context limit, cancellation, errors; a
 * fake-quantized view; the text of a continuation; and stories260K decoded
 * greedily by the reference (skipped without the data). */
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
#include "src/generate.h"
#include "src/model.h"
#include "src/tok.h"
#include "tests/ref_forward.h"
#include "tests/test_data.h"
#include "tests/testmodel.h"

static int argmax_f(const float *v, int n)
{
    int b = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[b])
            b = i;
    return b;
}

/* Each generated token equals the argmax of tf_logits computed directly on
 * the window before it. */
static void check_against_logits(const tf_config *c, const tf_weights *w, const gen_result *r)
{
    int n = r->n_prompt + r->n_new;
    tf_ctx *t = tf_ctx_create(c, n, 0);
    assert_non_null(t);
    float *lg = malloc(sizeof *lg * (size_t)c->vocab_size);
    assert_non_null(lg);
    for (int k = r->n_prompt; k < n; k++) {
        assert_int_equal(tf_forward(t, w, r->ids, k, 0), 0);
        tf_logits(t, w, k - 1, 1, lg);
        assert_int_equal(r->ids[k], argmax_f(lg, c->vocab_size));
    }
    free(lg);
    tf_ctx_free(t);
}

/* Greedy decoding by the float64 reference (its own tokens fed back). Where
 * the reference's top two logits are closer than `tie` the step is not
 * asserted (fp32 may order them either way) and decoding stops there. */
static int ref_greedy(const tf_config *c, const tf_weights *w, const int *prompt, int np, int n_new,
                      int *out, double tie)
{
    int n = np + n_new;
    int *seq = malloc(sizeof *seq * (size_t)n);
    double *lg = malloc(sizeof *lg * (size_t)n * (size_t)c->vocab_size);
    assert_non_null(seq);
    assert_non_null(lg);
    memcpy(seq, prompt, sizeof *seq * (size_t)np);
    int k;
    for (k = np; k < n; k++) {
        assert_int_equal(ref_forward(c, w, seq, k, lg), 0);
        const double *row = lg + (size_t)(k - 1) * c->vocab_size;
        int b = 0, s = -1;
        for (int i = 1; i < c->vocab_size; i++)
            if (row[i] > row[b])
                b = i;
        for (int i = 0; i < c->vocab_size; i++)
            if (i != b && (s < 0 || row[i] > row[s]))
                s = i;
        if (row[b] - row[s] < tie)
            break;
        seq[k] = b;
        out[k - np] = b;
    }
    free(seq);
    free(lg);
    return k - np;
}

/* A random test model, its weights, and the default options for max_new tokens. */
static void make_tiny(tm_model *t, tm_preset p, uint64_t seed, tf_weights *w, gen_opts *o,
                      int max_new)
{
    assert_int_equal(tm_make(t, p, seed), 0);
    assert_int_equal(tm_weights(t, w), 0);
    gen_opts_init(o);
    o->max_new = max_new;
}

static void test_tiny(void **state)
{
    (void)state;
    tm_model t;
    tf_weights w;
    gen_opts o;
    make_tiny(&t, TM_SMOLLM, 11, &w, &o, 12);
    const tf_config *c = &t.cfg;
    int prompt[] = {1, 17, 42, 5};
    gen_result r;
    mx_error e = {0};
    assert_int_equal(gen_greedy(c, &w, prompt, 4, &o, &r, &e), 0);
    assert_int_equal(r.n_prompt, 4);
    assert_int_equal(r.n_new, 12);
    assert_int_equal(r.stop, GEN_STOP_LENGTH);
    assert_int_equal(r.stop_id, -1);
    assert_memory_equal(r.ids, prompt, sizeof prompt);
    check_against_logits(c, &w, &r);
    int ref[12];
    int agreed = ref_greedy(c, &w, prompt, 4, 12, ref, 1e-4);
    print_message("    tiny: %d of 12 steps decided by the reference\n", agreed);
    assert_true(agreed >= 6);
    assert_memory_equal(r.ids + 4, ref, sizeof(int) * (size_t)agreed);

    /* a stop id ends the text before it; the tokens up to it are the same */
    gen_result r2;
    o.stop_ids[1] = r.ids[4 + 5];
    int first = 0;
    while (r.ids[4 + first] != o.stop_ids[1])
        first++;
    assert_int_equal(gen_greedy(c, &w, prompt, 4, &o, &r2, &e), 0);
    assert_int_equal(r2.stop, GEN_STOP_EOS);
    assert_int_equal(r2.stop_id, o.stop_ids[1]);
    assert_int_equal(r2.n_new, first);
    assert_memory_equal(r2.ids, r.ids, sizeof(int) * (size_t)(4 + first));
    gen_result_free(&r2);
    o.stop_ids[1] = -1;

    /* the context: prompt + generated never exceed ctx */
    o.ctx = 7;
    assert_int_equal(gen_greedy(c, &w, prompt, 4, &o, &r2, &e), 0);
    assert_int_equal(r2.stop, GEN_STOP_CONTEXT);
    assert_int_equal(r2.n_new, 3);
    assert_memory_equal(r2.ids, r.ids, sizeof(int) * 7);
    gen_result_free(&r2);
    o.ctx = 4; /* a full window: nothing can follow */
    assert_int_equal(gen_greedy(c, &w, prompt, 4, &o, &r2, &e), 0);
    assert_int_equal(r2.stop, GEN_STOP_CONTEXT);
    assert_int_equal(r2.n_new, 0);
    gen_result_free(&r2);
    o.ctx = 0;

    /* nothing asked */
    o.max_new = 0;
    assert_int_equal(gen_greedy(c, &w, prompt, 4, &o, &r2, &e), 0);
    assert_int_equal(r2.n_new, 0);
    assert_int_equal(r2.stop, GEN_STOP_LENGTH);
    gen_result_free(&r2);
    gen_result_free(&r);

    /* errors: one line each, nothing to free */
    o.max_new = 3;
    assert_int_equal(gen_greedy(c, &w, prompt, 0, &o, &r2, &e), ERR_ARG);
    assert_non_null(strstr(e.msg, "empty prompt"));
    int bad[] = {1, c->vocab_size};
    assert_int_equal(gen_greedy(c, &w, bad, 2, &o, &r2, &e), ERR_ARG);
    assert_non_null(strstr(e.msg, "outside the vocabulary"));
    bad[1] = -1;
    assert_int_equal(gen_greedy(c, &w, bad, 2, &o, &r2, &e), ERR_ARG);
    o.ctx = 3;
    assert_int_equal(gen_greedy(c, &w, prompt, 4, &o, &r2, &e), ERR_ARG);
    assert_non_null(strstr(e.msg, "more than the context 3"));
    o.ctx = 0;
    o.max_new = -1;
    assert_int_equal(gen_greedy(c, &w, prompt, 4, &o, &r2, &e), ERR_ARG);
    assert_null(r2.ids);
    model_weights_free(&w);
    tm_free(&t);
}

static int cancel_after(void *user, int id, int n_new)
{
    int *calls = user;
    assert_true(id >= 0);
    assert_int_equal(n_new, ++calls[0]);
    return n_new >= calls[1];
}

static void test_cancel(void **state)
{
    (void)state;
    tm_model t;
    tf_weights w;
    gen_opts o;
    make_tiny(&t, TM_LLAMA2C, 3, &w, &o, 10);
    int prompt[] = {1, 9};
    int calls[2] = {0, 3};
    o.on_token = cancel_after;
    o.user = calls;
    gen_result r;
    mx_error e = {0};
    assert_int_equal(gen_greedy(&t.cfg, &w, prompt, 2, &o, &r, &e), 0);
    assert_int_equal(r.stop, GEN_STOP_CANCELLED);
    assert_int_equal(r.n_new, 3);
    assert_int_equal(calls[0], 3);
    check_against_logits(&t.cfg, &w, &r);
    gen_result_free(&r);
    model_weights_free(&w);
    tm_free(&t);
}

/* The fake-quantized view the CLI's --format/--config and the workbench use:
 * a loaded model with every linear in MXFP4 decodes by the argmax of that
 * view's logits, and (with these weights) differently from fp32. */
static void test_quantized_view(void **state)
{
    (void)state;
    char dir[4096], path[4200];
    assert_int_equal(tm_tmpdir(dir, sizeof dir), 0);
    snprintf(path, sizeof path, "%s/m", dir);
    tm_model t;
    mx_error e = {0};
    assert_int_equal(tm_make(&t, TM_QWEN3, 21), 0); /* untied: tied random models repeat */
    assert_int_equal(tm_write_hf(&t, path, TM_F32, 1, &e), 0);
    tm_free(&t);
    model m;
    assert_int_equal(model_load(path, &m, &e), 0);
    mx_format *f = malloc(sizeof *f * (size_t)m.n_modules);
    assert_non_null(f);
    for (int i = 0; i < m.n_modules; i++)
        f[i] = MX_FP4_E2M1;
    eval_qweights q;
    assert_int_equal(eval_qweights_init(&q, &m, f, NULL, &e), 0);
    int prompt[] = {3, 30, 60, 90, 45, 7};
    gen_opts o;
    gen_opts_init(&o);
    o.max_new = 24;
    gen_result rq, rf;
    assert_int_equal(gen_greedy(&m.cfg, &q.w, prompt, 6, &o, &rq, &e), 0);
    assert_int_equal(gen_greedy(&m.cfg, &m.weights, prompt, 6, &o, &rf, &e), 0);
    check_against_logits(&m.cfg, &q.w, &rq);
    check_against_logits(&m.cfg, &m.weights, &rf);
    assert_int_equal(rq.n_new, 24);
    assert_memory_not_equal(rq.ids, rf.ids, sizeof(int) * 30);
    gen_result_free(&rq);
    gen_result_free(&rf);
    eval_qweights_free(&q);
    free(f);
    model_free(&m);
    tm_rmtree(dir);
}

/* Text: a byte-level BPE tokenizer.json whose model never sees a BOS: the
 * prompt gets the window's start token (EOS) first, and the continuation's
 * text is the concatenation of the generated pieces. */
static void test_text(void **state)
{
    (void)state;
    static const char *const merges[][2] = {{" ", "t"}, {"h", "e"}, {" t", "he"}, {"a", "n"}};
    char dir[4096], tp[4200];
    assert_int_equal(tm_tmpdir(dir, sizeof dir), 0);
    snprintf(tp, sizeof tp, "%s/tokenizer.json", dir);
    mx_error e = {0};
    assert_int_equal(tm_write_bpe_tokenizer(tp, merges, 4, &e), 0);
    tok *tk = tok_load_hf(tp, &e);
    if (!tk)
        fail_msg("%s", e.msg);
    int eos = tok_eos(tk);
    assert_int_equal(eos, 256 + 4);
    tf_config c = {.dim = 32, .hidden_dim = 64, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2,
                   .head_dim = 8, .vocab_size = 256 + 4 + 1, .max_seq = 64,
                   .rope_theta = 10000.0f, .norm_eps = 1e-5f, .rope_style = TF_ROPE_HALF};
    tm_model t;
    assert_int_equal(tm_random(&t, MODEL_ARCH_LLAMA, &c, 1, 8), 0); /* tied: it repeats " the", plain ASCII */
    tf_weights w;
    assert_int_equal(tm_weights(&t, &w), 0);

    int *ids = NULL;
    long n = gen_encode_prompt(tk, "the an", 6, &ids, &e);
    assert_true(n >= 2);
    assert_int_equal(ids[0], tok_window_bos(tk));
    free(ids);

    gen_result r;
    char *text = NULL;
    long len = gen_text(&c, &w, tk, " the", 8, 0, NULL, NULL, &r, &text, &e);
    if (len < 0)
        fail_msg("%s", e.msg);
    assert_int_equal(r.n_prompt, 2); /* EOS, then " t" + "he" merged into " the" */
    assert_int_equal(r.ids[0], eos);
    assert_int_equal(r.ids[1], 256 + 2);
    check_against_logits(&c, &w, &r);
    char want[256] = "";
    for (int i = 0; i < r.n_new; i++)
        strcat(want, tok_piece(tk, r.ids[r.n_prompt + i]));
    print_message("    %d new tokens (stop %s): \"%s\"\n", r.n_new, gen_stop_name(r.stop), text);
    assert_int_equal(len, (long)strlen(want));
    assert_string_equal(text, want);
    assert_true(r.stop == GEN_STOP_LENGTH || r.stop == GEN_STOP_EOS);
    free(text);
    gen_result_free(&r);

    /* a prompt longer than the context */
    len = gen_text(&c, &w, tk, "the the the the the", 8, 3, NULL, NULL, &r, &text, &e);
    assert_int_equal(len, ERR_ARG);
    assert_non_null(strstr(e.msg, "context 3"));
    assert_null(text);

    model_weights_free(&w);
    tm_free(&t);
    tok_free(tk);
    tm_rmtree(dir);
}

/* stories260K: greedy decoding of "Once upon a time" agrees with the float64
 * reference decoding token by token. tests/generate_cli.sh asserts the same
 * ids through the CLI. */
static void test_stories260k(void **state)
{
    (void)state;
    char mp[4096];
    model m;
    tok *tk = load_stories260k(&m, mp, sizeof mp);
    mx_error e = {0};
    gen_result r;
    char *text = NULL;
    enum { N = 24 };
    long len = gen_text(&m.cfg, &m.weights, tk, "Once upon a time", N, 0, NULL, NULL, &r, &text, &e);
    if (len < 0)
        fail_msg("%s", e.msg);
    char buf[512] = "";
    for (int i = 0; i < r.n_prompt + r.n_new; i++)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%d", i ? " " : "", r.ids[i]);
    print_message("    ids %s (stop %s)\n    text \"%s\"\n", buf, gen_stop_name(r.stop), text);
    check_against_logits(&m.cfg, &m.weights, &r);
    int ref[N];
    int agreed = ref_greedy(&m.cfg, &m.weights, r.ids, r.n_prompt, r.n_new, ref, 1e-3);
    assert_int_equal(agreed, r.n_new);
    assert_memory_equal(r.ids + r.n_prompt, ref, sizeof(int) * (size_t)r.n_new);
    assert_true(r.n_new >= 10);
    free(text);
    gen_result_free(&r);
    tok_free(tk);
    model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiny),           cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_quantized_view), cmocka_unit_test(test_text),
        cmocka_unit_test(test_stories260k),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
