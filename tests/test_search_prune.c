/* GAMMA and dMX over the joint choice of format and keep level
 * (solver/search.h, "joint choice") on a small random SmolLM-shaped model:
 * the gradient of the pruned mixture against central differences (GAMMA's
 * logits; dMX's format offsets theta and group level offsets phi apart); the
 * result honours the budget and one level per pruning group; the final
 * repair is joint_solve's exact optimum of the learned costs (GAMMA -log p
 * at T = 1, dMX (theta - f)^2 + (phi - l)^2 / |group|), the fill only
 * upgrading formats at the solved levels; the calibration loss of the answer
 * equals the model-level measurement of the same pruned config;
 * deterministic; init costs refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "solver/gamma.h"
#include "solver/joint.h"
#include "solver/search.h"
#include "src/eval.h"
#include "src/prune.h"
#include "tests/testmodel.h"

#define CTX 16
#define NWIN 4
#define BOS 1
#define NL 5

static char g_tmp[4096];
static model g_m;
static prune_plan g_plan;
static search_prune g_sp;
static int g_tokens[NWIN * CTX + 1], g_in[NWIN * CTX], g_tgt[NWIN * CTX];
static const double g_levels[NL] = {1, 0.75, 0.5, 0.25, 0};

static int setup(void **state)
{
    (void)state;
    mx_error e = {0};
    char path[4200];
    if (tm_tmpdir(g_tmp, sizeof g_tmp))
        return -1;
    tm_model t;
    snprintf(path, sizeof path, "%s/smol", g_tmp);
    if (tm_make(&t, TM_SMOLLM, 23))
        return -1;
    int rc = tm_write_hf(&t, path, TM_F32, 1, &e);
    tm_free(&t);
    if (rc || model_load(path, &g_m, &e))
        return -1;
    uint64_t s = 7;
    for (size_t i = 0; i < sizeof g_tokens / sizeof g_tokens[0]; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        g_tokens[i] = 2 + (int)((s >> 33) % (uint64_t)(g_m.cfg.vocab_size - 2));
    }
    for (int k = 0; k < NWIN; k++)
        eval_window_tokens(g_tokens, k, CTX, BOS, g_in + k * CTX, g_tgt + k * CTX);
    mx_format f[MX_NFORMATS];
    int nf = search_default_formats(f, NULL);
    if (prune_plan_collect(&g_plan, &g_m, g_tokens, NWIN * CTX, BOS, CTX, 0, &e) ||
        search_prune_init(&g_sp, &g_m, &g_plan, g_levels, NL, f, nf, &e))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    search_prune_free(&g_sp);
    prune_plan_free(&g_plan);
    model_free(&g_m);
    tm_rmtree(g_tmp);
    return 0;
}

static void data_init(search_data *d, double budget)
{
    memset(d, 0, sizeof *d);
    d->cfg = &g_m.cfg;
    d->w = &g_m.weights;
    d->n_formats = g_sp.n_formats;
    memcpy(d->formats, g_sp.formats, sizeof d->formats);
    d->budget = budget;
    d->in = g_in;
    d->tgt = g_tgt;
    d->n_windows = NWIN;
    d->ctx = CTX;
    d->prune = &g_sp;
}

/* The pruned mixture's gradient wrt alpha against central differences. */
static void test_joint_grad(void **st)
{
    (void)st;
    search_data d;
    data_init(&d, 3.0);
    search_opts o;
    search_opts_init(&o, SEARCH_GAMMA);
    search_state *s;
    mx_error e;
    assert_int_equal(search_state_create(&d, &o, &s, &e), 0);
    int np, K = search_state_n_formats(s);
    assert_int_equal(K, g_sp.n_formats * NL);
    double *par = search_state_param(s, &np);
    uint64_t r = 5;
    for (int i = 0; i < np; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        par[i] = 1.5 * ((double)(r >> 11) / 9007199254740992.0 - 0.5);
    }
    search_state_set(s, 0.7, 0.3, 5.0);
    double *g = calloc((size_t)np, sizeof *g), task, reg, E;
    assert_non_null(g);
    assert_int_equal(search_state_loss_grad(s, 1, &task, &reg, &E, g, &e), 0);
    assert_true(isfinite(task) && task > 0);
    double h = 1e-3, num = 0.0, den = 0.0;
    for (int i = 0; i < np; i++) {
        double keep = par[i], lp, lm, t1, r1;
        par[i] = keep + h;
        assert_int_equal(search_state_loss_grad(s, 1, &t1, &r1, NULL, NULL, &e), 0);
        lp = t1 + r1;
        par[i] = keep - h;
        assert_int_equal(search_state_loss_grad(s, 1, &t1, &r1, NULL, NULL, &e), 0);
        lm = t1 + r1;
        par[i] = keep;
        double fd = (lp - lm) / (2 * h);
        num += (g[i] - fd) * (g[i] - fd);
        den += fd * fd;
    }
    print_message("joint gradient: relative error %.2e over %d logits\n", sqrt(num / den), np);
    assert_true(den > 0 && sqrt(num / den) < 2e-2);
    free(g);
    search_state_free(s);
}

