/* The exact solver against enumeration and a DP, the greedy baseline, the
 * smallest feasible budget, and bad input. Capacities are checked in exact
 * integer arithmetic: bits are multiples of 1/32 and params integers. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "solver/ilp.h"

#define MAXM 64
#define MAXF 6

typedef struct inst {
    int n, nf;
    double params[MAXM];
    int64_t ip[MAXM];              /* params as integers */
    int k32[MAXM * MAXF];          /* bits * 32 */
    double bits[MAXM * MAXF];
    double cost[MAXM * MAXF];
    unsigned char allowed[MAXM * MAXF];
    int group[MAXM];
    int64_t budget32;              /* budget_bits * 32 */
    int64_t bytes256;              /* max_bytes * 256, or 0 */
    int use_allowed, use_group;
} inst;

static uint64_t rng_state;
static uint32_t rnd(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33);
}
static double urand(void) { return rnd() / 2147483648.0; }

static ilp_problem to_problem(const inst *in)
{
    ilp_problem p = {0};
    p.n_modules = in->n;
    p.n_formats = in->nf;
    p.params = in->params;
    p.bits = in->bits;
    p.cost = in->cost;
    p.allowed = in->use_allowed ? in->allowed : NULL;
    p.group = in->use_group ? in->group : NULL;
    p.budget_bits = in->budget32 / 32.0;
    p.max_bytes = in->bytes256 / 256.0;
    return p;
}

static int64_t total_params(const inst *in)
{
    int64_t t = 0;
    for (int m = 0; m < in->n; m++)
        t += in->ip[m];
    return t;
}

/* Exact capacity in units of 1/32 bit. */
static int fits_exact(const inst *in, int64_t w32)
{
    if (w32 > in->budget32 * total_params(in))
        return 0;
    /* bytes = w32 / 256  <=  bytes256 / 256 */
    if (in->bytes256 > 0 && w32 > in->bytes256)
        return 0;
    return 1;
}

static int64_t weight32(const inst *in, const int *choice)
{
    int64_t w = 0;
    for (int m = 0; m < in->n; m++)
        w += in->ip[m] * in->k32[m * in->nf + choice[m]];
    return w;
}

static double objective(const inst *in, const int *choice)
{
    double c = 0;
    for (int m = 0; m < in->n; m++)
        c += in->cost[m * in->nf + choice[m]];
    return c;
}

static int valid(const inst *in, const int *choice)
{
    for (int m = 0; m < in->n; m++) {
        if (choice[m] < 0 || choice[m] >= in->nf)
            return 0;
        if (in->use_allowed && !in->allowed[m * in->nf + choice[m]])
            return 0;
        if (in->use_group && in->group[m] >= 0)
            for (int j = 0; j < m; j++)
                if (in->group[j] == in->group[m] && choice[j] != choice[m])
                    return 0;
    }
    return 1;
}

/* Enumerate every assignment: best feasible cost (INFINITY if none) and the
 * smallest weight of any valid assignment (-1 if none). */
static double brute(const inst *in, int64_t *min_w32)
{
    int choice[MAXM] = {0};
    double best = INFINITY;
    *min_w32 = -1;
    for (;;) {
        if (valid(in, choice)) {
            int64_t w = weight32(in, choice);
            if (*min_w32 < 0 || w < *min_w32)
                *min_w32 = w;
            if (fits_exact(in, w)) {
                double c = objective(in, choice);
                if (c < best)
                    best = c;
            }
        }
        int m = 0;
        while (m < in->n && ++choice[m] == in->nf)
            choice[m++] = 0;
        if (m == in->n)
            break;
    }
    return best;
}

static const int k32_formats[MAXF] = {136, 200, 200, 264, 512, 1024}; /* 4.25 6.25 6.25 8.25 16 32 */

