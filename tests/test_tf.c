/* The batched forward pass against the float64 token-by-token reference, the
 * GEMM wrapper against its scalar twin, restarts from a block, weight swaps. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kernels/gemm.h"
#include "kernels/tf.h"
#include "tests/ref_forward.h"
#include "tests/tf_rand.h"

/* ---- gemm ---------------------------------------------------------------- */

static void check_gemm(int ta, int tb, int m, int n, int k, int pad, float alpha, float beta,
                       uint64_t seed)
{
    int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
    int arows = ta ? k : m, brows = tb ? n : k;
    float *a = malloc(sizeof(float) * arows * lda), *b = malloc(sizeof(float) * brows * ldb);
    float *c1 = malloc(sizeof(float) * m * ldc), *c2 = malloc(sizeof(float) * m * ldc);
    for (int i = 0; i < arows * lda; i++)
        a[i] = tf_rand_uniform(&seed);
    for (int i = 0; i < brows * ldb; i++)
        b[i] = tf_rand_uniform(&seed);
    for (int i = 0; i < m * ldc; i++)
        c1[i] = c2[i] = tf_rand_uniform(&seed);
    gemm_f32(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c1, ldc);
    gemm_f32_scalar(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c2, ldc);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n + pad; j++) {
            float x = c1[i * ldc + j], y = c2[i * ldc + j];
            if (j >= n) { /* padding columns untouched */
                assert_true(x == y);
                continue;
            }
            double bound = 0; /* |alpha| sum |a||b| + |beta c| scaled by k * eps */
            for (int p = 0; p < k; p++) {
                float av = ta ? a[p * lda + i] : a[i * lda + p];
                float bv = tb ? b[j * ldb + p] : b[p * ldb + j];
                bound += fabs((double)av * bv);
            }
            bound = (fabs(alpha) * bound + 2.0) * (k + 2) * 1.2e-7;
            if (fabs((double)x - y) > bound)
                fail_msg("gemm ta=%d tb=%d (%d,%d): %g vs %g", ta, tb, i, j, x, y);
        }
    free(a);
    free(b);
    free(c1);
    free(c2);
}

static void test_gemm_twin(void **state)
{
    (void)state;
    uint64_t seed = 7;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            check_gemm(ta, tb, 1, 1, 1, 0, 1.0f, 0.0f, seed++);
            check_gemm(ta, tb, 17, 33, 65, 0, 1.0f, 0.0f, seed++);
            check_gemm(ta, tb, 64, 48, 31, 3, 0.5f, 1.0f, seed++);
            check_gemm(ta, tb, 5, 130, 257, 1, -2.0f, 0.25f, seed++);
        }
    /* k == 0: C = beta C */
    float c[4] = {1, 2, 3, 4};
    gemm_f32(0, 0, 2, 2, 0, 1.0f, NULL, 1, NULL, 2, 0.5f, c, 2);
    assert_true(c[0] == 0.5f && c[3] == 2.0f);
    gemm_f32(0, 0, 2, 2, 0, 1.0f, NULL, 1, NULL, 2, 0.0f, c, 2);
    assert_true(c[0] == 0.0f && c[3] == 0.0f);
}

/* ---- forward vs reference ------------------------------------------------ */

static tf_config cfg_base(void)
{
    tf_config c = {.dim = 32, .hidden_dim = 48, .n_layers = 3, .n_heads = 4, .n_kv_heads = 2,
                   .head_dim = 8, .vocab_size = 41, .max_seq = 64, .rope_theta = 10000.0f,
                   .norm_eps = 1e-5f, .rope_style = TF_ROPE_INTERLEAVED, .qk_norm = 0};
    return c;
}

static void rand_tokens(int *t, int n, int vocab, uint64_t seed)
{
    for (int i = 0; i < n; i++)
        t[i] = (int)((tf_rand_uniform(&seed) + 1.0f) * 0.5f * vocab) % vocab;
}