/* Joint dMX: theta [M] then phi [n_groups]; the gradient of each block
 * against central differences. */
static void test_joint_dmx_grad(void **st)
{
    (void)st;
    search_data d;
    data_init(&d, 3.0);
    search_opts o;
    search_opts_init(&o, SEARCH_DMX);
    search_state *s;
    mx_error e;
    assert_int_equal(search_state_create(&d, &o, &s, &e), 0);
    int np, M = g_m.n_modules, nf = g_sp.n_formats;
    double *par = search_state_param(s, &np);
    assert_int_equal(np, M + g_sp.n_groups);
    uint64_t r = 9;
    for (int i = 0; i < np; i++) { /* anywhere on the axes */
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        double u = (double)(r >> 11) / 9007199254740992.0;
        par[i] = i < M ? u * (nf - 1) : u * (NL - 1);
    }
    search_state_set(s, 0.7, 0.0, 5.0);
    double *g = calloc((size_t)np, sizeof *g), task, reg, E;
    assert_non_null(g);
    assert_int_equal(search_state_loss_grad(s, 1, &task, &reg, &E, g, &e), 0);
    assert_true(isfinite(task) && task > 0 && isfinite(E));
    double h = 1e-3, num[2] = {0}, den[2] = {0};
    for (int i = 0; i < np; i++) {
        double keep = par[i], lp, lm, t1, r1;
        par[i] = keep + h;
        assert_int_equal(search_state_loss_grad(s, 1, &t1, &r1, NULL, NULL, &e), 0);
        lp = t1 + r1;
        par[i] = keep - h;
        assert_int_equal(search_state_loss_grad(s, 1, &t1, &r1, NULL, NULL, &e), 0);
        lm = t1 + r1;
        par[i] = keep;
        double fd = (lp - lm) / (2 * h);
        num[i >= M] += (g[i] - fd) * (g[i] - fd);
        den[i >= M] += fd * fd;
    }
    print_message("joint dmx gradient: relative error theta %.2e (%d), phi %.2e (%d)\n", sqrt(num[0] / den[0]), M,
                  sqrt(num[1] / den[1]), np - M);
    assert_true(den[0] > 0 && sqrt(num[0] / den[0]) < 2e-2);
    assert_true(den[1] > 0 && sqrt(num[1] / den[1]) < 2e-2);
    free(g);
    search_state_free(s);
}

static void run_as(search_method meth, double budget, uint64_t seed, search_result *r)
{
    search_data d;
    data_init(&d, budget);
    search_opts o;
    search_opts_init(&o, meth);
    o.steps = 40;
    o.seed = seed;
    mx_error e = {0};
    int rc = search_run(&d, &o, r, &e);
    if (rc)
        print_error("search_run: %s\n", e.msg);
    assert_int_equal(rc, 0);
}

static void run(double budget, uint64_t seed, search_result *r) { run_as(SEARCH_GAMMA, budget, seed, r); }

/* Rank of data-order format f on dMX's format axis (bits ascending, stable)
 * and of level l on its level axis (kept fraction ascending). */
static int fmt_rank(int f)
{
    int cols = g_m.modules[0].cols, r = 0;
    double b = mx_bits_per_weight(g_sp.formats[f], 1, (size_t)cols);
    for (int j = 0; j < g_sp.n_formats; j++) {
        double bj = mx_bits_per_weight(g_sp.formats[j], 1, (size_t)cols);
        r += bj < b || (bj == b && j < f);
    }
    return r;
}

static int lvl_rank(int l)
{
    int r = 0;
    for (int j = 0; j < NL; j++)
        r += g_levels[j] < g_levels[l];
    return r;
}

