/* GPTQ on MX blocks (kernels/gptq.c): a case worked by hand, the diagonal H
 * that must reduce to round-to-nearest, values on their blocks' grids, and a
 * lower output error than round-to-nearest on correlated inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gptq.h"

/* gptq_factor then gptq_quantize */
static int gq(mx_format f, const float *w, float *q, size_t rows, size_t cols, const double *h, double damp)
{
    float *u = malloc(cols * cols * sizeof *u);
    assert_non_null(u);
    int rc = gptq_factor(h, cols, damp, u, NULL);
    if (rc == 0)
        rc = gptq_quantize(f, w, q, rows, cols, u, NULL);
    free(u);
    return rc;
}

static uint64_t rng = 88172645463325252ull;
static double uniform(void) /* xorshift64, [-1, 1) */
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (double)(rng >> 11) / 4503599627370496.0 - 1.0;
}

/* Two columns, H = [[1, .5], [.5, 1]], no damping: U = [[1/sqrt(.75),
 * -.5/sqrt(.75)], [0, 1]], so column 1 becomes w1 + .5 (w0 - q0) before it is
 * rounded. E2M1, block scale 2^-2 (max 1.2): w0 = 1.2 -> 4.8 -> 4 -> 1.0;
 * w1 = 0.8 + 0.1 = 0.9 -> 3.6 -> 4 -> 1.0, where rounding alone gives
 * 0.8 -> 3.2 -> 3 -> 0.75. */
static void test_hand_case(void **state)
{
    (void)state;
    const float w[2] = {1.2f, 0.8f};
    const double h[4] = {1.0, 0.5, 0.5, 1.0};
    float q[2], r[2];
    assert_int_equal(gq(MX_FP4_E2M1, w, q, 1, 2, h, 0.0), 0);
    mx_fake_quant(MX_FP4_E2M1, w, r, 1, 2);
    assert_true(q[0] == 1.0f && q[1] == 1.0f);
    assert_true(r[0] == 1.0f && r[1] == 0.75f);
}

static const mx_format gf[] = {MX_FP4_E2M1, MX_FP6_E2M3, MX_FP6_E3M2, MX_INT8, MX_FP8_E4M3, MX_FP8_E5M2,
                               MX_FP4_E2M1_MSE, MX_FP6_E2M3_MSE, MX_INT8_MSE};
#define NGF (sizeof gf / sizeof gf[0])

static void rand_w(float *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        w[i] = (float)(uniform() * (i % 7 == 0 ? 3.0 : 1.0));
}

/* H = A^T A for random A (t x cols): correlated columns; a short last block. */
static void rand_h(double *h, size_t cols)
{
    enum { T = 64 };
    double *a = malloc(T * cols * sizeof *a);
    assert_non_null(a);
    for (size_t i = 0; i < T * cols; i++)
        a[i] = uniform();
    for (size_t t = 0; t < T; t++) /* a shared component makes neighbours correlate */
        for (size_t c = 1; c < cols; c++)
            a[t * cols + c] += 0.8 * a[t * cols + c - 1];
    for (size_t i = 0; i < cols; i++)
        for (size_t j = 0; j < cols; j++) {
            double s = 0;
            for (size_t t = 0; t < T; t++)
                s += a[t * cols + i] * a[t * cols + j];
            h[i * cols + j] = s;
        }
    free(a);
}

static double out_err(const float *w, const float *q, const double *h, size_t rows, size_t cols)
{
    double s = 0;
    for (size_t r = 0; r < rows; r++)
        for (size_t i = 0; i < cols; i++)
            for (size_t j = 0; j < cols; j++)
                s += ((double)w[r * cols + i] - q[r * cols + i]) * h[i * cols + j] *
                     ((double)w[r * cols + j] - q[r * cols + j]);
    return s;
}

/* A diagonal H spreads no error: exactly round-to-nearest. */
static void test_diagonal_is_rtn(void **state)
{
    (void)state;
    enum { R = 5, C = 80 };
    float w[R * C], q[R * C], r[R * C];
    double h[C * C] = {0};
    for (size_t i = 0; i < C; i++)
        h[i * C + i] = 1.0 + (double)i;
    rand_w(w, R * C);
    for (size_t k = 0; k < NGF; k++) {
        assert_int_equal(gq(gf[k], w, q, R, C, h, GPTQ_DEFAULT_DAMP), 0);
        mx_fake_quant(gf[k], w, r, R, C);
        assert_memory_equal(q, r, sizeof q);
    }
}

/* The same over magnitudes from fp32 subnormals to 2^100, zeros of both
 * signs and blocks of mixed scale: GPTQ's own element rounding gives
 * mx_fake_quant's values. */