/* Max |fp32 logit - ref logit| / (1 + max |ref logit|) over a window of n. */
static double logits_vs_ref(const tf_config *c, int tied, int n, uint64_t seed, int flags)
{
    tf_rand_model m;
    assert_int_equal(tf_rand_model_init(&m, c, tied, seed), 0);
    int *tok = malloc(sizeof(int) * n);
    rand_tokens(tok, n, c->vocab_size, seed + 99);
    double *ref = malloc(sizeof(double) * n * c->vocab_size);
    float *lg = malloc(sizeof(float) * n * c->vocab_size);
    assert_int_equal(ref_forward(c, &m.w, tok, n, ref), 0);
    tf_ctx *t = tf_ctx_create(c, n + 3, flags);
    assert_non_null(t);
    assert_int_equal(tf_forward(t, &m.w, tok, n, 0), 0);
    tf_logits(t, &m.w, 0, n, lg);
    double maxref = 0, maxdiff = 0;
    for (int i = 0; i < n * c->vocab_size; i++) {
        maxref = fmax(maxref, fabs(ref[i]));
        maxdiff = fmax(maxdiff, fabs(ref[i] - lg[i]));
    }
    /* the NLL path agrees with the logits path and with the reference */
    int *tgt = malloc(sizeof(int) * n);
    rand_tokens(tgt, n, c->vocab_size, seed + 5);
    double *per = malloc(sizeof(double) * n);
    double s = tf_nll(t, &m.w, tgt, per), s2 = 0;
    for (int i = 0; i < n; i++)
        s2 += per[i];
    assert_true(fabs(s - s2) <= 1e-9 * fabs(s));
    double rs = ref_nll_sum(c, &m.w, tok, n, tgt);
    assert_true(rs > 0);
    if (fabs(s - rs) > 2e-6 * rs + 1e-5)
        fail_msg("nll %.9g vs ref %.9g", s, rs);
    free(per);
    free(tgt);
    tf_ctx_free(t);
    free(lg);
    free(ref);
    free(tok);
    tf_rand_model_free(&m);
    double rel = maxdiff / (1.0 + maxref);
    print_message("    max logit error %.3g (max |logit| %.3g)\n", rel, maxref);
    return rel;
}

/* Tolerance: fp32 with fp32 GEMM accumulation over dims <= 64 and 3 layers;
 * observed errors are ~1e-6 relative, the bound leaves 20x margin. */
#define LOGIT_TOL 2e-5

static void test_ref_interleaved_gqa_untied(void **state)
{
    (void)state;
    tf_config c = cfg_base();
    assert_true(logits_vs_ref(&c, 0, 29, 1, 0) < LOGIT_TOL);
}

static void test_ref_half_tied_mha(void **state)
{
    (void)state;
    tf_config c = cfg_base();
    c.rope_style = TF_ROPE_HALF;
    c.n_kv_heads = 4;
    assert_true(logits_vs_ref(&c, 1, 33, 2, 0) < LOGIT_TOL);
}

static void test_ref_qwen3_qknorm(void **state)
{
    (void)state;
    tf_config c = cfg_base(); /* n_heads*head_dim = 48 != dim = 32 */
    c.rope_style = TF_ROPE_HALF;
    c.qk_norm = 1;
    c.head_dim = 12;
    c.rope_theta = 1000000.0f;
    c.norm_eps = 1e-6f;
    assert_true(logits_vs_ref(&c, 1, 40, 3, 0) < LOGIT_TOL);
    c.rope_style = TF_ROPE_INTERLEAVED;
    c.n_kv_heads = 1; /* multi-query */
    c.head_dim = 6;
    assert_true(logits_vs_ref(&c, 0, 21, 4, TF_KEEP_ACTS) < LOGIT_TOL);
}

static void test_ref_single_token(void **state)
{
    (void)state;
    tf_config c = cfg_base();
    assert_true(logits_vs_ref(&c, 0, 1, 5, 0) < LOGIT_TOL);
}

static void test_ref_long_window(void **state)
{
    (void)state; /* several causal row blocks of the attention GEMMs, a partial last one */
    tf_config c = cfg_base();
    c.n_layers = 2;
    c.max_seq = 512;
    assert_true(logits_vs_ref(&c, 0, 290, 6, 0) < LOGIT_TOL);
    c.rope_style = TF_ROPE_HALF;
    assert_true(logits_vs_ref(&c, 1, 257, 7, TF_KEEP_ACTS) < LOGIT_TOL);
}

/* ---- structure: restarts, swaps, kept activations ------------------------ */

/* Model m of config c (seed) and n random tokens (seed + 1). */
static void rand_setup(tf_rand_model *m, const tf_config *c, int tied, uint64_t seed, int *tok, int n)
{
    assert_int_equal(tf_rand_model_init(m, c, tied, seed), 0);
    rand_tokens(tok, n, c->vocab_size, seed + 1);
}

