/* The workbench's solver state on an in-memory synthetic score table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "kernels/tf.h"
#include "src/score_table.h"
#include "tests/score_fixture.h"
#include "ui/ui_state.h"

#define NL 3

static const mx_format cands[] = {MX_FP32, MX_FP8_E4M3, MX_FP6_E2M3, MX_FP4_E2M1};
#define NC 4

/* Narrower formats cost more, down_proj and layer 0 most; fisher half of kl. */
static double state_score(int method, double level, int layer, int kind)
{
    double w = (1.0 + (kind == TF_DOWN ? 3 : kind)) / (1.0 + layer);
    return level * w * (method == SCORE_FISHER ? 0.5 : 1);
}

/* 3 layers x 7 modules, down_proj 64 x 128, scored by the methods present. */
static void make_table(score_table *t, int methods)
{
    const score_fixture_spec spec = {.layers = NL, .formats = cands, .n_formats = NC,
                                     .methods = (unsigned)methods, .down_cols = 128,
                                     .score = state_score};
    assert_int_equal(score_fixture_synthetic(t, &spec), 0);
}

static void setup_state(ui_state *s, int methods)
{
    score_table t;
    mx_error e = {0};
    make_table(&t, methods);
    ui_state_init(s);
    assert_int_equal(ui_state_set_table(s, &t, "mem", &e), 0);
    assert_int_equal(t.n_modules, 0); /* ownership moved */
    score_table_free(&t);
}

static int is_candidate(int f)
{
    for (int j = 0; j < NC; j++)
        if ((int)cands[j] == f)
            return 1;
    return 0;
}

static void test_solve_budget(void **state)
{
    (void)state;
    ui_state s;
    mx_error e = {0};
    setup_state(&s, 1 << SCORE_KL);
    assert_true(ui_state_has_scores(&s));
    assert_int_equal(s.method, SCORE_KL);
    double lo, hi;
    ui_state_budget_range(&s, &lo, &hi);
    assert_true(lo > 4.2 && lo < 4.3); /* mxfp4: 4 + 8/32 */
    assert_true(hi == 32);
    double prev_obj = INFINITY;
    for (double b = 4.5; b <= 9; b += 0.5) {
        s.budget = b;
        assert_int_equal(ui_state_solve(&s, &e), 0);
        assert_true(s.solved);
        assert_true(s.res.avg_bits <= b + 1e-9);
        assert_true(s.res.objective <= prev_obj + 1e-12); /* more bits never hurt */
        prev_obj = s.res.objective;
        for (int i = 0; i < s.t.n_modules; i++)
            assert_true(is_candidate(s.choice[i]));
        assert_true(s.solve_ms >= 0);
        assert_true(s.near_fmt >= 0);
    }
    /* below the minimum: infeasible, explained */
    s.budget = 3.0;
    assert_int_equal(ui_state_solve(&s, &e), ERR_INFEASIBLE);
    assert_false(s.solved);
    assert_true(strlen(s.err) > 0);
    ui_state_free(&s);
}

/* Budget steps down and up, each solved from the previous answer (the
 * workbench's path), give what a state with no answer yet gets at that
 * budget; formats that tie (fp8 and fp32 both free for layer 2) go to the
 * wider one however the budget got there. */
static void test_budget_steps_warm(void **state)
{
    (void)state;
    ui_state s, c;
    mx_error e = {0};
    setup_state(&s, 1 << SCORE_KL);
    setup_state(&c, 1 << SCORE_KL);
    for (int k = 0; k < TF_NLIN; k++) {
        s.t.modules[2 * TF_NLIN + k].score[SCORE_KL][MX_FP8_E4M3] = 0;
        c.t.modules[2 * TF_NLIN + k].score[SCORE_KL][MX_FP8_E4M3] = 0;
    }
    static const double steps[] = {33, 20, 9, 6.5, 5, 4.3, 3.0, 4.25, 4.3, 5.5, 8.3, 12, 32, 40};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        s.budget = c.budget = steps[i];
        for (int m = 0; m < c.t.n_modules; m++)
            c.choice[m] = -1;
        int rs = ui_state_solve(&s, &e), rc = ui_state_solve(&c, &e);
        assert_int_equal(rs, rc);
        if (rs) {
            assert_int_equal(rs, ERR_INFEASIBLE);
            continue;
        }
        assert_memory_equal(s.choice, c.choice, (size_t)s.t.n_modules * sizeof *s.choice);
        assert_true(s.res.objective == c.res.objective && s.res.optimal);
        if (steps[i] >= 32)
            for (int k = 0; k < TF_NLIN; k++)
                assert_int_equal(s.choice[2 * TF_NLIN + k], MX_FP32);
    }
    ui_state_free(&s);
    ui_state_free(&c);
}

