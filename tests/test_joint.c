/* The joint (format, keep level) solver against enumeration of every
 * assignment that honours the shared keep levels, a hand case where the
 * group's keep level must be shared, and bad input. Capacities are checked
 * in exact integer arithmetic: bits are multiples of 1/32, params integers. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "solver/joint.h"

#define NM 7
#define NF 3
#define NK 3
#define NCAP 6

typedef struct inst {
    int n;
    int64_t ip[NM];
    double params[NM];
    int b32[NM * NF * NK]; /* bits * 32 */
    double bits[NM * NF * NK], cost[NM * NF * NK];
    unsigned char allowed[NM * NF * NK];
    int group[NM];
} inst;

static uint64_t rng_state;
static uint32_t rnd(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33);
}
static double urand(void) { return rnd() / 2147483648.0; }

static size_t ix(int m, int f, int k) { return ((size_t)m * NF + f) * NK + k; }

/* 5-7 modules in 2-3 groups (ids 3, 8, 11) plus 1-2 singletons; keep levels
 * 0, ~1/2, 1 of formats of 4.25, 6.25, 8.25 bits (half blocks round up a
 * little); costs in [-1, 3), pruning costing more. A candidate is allowed
 * with probability 4/5, or 1/2 with sparse; never at keep 0 with no_prune. */
static void random_instance(inst *in, int sparse, int no_prune)
{
    static const int base32[NF] = {136, 200, 264};
    static const int ids[3] = {3, 8, 11};
    memset(in, 0, sizeof *in);
    in->n = 5 + (int)(rnd() % 3);
    int ng = 2 + (int)(rnd() % 2), ns = 1 + (int)(rnd() % 2);
    for (int m = 0; m < in->n; m++)
        in->group[m] = m < ns ? -1 : ids[m < ns + ng ? m - ns : (int)(rnd() % ng)];
    for (int m = in->n - 1; m > 0; m--) { /* shuffle the group ids over the modules */
        int j = (int)(rnd() % (m + 1)), t = in->group[m];
        in->group[m] = in->group[j];
        in->group[j] = t;
    }
    for (int m = 0; m < in->n; m++) {
        in->ip[m] = 1 + rnd() % 40;
        in->params[m] = (double)in->ip[m];
        for (int f = 0; f < NF; f++)
            for (int k = 0; k < NK; k++) {
                size_t i = ix(m, f, k);
                in->b32[i] = k == 0 ? 0 : k == 1 ? base32[f] / 2 + (int)(rnd() % 4) : base32[f];
                in->bits[i] = in->b32[i] / 32.0;
                in->cost[i] = 4 * urand() - 1 + (k == 0 ? 1.5 : 0);
                in->allowed[i] = (sparse ? rnd() % 2 : rnd() % 5) != 0 && !(no_prune && k == 0);
            }
    }
}

static joint_problem to_problem(const inst *in, double budget)
{
    return (joint_problem){.n_modules = in->n, .n_formats = NF, .n_keeps = NK, .params = in->params,
                           .bits = in->bits, .cost = in->cost, .allowed = in->allowed,
                           .group = in->group, .budget_bits = budget};
}

static int64_t total_params(const inst *in)
{
    int64_t t = 0;
    for (int m = 0; m < in->n; m++)
        t += in->ip[m];
    return t;
}

/* Allowed, and the keep level shared within every group. */
static int valid(const inst *in, const int *fmt, const int *keep)
{
    for (int m = 0; m < in->n; m++) {
        if (fmt[m] < 0 || fmt[m] >= NF || keep[m] < 0 || keep[m] >= NK ||
            !in->allowed[ix(m, fmt[m], keep[m])])
            return 0;
        for (int j = 0; j < m; j++)
            if (in->group[m] >= 0 && in->group[j] == in->group[m] && keep[j] != keep[m])
                return 0;
    }
    return 1;
}

static int64_t weight32(const inst *in, const int *fmt, const int *keep)
{
    int64_t w = 0;
    for (int m = 0; m < in->n; m++)
        w += in->ip[m] * in->b32[ix(m, fmt[m], keep[m])];
    return w;
}