static tf_ctx *ctx_ok(const tf_config *c, int max_tokens, int flags)
{
    tf_ctx *t = tf_ctx_create(c, max_tokens, flags);
    assert_non_null(t);
    return t;
}

static void full_logits(tf_ctx *t, const tf_weights *w, const int *tok, int n, int from,
                        float *out)
{
    assert_int_equal(tf_forward(t, w, tok, n, from), 0);
    tf_logits(t, w, 0, n, out);
}

static void test_restart_from_block(void **state)
{
    (void)state;
    tf_config c = cfg_base();
    c.n_layers = 4;
    tf_rand_model m;
    int n = 19, V = c.vocab_size;
    int tok[19];
    rand_setup(&m, &c, 0, 11, tok, n);
    tf_ctx *t = ctx_ok(&c, 32, 0), *t2 = ctx_ok(&c, 32, 0);
    float *a = malloc(sizeof(float) * n * V), *b = malloc(sizeof(float) * n * V);
    full_logits(t, &m.w, tok, n, 0, a);
    size_t xs = sizeof(float) * n * c.dim;
    float *saved = malloc(xs * (c.n_layers + 1));
    for (int l = 0; l <= c.n_layers; l++)
        memcpy(saved + (size_t)l * n * c.dim, tf_block_input(t, l), xs);
    for (int l = 0; l <= c.n_layers; l++) {
        /* a fresh context given only block l's input */
        memcpy(tf_block_input(t2, l), saved + (size_t)l * n * c.dim, xs);
        assert_int_equal(tf_forward(t2, &m.w, NULL, n, l), 0);
        tf_logits(t2, &m.w, 0, n, b);
        assert_memory_equal(a, b, sizeof(float) * n * V);
        /* clobber so the next iteration really starts from what is copied in */
        for (int k = 0; k <= c.n_layers; k++)
            memset(tf_block_input(t2, k), 0, xs);
    }
    /* bad arguments are refused */
    assert_int_equal(tf_forward(t2, &m.w, tok, 33, 0), -1);
    assert_int_equal(tf_forward(t2, &m.w, tok, n, c.n_layers + 1), -1);
    int bad[2] = {0, V};
    assert_int_equal(tf_forward(t2, &m.w, bad, 2, 0), -1);
    assert_null(tf_block_input(t2, c.n_layers + 1));
    free(saved);
    free(a);
    free(b);
    tf_ctx_free(t);
    tf_ctx_free(t2);
    tf_rand_model_free(&m);
}

static void test_swap_weights(void **state)
{
    (void)state;
    tf_config c = cfg_base();
    c.n_layers = 4;
    tf_rand_model m;
    int n = 16, d = c.dim;
    int tok[16];
    rand_setup(&m, &c, 1, 21, tok, n);
    tf_ctx *t = ctx_ok(&c, n, 0);
    size_t xs = sizeof(float) * n * d;
    float *base = malloc(xs * (c.n_layers + 1));
    assert_int_equal(tf_forward(t, &m.w, tok, n, 0), 0);
    for (int l = 0; l <= c.n_layers; l++)
        memcpy(base + (size_t)l * n * d, tf_block_input(t, l), xs);
    for (int k = 0; k < TF_NLIN; k++) {
        int layer = k % c.n_layers, rows, cols;
        tf_linear_shape(&c, k, &rows, &cols);
        size_t cnt = (size_t)rows * cols;
        float *copy = malloc(sizeof(float) * cnt);
        const float *orig = m.layers[layer].lin[k];
        /* an identical copy by pointer: bitwise the same result */
        memcpy(copy, orig, sizeof(float) * cnt);
        m.layers[layer].lin[k] = copy;
        assert_int_equal(tf_forward(t, &m.w, tok, n, 0), 0);
        for (int l = 0; l <= c.n_layers; l++)
            assert_memory_equal(base + (size_t)l * n * d, tf_block_input(t, l), xs);
        /* a perturbed copy: blocks up to `layer` unchanged, every later one changed */
        for (size_t i = 0; i < cnt; i++)
            copy[i] *= 1.01f;
        assert_int_equal(tf_forward(t, &m.w, tok, n, 0), 0);
        for (int l = 0; l <= c.n_layers; l++) {
            int same = !memcmp(base + (size_t)l * n * d, tf_block_input(t, l), xs);
            assert_int_equal(same, l <= layer);
        }
        /* restore the pointer: the original result again; the model store was not touched */
        m.layers[layer].lin[k] = orig;
        assert_int_equal(tf_forward(t, &m.w, tok, n, 0), 0);
        assert_memory_equal(base + (size_t)c.n_layers * n * d,
                            tf_block_input(t, c.n_layers), xs);
        free(copy);
    }
    free(base);
    tf_ctx_free(t);
    tf_rand_model_free(&m);
}