static void random_instance(inst *in, int n, int nf, int flags)
{
    memset(in, 0, sizeof *in);
    in->n = n;
    in->nf = nf;
    in->use_allowed = flags & 1;
    in->use_group = (flags >> 1) & 1;
    for (int m = 0; m < n; m++) {
        in->ip[m] = 1 + rnd() % 40;
        in->params[m] = (double)in->ip[m];
        double sens = exp(3 * urand() - 1);
        int any = 0;
        for (int f = 0; f < nf; f++) {
            int k = k32_formats[f];
            if (rnd() % 4 == 0)
                k += 8 * (int)(rnd() % 4);   /* odd sizes: short blocks */
            in->k32[m * nf + f] = k;
            in->bits[m * nf + f] = k / 32.0;
            /* roughly decreasing with bits, plus noise that can go negative */
            in->cost[m * nf + f] = sens * exp(-k / 100.0) * 10 + (urand() - 0.3) * 0.2;
            in->allowed[m * nf + f] = rnd() % 3 != 0;
            any |= in->allowed[m * nf + f];
        }
        if (!any)
            in->allowed[m * nf + rnd() % nf] = 1;
        if (rnd() % 5 == 0) {   /* a pin: one allowed format */
            memset(&in->allowed[m * nf], 0, (size_t)nf);
            in->allowed[m * nf + rnd() % nf] = 1;
        }
        in->group[m] = rnd() % 3 == 0 ? (int)(rnd() % 2) : -1;
    }
    int64_t P = total_params(in);
    /* budgets between 4 and 12 bits, some infeasible */
    in->budget32 = 128 + rnd() % 260;
    if (flags & 4)
        in->bytes256 = (int64_t)((0.5 + urand()) * (double)(P * 200));
}

static void check_against_brute(int n, int nf, int flags, int trials)
{
    for (int t = 0; t < trials; t++) {
        inst in;
        random_instance(&in, n, nf, flags);
        ilp_problem p = to_problem(&in);
        int choice[MAXM], gchoice[MAXM];
        ilp_result r, g;
        mx_error e = {0};
        int64_t min_w32;
        double best = brute(&in, &min_w32);
        int rc = ilp_solve(&p, choice, &r, &e);
        int grc = ilp_greedy(&p, gchoice, &g, NULL);
        if (min_w32 < 0) {              /* no valid assignment at all (groups) */
            assert_int_equal(rc, ERR_INFEASIBLE);
            assert_int_equal(grc, ERR_INFEASIBLE);
            continue;
        }
        if (isinf(best)) {
            assert_int_equal(rc, ERR_INFEASIBLE);
            assert_int_equal(grc, ERR_INFEASIBLE);
            int64_t P = total_params(&in);
            assert_true(fabs(r.min_feasible_budget - (double)min_w32 / 32.0 / (double)P) < 1e-12);
            assert_true(fabs(ilp_min_budget(&p) - r.min_feasible_budget) < 1e-12);
            if (in.budget32 * P < min_w32) {
                assert_non_null(strstr(e.msg, "the smallest feasible budget is"));
                /* the suggested budget is feasible */
                const char *s = strstr(e.msg, "budget is ") + 10;
                p.budget_bits = atof(s);
                p.max_bytes = 0;
                assert_true(p.budget_bits >= r.min_feasible_budget);
                assert_int_equal(ilp_solve(&p, choice, &r, NULL), 0);
            } else {
                assert_non_null(strstr(e.msg, "smallest feasible size is"));
            }
            continue;
        }
        assert_int_equal(rc, 0);
        assert_true(r.optimal);
        assert_true(valid(&in, choice));
        assert_true(fits_exact(&in, weight32(&in, choice)));
        double obj = objective(&in, choice);
        assert_true(fabs(obj - r.objective) < 1e-9);
        if (fabs(obj - best) > 1e-7 * (1 + fabs(best)))
            fail_msg("trial %d: ilp %.12g, enumeration %.12g", t, obj, best);
        assert_true(fabs(r.avg_bits - (double)weight32(&in, choice) / 32.0 / (double)total_params(&in)) < 1e-9);
        /* greedy: valid, within budget, never better than the optimum */
        assert_int_equal(grc, 0);
        assert_true(valid(&in, gchoice));
        assert_true(fits_exact(&in, weight32(&in, gchoice)));
        assert_true(objective(&in, gchoice) >= best - 1e-9);
    }
}

/* A latency per module and format (integers: sums are exact), not ordered
 * by bits (a wide format may be the fast one), and a limit between the
 * fastest and the slowest assignment. The two-limit solve against
 * enumeration of every assignment. */
