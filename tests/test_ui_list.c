/* The module list's sort (ui/ui_list.c) on five hand-made modules whose
 * orders are known by reading them: ties keep the grid's order, modules
 * without a value go last in both directions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ui/ui_list.h"

/* grid order: index = layer * 7 + kind below; names out of that order */
static const struct {
    const char *name;
    int layer, kind;
    int64_t params;
    double score; /* kl, mxfp4 */
    mx_format fmt;
} mods[] = {
    {"b.q", 0, 0, 4096, 0.5, MX_FP4_E2M1},
    {"d.k", 0, 1, 2048, NAN, MX_FP32},
    {"a.v", 0, 2, 2048, 0.25, MX_FP4_E2M1},
    {"c.q", 1, 0, 8192, 0.5, MX_FP8_E4M3},
    {"e.k", 1, 1, 1024, 1.0, MX_FP4_E2M1},
};
#define N 5

static void setup(ui_state *s, score_table *t, score_module *m, int *choice)
{
    memset(s, 0, sizeof *s);
    memset(t, 0, sizeof *t);
    memset(m, 0, N * sizeof *m);
    for (int i = 0; i < N; i++) {
        snprintf(m[i].name, sizeof m[i].name, "%s", mods[i].name);
        m[i].layer = mods[i].layer;
        m[i].kind = mods[i].kind;
        m[i].params = mods[i].params;
        m[i].score[SCORE_KL][MX_FP4_E2M1] = mods[i].score;
        m[i].bits[MX_FP32] = 32;
        m[i].bits[MX_FP8_E4M3] = 8.25;
        m[i].bits[MX_FP4_E2M1] = 4.25;
        choice[i] = mods[i].fmt;
    }
    t->n_modules = N;
    t->modules = m;
    s->t = *t;
    s->method = SCORE_KL;
    s->solved = 1;
    s->choice = choice;
}

static void expect(ui_list_key k, int desc, const int *want)
{
    ui_state s;
    score_table t;
    score_module m[N];
    int choice[N], order[N];
    setup(&s, &t, m, choice);
    ui_list_sort(&s, k, desc, MX_FP4_E2M1, order);
    for (int i = 0; i < N; i++)
        if (order[i] != want[i])
            fail_msg("%s %s: position %d is module %d, want %d", ui_list_key_name(k), desc ? "desc" : "asc", i,
                     order[i], want[i]);
}

static void test_orders(void **state)
{
    (void)state;
    expect(UI_LIST_LAYER, 0, (const int[]){0, 1, 2, 3, 4});
    expect(UI_LIST_LAYER, 1, (const int[]){4, 3, 2, 1, 0});
    expect(UI_LIST_NAME, 0, (const int[]){2, 0, 3, 1, 4});
    expect(UI_LIST_NAME, 1, (const int[]){4, 1, 3, 0, 2});
    /* params: 1 and 2 tie at 2048 and keep the grid's order both ways */
    expect(UI_LIST_PARAMS, 1, (const int[]){3, 0, 1, 2, 4});
    expect(UI_LIST_PARAMS, 0, (const int[]){4, 1, 2, 0, 3});
    /* bits of the allocation: 32, 8.25, then the 4.25 ties in grid order */
    expect(UI_LIST_BITS, 1, (const int[]){1, 3, 0, 2, 4});
    /* score: the NAN module last both ways; 0 and 3 tie at 0.5 */
    expect(UI_LIST_SCORE, 1, (const int[]){4, 0, 3, 2, 1});
    expect(UI_LIST_SCORE, 0, (const int[]){2, 0, 3, 4, 1});
}

static void test_unsolved_bits_last(void **state)
{
    (void)state;
    ui_state s;
    score_table t;
    score_module m[N];
    int choice[N], order[N];
    setup(&s, &t, m, choice);
    s.solved = 0; /* no allocation: no bits, every module ties and keeps the grid's order */
    ui_list_sort(&s, UI_LIST_BITS, 1, MX_FP4_E2M1, order);
    for (int i = 0; i < N; i++)
        assert_int_equal(order[i], i);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(ui_list_key_name(UI_LIST_SCORE), "score");
    assert_string_equal(ui_list_key_name(UI_LIST_NKEYS), "?");
    assert_true(ui_list_key_desc(UI_LIST_BITS));
    assert_false(ui_list_key_desc(UI_LIST_NAME));
}

/* find takes the names the list shows: LAYER.KIND is that module exactly */
static void test_list_names_found(void **state)
{
    (void)state;
    assert_true(ui_state_name_matches("model.layers.0.self_attn.q_proj", "0.q"));
    assert_true(ui_state_name_matches("model.layers.12.mlp.down_proj", "12.DOWN"));
    assert_false(ui_state_name_matches("model.layers.10.self_attn.q_proj", "0.q"));
    assert_true(ui_state_name_matches("model.layers.10.self_attn.q_proj", "SELF_attn.q"));
    assert_false(ui_state_name_matches("model.layers.1.mlp.up_proj", "1.gate"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_orders),
        cmocka_unit_test(test_unsolved_bits_last),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_list_names_found),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