static void test_kept_acts(void **state)
{
    (void)state;
    tf_config c = cfg_base();
    c.qk_norm = 1;
    c.head_dim = 10;
    tf_rand_model m;
    int n = 70, V = c.vocab_size; /* >= 64: the softmax runs threaded */
    int tok[70];
    rand_setup(&m, &c, 0, 31, tok, n);
    tf_ctx *keep = ctx_ok(&c, n, TF_KEEP_ACTS), *plain = ctx_ok(&c, 80, 0);
    float *a = malloc(sizeof(float) * n * V), *b = malloc(sizeof(float) * n * V);
    full_logits(keep, &m.w, tok, n, 0, a);
    full_logits(plain, &m.w, tok, n, 0, b);
    assert_memory_equal(a, b, sizeof(float) * n * V); /* keeping acts changes nothing */
    full_logits(plain, &m.w, tok, n, 0, b);
    assert_memory_equal(a, b, sizeof(float) * n * V); /* repeatable */
    double nll1 = tf_nll(plain, &m.w, tok, NULL);
    for (int nt = 1; nt <= 4; nt++) { /* any softmax thread count: the same bits */
        assert_int_equal(tf_ctx_set_threads(plain, nt), nt);
        assert_int_equal(tf_forward(plain, &m.w, tok, n, 0), 0);
        assert_true(tf_nll(plain, &m.w, tok, NULL) == nll1);
        assert_int_equal(tf_ctx_set_threads(keep, nt), nt);
        full_logits(plain, &m.w, tok, n, 0, b);
        assert_memory_equal(a, b, sizeof(float) * n * V);
        full_logits(keep, &m.w, tok, n, 0, b);
        assert_memory_equal(a, b, sizeof(float) * n * V);
    }
    assert_int_equal(tf_ctx_set_threads(plain, 0), 1);
    assert_int_equal(tf_ctx_threads(plain), 1);
    assert_int_equal(tf_ctx_set_threads(keep, 99), c.n_heads);
    assert_null(tf_acts(plain, 0)->att);
    for (int l = 0; l < c.n_layers; l++) {
        const tf_layer_acts *A = tf_acts(keep, l);
        assert_non_null(A->att);
        assert_non_null(A->q_raw);
        assert_true(A != tf_acts(keep, (l + 1) % c.n_layers));
        for (int h = 0; h < c.n_heads; h++)
            for (int i = 0; i < n; i++) {
                const float *row = A->att + ((size_t)h * n + i) * n;
                double s = 0;
                for (int j = 0; j < n; j++) {
                    if (j > i)
                        assert_true(row[j] == 0.0f);
                    s += row[j];
                }
                assert_true(fabs(s - 1.0) < 1e-5);
            }
        /* the block output is h + down(a): check one element by hand */
        const float *out = tf_block_input(keep, l + 1);
        double y = A->h[5 * c.dim + 3];
        for (int j = 0; j < c.hidden_dim; j++)
            y += (double)m.layers[l].lin[TF_DOWN][3 * c.hidden_dim + j] * A->a[5 * c.hidden_dim + j];
        assert_true(fabs(y - out[5 * c.dim + 3]) < 1e-4 * (1 + fabs(y)));
    }
    assert_null(tf_acts(keep, c.n_layers));
    free(a);
    free(b);
    tf_ctx_free(keep);
    tf_ctx_free(plain);
    tf_rand_model_free(&m);
}

