/* Sensitivity scores on tiny generated models: the kl score equals the
 * brute-force loss difference of two full forwards (so the block-input
 * caching is exact), its KL equals a direct computation, the fisher score
 * equals the definition rebuilt from per-token gradients, the mean gradient
 * agrees with a central difference of the loss, every score's standard error
 * is that of the scores of its windows scored one by one, the cache key
 * moves with each input, and bad input / cancellation / corrupt cache files
 * are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/tf_backward.h"
#include "src/cache.h"
#include "src/eval.h"
#include "src/score.h"
#include "tests/testmodel.h"

#define CTX 16
#define NW 3
#define BOS 1

static char g_tmp[4096];
static model g_llama, g_qwen;
static int g_tokens[NW * CTX + 5];

static int setup(void **state)
{
    (void)state;
    if (tm_tmpdir(g_tmp, sizeof g_tmp))
        return -1;
    mx_error e = {0};
    tm_model t;
    char path[4200];
    snprintf(path, sizeof path, "%s/l.bin", g_tmp);
    if (tm_make(&t, TM_LLAMA2C, 7) || tm_write_llama2c(&t, path, 0, &e))
        return -1;
    tm_free(&t);
    if (model_load(path, &g_llama, &e))
        return -1;
    snprintf(path, sizeof path, "%s/q", g_tmp);
    if (tm_make(&t, TM_QWEN3, 11) || tm_write_hf(&t, path, TM_F32, 1, &e))
        return -1;
    tm_free(&t);
    if (model_load(path, &g_qwen, &e))
        return -1;
    uint64_t s = 12345;
    for (size_t i = 0; i < sizeof g_tokens / sizeof g_tokens[0]; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        /* a skewed distribution so the model's predictions matter */
        int v = (int)((s >> 33) % 96);
        g_tokens[i] = (s >> 20) % 3 ? v % 24 + 3 : v;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    model_free(&g_llama);
    model_free(&g_qwen);
    tm_rmtree(g_tmp);
    return 0;
}

static void base_opts(score_opts *o, unsigned methods)
{
    score_opts_init(o);
    o->methods = methods;
    o->ctx = CTX;
    o->bos = BOS;
    o->n_formats = 4;
    o->formats[0] = MX_FP8_E4M3;
    o->formats[1] = MX_INT8;
    o->formats[2] = MX_FP4_E2M1;
    o->formats[3] = MX_FP32;
}

/* Mean NLL with module i (or every module when i < 0) in format f, from full
 * forwards (embedding on): eval_perplexity's number, and the same computed
 * from tf_logits over the whole window in the test (*own). */
static double brute_loss2(const model *m, int i, mx_format f, double *own)
{
    mx_format *fm = malloc(sizeof *fm * (size_t)m->n_modules);
    assert_non_null(fm);
    for (int j = 0; j < m->n_modules; j++)
        fm[j] = i < 0 || j == i ? f : MX_FP32;
    eval_qweights q;
    mx_error e = {0};
    assert_int_equal(eval_qweights_init(&q, m, fm, NULL, &e), 0);
    eval_result r;
    assert_int_equal(eval_perplexity(&m->cfg, &q.w, g_tokens, NW * CTX, BOS, CTX, 0, NULL, NULL,
                                     &r, &e),
                     0);
    if (own) {
        int V = m->cfg.vocab_size, in[CTX], tgt[CTX];
        float *z = malloc(sizeof(float) * CTX * V);
        tf_ctx *t = tf_ctx_create(&m->cfg, CTX, 0);
        assert_true(z && t);
        double sum = 0;
        for (int k = 0; k < NW; k++) {
            eval_window_tokens(g_tokens, k, CTX, BOS, in, tgt);
            assert_int_equal(tf_forward(t, &q.w, in, CTX, 0), 0);
            tf_logits(t, &q.w, 0, CTX, z);
            for (int row = 0; row < CTX; row++) {
                const float *y = z + (size_t)row * V;
                float mx = y[0];
                for (int v = 1; v < V; v++)
                    mx = y[v] > mx ? y[v] : mx;
                double s = 0;
                for (int v = 0; v < V; v++)
                    s += exp((double)y[v] - mx);
                sum += mx + log(s) - y[tgt[row]];
            }
        }
        *own = sum / (NW * CTX);
        tf_ctx_free(t);
        free(z);
    }
    eval_qweights_free(&q);
    free(fm);
    return r.nll;
}

static double brute_loss(const model *m, int i, mx_format f)
{
    double own;
    brute_loss2(m, i, f, &own);
    return own;
}

