/* kernels/vexp: exp within 1.5 ulp of double exp over the float range it
 * keeps, the edges (0 below, inf above, NaN kept), and every SIMD path equal
 * to the scalar one bit for bit: values, sums, max and SwiGLU, on lengths
 * that cover every tail. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kernels/vexp.h"

static uint64_t rng = 0x243F6A8885A308D3ull;
static float urand(float lo, float hi) /* xorshift64*, uniform in [lo, hi) */
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return lo + (hi - lo) * (float)((rng * 0x2545F4914F6CDD1Dull) >> 40) / (float)(1u << 24);
}

static uint32_t bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* ulps between got and the float nearest to the double value */
static double ulp_err(float got, double want)
{
    float w = (float)want;
    double ulp = nextafterf(fabsf(w), INFINITY) - fabsf(w);
    return fabs((double)got - want) / ulp;
}

static void test_accuracy(void **state)
{
    (void)state;
    double worst = 0.0;
    /* every 97th float in [-87.3, 88]: both signs, all exponents */
    for (uint32_t u = 0; u < 0x42b00000u; u += 97)
        for (int sign = 0; sign < 2; sign++) {
            uint32_t b = u | (sign ? 0x80000000u : 0);
            float x;
            memcpy(&x, &b, sizeof x);
            if (x < -87.33f)
                continue;
            double e = ulp_err(vexp1(x), exp((double)x));
            worst = e > worst ? e : worst;
        }
    print_message("worst error %.3f ulp\n", worst);
    assert_true(worst <= 1.5);
}

static void test_edges(void **state)
{
    (void)state;
    assert_true(vexp1(0.0f) == 1.0f);
    assert_true(vexp1(-0.0f) == 1.0f);
    assert_true(vexp1(-88.0f) == 0.0f);
    assert_true(vexp1(-INFINITY) == 0.0f);
    assert_true(isinf(vexp1(88.5f)) && vexp1(88.5f) > 0);
    assert_true(isinf(vexp1(INFINITY)));
    assert_true(isnan(vexp1(NAN)));
    assert_true(vexp1(88.0f) > 1.6e38f && isfinite(vexp1(88.0f)));
    assert_true(vexp1(-87.33f) > 0.0f);
}

/* every path against the scalar path on x (with its edge values) */
static void check_paths(const float *x, const float *u, size_t n, float sub)
{
    float *ys = malloc(sizeof(float) * (n + 1)), *yp = malloc(sizeof(float) * (n + 1));
    float *as = malloc(sizeof(float) * (n + 1));
    assert_non_null(ys);
    assert_non_null(yp);
    assert_non_null(as);
    double ss = vexp_shift_on(VEXP_SCALAR, ys, x, n, sub);
    vexp_swiglu_on(VEXP_SCALAR, as, x, u, n);
    double s0 = vexp_shift_on(VEXP_SCALAR, NULL, x, n, sub);
    assert_memory_equal(&s0, &ss, sizeof ss); /* NaN when x holds one */
    float ms = n ? vexp_max_on(VEXP_SCALAR, x, n) : 0.0f;
    for (int p = VEXP_SCALAR; p < VEXP_NPATHS; p++) {
        if (!vexp_supported((vexp_path)p)) {
            print_message("path %s: not on this CPU\n", vexp_path_name((vexp_path)p));
            continue;
        }
        yp[n] = 12345.0f; /* a guard: no path writes past n */
        double sp = vexp_shift_on((vexp_path)p, yp, x, n, sub);
        assert_true(yp[n] == 12345.0f);
        assert_memory_equal(&sp, &ss, sizeof sp);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(bits(yp[i]), bits(ys[i]));
        double sn = vexp_shift_on((vexp_path)p, NULL, x, n, sub);
        assert_memory_equal(&sn, &ss, sizeof sn);
        if (n) {
            float mp = vexp_max_on((vexp_path)p, x, n);
            assert_int_equal(bits(mp), bits(ms));
        }
        vexp_swiglu_on((vexp_path)p, yp, x, u, n);
        assert_true(yp[n] == 12345.0f);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(bits(yp[i]), bits(as[i]));
    }
    free(as);
    free(ys);
    free(yp);
}

static void test_paths_equal(void **state)
{
    (void)state;
    enum { N = 200 };
    float x[N] = {0}, u[N] = {0};
    for (size_t n = 0; n <= 70; n++) { /* every tail of 8 and 16 lanes, a few times over */
        for (size_t i = 0; i < n; i++) {
            x[i] = urand(-30.0f, 10.0f);
            u[i] = urand(-2.0f, 2.0f);
        }
        check_paths(x, u, n, n ? x[0] : 0.0f);
    }
    for (size_t i = 0; i < N; i++) { /* the edges inside a vector */
        x[i] = urand(-100.0f, 100.0f);
        u[i] = urand(-2.0f, 2.0f);
    }
    x[3] = NAN;
    x[17] = INFINITY;
    x[18] = -INFINITY;
    x[40] = -87.3365402f;
    x[41] = 88.0f;
    x[42] = 88.0001f;
    check_paths(x, u, N, 0.0f);
    check_paths(x + 19, u, N - 19, -5.0f);
    /* the sum of a large row: partial sums in double, one order */
    float *big = malloc(sizeof(float) * 50021);
    assert_non_null(big);
    for (size_t i = 0; i < 50021; i++)
        big[i] = urand(-20.0f, 5.0f);
    check_paths(big, big, 50021, 5.0f);
    double want = 0.0;
    for (size_t i = 0; i < 50021; i++)
        want += exp((double)big[i] - 5.0);
    double got = vexp_shift(NULL, big, 50021, 5.0f);
    assert_true(fabs(got - want) <= 2e-7 * want);
    free(big);
    print_message("auto path: %s\n", vexp_path_name(vexp_auto_path()));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accuracy),
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_paths_equal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