static void test_diagonal_is_rtn_wide(void **state)
{
    (void)state;
    enum { R = 16, C = 64 };
    float w[R * C], q[R * C], r[R * C];
    double h[C * C] = {0};
    for (size_t i = 0; i < C; i++)
        h[i * C + i] = 1.0;
    for (size_t i = 0; i < R * C; i++) {
        int ex = (int)(i / C) * 16 - 150 + (int)(i % 5); /* each row its own range */
        w[i] = (float)(uniform() * ldexp(1.0, ex));
    }
    w[3] = 0.0f, w[4] = -0.0f, w[C + 1] = 1e-45f, w[C + 2] = -1e-45f;
    for (size_t i = 8 * C; i < 8 * C + 32; i++) /* a block of zeros */
        w[i] = 0.0f;
    for (size_t k = 0; k < NGF; k++) {
        assert_int_equal(gq(gf[k], w, q, R, C, h, GPTQ_DEFAULT_DAMP), 0);
        mx_fake_quant(gf[k], w, r, R, C);
        for (size_t i = 0; i < R * C; i++) /* == : a zero may lose its sign (-0 - (-0) is +0) */
            if (q[i] != r[i])
                fail_msg("%s: element %zu of %g: gptq %a, rounding %a", mx_format_name(gf[k]), i, (double)w[i],
                         (double)q[i], (double)r[i]);
    }
}

/* Every value on its block's grid (quantizing again changes nothing, so the
 * writers store it exactly), and the output error below round-to-nearest's. */
static void test_grid_and_gain(void **state)
{
    (void)state;
    enum { R = 24, C = 80 };
    float *w = malloc(R * C * sizeof *w), *q = malloc(R * C * sizeof *q), *r = malloc(R * C * sizeof *r);
    double *h = malloc(C * C * sizeof *h);
    assert_true(w && q && r && h);
    rand_w(w, R * C);
    rand_h(h, C);
    for (size_t k = 0; k < NGF; k++) {
        assert_int_equal(gq(gf[k], w, q, R, C, h, GPTQ_DEFAULT_DAMP), 0);
        mx_fake_quant(gf[k], q, r, R, C);
        assert_memory_equal(q, r, R * C * sizeof *q);
        mx_fake_quant(gf[k], w, r, R, C);
        double eg = out_err(w, q, h, R, C), er = out_err(w, r, h, R, C);
        assert_true(eg < 0.9 * er);
    }
    free(w), free(q), free(r), free(h);
}

/* Formats it does not apply to and NaN weights: rounding; unusable H refused. */
static void test_fallbacks(void **state)
{
    (void)state;
    enum { R = 3, C = 32 };
    float w[R * C], q[R * C], r[R * C];
    double h[C * C];
    rand_w(w, R * C);
    rand_h(h, C);
    const mx_format other[] = {MX_FP32, MX_BF16, MX_NVFP4, MX_NVFP4_MSE};
    for (size_t k = 0; k < 4; k++) {
        assert_false(gptq_applies(other[k]));
        assert_int_equal(gq(other[k], w, q, R, C, h, GPTQ_DEFAULT_DAMP), 0);
        mx_fake_quant(other[k], w, r, R, C);
        assert_memory_equal(q, r, sizeof q);
    }
    w[5] = NAN;
    assert_int_equal(gq(MX_FP4_E2M1, w, q, R, C, h, GPTQ_DEFAULT_DAMP), 0);
    mx_fake_quant(MX_FP4_E2M1, w, r, R, C);
    assert_memory_equal(q, r, sizeof q);
    float u[C * C];
    assert_int_equal(gptq_factor(h, C, GPTQ_DEFAULT_DAMP, u, NULL), 0);
    assert_int_equal(gptq_quantize(MX_FP4_E2M1, w, w, R, C, u, NULL), ERR_ARG);
    h[0] = NAN;
    assert_int_equal(gptq_factor(h, C, GPTQ_DEFAULT_DAMP, u, NULL), ERR_ARG);
    /* a matrix no damping makes positive definite: a negative eigenvalue of -1e9 */
    for (size_t i = 0; i < C * C; i++)
        h[i] = i == 1 || i == C ? 1e9 : i % (C + 1) == 0 ? 1.0 : 0.0;
    assert_int_equal(gptq_factor(h, C, GPTQ_DEFAULT_DAMP, u, NULL), ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_case),
        cmocka_unit_test(test_diagonal_is_rtn),
        cmocka_unit_test(test_diagonal_is_rtn_wide),
        cmocka_unit_test(test_grid_and_gain),
        cmocka_unit_test(test_fallbacks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
