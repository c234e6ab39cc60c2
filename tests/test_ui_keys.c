/* The workbench's key-binding table: the `?` help lists every bound key, no
 * key is bound twice, an unknown key says so on the status line, and actions
 * return what must be redone; the controller (ui_ctl_apply) leaves the
 * budget range and the Pareto curve computed for the panes. No terminal:
 * ncurses is linked but never initialised. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/tf.h"
#include "tests/score_fixture.h"
#include "ui/ui_app.h"
#include "ui/ui_cmdline.h"

#define NL 3

static const mx_format cands[] = {MX_FP32, MX_FP8_E4M3, MX_FP6_E2M3, MX_FP4_E2M1};
#define NC 4

/* Narrower formats cost more, later layers less. */
static double key_score(int method, double level, int layer, int kind)
{
    (void)method;
    return level * (1.0 + kind) / (1.0 + layer);
}

/* 3 layers x 7 modules, down_proj 64 x 128 (as tests/test_ui_state.c), kl scores only. */
static void make_table(score_table *t)
{
    const score_fixture_spec spec = {.layers = NL, .formats = cands, .n_formats = NC,
                                     .methods = 1u << SCORE_KL, .down_cols = 128, .score = key_score};
    assert_int_equal(score_fixture_synthetic(t, &spec), 0);
}

typedef struct fixture {
    ui_wb wb;
    ui_app a;
    int mod_at[NL * TF_NLIN];
} fixture;

/* A workbench without a model; with_scores: the synthetic table loaded. */
static void setup(fixture *f, int with_scores)
{
    memset(f, 0, sizeof *f);
    ui_state_init(&f->wb.st);
    snprintf(f->wb.scores_hint, sizeof f->wb.scores_hint, "no scores: run `mxalloc score ...`");
    f->a.wb = &f->wb;
    f->a.n_layers = NL;
    f->a.mod_at = f->mod_at;
    f->a.lay.heat_rows = NL;
    f->wb.msg = ui_ctl_msg;
    f->wb.msg_user = &f->a;
    f->wb.interactive = 1;
    if (with_scores) {
        score_table t;
        mx_error e = {0};
        make_table(&t);
        assert_int_equal(ui_state_set_table(&f->wb.st, &t, "mem", &e), 0);
        score_table_free(&t);
        f->wb.st.budget = 6.0;
        f->wb.scores_hint[0] = '\0';
    }
    ui_ctl_build_index(&f->a);
    ui_ctl_apply(&f->a, UI_REDO_SOLVE | UI_REDO_DRAW);
}

static void teardown(fixture *f)
{
    ui_state_free(&f->wb.st);
}

static int line_has_binding(char lines[][UI_HELP_LINE], int n, const ui_key_binding *b)
{
    char label[UI_KEYS_MAX * 16];
    ui_keys_label(b, label, sizeof label);
    for (int i = 0; i < n; i++) {
        const char *p = strstr(lines[i], label);
        /* the keys, then (after padding) what they do, on one line */
        if (p && strstr(p + strlen(label), b->help))
            return 1;
    }
    return 0;
}

static void test_help_lists_every_key(void **state)
{
    (void)state;
    int nb;
    const ui_key_binding *t = ui_keys_table(&nb);
    assert_true(nb > 10);
    static const int widths[] = {82, 76, 56, 40};
    for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
        char lines[64][UI_HELP_LINE];
        int n = ui_keys_help_lines(widths[w], lines, 64);
        assert_true(n > nb / 2 + UI_CMD_COUNT);
        for (int i = 0; i < nb; i++) {
            assert_non_null(t[i].help);
            assert_non_null(t[i].action);
            assert_true(t[i].keys[0] != 0);
            if (!line_has_binding(lines, n, &t[i])) {
                char label[96];
                ui_keys_label(&t[i], label, sizeof label);
                fail_msg("width %d: the help lacks '%s  %s'", widths[w], label, t[i].help);
            }
            /* every key of the binding by its name, within the box */
            for (int k = 0; k < UI_KEYS_MAX && t[i].keys[k]; k++) {
                char name[32];
                ui_key_name(t[i].keys[k], name, sizeof name);
                int found = 0;
                for (int j = 0; j < n && !found; j++)
                    found = strstr(lines[j], name) != NULL;
                assert_true(found);
            }
        }
        assert_string_equal(lines[0], "Keys");
        for (int j = 1; j < n && strcmp(lines[j], "Commands"); j++) /* key rows fit the box */
            assert_true((int)strlen(lines[j]) <= widths[w]);
        /* and the commands after them */
        int found = 0;
        for (int j = 0; j < n; j++)
            found += strstr(lines[j], ui_cmd_usage(UI_CMD_LOAD_SCORES)) != NULL;
        assert_int_equal(found, 1);
    }
}