/* Mean KL(fp32 || module i in f) over the windows, from two full forwards. */
static double brute_kl(const model *m, int i, mx_format f)
{
    mx_format *fm = malloc(sizeof *fm * (size_t)m->n_modules);
    assert_non_null(fm);
    for (int j = 0; j < m->n_modules; j++)
        fm[j] = j == i ? f : MX_FP32;
    eval_qweights q;
    mx_error e = {0};
    assert_int_equal(eval_qweights_init(&q, m, fm, NULL, &e), 0);
    int V = m->cfg.vocab_size, in[CTX], tgt[CTX];
    float *zp = malloc(sizeof(float) * CTX * V), *zq = malloc(sizeof(float) * CTX * V);
    tf_ctx *t = tf_ctx_create(&m->cfg, CTX, 0);
    assert_true(zp && zq && t);
    double kl = 0;
    for (int k = 0; k < NW; k++) {
        eval_window_tokens(g_tokens, k, CTX, BOS, in, tgt);
        assert_int_equal(tf_forward(t, &m->weights, in, CTX, 0), 0);
        tf_logits(t, &m->weights, 0, CTX, zp);
        assert_int_equal(tf_forward(t, &q.w, in, CTX, 0), 0);
        tf_logits(t, &q.w, 0, CTX, zq);
        for (int r = 0; r < CTX; r++) {
            double sp = 0, sq = 0, mp = -INFINITY, mq = -INFINITY;
            for (int v = 0; v < V; v++) {
                mp = fmax(mp, zp[r * V + v]);
                mq = fmax(mq, zq[r * V + v]);
            }
            for (int v = 0; v < V; v++) {
                sp += exp(zp[r * V + v] - mp);
                sq += exp(zq[r * V + v] - mq);
            }
            for (int v = 0; v < V; v++) {
                double lp = zp[r * V + v] - mp - log(sp), lq = zq[r * V + v] - mq - log(sq);
                kl += exp(lp) * (lp - lq);
            }
        }
    }
    tf_ctx_free(t);
    free(zp);
    free(zq);
    eval_qweights_free(&q);
    free(fm);
    return kl / (NW * CTX);
}

static void check_kl_exact(const model *m)
{
    score_opts o;
    base_opts(&o, 1u << SCORE_KL);
    o.threads = 3; /* parallel over formats even on one core */
    score_table t;
    mx_error e = {0};
    assert_int_equal(score_compute(m, g_tokens, NW * CTX, &o, &t, &e), 0);
    assert_int_equal(t.n_modules, m->n_modules);
    assert_int_equal(t.calib_tokens, NW * CTX);
    double base, ev = brute_loss2(m, -1, MX_FP32, &base);
    assert_true(fabs(t.fp32_loss - base) < 1e-12);
    assert_true(fabs(t.fp32_loss - ev) < 1e-7); /* eval_perplexity: same up to float rounding */
    assert_true(fabs(t.uniform_loss[MX_FP32] - base) < 1e-12);
    assert_true(isnan(t.uniform_loss[MX_BF16])); /* not a candidate */
    int nonzero = 0;
    for (int fi = 0; fi < 3; fi++) {
        mx_format f = o.formats[fi];
        assert_true(fabs(t.uniform_loss[f] - brute_loss(m, -1, f)) < 1e-12);
        for (int i = 0; i < m->n_modules; i++) {
            const score_module *sm = &t.modules[i];
            double want = brute_loss(m, i, f) - base;
            /* exact up to double summation order: the cached block input is
             * bit-identical to what the full forward computes */
            if (fabs(sm->score[SCORE_KL][f] - want) > 1e-12)
                fail_msg("%s %s: kl score %.12g, brute force %.12g", sm->name,
                         mx_format_name(f), sm->score[SCORE_KL][f], want);
            assert_true(sm->kld[f] >= 0);
            assert_true(isnan(sm->score[SCORE_FISHER][f]));
            assert_true(fabs(sm->bits[f] - mx_bits_per_weight(f, (size_t)sm->rows,
                                                               (size_t)sm->cols)) == 0);
            assert_int_equal(sm->params, m->modules[i].params);
            nonzero += want != 0;
        }
    }
    assert_true(nonzero > m->n_modules); /* the check is not vacuous */
    for (int i = 0; i < m->n_modules; i++) {
        assert_true(t.modules[i].score[SCORE_KL][MX_FP32] == 0.0);
        assert_true(t.modules[i].kld[MX_FP32] == 0.0);
    }
    /* KL of a few modules against two full forwards */
    int picks[] = {0, m->n_modules / 2 + 1, m->n_modules - 1};
    for (int p = 0; p < 3; p++) {
        int i = picks[p];
        double want = brute_kl(m, i, MX_FP4_E2M1);
        double got = t.modules[i].kld[MX_FP4_E2M1];
        if (!(fabs(got - want) <= 1e-6 * want + 1e-10))
            fail_msg("%s: kld %.12g, direct %.12g", t.modules[i].name, got, want);
        assert_true(want > 0);
    }

    /* A tiny memory budget: one window at a time, fp32 logits recomputed;
     * one thread. Same numbers. */
    score_table t2;
    o.mem_limit = 1;
    o.threads = 1;
    assert_int_equal(score_compute(m, g_tokens, NW * CTX, &o, &t2, &e), 0);
    for (int i = 0; i < m->n_modules; i++)
        for (int fi = 0; fi < o.n_formats; fi++) {
            mx_format f = o.formats[fi];
            const score_module *a = &t.modules[i], *b = &t2.modules[i];
            assert_true(fabs(b->score[SCORE_KL][f] - a->score[SCORE_KL][f]) < 1e-12);
            assert_true(fabs(b->kld[f] - a->kld[f]) < 1e-12);
            /* windows in order whatever the threads and grouping: the same bits */
            assert_memory_equal(&b->se[SCORE_KL][f], &a->se[SCORE_KL][f], sizeof(double));
            assert_memory_equal(&b->kld_se[f], &a->kld_se[f], sizeof(double));
        }
    score_table_free(&t2);
    score_table_free(&t);
}