static int check_latency_brute(int n, int nf, int flags, int trials)
{
    int n_feasible = 0, n_binding = 0;
    for (int t = 0; t < trials; t++) {
        inst in;
        random_instance(&in, n, nf, flags);
        double lat[MAXM * MAXF];
        int64_t lmin = 0, lmax = 0;
        for (int m = 0; m < n; m++) {
            int64_t lo = INT64_MAX, hi = 0;
            for (int f = 0; f < nf; f++) {
                int64_t l = (int64_t)(in.ip[m] * (1 + (f * 7 + 3) % 5)) + (int64_t)(rnd() % 20);
                lat[m * nf + f] = (double)l;
                lo = l < lo ? l : lo;
                hi = l > hi ? l : hi;
            }
            lmin += lo;
            lmax += hi;
        }
        int64_t lim = lmin + (int64_t)(urand() * (double)(lmax - lmin + 1));
        if (t % 7 == 0)
            lim = lmin - 1; /* below the fastest: infeasible */
        ilp_problem p = to_problem(&in);
        p.latency = lat;
        p.max_latency = (double)lim;
        /* enumeration */
        int ch[MAXM] = {0}, choice[MAXM];
        double best = INFINITY, best_nolat = INFINITY;
        for (;;) {
            if (valid(&in, ch) && fits_exact(&in, weight32(&in, ch))) {
                int64_t l = 0;
                for (int m = 0; m < n; m++)
                    l += (int64_t)lat[m * nf + ch[m]];
                double c = objective(&in, ch);
                if (l <= lim && c < best)
                    best = c;
                if (c < best_nolat)
                    best_nolat = c;
            }
            int m = 0;
            while (m < n && ++ch[m] == nf)
                ch[m++] = 0;
            if (m == n)
                break;
        }
        ilp_result r;
        mx_error e = {0};
        int rc = ilp_solve(&p, choice, &r, &e);
        if (isinf(best)) {
            assert_int_equal(rc, ERR_INFEASIBLE);
            continue;
        }
        n_feasible++;
        n_binding += best > best_nolat + 1e-9;
        if (rc)
            fail_msg("trial %d: rc %d (%s), enumeration %.12g", t, rc, e.msg, best);
        assert_true(r.optimal);
        assert_true(valid(&in, choice));
        assert_true(fits_exact(&in, weight32(&in, choice)));
        int64_t l = 0;
        for (int m = 0; m < n; m++)
            l += (int64_t)lat[m * nf + choice[m]];
        assert_true(l <= lim);
        assert_true(fabs(r.latency - (double)l) < 1e-9);
        double obj = objective(&in, choice);
        if (fabs(obj - best) > 1e-7 * (1 + fabs(best)))
            fail_msg("trial %d: ilp %.12g, enumeration %.12g", t, obj, best);
    }
    assert_true(n_feasible > trials / 5);
    return n_binding;
}

static void test_latency_vs_brute(void **state)
{
    (void)state;
    rng_state = 4242;
    int binding = check_latency_brute(5, 4, 0, 150);
    binding += check_latency_brute(6, 5, 1, 100);
    binding += check_latency_brute(6, 4, 2, 100);
    binding += check_latency_brute(7, 3, 3 | 4, 60);
    assert_true(binding > 100); /* the instances exercise the second limit */
}

/* Without a limit the latency array only reports; with one the message
 * names the fastest reachable latency. */
static void test_latency_report_and_message(void **state)
{
    (void)state;
    rng_state = 99;
    inst in;
    random_instance(&in, 6, 4, 0);
    in.budget32 = 32 * 32; /* everything fits */
    double lat[MAXM * MAXF];
    for (int i = 0; i < 6 * 4; i++)
        lat[i] = 1 + i % 4;
    ilp_problem p = to_problem(&in);
    int c1[MAXM], c2[MAXM];
    ilp_result r1, r2;
    assert_int_equal(ilp_solve(&p, c1, &r1, NULL), 0);
    assert_true(isnan(r1.latency));
    p.latency = lat;
    assert_int_equal(ilp_solve(&p, c2, &r2, NULL), 0);
    assert_memory_equal(c1, c2, sizeof(int) * 6); /* no limit: the same answer */
    double l = 0;
    for (int m = 0; m < 6; m++)
        l += lat[m * 4 + c2[m]];
    assert_true(fabs(r2.latency - l) < 1e-12);
    assert_true(fabs(ilp_min_latency(&p) - 6.0) < 1e-12);
    p.max_latency = 5.5;
    mx_error e = {0};
    assert_int_equal(ilp_solve(&p, c2, &r2, &e), ERR_INFEASIBLE);
    assert_non_null(strstr(e.msg, "the fastest allowed assignment takes 6"));
    p.max_latency = 6;
    assert_int_equal(ilp_solve(&p, c2, &r2, &e), 0);
    for (int m = 0; m < 6; m++)
        assert_int_equal(lat[m * 4 + c2[m]], 1);
    lat[5] = NAN;
    assert_int_equal(ilp_solve(&p, c2, &r2, &e), ERR_ARG);
}