/* Budget, one level per group, and the repair against joint_solve. */
static void check_result_as(search_method meth, const search_result *r, double budget)
{
    int M = g_m.n_modules, nf = g_sp.n_formats, K = r->n_cand;
    assert_non_null(r->level);
    assert_int_equal(K, nf * NL);
    assert_null(r->score);
    assert_int_equal(r->refine_evals, 0);
    double used = 0.0, tot = 0.0;
    int pruned = 0;
    for (int m = 0; m < M; m++) {
        int c = r->choice[m], fi = -1;
        for (int f = 0; f < nf; f++)
            if (g_sp.formats[f] == r->assign[m])
                fi = f;
        assert_true(fi >= 0);
        assert_int_equal(r->cand_format[c], r->assign[m]);
        assert_int_equal(r->cand_level[c], r->level[m]);
        assert_false(r->disabled[(size_t)m * K + c]);
        used += (double)g_m.modules[m].params * g_sp.bits[((size_t)m * nf + fi) * NL + r->level[m]];
        tot += (double)g_m.modules[m].params;
        for (int j = 0; j < M; j++) /* one level per pruning group */
            if (g_sp.group[j] == g_sp.group[m])
                assert_int_equal(r->level[j], r->level[m]);
        pruned |= g_sp.kept[g_sp.group[m] * NL + r->level[m]] < g_sp.units[g_sp.group[m]];
    }
    assert_true(used / tot <= budget * (1 + 1e-12));
    assert_true(fabs(used / tot - r->avg_bits) < 1e-9);
    if (budget < 4.25) /* below the smallest unpruned format: something is pruned */
        assert_true(pruned);

    /* the same costs through joint_solve directly */
    size_t cells = (size_t)M * nf * NL;
    double *cost = calloc(cells, sizeof *cost), *pr = malloc((size_t)K * sizeof *pr);
    unsigned char *allowed = calloc(cells, 1);
    int *fmt = malloc((size_t)M * sizeof *fmt), *keep = malloc((size_t)M * sizeof *keep);
    double *params = malloc((size_t)M * sizeof *params);
    assert_true(cost && pr && allowed && fmt && keep && params);
    if (meth == SEARCH_DMX)
        assert_int_equal(r->n_param, M + g_sp.n_groups);
    for (int m = 0; m < M; m++) {
        params[m] = (double)g_m.modules[m].params;
        int gsize = 0;
        for (int j = 0; j < M; j++)
            gsize += g_sp.group[j] == g_sp.group[m];
        if (meth == SEARCH_GAMMA)
            gamma_probs(r->param + (size_t)m * K, 1.0, K, pr);
        for (int c = 0; c < K; c++) {
            int fi = -1;
            for (int f = 0; f < nf; f++)
                if (g_sp.formats[f] == r->cand_format[c])
                    fi = f;
            size_t i = ((size_t)m * nf + fi) * NL + r->cand_level[c];
            if (r->disabled[(size_t)m * K + c])
                continue;
            assert_false(allowed[i]); /* every (format, level) once */
            allowed[i] = 1;
            if (meth == SEARCH_GAMMA) {
                cost[i] = -log(pr[c] > 1e-300 ? pr[c] : 1e-300);
            } else {
                double df = r->param[m] - fmt_rank(fi), dl = r->param[M + g_sp.group[m]] - lvl_rank(r->cand_level[c]);
                cost[i] = df * df + dl * dl / gsize;
            }
        }
    }
    joint_problem jp = {.n_modules = M, .n_formats = nf, .n_keeps = NL, .params = params, .bits = g_sp.bits,
                        .cost = cost, .allowed = allowed, .group = g_sp.group, .budget_bits = budget};
    ilp_result res;
    mx_error e = {0};
    assert_int_equal(joint_solve(&jp, fmt, keep, &res, &e), 0);
    assert_true(fabs(res.objective - r->objective) <= 1e-9 * (1 + fabs(res.objective)));
    int changed = 0;
    for (int m = 0; m < M; m++) {
        assert_int_equal(keep[m], r->level[m]); /* the fill never changes a level */
        if (g_sp.formats[fmt[m]] != r->assign[m]) {
            int fi = -1;
            for (int f = 0; f < nf; f++)
                if (g_sp.formats[f] == r->assign[m])
                    fi = f;
            /* only upgrades in bits at the same level */
            assert_true(g_sp.bits[((size_t)m * nf + fi) * NL + keep[m]] >
                        g_sp.bits[((size_t)m * nf + fmt[m]) * NL + keep[m]]);
            changed++;
        }
    }
    assert_true(changed <= r->filled);
    print_message("budget %.2f: avg %.4f, joint objective %.4f, %d filled\n", budget, r->avg_bits, res.objective,
                  r->filled);
    free(cost);
    free(pr);
    free(allowed);
    free(fmt);
    free(keep);
    free(params);
}