static void test_kl_exact_llama(void **state)
{
    (void)state;
    check_kl_exact(&g_llama);
}

static void test_kl_exact_qwen3(void **state)
{
    (void)state;
    check_kl_exact(&g_qwen);
}

/* The fisher score from its definition, with every sample gradient rebuilt
 * as the sum of single-token gradients (one backward per token). */
static void check_fisher(const model *m, int chunk)
{
    score_opts o;
    base_opts(&o, 1u << SCORE_FISHER);
    o.fisher_chunk = chunk;
    o.uniform = 0;
    score_table t;
    mx_error e = {0};
    assert_int_equal(score_compute(m, g_tokens, NW * CTX, &o, &t, &e), 0);
    assert_true(isfinite(t.fp32_loss));
    assert_true(isnan(t.uniform_loss[MX_INT8]));

    const tf_config *c = &m->cfg;
    int B = chunk > 0 && chunk < CTX ? chunk : CTX, nm = m->n_modules;
    tf_ctx *tc = tf_ctx_create(c, CTX, TF_KEEP_ACTS);
    tf_bwd *bw = tf_bwd_create(c, CTX);
    tf_grads tok, smp;
    assert_true(tc && bw);
    assert_int_equal(tf_grads_alloc(c, TF_GRAD_LINEAR, 0, &tok), 0);
    assert_int_equal(tf_grads_alloc(c, TF_GRAD_LINEAR, 0, &smp), 0);
    double **G = calloc((size_t)nm, sizeof *G), **F = calloc((size_t)nm, sizeof *F);
    assert_true(G && F);
    for (int i = 0; i < nm; i++) {
        size_t len = (size_t)m->modules[i].rows * m->modules[i].cols;
        G[i] = calloc(len, sizeof(double));
        F[i] = calloc(len, sizeof(double));
        assert_true(G[i] && F[i]);
    }
    double N = NW * CTX;
    int in[CTX], tgt[CTX], one[CTX];
    for (int k = 0; k < NW; k++) {
        eval_window_tokens(g_tokens, k, CTX, BOS, in, tgt);
        assert_int_equal(tf_forward(tc, &m->weights, in, CTX, 0), 0);
        for (int c0 = 0; c0 < CTX; c0 += B) {
            tf_grads_zero(c, &smp);
            for (int j = c0; j < c0 + B && j < CTX; j++) {
                for (int x = 0; x < CTX; x++)
                    one[x] = x == j ? tgt[x] : -1;
                tf_grads_zero(c, &tok);
                assert_int_equal(tf_backward(bw, tc, &m->weights, NULL, one, 1.0f, &tok, NULL,
                                             NULL),
                                 0);
                for (int i = 0; i < nm; i++) {
                    const model_module *mm = &m->modules[i];
                    size_t len = (size_t)mm->rows * mm->cols;
                    float *d = smp.layers[mm->layer].lin[mm->kind];
                    const float *s = tok.layers[mm->layer].lin[mm->kind];
                    for (size_t x = 0; x < len; x++)
                        d[x] += s[x];
                }
            }
            for (int i = 0; i < nm; i++) {
                const model_module *mm = &m->modules[i];
                size_t len = (size_t)mm->rows * mm->cols;
                const float *s = smp.layers[mm->layer].lin[mm->kind];
                for (size_t x = 0; x < len; x++) {
                    G[i][x] += s[x] / N;
                    F[i][x] += (double)s[x] * s[x] / N;
                }
            }
        }
    }
    size_t maxlen = 0;
    for (int i = 0; i < nm; i++)
        if ((size_t)m->modules[i].rows * m->modules[i].cols > maxlen)
            maxlen = (size_t)m->modules[i].rows * m->modules[i].cols;
    float *q = malloc(sizeof(float) * maxlen);
    assert_non_null(q);
    for (int fi = 0; fi < 3; fi++) {
        mx_format f = o.formats[fi];
        for (int i = 0; i < nm; i++) {
            const model_module *mm = &m->modules[i];
            size_t len = (size_t)mm->rows * mm->cols;
            mx_fake_quant(f, mm->w, q, (size_t)mm->rows, (size_t)mm->cols);
            double lin = 0, quad = 0, mag = 0;
            for (size_t x = 0; x < len; x++) {
                double d = (double)q[x] - mm->w[x];
                lin += G[i][x] * d;
                quad += F[i][x] * d * d;
                mag += fabs(G[i][x] * d) + F[i][x] * d * d;
            }
            double want = lin + 0.5 * quad, got = t.modules[i].score[SCORE_FISHER][f];
            if (!(fabs(got - want) <= 1e-4 * mag + 1e-12))
                fail_msg("%s %s chunk %d: fisher %.9g, definition %.9g", mm->name,
                         mx_format_name(f), chunk, got, want);
            assert_true(isnan(t.modules[i].score[SCORE_KL][f]));
        }
    }
    free(q);
    for (int i = 0; i < nm; i++) {
        free(G[i]);
        free(F[i]);
    }
    free(G);
    free(F);
    tf_grads_free(&tok);
    tf_grads_free(&smp);
    tf_bwd_free(bw);
    tf_ctx_free(tc);
    score_table_free(&t);
}