static void test_small_plain(void **state)
{
    (void)state;
    rng_state = 1;
    check_against_brute(5, 4, 0, 150);
    check_against_brute(6, 3, 0, 100);
}

static void test_small_allowed_pins(void **state)
{
    (void)state;
    rng_state = 2;
    check_against_brute(6, 4, 1, 200);
}

static void test_small_groups(void **state)
{
    (void)state;
    rng_state = 3;
    check_against_brute(6, 4, 2, 150);
    check_against_brute(7, 3, 3, 150);
}

static void test_small_bytes(void **state)
{
    (void)state;
    rng_state = 4;
    check_against_brute(6, 4, 4, 100);
    check_against_brute(6, 5, 7, 100);
}

/* Medium instances against a DP over exact integer weights (units merged as
 * groups in the test itself). */
static double dp_best(const inst *in)
{
    int64_t P = total_params(in);
    int64_t cap = in->budget32 * P;
    if (in->bytes256 > 0 && in->bytes256 < cap)
        cap = in->bytes256;
    /* units */
    int unit_of[MAXM], nu = 0, first[MAXM];
    for (int m = 0; m < in->n; m++) {
        unit_of[m] = -1;
        if (in->use_group && in->group[m] >= 0)
            for (int j = 0; j < m; j++)
                if (in->group[j] == in->group[m]) {
                    unit_of[m] = unit_of[j];
                    break;
                }
        if (unit_of[m] < 0) {
            first[nu] = m;
            unit_of[m] = nu++;
        }
    }
    (void)first;
    int64_t W = cap / 8; /* weights are multiples of 8 (k32 multiples of 8) */
    double *dp = malloc((size_t)(W + 1) * sizeof *dp), *nx = malloc((size_t)(W + 1) * sizeof *nx);
    for (int64_t c = 0; c <= W; c++)
        dp[c] = 0;
    for (int u = 0; u < nu; u++) {
        for (int64_t c = 0; c <= W; c++)
            nx[c] = INFINITY;
        for (int f = 0; f < in->nf; f++) {
            int64_t w = 0;
            double cost = 0;
            int ok = 1;
            for (int m = 0; m < in->n; m++)
                if (unit_of[m] == u) {
                    ok &= !in->use_allowed || in->allowed[m * in->nf + f];
                    w += in->ip[m] * in->k32[m * in->nf + f];
                    cost += in->cost[m * in->nf + f];
                }
            if (!ok)
                continue;
            w /= 8;
            for (int64_t c = w; c <= W; c++)
                if (dp[c - w] + cost < nx[c])
                    nx[c] = dp[c - w] + cost;
        }
        double *t = dp;
        dp = nx;
        nx = t;
    }
    double best = dp[W];
    free(dp);
    free(nx);
    return best;
}

static void test_medium_vs_dp(void **state)
{
    (void)state;
    rng_state = 5;
    int solved = 0;
    for (int t = 0; t < 60; t++) {
        inst in;
        random_instance(&in, 40 + (int)(rnd() % 24), 6, t % 8);
        ilp_problem p = to_problem(&in);
        int choice[MAXM], gchoice[MAXM];
        ilp_result r, g;
        double best = dp_best(&in);
        int rc = ilp_solve(&p, choice, &r, NULL);
        if (isinf(best)) {
            assert_int_equal(rc, ERR_INFEASIBLE);
            continue;
        }
        solved++;
        assert_int_equal(rc, 0);
        assert_true(valid(&in, choice));
        assert_true(fits_exact(&in, weight32(&in, choice)));
        double obj = objective(&in, choice);
        if (fabs(obj - best) > 1e-7 * (1 + fabs(best)))
            fail_msg("trial %d: ilp %.12g, dp %.12g", t, obj, best);
        assert_int_equal(ilp_greedy(&p, gchoice, &g, NULL), 0);
        assert_true(fits_exact(&in, weight32(&in, gchoice)));
        assert_true(objective(&in, gchoice) >= best - 1e-9);
    }
    assert_true(solved > 20);
}

