/* What the workbench computes and a subcommand can print too: the budget
 * range of an allocation problem (solver/budget.h) and the discovery of score
 * files already in the cache (src/score_lookup.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "kernels/tf.h"
#include "solver/budget.h"
#include "src/cache.h"
#include "src/score_lookup.h"
#include "tests/score_fixture.h"
#include "tests/testmodel.h"

#define NL 2

static const mx_format cands[] = {MX_FP32, MX_FP8_E4M3, MX_FP4_E2M1};
#define NC 3

/* 2 layers x 7 modules of 64 x 64, kl scores of the format's level alone. */
static void make_table(score_table *t, uint64_t hash)
{
    const score_fixture_spec spec = {.layers = NL, .formats = cands, .n_formats = NC,
                                     .methods = 1u << SCORE_KL, .down_cols = 64};
    assert_int_equal(score_fixture_synthetic(t, &spec), 0);
    t->model_hash = hash;
}

static void test_budget_range(void **state)
{
    (void)state;
    score_table t;
    make_table(&t, 1);
    alloc_opts o;
    alloc_opts_init(&o);
    o.score_method = SCORE_KL;
    double lo, hi;
    mx_error e = {0};
    assert_int_equal(budget_range_opts(&o, &t, &lo, &hi, &e), 0);
    /* every module in mxfp4 (4 bits + one 8-bit scale per 32) .. every module in fp32 */
    assert_true(fabs(lo - 4.25) < 1e-9);
    assert_true(fabs(hi - 32.0) < 1e-9);
    /* one module of 14 pinned to fp32 raises the floor by (32 - 4.25) / 14 */
    o.pins = malloc(sizeof *o.pins);
    assert_non_null(o.pins);
    o.pins[0] = (alloc_pin){t.modules[0].name, MX_FP32};
    o.n_pins = 1;
    assert_int_equal(budget_range_opts(&o, &t, &lo, &hi, &e), 0);
    assert_true(fabs(lo - (4.25 + (32 - 4.25) / (NL * TF_NLIN))) < 1e-9);
    /* without fp32 allowed the top is mxfp8 */
    o.n_pins = 0;
    o.formats_mask = (1u << MX_FP8_E4M3) | (1u << MX_FP4_E2M1);
    assert_int_equal(budget_range_opts(&o, &t, &lo, &hi, &e), 0);
    assert_true(fabs(hi - 8.25) < 1e-9);
    /* a pin outside the allowed formats: an error, and no range */
    o.n_pins = 1;
    assert_true(budget_range_opts(&o, &t, &lo, &hi, &e) < 0);
    assert_true(isnan(lo) && isnan(hi));
    assert_true(e.msg[0] != '\0');
    alloc_opts_free(&o);
    score_table_free(&t);
}

/* Write a table for weights `hash` under KEY with modification time mtime. */
static void put(const char *key, uint64_t hash, time_t mtime, char *path, size_t len)
{
    score_table t;
    mx_error e = {0};
    make_table(&t, hash);
    assert_int_equal(cache_path_for_key(key, path, len, &e), 0);
    assert_int_equal(cache_write(path, &t, &e), 0);
    score_table_free(&t);
    struct timeval tv[2] = {{mtime, 0}, {mtime, 0}};
    assert_int_equal(utimes(path, tv), 0);
}

static void test_lookup_newest(void **state)
{
    (void)state;
    char dir[512], xdg[600], old[1024], newer[1024], other[1024], out[1024];
    assert_int_equal(tm_tmpdir(dir, sizeof dir), 0);
    snprintf(xdg, sizeof xdg, "%s/cache", dir);
    setenv("XDG_CACHE_HOME", xdg, 1);
    /* an empty (new) cache: nothing */
    assert_int_equal(score_lookup_newest(7, NL * TF_NLIN, out, sizeof out), -1);
    put("aaaa", 7, 1000000, old, sizeof old);
    put("bbbb", 7, 2000000, newer, sizeof newer);
    put("cccc", 9, 3000000, other, sizeof other);
    assert_int_equal(score_lookup_newest(7, NL * TF_NLIN, out, sizeof out), 0);
    assert_string_equal(out, newer);
    assert_int_equal(score_lookup_newest(9, NL * TF_NLIN, out, sizeof out), 0);
    assert_string_equal(out, other);
    /* other weights, or the same hash with another module count: none */
    assert_int_equal(score_lookup_newest(8, NL * TF_NLIN, out, sizeof out), -1);
    assert_int_equal(score_lookup_newest(7, NL * TF_NLIN + 1, out, sizeof out), -1);
    /* a file that is not a score table is skipped */
    FILE *f = fopen(newer, "wb");
    assert_non_null(f);
    fputs("not a score file", f);
    fclose(f);
    assert_int_equal(score_lookup_newest(7, NL * TF_NLIN, out, sizeof out), 0);
    assert_string_equal(out, old);
    /* too small an output buffer: not found rather than truncated */
    assert_int_equal(score_lookup_newest(7, NL * TF_NLIN, out, 8), -1);
    tm_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_budget_range),
        cmocka_unit_test(test_lookup_newest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