static void test_fisher_definition(void **state)
{
    (void)state;
    check_fisher(&g_llama, 0);
    check_fisher(&g_llama, 5); /* samples of 5 targets, the last one short */
    check_fisher(&g_qwen, 0);
}

/* The mean gradient g against a central difference of the loss along d = Q(W) - W:
 * (L(W + eps d) - L(W - eps d)) / (2 eps) ~ g . d  (nats/token). */
static void test_fisher_gradient_units(void **state)
{
    (void)state;
    const model *m = &g_llama;
    int in[NW * CTX], tgt[NW * CTX];
    for (int k = 0; k < NW; k++)
        eval_window_tokens(g_tokens, k, CTX, BOS, in + k * CTX, tgt + k * CTX);
    score_fisher_stats st;
    mx_error e = {0};
    assert_int_equal(score_fisher_collect(m, in, tgt, NW, CTX, 0, NULL, 0, &st, &e), 0);
    int checked = 0;
    for (int i = 0; i < m->n_modules; i += 3) {
        const model_module *mm = &m->modules[i];
        size_t len = (size_t)mm->rows * mm->cols;
        float *q = malloc(sizeof(float) * len), *wp = malloc(sizeof(float) * len);
        assert_true(q && wp);
        mx_fake_quant(MX_FP4_E2M1, mm->w, q, (size_t)mm->rows, (size_t)mm->cols);
        double gd = 0;
        for (size_t x = 0; x < len; x++)
            gd += st.g[i][x] * ((double)q[x] - mm->w[x]);
        const double eps = 0.05;
        double l[2];
        tf_weights w;
        assert_int_equal(model_weights_copy(m, &w, &e), 0);
        for (int s = 0; s < 2; s++) {
            for (size_t x = 0; x < len; x++)
                wp[x] = mm->w[x] + (float)((s ? -eps : eps) * ((double)q[x] - mm->w[x]));
            w.layers[mm->layer].lin[mm->kind] = wp;
            eval_result r;
            assert_int_equal(eval_perplexity(&m->cfg, &w, g_tokens, NW * CTX, BOS, CTX, 0, NULL,
                                             NULL, &r, &e),
                             0);
            l[s] = r.nll;
        }
        model_weights_free(&w);
        double fd = (l[0] - l[1]) / (2 * eps);
        if (!(fabs(fd - gd) <= 0.03 * fabs(gd) + 2e-5))
            fail_msg("%s: g.d %.9g, central difference %.9g", mm->name, gd, fd);
        checked += fabs(gd) > 1e-4;
        free(q);
        free(wp);
    }
    assert_true(checked >= 2);

    /* Per-position squares: the same mean gradient, a different (non-negative) F. */
    score_fisher_stats sp;
    assert_int_equal(score_fisher_collect(m, in, tgt, NW, CTX, SCORE_FISHER_POSITIONS, NULL, 0,
                                          &sp, &e),
                     0);
    int differ = 0;
    for (int i = 0; i < m->n_modules; i++) {
        size_t len = (size_t)m->modules[i].rows * m->modules[i].cols;
        for (size_t x = 0; x < len; x++) {
            assert_true(sp.g[i][x] == st.g[i][x]);
            assert_true(sp.f[i][x] >= 0.0f);
            differ += sp.f[i][x] != st.f[i][x];
        }
    }
    assert_true(differ > 0);
    score_fisher_stats_free(&sp);
    score_fisher_stats_free(&st);
}

/* The per-window reduction on values whose standard error is known by hand:
 * {1, 2, 4, 7}: mean 3.5, squared deviations 6.25 + 2.25 + 0.25 + 12.25 = 21,
 * sample variance 21 / 3 = 7, standard error sqrt(7 / 4). */
static void test_wstat(void **state)
{
    (void)state;
    static const double x[] = {1, 2, 4, 7};
    score_wstat w = {0}, big = {0}, one = {0}, flat = {0};
    assert_true(isnan(score_wstat_se(&w)));
    for (int i = 0; i < 4; i++) {
        score_wstat_add(&w, x[i]);
        score_wstat_add(&big, 1e9 + x[i]); /* no cancellation from a large mean */
        score_wstat_add(&flat, -0.25);
    }
    assert_true(fabs(w.mean - 3.5) < 1e-15);
    assert_true(fabs(score_wstat_se(&w) - 1.3228756555322954) < 1e-15);
    assert_true(fabs(score_wstat_se(&big) - 1.3228756555322954) < 1e-6);
    assert_true(score_wstat_se(&flat) == 0.0);
    score_wstat_add(&one, 5.0);
    assert_true(isnan(score_wstat_se(&one))); /* one window: unknown */
}