static void two_format_problem(inst *in)
{
    memset(in, 0, sizeof *in);
    in->n = 3;
    in->nf = 2;
    for (int m = 0; m < 3; m++) {
        in->ip[m] = 100;
        in->params[m] = 100;
        in->k32[m * 2] = 136;
        in->k32[m * 2 + 1] = 264;
        in->bits[m * 2] = 4.25;
        in->bits[m * 2 + 1] = 8.25;
        in->cost[m * 2] = 1.0 + m;
        in->cost[m * 2 + 1] = 0.1;
    }
    in->budget32 = 200;
}

static void test_infeasible_message(void **state)
{
    (void)state;
    inst in;
    two_format_problem(&in);
    in.budget32 = (int64_t)(3.875 * 32);
    ilp_problem p = to_problem(&in);
    p.budget_bits = 3.9;
    int choice[3];
    ilp_result r;
    mx_error e = {0};
    assert_int_equal(ilp_solve(&p, choice, &r, &e), ERR_INFEASIBLE);
    assert_string_equal(e.msg, "budget 3.9 bits is infeasible: the smallest feasible budget is 4.25 bits");
    assert_true(r.min_feasible_budget == 4.25);
    assert_true(ilp_min_budget(&p) == 4.25);
    p.budget_bits = 4.25;
    assert_int_equal(ilp_solve(&p, choice, &r, &e), 0);
    assert_true(r.avg_bits == 4.25);
    /* exactly at the budget for one upgrade: (2*4.25 + 8.25)/3 = 5.5833.. */
    p.budget_bits = (2 * 4.25 + 8.25) / 3;
    assert_int_equal(ilp_solve(&p, choice, &r, &e), 0);
    assert_int_equal(choice[2], 1);   /* the most sensitive module gets 8 bits */
    assert_int_equal(choice[0], 0);
    assert_true(fabs(r.objective - (1 + 2 + 0.1)) < 1e-12);
}

static void test_bad_input(void **state)
{
    (void)state;
    inst in;
    two_format_problem(&in);
    ilp_problem p = to_problem(&in);
    int choice[3];
    ilp_result r;
    mx_error e = {0};
    p.budget_bits = NAN;
    assert_int_equal(ilp_solve(&p, choice, &r, &e), ERR_ARG);
    p.budget_bits = -1;
    assert_int_equal(ilp_solve(&p, choice, &r, &e), ERR_ARG);
    assert_int_equal(ilp_greedy(&p, choice, &r, &e), ERR_ARG);
    p.budget_bits = 6;
    in.cost[3] = NAN;
    assert_int_equal(ilp_solve(&p, choice, &r, &e), ERR_ARG);
    assert_non_null(strstr(e.msg, "cost"));
    /* NaN in a format that is not allowed is fine */
    unsigned char allowed[6] = {1, 1, 1, 0, 1, 1};
    p.allowed = allowed;
    assert_int_equal(ilp_solve(&p, choice, &r, &e), 0);
    assert_int_equal(choice[1], 0);
    /* a module with nothing allowed */
    allowed[2] = 0;
    allowed[3] = 0;
    assert_int_equal(ilp_solve(&p, choice, &r, &e), ERR_INFEASIBLE);
    assert_true(isnan(ilp_min_budget(&p)));
    in.cost[3] = 0.1;
    p.allowed = NULL;
    /* a group whose members share no allowed format */
    unsigned char al2[6] = {1, 0, 0, 1, 1, 1};
    int grp[3] = {0, 0, -1};
    p.allowed = al2;
    p.group = grp;
    assert_int_equal(ilp_solve(&p, choice, &r, &e), ERR_INFEASIBLE);
    assert_non_null(strstr(e.msg, "group"));
    p.allowed = NULL;
    p.n_modules = 0;
    assert_int_equal(ilp_solve(&p, choice, &r, &e), ERR_ARG);
}

/* Negative costs are kept: a module whose 4-bit cost is below its 8-bit cost
 * stays at 4 bits even when the budget allows more. */
static void test_negative_costs(void **state)
{
    (void)state;
    inst in;
    two_format_problem(&in);
    in.cost[0] = -0.5;
    in.cost[1] = 0.2;
    ilp_problem p = to_problem(&in);
    p.budget_bits = 8.25;
    int choice[3];
    ilp_result r;
    assert_int_equal(ilp_solve(&p, choice, &r, NULL), 0);
    assert_int_equal(choice[0], 0);
    assert_int_equal(choice[1], 1);
    assert_true(fabs(r.objective - (-0.5 + 0.1 + 0.1)) < 1e-12);
}