static void test_pins_formats_groups(void **state)
{
    (void)state;
    ui_state s;
    mx_error e = {0};
    setup_state(&s, 1 << SCORE_KL | 1 << SCORE_FISHER);
    s.budget = 5.0;
    /* the most sensitive module pinned to the narrowest format is honoured */
    int m = ui_state_find_module(&s, "0.down", &e);
    assert_int_equal(m, TF_DOWN);
    assert_int_equal(ui_state_pin(&s, m, MX_FP4_E2M1, &e), 0);
    assert_int_equal(ui_state_solve(&s, &e), 0);
    assert_int_equal(s.choice[m], MX_FP4_E2M1);
    /* a generous budget would normally give it fp32 */
    s.budget = 30;
    assert_int_equal(ui_state_solve(&s, &e), 0);
    assert_int_equal(s.choice[m], MX_FP4_E2M1);
    ui_state_unpin(&s, m);
    assert_int_equal(ui_state_solve(&s, &e), 0);
    assert_int_equal(s.choice[m], MX_FP32);
    /* not a candidate */
    assert_int_equal(ui_state_pin(&s, m, MX_BF16, &e), ERR_ARG);
    assert_non_null(strstr(e.msg, "not a candidate"));

    /* formats: only mxfp4 and mxfp8 */
    assert_int_equal(ui_state_set_formats(&s, "mxfp4,mxfp8_e4m3", &e), 0);
    s.budget = 6.0;
    assert_int_equal(ui_state_solve(&s, &e), 0);
    for (int i = 0; i < s.t.n_modules; i++)
        assert_true(s.choice[i] == MX_FP4_E2M1 || s.choice[i] == MX_FP8_E4M3);
    assert_int_equal(ui_state_pin(&s, 0, MX_FP32, &e), ERR_ARG);
    assert_non_null(strstr(e.msg, "excluded"));
    assert_int_equal(ui_state_set_formats(&s, "mxfp4,bogus", &e), ERR_ARG);
    assert_int_equal(ui_state_set_formats(&s, "bf16", &e), ERR_ARG); /* not a candidate */
    /* a pinned format cannot be excluded */
    assert_int_equal(ui_state_pin(&s, 1, MX_FP8_E4M3, &e), 0);
    assert_int_equal(ui_state_set_formats(&s, "mxfp4", &e), ERR_ARG);
    assert_non_null(strstr(e.msg, "pinned"));
    ui_state_unpin(&s, -1);
    assert_int_equal(ui_state_set_formats(&s, "all", &e), 0);

    /* shared-format groups */
    ui_state_set_group(&s, 0, 1);
    ui_state_set_group(&s, 1, 1);
    for (double b = 4.5; b < 9; b += 0.25) {
        s.budget = b;
        assert_int_equal(ui_state_solve(&s, &e), 0);
        for (int l = 0; l < NL; l++) {
            const int *c = s.choice + l * TF_NLIN;
            assert_int_equal(c[TF_Q], c[TF_K]);
            assert_int_equal(c[TF_Q], c[TF_V]);
            assert_int_equal(c[TF_GATE], c[TF_UP]);
        }
    }
    /* method switch; the projection follows the method, through undo too
     * (fisher scores are half of kl's here: its fitted scale doubles) */
    s.t.uniform_loss[MX_FP4_E2M1] = s.t.fp32_loss + 0.05;
    assert_int_equal(ui_state_set_method(&s, SCORE_KL, &e), 0);
    double c_kl = s.proj.c1;
    ui_snap b;
    assert_int_equal(ui_state_snap(&s, &b), 0);
    assert_int_equal(ui_state_set_method(&s, SCORE_FISHER, &e), 0);
    ui_state_record(&s, &b);
    assert_true(fabs(s.proj.c1 - 2 * c_kl) < 1e-9 * c_kl);
    assert_int_equal(ui_state_solve(&s, &e), 0);
    assert_int_equal(ui_state_undo(&s, 0, &e), 0);
    assert_int_equal(s.method, SCORE_KL);
    assert_true(s.proj.c1 == c_kl);
    assert_int_equal(ui_state_set_method(&s, SCORE_GAMMA, &e), ERR_ARG);
    ui_state_free(&s);
}