/* Each method's standard errors against its windows scored one at a time:
 * window k of the stream is window 0 of the stream from token k * CTX, and
 * a score is the mean of its windows' values. One window alone has none. */
static void check_se(const model *m, score_method meth)
{
    score_opts o;
    base_opts(&o, 1u << meth);
    o.uniform = 0;
    score_table all, win[NW];
    mx_error e = {0};
    assert_int_equal(score_compute(m, g_tokens, NW * CTX, &o, &all, &e), 0);
    for (int k = 0; k < NW; k++)
        assert_int_equal(score_compute(m, g_tokens + k * CTX, CTX, &o, &win[k], &e), 0);
    /* fisher: the one-window g and F are float sums of their own */
    double tol = meth == SCORE_KL ? 1e-9 : 1e-4;
    int checked = 0;
    for (int i = 0; i < m->n_modules; i++)
        for (int fi = 0; fi < o.n_formats; fi++) {
            mx_format f = o.formats[fi];
            score_wstat ws = {0}, wk = {0};
            for (int k = 0; k < NW; k++) {
                score_wstat_add(&ws, win[k].modules[i].score[meth][f]);
                score_wstat_add(&wk, win[k].modules[i].kld[f]);
                assert_true(isnan(win[k].modules[i].se[meth][f]) || f == MX_FP32);
            }
            const score_module *sm = &all.modules[i];
            double want = score_wstat_se(&ws), got = sm->se[meth][f];
            if (!(fabs(got - want) <= tol * want + 1e-12))
                fail_msg("%s %s %s: se %.9g, from the windows %.9g", sm->name, mx_format_name(f),
                         score_method_name(meth), got, want);
            assert_true(fabs(sm->score[meth][f] - ws.mean) <= tol * fabs(ws.mean) + 1e-9);
            if (meth == SCORE_KL)
                assert_true(fabs(sm->kld_se[f] - score_wstat_se(&wk)) <= 1e-9 * score_wstat_se(&wk) + 1e-12);
            else
                assert_true(isnan(sm->kld_se[f]));
            if (f == MX_FP32)
                assert_true(got == 0.0); /* no noise in an exact zero */
            checked += want > 0;
        }
    assert_true(checked > m->n_modules); /* not vacuous */
    for (int k = 0; k < NW; k++)
        score_table_free(&win[k]);
    score_table_free(&all);
}

static void test_standard_errors(void **state)
{
    (void)state;
    check_se(&g_llama, SCORE_KL);
    check_se(&g_qwen, SCORE_KL);
    check_se(&g_llama, SCORE_FISHER);
    check_se(&g_llama, SCORE_FISHER_OUT);
    /* per-position squares, and the fisher deltas fake-quantized anew for
     * every sample when a small budget will not keep them: the same errors */
    score_opts o;
    base_opts(&o, 1u << SCORE_FISHER);
    o.uniform = 0;
    score_table a, b;
    mx_error e = {0};
    o.fisher_chunk = SCORE_FISHER_POSITIONS;
    assert_int_equal(score_compute(&g_llama, g_tokens, NW * CTX, &o, &a, &e), 0);
    o.mem_limit = 1;
    assert_int_equal(score_compute(&g_llama, g_tokens, NW * CTX, &o, &b, &e), 0);
    for (int i = 0; i < a.n_modules; i++)
        for (int fi = 0; fi < o.n_formats; fi++) {
            mx_format f = o.formats[fi];
            assert_true(isfinite(a.modules[i].se[SCORE_FISHER][f]));
            assert_memory_equal(&a.modules[i].se[SCORE_FISHER][f], &b.modules[i].se[SCORE_FISHER][f],
                                sizeof(double));
        }
    score_table_free(&a);
    score_table_free(&b);
}

static void test_both_and_only(void **state)
{
    (void)state;
    const model *m = &g_llama;
    score_opts o;
    base_opts(&o, (1u << SCORE_KL) | (1u << SCORE_FISHER));
    score_table all, part;
    mx_error e = {0};
    assert_int_equal(score_compute(m, g_tokens, NW * CTX, &o, &all, &e), 0);
    assert_true(score_table_has(&all, SCORE_KL) && score_table_has(&all, SCORE_FISHER));
    unsigned char only[64] = {0};
    only[1] = only[9] = 1;
    o.only = only;
    assert_int_equal(score_compute(m, g_tokens, NW * CTX, &o, &part, &e), 0);
    for (int i = 0; i < m->n_modules; i++)
        for (int s = 0; s < 2; s++) {
            double a = all.modules[i].score[s][MX_INT8], b = part.modules[i].score[s][MX_INT8];
            assert_true(isfinite(a));
            if (only[i])
                assert_true(fabs(a - b) <= 1e-6 * fabs(a) + 1e-12);
            else
                assert_true(isnan(b));
        }
    score_table_free(&part);
    score_table_free(&all);
}