/* A large instance under a short time limit still returns a feasible answer
 * with a consistent gap; without a limit it is proven optimal. */
static void test_large_and_time_limit(void **state)
{
    (void)state;
    enum { N = 400, F = 6 };
    double *params = malloc(N * sizeof *params), *bits = malloc(N * F * sizeof *bits),
           *cost = malloc(N * F * sizeof *cost);
    int *choice = malloc(N * sizeof *choice);
    rng_state = 9;
    static const double b[F] = {4.25, 6.25, 6.25, 8.25, 8.25, 16};
    for (int m = 0; m < N; m++) {
        params[m] = 1000 * (1 + rnd() % 50);
        double s = exp(4 * urand());
        for (int f = 0; f < F; f++) {
            bits[m * F + f] = b[f];
            cost[m * F + f] = s * exp(-b[f]) * (1 + 0.3 * urand());
        }
    }
    ilp_problem p = {.n_modules = N, .n_formats = F, .params = params, .bits = bits, .cost = cost};
    ilp_result r, g;
    for (double bb = 4.3; bb < 9; bb += 0.7) {
        p.budget_bits = bb;
        p.time_limit_s = 0;
        assert_int_equal(ilp_solve(&p, choice, &r, NULL), 0);
        assert_true(r.avg_bits <= bb + 1e-12);
        assert_true(r.optimal);
        assert_true(r.gap == 0);
        double opt = r.objective;
        assert_int_equal(ilp_greedy(&p, choice, &g, NULL), 0);
        assert_true(g.avg_bits <= bb + 1e-12);
        assert_true(g.objective >= opt - 1e-9);
        p.time_limit_s = 0.001;
        assert_int_equal(ilp_solve(&p, choice, &r, NULL), 0);
        assert_true(r.avg_bits <= bb + 1e-12);
        assert_true(r.objective >= opt - 1e-9);
        assert_true(r.optimal || r.gap >= 0);
        assert_true(r.bound <= opt + 1e-9);
    }
    free(params);
    free(bits);
    free(cost);
    free(choice);
}

/* Warm starts: over a budget sweep up and then down (infeasible budgets, the
 * smallest feasible one and the one where every cheapest format fits
 * included), ilp_solve_from started from the previous answer gives the very
 * answer ilp_solve gives; so does a start naming nothing valid. */
static void check_sweep(inst *in, int steps)
{
    ilp_problem p = to_problem(in);
    int prev[MAXM], cold[MAXM], warm[MAXM], junk[MAXM];
    for (int m = 0; m < in->n; m++) {
        prev[m] = 0;
        /* out of range, negative, or any format (maybe not allowed, maybe splitting a group) */
        junk[m] = (int)(rnd() % (unsigned)(in->nf + 4)) - 2;
    }
    double lo = ilp_min_budget(&p), hi = 0;
    if (isnan(lo))
        return;
    for (int m = 0; m < in->n; m++)
        for (int f = 0; f < in->nf; f++)
            hi = fmax(hi, in->bits[m * in->nf + f]);
    int n_budgets = 2 * steps + 2;
    for (int k = 0; k < n_budgets; k++) {
        int up = k <= steps;
        int at = up ? k : n_budgets - 1 - k;  /* 0..steps, then steps..0 again */
        double b = lo - 0.3 + (hi + 0.3 - (lo - 0.3)) * at / steps;
        if (at == 1)
            b = lo;  /* the boundary itself */
        if (at == steps - 1)
            b = hi;
        p.budget_bits = b;
        ilp_result rc_res, rw_res, rj_res;
        mx_error e = {0};
        int rc = ilp_solve(&p, cold, &rc_res, &e);
        int rw = ilp_solve_from(&p, prev, warm, &rw_res, NULL);
        int rj = ilp_solve_from(&p, junk, junk, &rj_res, NULL);
        assert_int_equal(rw, rc);
        assert_int_equal(rj, rc);
        if (rc) {
            assert_int_equal(rc, ERR_INFEASIBLE);
            assert_true(rw_res.min_feasible_budget == rc_res.min_feasible_budget);
            continue;
        }
        assert_true(rc_res.optimal && rw_res.optimal && rj_res.optimal);
        /* budgets off the 1/32 grid: within the solver's 1e-12 slack */
        double w32 = (double)weight32(in, warm);
        assert_true(valid(in, warm));
        assert_true(w32 <= 32 * b * (double)total_params(in) * (1 + 1e-12));
        assert_true(in->bytes256 <= 0 || w32 <= (double)in->bytes256 * (1 + 1e-12));
        if (memcmp(cold, warm, (size_t)in->n * sizeof *cold) || memcmp(cold, junk, (size_t)in->n * sizeof *cold))
            fail_msg("budget %.6g: warm %.12g junk %.12g, cold %.12g", b, rw_res.objective, rj_res.objective,
                     rc_res.objective);
        assert_true(rw_res.objective == rc_res.objective && rw_res.bound == rc_res.bound);
        memcpy(prev, warm, sizeof prev);
        /* and in place: the start is the output */
        assert_int_equal(ilp_solve_from(&p, warm, warm, &rw_res, NULL), 0);
        assert_memory_equal(warm, cold, (size_t)in->n * sizeof *cold);
    }
}

