/* Stand-in for <cmocka.h> when configure finds no cmocka (it then puts this
 * directory on the unit tests' include path): the tests still compile, their
 * assertions type-check and do nothing, and main returns 77 with a message, so
 * `make check` reports each cmocka test as SKIP instead of the build failing.
 * Only the part of the cmocka API the tests use; tests/nocmocka_probe.c uses
 * every name here. */
#ifndef MXALLOC_NOCMOCKA_H
#define MXALLOC_NOCMOCKA_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

typedef void (*CMUnitTestFunction)(void **state);
typedef int (*CMFixtureFunction)(void **state);

struct CMUnitTest {
    const char *name;
    CMUnitTestFunction test_func;
    CMFixtureFunction setup_func;
    CMFixtureFunction teardown_func;
    void *initial_state;
};

#define cmocka_unit_test(f) { #f, f, NULL, NULL, NULL }
#define cmocka_unit_test_setup_teardown(f, setup, teardown) { #f, f, setup, teardown, NULL }

/* The exit status automake's harness reads as SKIP. */
#define NOCMOCKA_SKIP 77

static inline int nocmocka_skip(const char *file, size_t n_tests)
{
    printf("SKIP: %s: %zu unit tests not run: built without cmocka (install the Debian "
           "package libcmocka-dev and run configure again)\n", file, n_tests);
    return NOCMOCKA_SKIP;
}

#define cmocka_run_group_tests(tests, group_setup, group_teardown) \
    ((void)(group_setup), (void)(group_teardown), \
     nocmocka_skip(__FILE__, sizeof(tests) / sizeof((tests)[0])))

/* Never reached (no test body runs); noreturn like cmocka's, so helpers that
 * end in fail() need no return after it. */
__attribute__((noreturn, format(printf, 1, 2))) static inline void nocmocka_fail(const char *fmt, ...)
{
    (void)fmt;
    abort();
}

__attribute__((format(printf, 1, 2))) static inline void print_message(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
}

#define fail() nocmocka_fail("fail")
#define fail_msg(...) nocmocka_fail(__VA_ARGS__)
#define skip() nocmocka_fail("skip")

#define assert_true(c) ((void)(c))
#define assert_false(c) ((void)(c))
#define assert_null(p) ((void)(p))
#define assert_non_null(p) ((void)(p))
#define assert_int_equal(a, b) ((void)(a), (void)(b))
#define assert_int_not_equal(a, b) ((void)(a), (void)(b))
#define assert_ptr_equal(a, b) ((void)(a), (void)(b))
#define assert_ptr_not_equal(a, b) ((void)(a), (void)(b))
#define assert_string_equal(a, b) ((void)(a), (void)(b))
#define assert_string_not_equal(a, b) ((void)(a), (void)(b))
#define assert_memory_equal(a, b, n) ((void)(a), (void)(b), (void)(n))
#define assert_memory_not_equal(a, b, n) ((void)(a), (void)(b), (void)(n))
#define assert_float_equal(a, b, eps) ((void)(a), (void)(b), (void)(eps))
#define assert_in_range(v, lo, hi) ((void)(v), (void)(lo), (void)(hi))
#define assert_return_code(rc, err) ((void)(rc), (void)(err))

#endif