static int last_total(void *user, const score_progress *p)
{
    *(double *)user = p->total;
    return 0;
}

/* score_cost_forwards is what a run counts: the progress total of a run of
 * one method (no uniform losses), per window, in the same forward unit for
 * every method; kl grows with the formats, the one-pass methods barely. */
static void test_cost_forwards(void **state)
{
    (void)state;
    const model *m = &g_llama;
    const score_method ms[] = {SCORE_KL, SCORE_FISHER, SCORE_FISHER_OUT};
    double unit = NAN;
    for (int k = 0; k < 3; k++) {
        score_opts o;
        base_opts(&o, 1u << ms[k]);
        o.uniform = 0;
        double total = 0, c = score_cost_forwards(m, &o, ms[k]);
        o.progress = last_total;
        o.user = &total;
        score_table t;
        mx_error e = {0};
        assert_int_equal(score_compute(m, g_tokens, NW * CTX, &o, &t, &e), 0);
        score_table_free(&t);
        assert_true(c > 0 && total > 0);
        if (k == 0)
            unit = total / (NW * c);
        assert_true(fabs(total / (NW * c) - unit) <= 1e-9 * unit);
        o.n_formats = 2; /* fp8, int8: kl costs less, by about the format ratio */
        double c2 = score_cost_forwards(m, &o, ms[k]);
        if (ms[k] == SCORE_KL)
            assert_true(c2 < 0.8 * c && c2 > 0.5 * c);
        else
            assert_true(c2 <= c);
    }
}

static int cancel_after(void *user, const score_progress *p)
{
    int *calls = user;
    assert_true(p->done <= p->total + 1e-6);
    assert_non_null(p->phase);
    return ++*calls >= 4;
}

static void test_bad_input_and_cancel(void **state)
{
    (void)state;
    const model *m = &g_llama;
    score_opts o;
    score_table t;
    mx_error e = {0};
    base_opts(&o, 1u << SCORE_KL);
    assert_int_equal(score_compute(m, g_tokens, 0, &o, &t, &e), ERR_ARG);
    assert_non_null(strstr(e.msg, "fewer than one window"));
    assert_int_equal(score_compute(m, g_tokens, CTX - 1, &o, &t, &e), ERR_ARG);
    int bad[CTX];
    memcpy(bad, g_tokens, sizeof bad);
    bad[3] = m->cfg.vocab_size;
    assert_int_equal(score_compute(m, bad, CTX, &o, &t, &e), ERR_ARG);
    assert_non_null(strstr(e.msg, "outside the vocabulary"));
    o.ctx = m->cfg.max_seq + 1;
    assert_int_equal(score_compute(m, g_tokens, NW * CTX, &o, &t, &e), ERR_ARG);
    base_opts(&o, 0);
    assert_int_equal(score_compute(m, g_tokens, NW * CTX, &o, &t, &e), ERR_ARG);
    base_opts(&o, 1u << SCORE_KL);
    o.formats[1] = o.formats[0];
    assert_int_equal(score_compute(m, g_tokens, NW * CTX, &o, &t, &e), ERR_ARG);
    assert_non_null(strstr(e.msg, "twice"));
    base_opts(&o, 1u << SCORE_KL);
    o.n_formats = 0;
    assert_int_equal(score_compute(m, g_tokens, NW * CTX, &o, &t, &e), ERR_ARG);
    base_opts(&o, 1u << SCORE_KL);
    o.bos = -1;
    assert_int_equal(score_compute(m, g_tokens, NW * CTX, &o, &t, &e), ERR_ARG);
    for (unsigned meth = 1; meth <= 2; meth++) {
        int calls = 0;
        base_opts(&o, meth);
        o.progress = cancel_after;
        o.user = &calls;
        assert_int_equal(score_compute(m, g_tokens, NW * CTX, &o, &t, &e), ERR_CANCELLED);
        assert_int_equal(t.n_modules, 0);
        assert_null(t.modules);
    }
}

static void test_key(void **state)
{
    (void)state;
    mx_format f1[] = {MX_FP4_E2M1, MX_INT8}, f2[] = {MX_INT8, MX_FP4_E2M1};
    score_key_input base = {.model_hash = 1, .text_hash = 2, .tokens_hash = 3,
                            .calib_tokens = 4096, .ctx = 512, .methods = 1,
                            .fisher_chunk = 0, .n_formats = 2, .formats = f1};
    char k0[17], k[17];
    score_key(&base, k0);
    assert_int_equal(strlen(k0), 16);
    for (int i = 0; i < 16; i++)
        assert_non_null(strchr("0123456789abcdef", k0[i]));
    score_key(&base, k);
    assert_string_equal(k, k0);
    for (int v = 0; v < 10; v++) {
        score_key_input x = base;
        switch (v) {
        case 0: x.model_hash++; break;
        case 1: x.text_hash++; break;
        case 2: x.tokens_hash++; break;
        case 3: x.calib_tokens++; break;
        case 4: x.ctx++; break;
        case 5: x.methods = 3; break;
        case 6: x.fisher_chunk = 8; break;
        case 7: x.formats = f2; break; /* order matters: it is the table's order */
        case 8: x.n_formats = 1; break;
        case 9: x.methods = 2; break;
        }
        score_key(&x, k);
        if (!strcmp(k, k0))
            fail_msg("key unchanged by variation %d", v);
    }
    assert_true(score_hash_bytes("a", 1) != score_hash_bytes("b", 1));
}