static double objective(const inst *in, const int *fmt, const int *keep)
{
    double c = 0;
    for (int m = 0; m < in->n; m++)
        c += in->cost[ix(m, fmt[m], keep[m])];
    return c;
}

/* Enumeration: module by module, every allowed (format, keep level) whose
 * keep agrees with the module's group mates chosen before it. */
typedef struct brute {
    const inst *in;
    int fmt[NM], keep[NM];
    int n_caps;
    int64_t cap32[NCAP]; /* capacities, in 1/32 bits */
    double best[NCAP];   /* INFINITY: nothing fits */
    int64_t min_w32, max_w32; /* -1: no valid assignment */
} brute;

static void dfs(brute *b, int m)
{
    const inst *in = b->in;
    if (m == in->n) {
        int64_t w = weight32(in, b->fmt, b->keep);
        double c = objective(in, b->fmt, b->keep);
        if (b->min_w32 < 0 || w < b->min_w32)
            b->min_w32 = w;
        if (w > b->max_w32)
            b->max_w32 = w;
        for (int i = 0; i < b->n_caps; i++)
            if (w <= b->cap32[i] && c < b->best[i])
                b->best[i] = c;
        return;
    }
    int fixed = -1;
    for (int j = 0; j < m; j++)
        if (in->group[m] >= 0 && in->group[j] == in->group[m])
            fixed = b->keep[j];
    for (int k = 0; k < NK; k++)
        for (int f = 0; f < NF; f++)
            if ((fixed < 0 || k == fixed) && in->allowed[ix(m, f, k)]) {
                b->fmt[m] = f;
                b->keep[m] = k;
                dfs(b, m + 1);
            }
}

static void run_brute(brute *b, const inst *in)
{
    b->in = in;
    b->min_w32 = b->max_w32 = -1;
    for (int i = 0; i < b->n_caps; i++)
        b->best[i] = INFINITY;
    dfs(b, 0);
}

static void test_random_vs_brute(void **state)
{
    (void)state;
    rng_state = 12345;
    int n_feasible = 0, n_infeasible = 0, n_invalid = 0;
    for (int t = 0; t < 200; t++) {
        inst in;
        random_instance(&in, t % 4 == 3, t % 2);
        int64_t P = total_params(&in);
        brute b = {0};
        run_brute(&b, &in); /* pass 1: the weight range */
        joint_problem p = to_problem(&in, 8);
        int fmt[NM], keep[NM];
        ilp_result r;
        mx_error e = {0};
        if (b.min_w32 < 0) { /* some group has no common keep level */
            assert_int_equal(joint_solve(&p, fmt, keep, &r, &e), ERR_ARG);
            assert_true(isnan(joint_min_budget(&p)));
            n_invalid++;
            continue;
        }
        int64_t lo = b.min_w32, hi = b.max_w32;
        b.n_caps = 0;
        if (lo > 0)
            b.cap32[b.n_caps++] = lo - 1;
        b.cap32[b.n_caps++] = lo;
        b.cap32[b.n_caps++] = lo + (hi - lo) / 4;
        b.cap32[b.n_caps++] = lo + (hi - lo) / 2;
        b.cap32[b.n_caps++] = lo + (int64_t)(urand() * (double)(hi - lo));
        b.cap32[b.n_caps++] = hi;
        run_brute(&b, &in); /* pass 2: the best cost under each capacity */
        double min_budget = (double)lo / 32.0 / (double)P;
        assert_true(fabs(joint_min_budget(&p) - min_budget) < 1e-12);
        for (int i = 0; i < b.n_caps; i++) {
            p.budget_bits = (double)b.cap32[i] / 32.0 / (double)P;
            int rc = joint_solve(&p, fmt, keep, &r, &e);
            assert_true(fabs(r.min_feasible_budget - min_budget) < 1e-12);
            if (b.best[i] == INFINITY) {
                assert_int_equal(rc, ERR_INFEASIBLE);
                assert_non_null(strstr(e.msg, "the smallest feasible budget is"));
                n_infeasible++;
                continue;
            }
            assert_int_equal(rc, 0);
            assert_true(r.optimal);
            assert_true(valid(&in, fmt, keep));
            int64_t w = weight32(&in, fmt, keep);
            assert_true(w <= b.cap32[i]);
            double obj = objective(&in, fmt, keep);
            assert_true(fabs(obj - b.best[i]) < 1e-9);
            assert_true(fabs(r.objective - obj) < 1e-12);
            assert_true(fabs(r.avg_bits - (double)w / 32.0 / (double)P) < 1e-12);
            /* again: the same answer, bit for bit */
            int fmt2[NM], keep2[NM];
            ilp_result r2;
            assert_int_equal(joint_solve(&p, fmt2, keep2, &r2, NULL), 0);
            assert_memory_equal(fmt, fmt2, sizeof(int) * (size_t)in.n);
            assert_memory_equal(keep, keep2, sizeof(int) * (size_t)in.n);
            assert_memory_equal(&r.objective, &r2.objective, sizeof r.objective);
            n_feasible++;
        }
    }
    print_message("%d feasible, %d infeasible, %d invalid\n", n_feasible, n_infeasible, n_invalid);
    /* every path was exercised */
    assert_true(n_feasible > 500);
    assert_true(n_infeasible > 50);
    assert_true(n_invalid > 0);
}

