/* Built against tests/nocmocka/cmocka.h whether or not cmocka is installed
 * (tests/nocmocka.sh runs it): every name of the stand-in, used the way the
 * unit tests use them, must compile without a warning, and main must report
 * a skip (77) without running a test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

static int helper(int x)
{
    if (x < 0)
        fail_msg("negative %d", x);
    if (x == 0)
        fail();
    if (x == 1)
        skip();
    return x;
}

static int setup(void **state)
{
    *state = NULL;
    return 0;
}

static void test_all(void **state)
{
    (void)state;
    /* reached only if the stand-in ran tests: that is the failure */
    abort();
}

static void test_names(void **state)
{
    int v = helper(2);
    const char *s = "a";
    char buf[2] = "a";
    double d = 0.5;
    assert_true(v == 2);
    assert_false(v != 2);
    assert_null(*state);
    assert_non_null(s);
    assert_int_equal(v, 2);
    assert_int_not_equal(v, 3);
    assert_ptr_equal(s, s);
    assert_ptr_not_equal(s, buf);
    assert_string_equal(s, buf);
    assert_string_not_equal(s, "b");
    assert_memory_equal(s, buf, 1);
    assert_memory_not_equal(s, "b", 1);
    assert_float_equal(d, 0.5, 1e-9);
    assert_in_range(v, 0, 3);
    assert_return_code(v, 0);
    print_message("%s\n", s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all),
        cmocka_unit_test_setup_teardown(test_names, setup, NULL),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