static void test_cache_check(void **state)
{
    (void)state;
    const model *m = &g_llama;
    score_opts o;
    base_opts(&o, 1u << SCORE_KL);
    score_table t, r;
    mx_error e = {0};
    assert_int_equal(score_compute(m, g_tokens, NW * CTX, &o, &t, &e), 0);
    snprintf(t.key, sizeof t.key, "%s", "00112233aabbccdd");
    char path[4200];
    snprintf(path, sizeof path, "%s/x.scores", g_tmp);
    assert_int_equal(cache_write(path, &t, &e), 0);
    assert_int_equal(cache_read(path, &r, &e), 0);
    if (r.n_formats != t.n_formats || strcmp(r.key, t.key) || r.methods != t.methods)
        fail_msg("cache_read lost the header fields written by cache_write (key '%s', %d "
                 "formats, methods %u; wrote '%s', %d, %u)", r.key, r.n_formats, r.methods,
                 t.key, t.n_formats, t.methods);
    if (score_table_check(&r, m, "00112233aabbccdd", &o, &e))
        fail_msg("check of a fresh table: %s", e.msg);
    assert_true(r.modules[4].score[SCORE_KL][MX_INT8] == t.modules[4].score[SCORE_KL][MX_INT8]);
    assert_int_equal(score_table_check(&r, m, "00112233aabbccde", &o, &e), ERR_FORMAT);
    assert_non_null(strstr(e.msg, "stale"));
    score_opts o2 = o;
    o2.methods |= 1u << SCORE_FISHER;
    assert_int_equal(score_table_check(&r, m, "00112233aabbccdd", &o2, &e), ERR_FORMAT);
    o2 = o;
    o2.formats[0] = MX_FP6_E2M3;
    assert_int_equal(score_table_check(&r, m, "00112233aabbccdd", &o2, &e), ERR_FORMAT);
    r.modules[3].score[SCORE_KL][MX_FP4_E2M1] = NAN;
    assert_int_equal(score_table_check(&r, m, "00112233aabbccdd", &o, &e), ERR_FORMAT);
    assert_non_null(strstr(e.msg, "incomplete"));
    score_table_free(&r);
    assert_int_equal(score_table_check(&t, &g_qwen, "00112233aabbccdd", &o, &e), ERR_FORMAT);

    /* A flipped byte and a truncation are both refused by the reader. */
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, sz / 2, SEEK_SET);
    int c = fgetc(f);
    fseek(f, sz / 2, SEEK_SET);
    fputc(c ^ 0x10, f);
    fclose(f);
    assert_int_equal(cache_read(path, &r, &e), ERR_FORMAT);
    assert_int_equal(cache_write(path, &t, &e), 0);
    assert_int_equal(truncate(path, sz - 9), 0);
    assert_int_equal(cache_read(path, &r, &e), ERR_FORMAT);
    score_table_free(&t);
}

/* fisher-out from its definition: the test's own hook on the same backward
 * gets x and dy per linear, checks them against the weight gradient the
 * backward computes (sum_t dy_t x_t^T = lin, sum_t (dy_t x_t^T)^2 = lin_sq),
 * and accumulates 1/2N sum (dy * dY)^2 with dY = X (Q(W) - W)^T by plain loops. */
typedef struct fo_ref {
    const model *m;
    int layer;
    const tf_grads *g;
    const score_opts *o;
    double *acc; /* [n_modules][n_formats] */
    int bad;
} fo_ref;

static int fo_ref_hook(void *user, int kind, const float *x, const float *dy, int n)
{
    fo_ref *r = user;
    const model *m = r->m;
    int i = -1;
    for (int j = 0; j < m->n_modules; j++)
        if (m->modules[j].layer == r->layer && m->modules[j].kind == kind)
            i = j;
    if (i < 0)
        return 0;
    const model_module *mm = &m->modules[i];
    int rows = mm->rows, cols = mm->cols;
    const float *lin = r->g->layers[r->layer].lin[kind], *sq = r->g->layers[r->layer].lin_sq[kind];
    /* the hook runs after this linear's lin and lin_sq terms are in (one window) */
    for (int a = 0; a < rows; a++)
        for (int b = 0; b < cols; b++) {
            double s1 = 0, s2 = 0;
            for (int t = 0; t < n; t++) {
                double v = (double)dy[t * rows + a] * x[t * cols + b];
                s1 += v;
                s2 += v * v;
            }
            size_t at = (size_t)a * cols + b;
            if (fabs(s1 - lin[at]) > 1e-4 * (fabs(s1) + 1e-3) || fabs(s2 - sq[at]) > 1e-3 * (s2 + 1e-6))
                r->bad = 1;
        }
    float *q = malloc(sizeof(float) * (size_t)rows * cols);
    assert_non_null(q);
    for (int fi = 0; fi < r->o->n_formats; fi++) {
        mx_fake_quant(r->o->formats[fi], mm->w, q, (size_t)rows, (size_t)cols);
        double s = 0;
        for (int t = 0; t < n; t++)
            for (int a = 0; a < rows; a++) {
                double d = 0;
                for (int b = 0; b < cols; b++)
                    d += (double)x[t * cols + b] * ((double)q[(size_t)a * cols + b] - mm->w[(size_t)a * cols + b]);
                double gg = dy[t * rows + a];
                s += gg * gg * d * d;
            }
        r->acc[(size_t)i * r->o->n_formats + fi] += s;
    }
    free(q);
    return 0;
}