static void test_find_module(void **state)
{
    (void)state;
    ui_state s;
    mx_error e = {0};
    setup_state(&s, 1 << SCORE_FISHER);
    assert_int_equal(s.method, SCORE_FISHER); /* the first present method */
    assert_int_equal(ui_state_find_module(&s, "model.layers.2.x.up_proj", &e), 2 * TF_NLIN + TF_UP);
    assert_int_equal(ui_state_find_module(&s, "1.q", &e), TF_NLIN);
    assert_int_equal(ui_state_find_module(&s, "2.GATE", &e), 2 * TF_NLIN + TF_GATE);
    assert_int_equal(ui_state_find_module(&s, "7.q", &e), -1);
    assert_non_null(strstr(e.msg, "no module '7.q'"));
    assert_int_equal(ui_state_find_module(&s, "1.qq", &e), -1);
    assert_int_equal(ui_state_find_module(&s, ".q", &e), -1);
    assert_string_equal(ui_format_short(MX_FP4_E2M1), "e2m1");
    ui_state_free(&s);
}

static void test_bad_tables(void **state)
{
    (void)state;
    ui_state s;
    mx_error e = {0};
    ui_state_init(&s);
    assert_false(ui_state_has_scores(&s));
    assert_int_equal(ui_state_solve(&s, &e), ERR_ARG);
    assert_non_null(strstr(e.msg, "no scores"));
    score_table t;
    make_table(&t, 0); /* no method present */
    assert_int_equal(ui_state_set_table(&s, &t, "x.scores", &e), ERR_FORMAT);
    assert_non_null(strstr(e.msg, "x.scores"));
    score_table_free(&t);
    score_table_init(&t);
    assert_int_equal(ui_state_set_table(&s, &t, "y.scores", &e), ERR_FORMAT);
    ui_state_free(&s);
}

/* A missing score of an allowed format is an error, as in `mxalloc alloc`
 * (both build the problem with alloc_setup_build), until the format is excluded. */
static void test_missing_score(void **state)
{
    (void)state;
    ui_state s;
    mx_error e = {0};
    score_table t;
    make_table(&t, 1 << SCORE_KL);
    t.modules[4].score[SCORE_KL][MX_FP6_E2M3] = NAN;
    ui_state_init(&s);
    assert_int_equal(ui_state_set_table(&s, &t, "mem", &e), 0);
    s.budget = 6;
    assert_int_equal(ui_state_solve(&s, &e), ERR_FORMAT);
    assert_false(s.solved);
    assert_non_null(strstr(e.msg, s.t.modules[4].name));
    assert_non_null(strstr(s.err, "no finite kl score for mxfp6_e2m3"));
    double lo, hi;
    ui_state_budget_range(&s, &lo, &hi);
    assert_true(isnan(lo) && isnan(hi));
    assert_int_equal(ui_state_sweep(&s, 8, &e), ERR_FORMAT);
    assert_int_equal(ui_state_set_formats(&s, "fp32,mxfp8_e4m3,mxfp4_e2m1", &e), 0);
    assert_int_equal(ui_state_solve(&s, &e), 0);
    assert_true(s.solved);
    ui_state_free(&s);
}

