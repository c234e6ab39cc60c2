/* The projection's fit (solver/proj.c) on a one-module table whose anchors
 * lie on curves chosen by hand, so the fitted coefficients are known. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>

#include "solver/proj.h"

/* One module; kl costs (its KL divergences) 0.1 for MXFP4 and 0.02 for MXFP6:
 * the uniform anchors sit at S = 0.1 and 0.02. fp32 loss 2. */
static void make(score_table *t)
{
    assert_int_equal(score_table_alloc(t, 1), 0);
    t->methods = 1u << SCORE_KL;
    t->n_formats = 3;
    t->formats[0] = MX_FP32;
    t->formats[1] = MX_FP6_E2M3;
    t->formats[2] = MX_FP4_E2M1;
    t->fp32_loss = 2.0;
    score_module *m = &t->modules[0];
    m->kld[MX_FP32] = 0;
    m->kld[MX_FP6_E2M3] = 0.02;
    m->kld[MX_FP4_E2M1] = 0.1;
    m->score[SCORE_KL][MX_FP6_E2M3] = 0.02;
    m->score[SCORE_KL][MX_FP4_E2M1] = 0.1;
}

static double curve(double x)
{
    return 0.5 * x + 2.0 * x * x; /* the loss increase the anchors are put on */
}

static void put_uniform(score_table *t)
{
    t->uniform_loss[MX_FP32] = 2.0;
    t->uniform_loss[MX_FP6_E2M3] = 2.0 + curve(0.02);
    t->uniform_loss[MX_FP4_E2M1] = 2.0 + curve(0.1);
}

static void put_mixed(score_table *t, int n, score_method meth)
{
    for (int i = 0; i < n; i++) {
        double x = 0.03 + 0.015 * i;
        t->anchors[t->n_anchors++] = (score_anchor){.method = meth, .bits = 5 + 0.5 * i, .score_sum = x,
                                                    .loss = 2.0 + curve(x)};
    }
}

static void test_uniform_only_is_one_scale(void **state)
{
    (void)state;
    score_table t;
    make(&t);
    put_uniform(&t);
    put_mixed(&t, 2, SCORE_KL); /* below PROJ_MIN_MIXED: still one scale */
    proj_fit f;
    assert_int_equal(proj_calibrate(&t, SCORE_KL, &f, NULL), 0);
    double sxy = 0, sxx = 0, xs[] = {0.02, 0.1, 0.03, 0.045};
    for (int i = 0; i < 4; i++) {
        sxy += xs[i] * curve(xs[i]);
        sxx += xs[i] * xs[i];
    }
    assert_true(fabs(f.c1 - sxy / sxx) < 1e-12);
    assert_true(f.c2 == 0);
    assert_int_equal(f.n_uniform, 2);
    assert_int_equal(f.n_mixed, 2);
    score_table_free(&t);
}

static void test_mixed_anchors_fit_the_curve(void **state)
{
    (void)state;
    score_table t;
    make(&t);
    put_uniform(&t);
    put_mixed(&t, 4, SCORE_KL);
    put_mixed(&t, 3, SCORE_FISHER); /* another method's anchors are not kl's */
    proj_fit f;
    assert_int_equal(proj_calibrate(&t, SCORE_KL, &f, NULL), 0);
    assert_int_equal(f.n_mixed, 4);
    assert_true(fabs(f.c1 - 0.5) < 1e-9 && fabs(f.c2 - 2.0) < 1e-7);
    assert_true(fabs(f.s_max - 0.1) < 1e-15);
    assert_true(proj_fit_residual(&t, SCORE_KL, &f) < 1e-9);
    assert_true(fabs(proj_loss(&t, &f, 0.06) - (2.0 + curve(0.06))) < 1e-9);
    /* beyond the largest anchor: the tangent there (slope 0.5 + 4 * 0.1) */
    assert_true(fabs(proj_loss(&t, &f, 0.2) - (2.0 + curve(0.1) + 0.9 * 0.1)) < 1e-9);
    score_table_free(&t);
}

static void test_falling_curve_falls_back(void **state)
{
    (void)state;
    score_table t;
    make(&t);
    /* losses that fall again at the largest S: a quadratic through them would
     * fall too, so one scale is kept */
    t.uniform_loss[MX_FP6_E2M3] = 2.01;
    t.uniform_loss[MX_FP4_E2M1] = 2.011;
    for (int i = 0; i < 4; i++)
        t.anchors[t.n_anchors++] = (score_anchor){.method = SCORE_KL, .bits = 5, .score_sum = 0.02 + 0.01 * i,
                                                    .loss = 2.01 + 0.0005 * i};
    proj_fit f;
    assert_int_equal(proj_calibrate(&t, SCORE_KL, &f, NULL), 0);
    assert_true(f.c2 == 0 && f.c1 > 0);
    score_table_free(&t);
}

static void test_identity_without_anchors(void **state)
{
    (void)state;
    score_table t;
    make(&t);
    proj_fit f;
    mx_error e = {0};
    assert_int_equal(proj_calibrate(&t, SCORE_KL, &f, &e), ERR_ARG);
    proj_default_fit(&t, SCORE_KL, &f);
    assert_true(f.c1 == 1 && f.c2 == 0 && f.n_uniform + f.n_mixed == 0);
    assert_true(isnan(proj_fit_residual(&t, SCORE_KL, &f)));
    assert_true(fabs(proj_loss(&t, &f, 0.3) - 2.3) < 1e-15);
    score_table_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uniform_only_is_one_scale),
        cmocka_unit_test(test_mixed_anchors_fit_the_curve),
        cmocka_unit_test(test_falling_curve_falls_back),
        cmocka_unit_test(test_identity_without_anchors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