static void check_fisher_out(const model *m)
{
    score_opts o;
    base_opts(&o, 1u << SCORE_FISHER_OUT);
    o.uniform = 0;
    score_table t;
    mx_error e = {0};
    assert_int_equal(score_compute(m, g_tokens, NW * CTX, &o, &t, &e), 0);
    assert_true(isfinite(t.fp32_loss));
    const tf_config *c = &m->cfg;
    int L = c->n_layers, nm = m->n_modules;
    tf_ctx *tc = tf_ctx_create(c, CTX, TF_KEEP_ACTS);
    tf_bwd *bw = tf_bwd_create(c, CTX);
    tf_grads g;
    assert_true(tc && bw);
    assert_int_equal(tf_grads_alloc(c, TF_GRAD_LINEAR | TF_GRAD_LINEAR_SQ, 0, &g), 0);
    fo_ref *refs = calloc((size_t)L, sizeof *refs);
    double *acc = calloc((size_t)nm * o.n_formats, sizeof *acc);
    assert_true(refs && acc);
    for (int l = 0; l < L; l++) {
        refs[l] = (fo_ref){m, l, &g, &o, acc, 0};
        g.layers[l].out_hook = fo_ref_hook;
        g.layers[l].out_user = &refs[l];
    }
    int in[CTX], tgt[CTX];
    for (int k = 0; k < NW; k++) {
        eval_window_tokens(g_tokens, k, CTX, BOS, in, tgt);
        assert_int_equal(tf_forward(tc, &m->weights, in, CTX, 0), 0);
        tf_grads_zero(c, &g);
        assert_int_equal(tf_backward(bw, tc, &m->weights, NULL, tgt, (float)CTX, &g, NULL, NULL), 0);
    }
    for (int l = 0; l < L; l++)
        assert_false(refs[l].bad);
    double N = NW * CTX;
    for (int i = 0; i < nm; i++)
        for (int fi = 0; fi < o.n_formats; fi++) {
            mx_format f = o.formats[fi];
            double want = f == MX_FP32 ? 0 : 0.5 * acc[(size_t)i * o.n_formats + fi] / N;
            double got = t.modules[i].score[SCORE_FISHER_OUT][f];
            if (!(fabs(got - want) <= 1e-4 * want + 1e-12))
                fail_msg("%s %s: fisher-out %.9g, definition %.9g", m->modules[i].name, mx_format_name(f), got, want);
            assert_true(got >= 0);
        }
    for (int l = 0; l < L; l++)
        g.layers[l].out_hook = NULL;
    tf_grads_free(&g);
    free(refs);
    free(acc);
    tf_bwd_free(bw);
    tf_ctx_free(tc);
    score_table_free(&t);
}

static void test_fisher_out_definition(void **state)
{
    (void)state;
    check_fisher_out(&g_llama);
    check_fisher_out(&g_qwen);
    /* Q_f(W) - W kept for every window, or made again in each (a budget too
     * small to keep it): the same scores, bit for bit */
    score_opts o;
    base_opts(&o, 1u << SCORE_FISHER_OUT);
    o.uniform = 0;
    score_table a, b;
    mx_error e = {0};
    assert_int_equal(score_compute(&g_llama, g_tokens, NW * CTX, &o, &a, &e), 0);
    o.mem_limit = 1;
    assert_int_equal(score_compute(&g_llama, g_tokens, NW * CTX, &o, &b, &e), 0);
    for (int i = 0; i < a.n_modules; i++)
        assert_memory_equal(a.modules[i].score[SCORE_FISHER_OUT], b.modules[i].score[SCORE_FISHER_OUT],
                            sizeof a.modules[i].score[SCORE_FISHER_OUT]);
    score_table_free(&a);
    score_table_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kl_exact_llama),
        cmocka_unit_test(test_kl_exact_qwen3),
        cmocka_unit_test(test_fisher_definition),
        cmocka_unit_test(test_fisher_gradient_units),
        cmocka_unit_test(test_fisher_out_definition),
        cmocka_unit_test(test_wstat),
        cmocka_unit_test(test_standard_errors),
        cmocka_unit_test(test_both_and_only),
        cmocka_unit_test(test_cost_forwards),
        cmocka_unit_test(test_bad_input_and_cancel),
        cmocka_unit_test(test_key),
        cmocka_unit_test(test_cache_check),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