static void test_sweep(void **state)
{
    (void)state;
    ui_state s;
    mx_error e = {0};
    setup_state(&s, 1 << SCORE_KL);
    assert_true(s.curve_stale);
    assert_int_equal(ui_state_sweep(&s, 16, &e), 0);
    assert_false(s.curve_stale);
    assert_true(s.n_curve >= 8);
    double lo, hi;
    ui_state_budget_range(&s, &lo, &hi);
    /* the view stops where more bits no longer help, well below fp32 */
    assert_true(s.view_hi > lo && s.view_hi < hi);
    for (int i = 0; i < s.n_curve; i++) {
        assert_true(s.curve_bits[i] >= lo - 1e-9 && s.curve_bits[i] <= s.view_hi + 1e-9);
        if (i > 0) {
            assert_true(s.curve_bits[i] >= s.curve_bits[i - 1] - 1e-9);
            assert_true(s.curve_obj[i] <= s.curve_obj[i - 1] + 1e-12);
        }
    }
    /* the curve agrees with a direct solve at the same budget */
    s.budget = s.curve_bits[s.n_curve / 2] + 1e-9;
    assert_int_equal(ui_state_solve(&s, &e), 0);
    assert_true(fabs(s.res.objective - s.curve_obj[s.n_curve / 2]) < 1e-9);
    /* a pin marks the curve stale */
    ui_state_pin(&s, 0, MX_FP4_E2M1, &e);
    assert_true(s.curve_stale);
    ui_state_free(&s);
}

static void test_measured_points(void **state)
{
    (void)state;
    ui_state s;
    ui_state_init(&s);
    for (int i = 0; i < UI_MEAS_MAX + 5; i++)
        ui_state_add_measured(&s, i, 10 + i, 'k');
    assert_int_equal(s.n_meas, UI_MEAS_MAX);
    assert_true(s.meas_bits[0] == 5 && s.meas_ppl[UI_MEAS_MAX - 1] == 10 + UI_MEAS_MAX + 4);
    ui_state_free(&s);
}

/* Candidates: an applied allocation gets the bits, size, objective and
 * projection the solver reports for the same formats; keep/use switch; a
 * constraint change makes the solver's answer current again. */
static void test_candidates(void **state)
{
    (void)state;
    ui_state s;
    mx_error e = {0};
    setup_state(&s, 1 << SCORE_KL);
    s.budget = 6;
    assert_int_equal(ui_state_solve(&s, &e), 0);
    assert_string_equal(s.alloc_name, "ilp");
    int n = s.t.n_modules, ilp[NL * TF_NLIN], all4[NL * TF_NLIN];
    memcpy(ilp, s.choice, sizeof ilp);
    ilp_result r = s.res;
    double ppl = s.proj_ppl;
    assert_int_equal(ui_state_keep(&s, NULL, NULL, &e), 0);
    assert_string_equal(s.cand[0].name, "ilp@6.00");
    for (int i = 0; i < n; i++)
        all4[i] = MX_FP4_E2M1;
    assert_int_equal(ui_state_apply(&s, all4, "dmx@6.00", &e), 0);
    assert_string_equal(s.alloc_name, "dmx@6.00");
    assert_true(ui_state_is_current(&s, all4));
    assert_false(ui_state_is_current(&s, ilp));
    assert_true(fabs(s.res.avg_bits - 4.25) < 1e-9);
    assert_true(s.proj_ppl > ppl);
    assert_int_equal(ui_state_use(&s, "ilp@6.00", &e), 0);
    assert_true(ui_state_is_current(&s, ilp));
    assert_true(fabs(s.res.avg_bits - r.avg_bits) < 1e-9);
    assert_true(fabs(s.res.bytes - r.bytes) < 1e-6);
    assert_true(fabs(s.res.objective - r.objective) < 1e-12 * fabs(r.objective) + 1e-15);
    assert_true(fabs(s.proj_ppl - ppl) < 1e-12);
    assert_int_equal(ui_state_cand_of(&s, all4), 1);
    s.cand[1].meas_ppl = 9.5;
    assert_int_equal(ui_state_use(&s, "dmx@6.00", &e), 0);
    assert_true(s.cand[1].meas_ppl == 9.5); /* the same allocation keeps its measurement */
    assert_int_equal(ui_state_use(&s, "nope", &e), ERR_ARG);
    assert_non_null(strstr(e.msg, "ilp, ilp@6.00, dmx@6.00"));
    assert_int_equal(ui_state_keep(&s, "ilp", NULL, &e), ERR_ARG);
    /* a constraint change: the solver again */
    ui_state_set_target(&s, s.target);
    assert_int_equal(ui_state_solve(&s, &e), 0);
    assert_string_equal(s.alloc_name, "ilp");
    int bad[NL * TF_NLIN];
    memcpy(bad, all4, sizeof bad);
    bad[3] = MX_INT8; /* not a format of this table */
    assert_false(is_candidate(MX_INT8));
    assert_int_equal(ui_state_apply(&s, bad, "x", &e), ERR_ARG);
    assert_string_equal(s.alloc_name, "ilp");
    ui_state_free(&s);
}