static void test_nll_targets(void **state)
{
    (void)state;
    tf_config c = cfg_base();
    tf_rand_model m;
    int n = 20, V = c.vocab_size, tok[20], tgt[20];
    rand_setup(&m, &c, 1, 41, tok, n);
    rand_tokens(tgt, n, V, 43);
    tf_ctx *t = ctx_ok(&c, n, 0);
    assert_int_equal(tf_forward(t, &m.w, tok, n, 0), 0);
    double all[20], some[20];
    double s_all = tf_nll(t, &m.w, tgt, all);
    /* the NLL of row i from explicit logits, in double */
    float *lg = malloc(sizeof(float) * n * V);
    tf_logits(t, &m.w, 0, n, lg);
    for (int i = 0; i < n; i++) {
        double mx = -1e30, z = 0;
        for (int k = 0; k < V; k++)
            mx = fmax(mx, lg[i * V + k]);
        for (int k = 0; k < V; k++)
            z += exp(lg[i * V + k] - mx);
        assert_true(fabs(mx + log(z) - lg[i * V + tgt[i]] - all[i]) < 1e-5);
    }
    /* logits of a sub-range equal the same rows of the full call */
    float *part = malloc(sizeof(float) * 5 * V);
    tf_logits(t, &m.w, 7, 5, part);
    for (int i = 0; i < 5 * V; i++)
        assert_true(fabs(part[i] - lg[7 * V + i]) <= 1e-6f * (1.0f + fabsf(lg[7 * V + i])));
    /* skipped rows */
    double want = 0;
    for (int i = 0; i < n; i++) {
        if (i % 3 == 0)
            tgt[i] = -1;
        else
            want += all[i];
    }
    double s_some = tf_nll(t, &m.w, tgt, some);
    assert_true(fabs(s_some - want) < 1e-9 * s_all);
    for (int i = 0; i < n; i += 3)
        assert_true(some[i] == 0.0);
    tgt[4] = V;
    assert_true(tf_nll(t, &m.w, tgt, NULL) == -1.0);
    free(part);
    free(lg);
    tf_ctx_free(t);
    tf_rand_model_free(&m);
}

/* Large enough that the softmax and the NLL really run on several threads. */
static void test_threads_invariant(void **state)
{
    (void)state;
    tf_config c = cfg_base();
    c.n_layers = 1;
    c.vocab_size = 3001;
    c.max_seq = 128;
    tf_rand_model m;
    int n = 100, V = c.vocab_size, tok[100];
    rand_setup(&m, &c, 1, 51, tok, n);
    tf_ctx *t = ctx_ok(&c, n, 0);
    float *a = malloc(sizeof(float) * n * V), *b = malloc(sizeof(float) * n * V);
    double pa[100], pb[100];
    tf_ctx_set_threads(t, 1);
    full_logits(t, &m.w, tok, n, 0, a);
    double na = tf_nll(t, &m.w, tok, pa);
    for (int nt = 2; nt <= 4; nt++) {
        assert_int_equal(tf_ctx_set_threads(t, nt), nt);
        full_logits(t, &m.w, tok, n, 0, b);
        assert_memory_equal(a, b, sizeof(float) * n * V);
        assert_true(tf_nll(t, &m.w, tok, pb) == na);
        assert_memory_equal(pa, pb, sizeof pa);
    }
    free(a);
    free(b);
    tf_ctx_free(t);
    tf_rand_model_free(&m);
}

static void test_bad_config(void **state)
{
    (void)state;
    tf_config c = cfg_base();
    c.n_kv_heads = 3;
    assert_null(tf_ctx_create(&c, 8, 0));
    c = cfg_base();
    c.head_dim = 7;
    assert_null(tf_ctx_create(&c, 8, 0));
    c = cfg_base();
    assert_null(tf_ctx_create(&c, 0, 0));
    c.rope_style = 5;
    assert_int_equal(tf_config_check(&c), -1);
    c = cfg_base();
    assert_int_equal(tf_config_check(&c), 0);
    int r, k;
    tf_linear_shape(&c, TF_O, &r, &k);
    assert_int_equal(r, 32);
    assert_int_equal(k, 32);
    tf_linear_shape(&c, TF_K, &r, &k);
    assert_int_equal(r, 16);
    tf_linear_shape(&c, TF_DOWN, &r, &k);
    assert_int_equal(k, 48);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemm_twin),
        cmocka_unit_test(test_ref_interleaved_gqa_untied),
        cmocka_unit_test(test_ref_half_tied_mha),
        cmocka_unit_test(test_ref_qwen3_qknorm),
        cmocka_unit_test(test_ref_single_token),
        cmocka_unit_test(test_ref_long_window),
        cmocka_unit_test(test_restart_from_block),
        cmocka_unit_test(test_swap_weights),
        cmocka_unit_test(test_kept_acts),
        cmocka_unit_test(test_nll_targets),
        cmocka_unit_test(test_threads_invariant),
        cmocka_unit_test(test_bad_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