static void test_no_key_bound_twice(void **state)
{
    (void)state;
    int nb;
    const ui_key_binding *t = ui_keys_table(&nb);
    for (int i = 0; i < nb; i++)
        for (int k = 0; k < UI_KEYS_MAX && t[i].keys[k]; k++)
            assert_ptr_equal(ui_keys_find(t[i].keys[k]), &t[i]);
    int count = 0;
    for (int i = 0; i < nb; i++)
        for (int k = 0; k < UI_KEYS_MAX && t[i].keys[k]; k++)
            for (int j = 0; j < nb; j++)
                for (int l = 0; l < UI_KEYS_MAX && t[j].keys[l]; l++)
                    count += t[i].keys[k] == t[j].keys[l];
    int keys = 0;
    for (int i = 0; i < nb; i++)
        for (int k = 0; k < UI_KEYS_MAX && t[i].keys[k]; k++)
            keys++;
    assert_int_equal(count, keys); /* each key matches only itself */
}

static void test_unknown_key(void **state)
{
    (void)state;
    fixture f;
    setup(&f, 0);
    assert_null(ui_keys_find('Z'));
    unsigned redo = ui_keys_dispatch(&f.a, 'Z');
    assert_true(redo & UI_REDO_DRAW);
    assert_false(redo & (UI_REDO_QUIT | UI_REDO_SOLVE));
    assert_non_null(strstr(f.a.status, "unknown key Z"));
    assert_non_null(strstr(f.a.status, "?"));
    ui_keys_dispatch(&f.a, KEY_F(5));
    assert_non_null(strstr(f.a.status, "unknown key F5"));
    ui_keys_dispatch(&f.a, 2); /* Ctrl-B */
    assert_non_null(strstr(f.a.status, "unknown key C-b"));
    /* a bound key is not unknown: without scores, it says why it cannot act */
    ui_keys_dispatch(&f.a, KEY_RIGHT);
    assert_null(strstr(f.a.status, "unknown key"));
    assert_non_null(strstr(f.a.status, "no scores"));
    /* in the help box any key closes it, silently */
    f.a.status[0] = '\0';
    assert_true(ui_keys_dispatch(&f.a, '?') & UI_REDO_DRAW);
    assert_int_equal(f.a.mode, UI_MODE_HELP);
    ui_keys_dispatch(&f.a, 'Z');
    assert_int_equal(f.a.mode, UI_MODE_NORMAL);
    assert_string_equal(f.a.status, "");
    teardown(&f);
}

static void test_redo_bits(void **state)
{
    (void)state;
    fixture f;
    setup(&f, 1);
    ui_state *s = &f.wb.st;
    /* the controller computed what the panes read: no pane has to solve */
    assert_true(s->solved);
    assert_false(s->curve_stale);
    assert_true(s->n_curve >= 2);
    assert_true(isfinite(s->range_lo) && isfinite(s->range_hi) && s->range_lo < s->range_hi);
    assert_true(isfinite(f.a.heat_lo) && isfinite(f.a.heat_hi) && f.a.heat_lo <= f.a.heat_hi);
    /* another format in view: its colour scale is recomputed before drawing */
    double h0 = f.a.heat_hi;
    ui_ctl_apply(&f.a, ui_keys_dispatch(&f.a, 'F'));
    assert_true(isfinite(f.a.heat_hi) && f.a.heat_hi != h0);
    assert_true(ui_keys_dispatch(&f.a, 'q') & UI_REDO_QUIT);
    assert_true(ui_keys_dispatch(&f.a, 3) & UI_REDO_QUIT);
    assert_true(ui_keys_dispatch(&f.a, 12) & UI_REDO_CLEAR);
    assert_true(ui_keys_dispatch(&f.a, KEY_RESIZE) & UI_REDO_LAYOUT);
    /* budget keys ask for a re-solve and do not solve themselves */
    double b0 = s->budget;
    unsigned redo = ui_keys_dispatch(&f.a, KEY_LEFT);
    assert_true(redo & UI_REDO_SOLVE);
    assert_true(fabs(s->budget - (b0 - UI_BUDGET_FINE)) < 1e-9);
    s->solved = 0;
    redo = ui_ctl_apply(&f.a, redo);
    assert_false(redo & UI_REDO_SOLVE);
    assert_true(s->solved);
    assert_true(s->res.avg_bits <= s->budget + 1e-9);
    /* far below the range: clamped to the lowest feasible budget, rounded up
     * to the 0.001 step (4.2571 is 4.258, not an infeasible 4.257), solved */
    ui_ctl_apply(&f.a, ui_keys_dispatch(&f.a, KEY_NPAGE));
    for (int i = 0; i < 20; i++)
        ui_ctl_apply(&f.a, ui_keys_dispatch(&f.a, KEY_NPAGE));
    assert_true(fabs(s->budget - ceil(s->range_lo * 1000 - 1e-9) / 1000) < 1e-9);
    assert_true(s->budget >= s->range_lo);
    assert_true(s->solved && s->res.avg_bits <= s->budget + 1e-9);
    /* the cursor and the views */
    ui_keys_dispatch(&f.a, 'j');
    ui_keys_dispatch(&f.a, 'l');
    assert_int_equal(f.a.cur_layer, 1);
    assert_int_equal(f.a.cur_kind, 1);
    ui_keys_dispatch(&f.a, 'a');
    assert_int_equal(f.a.show_assigned, 1);
    /* pin mode: p, then a format number; a pin marks the curve stale and the
     * controller brings it back */
    ui_keys_dispatch(&f.a, 'p');
    assert_int_equal(f.a.mode, UI_MODE_PIN);
    assert_non_null(strstr(f.a.status, "pin to: 1 fp32"));
    /* a key that is no format number says so and keeps waiting */
    ui_keys_dispatch(&f.a, '9');
    assert_int_equal(f.a.mode, UI_MODE_PIN);
    assert_non_null(strstr(f.a.status, "press 1.."));
    redo = ui_keys_dispatch(&f.a, '2');
    assert_int_equal(f.a.mode, UI_MODE_NORMAL);
    assert_int_equal(s->pin[ui_ctl_cur_module(&f.a)], MX_FP8_E4M3);
    assert_true(s->curve_stale);
    ui_ctl_apply(&f.a, redo);
    assert_false(s->curve_stale);
    ui_keys_dispatch(&f.a, 'u');
    assert_int_equal(s->pin[ui_ctl_cur_module(&f.a)], -1);
    /* u again: the module is not pinned, and the status line says that */
    ui_keys_dispatch(&f.a, 'u');
    assert_non_null(strstr(f.a.status, "is not pinned"));
    /* p, Esc: cancelled */
    ui_keys_dispatch(&f.a, 'p');
    ui_keys_dispatch(&f.a, 27);
    assert_int_equal(f.a.mode, UI_MODE_NORMAL);
    assert_non_null(strstr(f.a.status, "pin cancelled"));
    teardown(&f);
}