/* Undo/redo of constraint edits: what changed is recorded, undo restores it
 * (and the solver's answer for it), a new edit clears the redo list. */
static void test_undo_redo(void **state)
{
    (void)state;
    ui_state s;
    mx_error e = {0};
    setup_state(&s, 1 << SCORE_KL);
    ui_snap b;
    s.budget = 6;
    assert_int_equal(ui_state_undo(&s, 0, &e), ERR_ARG);
    assert_string_equal(e.msg, "nothing to undo");
    assert_int_equal(ui_state_snap(&s, &b), 0);
    ui_state_record(&s, &b); /* nothing changed: not recorded */
    assert_int_equal(s.n_undo, 0);
    assert_int_equal(ui_state_snap(&s, &b), 0);
    s.budget = 5;
    ui_state_record(&s, &b);
    assert_int_equal(ui_state_snap(&s, &b), 0);
    assert_int_equal(ui_state_pin(&s, 3, MX_FP8_E4M3, &e), 0);
    ui_state_record(&s, &b);
    assert_int_equal(s.n_undo, 2);
    assert_int_equal(ui_state_undo(&s, 0, &e), 0); /* the pin goes */
    assert_int_equal(s.pin[3], -1);
    assert_true(s.budget == 5);
    assert_false(s.solved);
    assert_int_equal(ui_state_undo(&s, 0, &e), 0); /* the budget */
    assert_true(s.budget == 6);
    assert_int_equal(ui_state_undo(&s, 1, &e), 0); /* redo the budget */
    assert_true(s.budget == 5);
    assert_int_equal(s.n_redo, 1);
    assert_int_equal(ui_state_snap(&s, &b), 0); /* a new edit: no redo left */
    ui_state_set_group(&s, 0, 1);
    ui_state_record(&s, &b);
    assert_int_equal(s.n_redo, 0);
    assert_int_equal(ui_state_undo(&s, 1, &e), ERR_ARG);
    assert_int_equal(ui_state_undo(&s, 0, &e), 0);
    assert_int_equal(s.group_qkv, 0);
    assert_int_equal(ui_state_solve(&s, &e), 0);
    for (int i = 0; i < UI_UNDO_MAX + 5; i++) { /* a long drag keeps the newest */
        assert_int_equal(ui_state_snap(&s, &b), 0);
        s.budget = 5 + 0.01 * (i + 1);
        ui_state_record(&s, &b);
    }
    assert_int_equal(s.n_undo, UI_UNDO_MAX);
    ui_state_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_solve_budget), cmocka_unit_test(test_budget_steps_warm),
        cmocka_unit_test(test_pins_formats_groups),
        cmocka_unit_test(test_find_module),  cmocka_unit_test(test_bad_tables),
        cmocka_unit_test(test_missing_score),
        cmocka_unit_test(test_measured_points), cmocka_unit_test(test_sweep),
        cmocka_unit_test(test_candidates), cmocka_unit_test(test_undo_redo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