/* joint_min_budget alone, with all or no candidates allowed at keep 0 too. */
static void test_min_budget_vs_brute(void **state)
{
    (void)state;
    rng_state = 777;
    for (int t = 0; t < 60; t++) {
        inst in;
        random_instance(&in, t % 5 == 4, 0);
        for (int m = 0; m < in.n; m++)
            for (int f = 0; f < NF; f++)
                in.allowed[ix(m, f, 0)] = t % 3 == 0 ? 1 : t % 3 == 1 ? 0 : in.allowed[ix(m, f, 0)];
        brute b = {0};
        run_brute(&b, &in);
        joint_problem p = to_problem(&in, 8);
        double mb = joint_min_budget(&p);
        if (b.min_w32 < 0) {
            assert_true(isnan(mb));
            continue;
        }
        assert_true(fabs(mb - (double)b.min_w32 / 32.0 / (double)total_params(&in)) < 1e-12);
        if (t % 3 == 0)
            assert_true(mb == 0);
    }
}

/* Two grouped modules whose best keep levels alone differ (A: level 2, B:
 * level 1); together level 2 wins, each module at its own best format there. */
static void test_shared_keep(void **state)
{
    (void)state;
    double params[2] = {1, 1}, bits[2 * 2 * 3], cost[2 * 2 * 3] = {
        10, 5, 1, /* A, format 0, levels 0 1 2 */
        10, 6, 3, /* A, format 1 */
        10, 1, 4, /* B, format 0 */
        10, 2, 3.5, /* B, format 1 */
    };
    for (int i = 0; i < 12; i++)
        bits[i] = 4 * (i % 3);
    int grouped[2] = {5, 5}, alone[2] = {-1, -1}, fmt[2], keep[2];
    joint_problem p = {.n_modules = 2, .n_formats = 2, .n_keeps = 3, .params = params, .bits = bits,
                       .cost = cost, .group = alone, .budget_bits = 8};
    ilp_result r;
    assert_int_equal(joint_solve(&p, fmt, keep, &r, NULL), 0);
    assert_int_equal(keep[0], 2);
    assert_int_equal(keep[1], 1);
    assert_true(r.objective == 2);
    p.group = grouped;
    assert_int_equal(joint_solve(&p, fmt, keep, &r, NULL), 0);
    assert_int_equal(keep[0], 2);
    assert_int_equal(keep[1], 2);
    assert_int_equal(fmt[0], 0);
    assert_int_equal(fmt[1], 1);
    assert_true(r.objective == 4.5);
    assert_true(r.avg_bits == 8);
    assert_true(r.optimal && r.bound == 4.5);
    /* 6 bits: level 2 for both no longer fits, level 1 for both does */
    p.budget_bits = 6;
    assert_int_equal(joint_solve(&p, fmt, keep, &r, NULL), 0);
    assert_int_equal(keep[0], 1);
    assert_int_equal(keep[1], 1);
    assert_true(r.objective == 6);
    p.group = alone; /* apart, A at 8 and B at 4 bits still fit */
    assert_int_equal(joint_solve(&p, fmt, keep, &r, NULL), 0);
    assert_true(r.objective == 2);
    p.group = NULL;
    assert_int_equal(joint_solve(&p, fmt, keep, &r, NULL), 0);
    assert_true(r.objective == 2);
}