static void test_warm_sweep(void **state)
{
    (void)state;
    rng_state = 12;
    for (int t = 0; t < 24; t++) {
        inst in;
        random_instance(&in, 30 + (int)(rnd() % 34), 6, t % 8);
        check_sweep(&in, 40);
    }
}

/* A model's shape: every layer has the same seven modules, so bits repeat
 * exactly and many solutions tie in size; the optimum checked by the DP. */
static void test_warm_model_shaped(void **state)
{
    (void)state;
    rng_state = 13;
    static const int kind_params[7] = {16, 4, 4, 16, 40, 40, 40};
    for (int t = 0; t < 6; t++) {
        inst in;
        random_instance(&in, 63, 6, t & 1);
        for (int m = 0; m < in.n; m++) {
            in.ip[m] = kind_params[m % 7];
            in.params[m] = (double)in.ip[m];
            for (int f = 0; f < in.nf; f++) {
                in.k32[m * in.nf + f] = k32_formats[f];
                in.bits[m * in.nf + f] = k32_formats[f] / 32.0;
            }
        }
        check_sweep(&in, 30);
        for (int k = 0; k < 5; k++) {
            in.budget32 = 140 + 40 * k;
            ilp_problem p = to_problem(&in);
            int choice[MAXM];
            ilp_result r;
            double best = dp_best(&in);
            if (isinf(best))
                continue;
            assert_int_equal(ilp_solve_from(&p, NULL, choice, &r, NULL), 0);
            if (fabs(r.objective - best) > 1e-9 * (1 + fabs(best)))
                fail_msg("budget %g: ilp %.12g, dp %.12g", p.budget_bits, r.objective, best);
        }
    }
}

/* GLPK keeps its environment per thread: solves in two threads at once give
 * the same answers as one after the other. */
typedef struct job {
    inst in;
    int choice[MAXM];
    ilp_result r;
    int rc;
} job;

static void *solve_job(void *arg)
{
    job *j = arg;
    for (int rep = 0; rep < 20; rep++) {
        ilp_problem p = to_problem(&j->in);
        j->rc = ilp_solve(&p, j->choice, &j->r, NULL);
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    rng_state = 11;
    job jobs[2];
    double want[2];
    for (int k = 0; k < 2; k++) {
        do {
            random_instance(&jobs[k].in, 60, 6, 0);
            jobs[k].in.budget32 = 200 + 10 * k;
            ilp_problem p = to_problem(&jobs[k].in);
            jobs[k].rc = ilp_solve(&p, jobs[k].choice, &jobs[k].r, NULL);
        } while (jobs[k].rc != 0);
        want[k] = jobs[k].r.objective;
    }
    pthread_t th[2];
    for (int k = 0; k < 2; k++)
        assert_int_equal(pthread_create(&th[k], NULL, solve_job, &jobs[k]), 0);
    for (int k = 0; k < 2; k++) {
        pthread_join(th[k], NULL);
        assert_int_equal(jobs[k].rc, 0);
        assert_true(jobs[k].r.objective == want[k]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_plain),
        cmocka_unit_test(test_small_allowed_pins),
        cmocka_unit_test(test_small_groups),
        cmocka_unit_test(test_small_bytes),
        cmocka_unit_test(test_medium_vs_dp),
        cmocka_unit_test(test_infeasible_message),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_negative_costs),
        cmocka_unit_test(test_large_and_time_limit),
        cmocka_unit_test(test_warm_sweep),
        cmocka_unit_test(test_warm_model_shaped),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_latency_vs_brute),
        cmocka_unit_test(test_latency_report_and_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