/* The labels the workbench shows (heatmap cells, the pin prompt) are accepted
 * by its own commands. */
static void test_labels_accepted(void **state)
{
    (void)state;
    for (int f = 0; f < MX_NFORMATS; f++) {
        mx_format g;
        assert_int_equal(mx_format_parse(ui_format_short((mx_format)f), &g), 0);
        assert_int_equal(g, f);
    }
    fixture fx;
    setup(&fx, 1);
    ui_state *s = &fx.wb.st;
    char line[128];
    snprintf(line, sizeof line, "pin 1.k %s", ui_format_short(MX_FP6_E2M3));
    ui_ctl_run_line(&fx.a, line);
    assert_false(fx.a.status_err);
    assert_int_equal(s->pin[1 * TF_NLIN + TF_K], MX_FP6_E2M3);
    snprintf(line, sizeof line, "formats %s,%s,%s", ui_format_short(MX_FP4_E2M1), ui_format_short(MX_FP6_E2M3),
             ui_format_short(MX_FP32));
    ui_ctl_run_line(&fx.a, line);
    assert_false(fx.a.status_err);
    assert_false(s->fmt_ok[MX_FP8_E4M3]);
    assert_true(s->fmt_ok[MX_FP4_E2M1] && s->fmt_ok[MX_FP6_E2M3] && s->fmt_ok[MX_FP32]);
    /* Tab completes them too */
    assert_string_equal(ui_cmdline_candidate(NULL, "pin x e2", 2, "e2", 0), "e2m3");
    assert_string_equal(ui_cmdline_candidate(NULL, "pin x e2", 2, "e2", 1), "e2m1");
    /* and the mse scale mode's labels after them */
    assert_string_equal(ui_cmdline_candidate(NULL, "pin x e2", 2, "e2", 2), "e2m3+");
    assert_string_equal(ui_cmdline_candidate(NULL, "pin x e2", 2, "e2", 3), "e2m1+");
    assert_null(ui_cmdline_candidate(NULL, "pin x e2", 2, "e2", 4));
    /* a bad name lists the valid ones */
    ui_ctl_run_line(&fx.a, "pin 1.k mxfp9");
    assert_true(fx.a.status_err);
    assert_non_null(strstr(fx.a.status, "unknown format 'mxfp9'"));
    assert_non_null(strstr(fx.a.status, "mxfp4_e2m1"));
    teardown(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_lists_every_key),
        cmocka_unit_test(test_no_key_bound_twice),
        cmocka_unit_test(test_unknown_key),
        cmocka_unit_test(test_redo_bits),
        cmocka_unit_test(test_labels_accepted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