static void test_bad_input(void **state)
{
    (void)state;
    double params[2] = {3, 5}, bits[2 * 2 * 3], cost[2 * 2 * 3];
    unsigned char allowed[2 * 2 * 3];
    for (int i = 0; i < 12; i++) {
        bits[i] = 4 * (i % 3);
        cost[i] = 3 - i % 3;
        allowed[i] = 1;
    }
    int group[2] = {0, 0}, fmt[2], keep[2];
    joint_problem p = {.n_modules = 2, .n_formats = 2, .n_keeps = 3, .params = params, .bits = bits,
                       .cost = cost, .allowed = allowed, .group = group, .budget_bits = 8};
    mx_error e = {0};
    ilp_result r;
    assert_int_equal(joint_solve(&p, fmt, keep, &r, &e), 0);
    assert_true(r.objective == 2);

    cost[4] = NAN; /* allowed */
    assert_int_equal(joint_solve(&p, fmt, keep, &r, &e), ERR_ARG);
    assert_non_null(strstr(e.msg, "cost"));
    assert_true(isnan(joint_min_budget(&p)));
    allowed[4] = 0; /* not allowed: ignored */
    assert_int_equal(joint_solve(&p, fmt, keep, &r, &e), 0);
    cost[4] = 1;
    bits[7] = INFINITY;
    assert_int_equal(joint_solve(&p, fmt, keep, &r, &e), ERR_ARG);
    bits[7] = 4;
    allowed[4] = 1;

    /* A only at level 1, B only at level 2: no common keep level */
    for (int i = 0; i < 12; i++)
        allowed[i] = i < 6 ? i % 3 == 1 : i % 3 == 2;
    assert_int_equal(joint_solve(&p, fmt, keep, &r, &e), ERR_ARG);
    assert_non_null(strstr(e.msg, "no keep level"));
    assert_true(isnan(r.min_feasible_budget));
    assert_true(isnan(joint_min_budget(&p)));
    group[1] = -1; /* apart they are fine */
    assert_int_equal(joint_solve(&p, fmt, keep, &r, &e), 0);
    assert_int_equal(keep[0], 1);
    assert_int_equal(keep[1], 2);
    memset(allowed + 6, 0, 6); /* B alone with nothing */
    assert_int_equal(joint_solve(&p, fmt, keep, &r, &e), ERR_ARG);
    assert_true(isnan(joint_min_budget(&p)));
    memset(allowed, 1, sizeof allowed);

    group[1] = -2;
    assert_int_equal(joint_solve(&p, fmt, keep, &r, &e), ERR_ARG);
    group[1] = 0;
    params[0] = -1;
    assert_int_equal(joint_solve(&p, fmt, keep, &r, &e), ERR_ARG);
    params[0] = 3;
    p.n_keeps = 0;
    assert_int_equal(joint_solve(&p, fmt, keep, &r, &e), ERR_ARG);
    p.n_keeps = 3;
    assert_int_equal(joint_solve(&p, NULL, keep, &r, &e), ERR_ARG);
    p.budget_bits = NAN;
    assert_int_equal(joint_solve(&p, fmt, keep, &r, &e), ERR_ARG);
    p.budget_bits = 8;
    assert_int_equal(joint_solve(NULL, fmt, keep, &r, &e), ERR_ARG);

    /* a weightless module costs no bits: it takes its cheapest candidate */
    params[1] = 0;
    group[1] = -1;
    cost[6 + 5] = -7; /* B, format 1, level 2 */
    p.budget_bits = 0;
    assert_int_equal(joint_solve(&p, fmt, keep, &r, &e), 0);
    assert_int_equal(keep[0], 0);
    assert_int_equal(fmt[1], 1);
    assert_int_equal(keep[1], 2);
    assert_true(r.avg_bits == 0);
    params[0] = 0; /* nothing weighs anything */
    assert_int_equal(joint_solve(&p, fmt, keep, &r, &e), ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_vs_brute),
        cmocka_unit_test(test_min_budget_vs_brute),
        cmocka_unit_test(test_shared_keep),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