static void check_result(const search_result *r, double budget) { check_result_as(SEARCH_GAMMA, r, budget); }

/* Joint dMX at 3.0 and 2.0 bits: budget, shared levels, the exact repair of
 * its costs; deterministic for a seed. */
static void test_joint_dmx_budget(void **st)
{
    (void)st;
    static const double budgets[] = {3.0, 2.0};
    for (size_t b = 0; b < sizeof budgets / sizeof *budgets; b++) {
        search_result r, r2;
        run_as(SEARCH_DMX, budgets[b], 1, &r);
        check_result_as(SEARCH_DMX, &r, budgets[b]);
        run_as(SEARCH_DMX, budgets[b], 1, &r2);
        assert_memory_equal(r.choice, r2.choice, (size_t)g_m.n_modules * sizeof *r.choice);
        assert_memory_equal(r.level, r2.level, (size_t)g_m.n_modules * sizeof *r.level);
        assert_int_equal(r.n_param, r2.n_param);
        assert_memory_equal(r.param, r2.param, (size_t)r.n_param * sizeof *r.param);
        search_result_free(&r2);
        search_result_free(&r);
    }
}

static void test_joint_budget_and_repair(void **st)
{
    (void)st;
    static const double budgets[] = {3.0, 2.0, 5.0};
    for (size_t b = 0; b < sizeof budgets / sizeof *budgets; b++) {
        search_result r;
        run(budgets[b], 1, &r);
        check_result(&r, budgets[b]);
        search_result_free(&r);
    }
}

/* Calibration loss of the answer: the search's measurement equals the
 * model-level one of the same formats and masks (what ppl --config runs). */
static void test_joint_eval_matches_config(void **st)
{
    (void)st;
    search_result r;
    run(3.0, 2, &r);
    search_data d;
    data_init(&d, 3.0);
    double nll;
    mx_error e = {0};
    assert_int_equal(search_eval_pruned(&d, r.assign, r.level, 0, &nll, &e), 0);
    unsigned char *masks[64] = {0};
    assert_true(g_sp.n_groups <= 64);
    for (int m = 0; m < g_m.n_modules; m++)
        masks[g_sp.group[m]] = g_sp.mask[g_sp.group[m] * NL + r.level[m]];
    eval_qweights q;
    assert_int_equal(eval_qweights_init_pruned(&q, &g_m, r.assign, NULL, masks, &e), 0);
    eval_result er;
    assert_int_equal(eval_perplexity(&g_m.cfg, &q.w, g_tokens, NWIN * CTX, BOS, CTX, 0, NULL, NULL, &er, &e), 0);
    eval_qweights_free(&q);
    print_message("calibration nll %.6f (model-level %.6f)\n", nll, er.nll);
    assert_true(fabs(nll - er.nll) < 1e-6);
    /* deterministic for a seed */
    search_result r2;
    run(3.0, 2, &r2);
    assert_memory_equal(r.choice, r2.choice, (size_t)g_m.n_modules * sizeof *r.choice);
    assert_memory_equal(r.param, r2.param, (size_t)r.n_param * sizeof *r.param);
    search_result_free(&r2);
    search_result_free(&r);
}

static void test_joint_refusals(void **st)
{
    (void)st;
    search_data d;
    data_init(&d, 3.0);
    search_opts o;
    search_result r;
    mx_error e = {0};
    search_opts_init(&o, SEARCH_GAMMA);
    double *cost = calloc((size_t)g_m.n_modules * d.n_formats, sizeof *cost);
    o.init_cost = cost;
    assert_int_equal(search_run(&d, &o, &r, &e), ERR_ARG);
    free(cost);
    o.init_cost = NULL;
    d.n_formats = 2; /* not what the descriptor was made for */
    assert_int_equal(search_run(&d, &o, &r, &e), ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_joint_grad),
        cmocka_unit_test(test_joint_dmx_grad),
        cmocka_unit_test(test_joint_dmx_budget),
        cmocka_unit_test(test_joint_budget_and_repair),
        cmocka_unit_test(test_joint_eval_matches_config),
        cmocka_unit_test(test_joint_refusals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
