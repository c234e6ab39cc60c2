/* Differentiable search (solver/search.h, dmx.h, gamma.h) on tiny in-memory
 * models: gradients against central finite differences of the full loss,
 * the backward from soft logits against tf_backward, discrete within-budget
 * results, the augmented Lagrangian's landing, determinism, cancellation,
 * the measured refinement. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kernels/tf_backward.h"
#include "solver/dmx.h"
#include "solver/gamma.h"
#include "solver/search.h"
#include "tests/tf_rand.h"

#define CTX 16
#define NWIN 3

typedef struct fixture {
    tf_rand_model rm;
    int in[NWIN * CTX], tgt[NWIN * CTX];
    search_data d;
} fixture;

/* The test model (seed) with its calibration windows, searched at `budget` bits. */
static void fixture_init(fixture *f, uint64_t seed, double budget)
{
    tf_config c = {.dim = 64, .hidden_dim = 96, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2,
                   .head_dim = 16, .vocab_size = 48, .max_seq = 32, .rope_theta = 10000.0f,
                   .norm_eps = 1e-5f, .rope_style = TF_ROPE_INTERLEAVED, .qk_norm = 0};
    assert_int_equal(tf_rand_model_init(&f->rm, &c, 0, seed), 0);
    uint64_t st = seed * 7 + 3;
    int stream[NWIN * CTX + 1];
    for (int i = 0; i <= NWIN * CTX; i++)
        stream[i] = (int)((tf_rand_uniform(&st) + 1.0f) * 0.5f * (c.vocab_size - 1));
    for (int w = 0; w < NWIN; w++)
        for (int i = 0; i < CTX; i++) {
            f->in[w * CTX + i] = i == 0 ? 1 : stream[w * CTX + i - 1];
            f->tgt[w * CTX + i] = stream[w * CTX + i];
        }
    memset(&f->d, 0, sizeof f->d);
    f->d.cfg = &f->rm.c;
    f->d.w = &f->rm.w;
    f->d.n_formats = 4;
    f->d.formats[0] = MX_FP8_E4M3; /* deliberately not in bits order */
    f->d.formats[1] = MX_FP4_E2M1;
    f->d.formats[2] = MX_FP6_E2M3;
    f->d.formats[3] = MX_INT8;
    f->d.budget = budget;
    f->d.in = f->in;
    f->d.tgt = f->tgt;
    f->d.n_windows = NWIN;
    f->d.ctx = CTX;
}

static double full_loss(search_state *s, long win)
{
    double task, reg;
    mx_error e;
    assert_int_equal(search_state_loss_grad(s, win, &task, &reg, NULL, NULL, &e), 0);
    return task + reg;
}

/* Relative error ||g - fd|| / ||fd|| of the analytic gradient. */
static double grad_check(search_method method, search_loss loss, double temp, double mu,
                         double rho)
{
    fixture f;
    fixture_init(&f, 11, 6.0);
    search_opts o;
    search_opts_init(&o, method);
    o.loss = loss;
    search_state *s;
    mx_error e;
    assert_int_equal(search_state_create(&f.d, &o, &s, &e), 0);
    int np;
    double *par = search_state_param(s, &np);
    uint64_t st = 5;
    for (int i = 0; i < np; i++) /* spread over the axis: every format contributes */
        par[i] = method == SEARCH_DMX ? 1.5 + 1.4 * tf_rand_uniform(&st)
                                      : 1.5 * tf_rand_uniform(&st);
    search_state_set(s, temp, mu, rho);
    double *g = calloc((size_t)np, sizeof *g);
    double task, reg, E;
    assert_int_equal(search_state_loss_grad(s, 1, &task, &reg, &E, g, &e), 0);
    assert_true(task > 0 && isfinite(task));
    double h = 1e-3, num = 0.0, den = 0.0;
    for (int i = 0; i < np; i++) {
        double keep = par[i];
        par[i] = keep + h;
        double lp = full_loss(s, 1);
        par[i] = keep - h;
        double lm = full_loss(s, 1);
        par[i] = keep;
        double fd = (lp - lm) / (2 * h);
        num += (g[i] - fd) * (g[i] - fd);
        den += fd * fd;
    }
    free(g);
    search_state_free(s);
    tf_rand_model_free(&f.rm);
    assert_true(den > 0);
    double rel = sqrt(num / den);
    print_message("%s/%s T=%g: relative gradient error %.2e (|grad| %.3e)\n",
                  search_method_name(method), search_loss_name(loss), temp, rel, sqrt(den));
    return rel;
}

static void test_dmx_grad(void **st)
{
    (void)st;
    assert_true(grad_check(SEARCH_DMX, SEARCH_LOSS_KL, 1.0, 0.0, 3.0) < 2e-2);
    assert_true(grad_check(SEARCH_DMX, SEARCH_LOSS_CE, 0.5, 0.0, 3.0) < 2e-2);
    /* task term alone (no regularizer to dominate the gradient) */
    assert_true(grad_check(SEARCH_DMX, SEARCH_LOSS_KL, 1.0, 0.0, 0.0) < 2e-2);
}

static void test_gamma_grad(void **st)
{
    (void)st;
    assert_true(grad_check(SEARCH_GAMMA, SEARCH_LOSS_KL, 1.0, 0.7, 4.0) < 2e-2);
    assert_true(grad_check(SEARCH_GAMMA, SEARCH_LOSS_CE, 0.5, -0.3, 2.0) < 2e-2);
    assert_true(grad_check(SEARCH_GAMMA, SEARCH_LOSS_KL, 1.0, 0.0, 0.0) < 2e-2);
}

/* The relaxations' own derivatives against finite differences (exact maths). */
static void test_relaxation_derivs(void **st)
{
    (void)st;
    double dl[5] = {0.3, -1.0, 0.25, 2.0, -0.7}, p[5], pp[5], pm[5];
    double th = 1.37, t = 0.8, h = 1e-6;
    dmx_probs(th, t, 5, p);
    double g = dmx_grad(th, t, 5, p, dl), fd = 0.0;
    dmx_probs(th + h, t, 5, pp);
    dmx_probs(th - h, t, 5, pm);
    for (int k = 0; k < 5; k++)
        fd += (pp[k] - pm[k]) / (2 * h) * dl[k];
    assert_true(fabs(g - fd) < 1e-6 * (1 + fabs(fd)));
    double a[5] = {0.1, -0.4, 1.2, 0.0, 0.5}, ga[5];
    gamma_probs(a, t, 5, p);
    gamma_grad(p, t, 5, dl, ga);
    for (int j = 0; j < 5; j++) {
        double keep = a[j], s = 0.0;
        a[j] = keep + h;
        gamma_probs(a, t, 5, pp);
        a[j] = keep - h;
        gamma_probs(a, t, 5, pm);
        a[j] = keep;
        for (int k = 0; k < 5; k++)
            s += (pp[k] - pm[k]) / (2 * h) * dl[k];
        assert_true(fabs(ga[j] - s) < 1e-6 * (1 + fabs(s)));
    }
    /* low temperature: dMX collapses onto round(theta) */
    dmx_probs(2.4, 0.01, 5, p);
    assert_true(p[2] > 0.999999);
}

/* The backward from dlogits the search uses (tf_backward_logits) equals
 * tf_backward for hard targets. */
static void test_backward_matches(void **st)
{
    (void)st;
    fixture f;
    fixture_init(&f, 3, 6.0);
    const tf_config *c = &f.rm.c;
    tf_ctx *t = tf_ctx_create(c, CTX, TF_KEEP_ACTS);
    assert_non_null(t);
    assert_int_equal(tf_forward(t, &f.rm.w, f.in, CTX, 0), 0);
    tf_grads g;
    assert_int_equal(tf_grads_alloc(c, TF_GRAD_LINEAR, 0, &g), 0);
    tf_bwd *b = tf_bwd_create(c, CTX);
    double nll;
    assert_int_equal(tf_backward(b, t, &f.rm.w, f.in, f.tgt, 1.0f, &g, &nll, NULL), 0);

    float *logits = malloc(sizeof(float) * CTX * c->vocab_size);
    tf_logits(t, &f.rm.w, 0, CTX, logits);
    tf_bwd_cross_entropy(NULL, logits, f.tgt, CTX, c->vocab_size, 1.0f, logits, NULL);
    int M = c->n_layers * TF_NLIN;
    float *lin[2 * TF_NLIN];
    for (int m = 0; m < M; m++) {
        int r, cc;
        tf_linear_shape(c, m % TF_NLIN, &r, &cc);
        lin[m] = calloc((size_t)r * cc, sizeof(float));
    }
    tf_layer_grads lg[2];
    memset(lg, 0, sizeof lg);
    for (int m = 0; m < M; m++)
        lg[m / TF_NLIN].lin[m % TF_NLIN] = lin[m];
    tf_grads sg = {.layers = lg, .n_layers = c->n_layers};
    assert_int_equal(tf_backward_logits(b, t, &f.rm.w, NULL, logits, &sg), 0);
    for (int m = 0; m < M; m++) {
        int r, cc;
        tf_linear_shape(c, m % TF_NLIN, &r, &cc);
        const float *ref = g.layers[m / TF_NLIN].lin[m % TF_NLIN];
        double num = 0, den = 0;
        for (int i = 0; i < r * cc; i++) {
            num += (lin[m][i] - ref[i]) * (double)(lin[m][i] - ref[i]);
            den += (double)ref[i] * ref[i];
        }
        assert_true(den > 0);
        assert_true(sqrt(num / den) < 1e-5);
        free(lin[m]);
    }
    free(logits);
    tf_bwd_free(b);
    tf_grads_free(&g);
    tf_ctx_free(t);
    tf_rand_model_free(&f.rm);
}

typedef struct event_log {
    int calls, stop_at;
    double last_exp_bits;
} event_log;

static int on_event(void *user, const search_event *ev)
{
    event_log *l = user;
    if (ev->refine_max > 0) /* refinement events come after the last step */
        return 0;
    l->calls++;
    assert_int_equal(ev->step, l->calls);
    assert_true(ev->n_formats == 4 && ev->argmax && ev->formats);
    for (int m = 0; m < ev->n_modules; m++)
        assert_true(ev->argmax[m] >= 0 && ev->argmax[m] < ev->n_formats);
    l->last_exp_bits = ev->exp_bits;
    return l->stop_at && l->calls >= l->stop_at;
}

static void check_discrete(const fixture *f, const search_result *r)
{
    assert_int_equal(r->n_modules, f->rm.c.n_layers * TF_NLIN);
    double b = 0, p = 0;
    for (int m = 0; m < r->n_modules; m++) {
        int rows, cols;
        tf_linear_shape(&f->rm.c, m % TF_NLIN, &rows, &cols);
        assert_int_equal(r->assign[m], r->formats[r->choice[m]]);
        b += (double)rows * cols * mx_bits_per_weight(r->assign[m], (size_t)rows, (size_t)cols);
        p += (double)rows * cols;
    }
    assert_true(fabs(b / p - r->avg_bits) < 1e-9);
    assert_true(r->avg_bits <= f->d.budget + 1e-9);
    for (int k = 1; k < r->n_formats; k++) /* bits ascending */
        assert_true(mx_bits_per_weight(r->formats[k - 1], 1, 64) <=
                    mx_bits_per_weight(r->formats[k], 1, 64));
}

/* Options of method m running `steps` steps; with a log, its events go to on_event. */
static search_opts opts_steps(search_method m, int steps, event_log *log)
{
    search_opts o;
    search_opts_init(&o, m);
    o.steps = steps;
    if (log) {
        o.on_event = on_event;
        o.user = log;
    }
    return o;
}

static void test_dmx_run(void **st)
{
    (void)st;
    fixture f;
    fixture_init(&f, 21, 6.0);
    event_log log = {0, 0, 0};
    search_opts o = opts_steps(SEARCH_DMX, 40, &log);
    search_result r;
    mx_error e;
    for (int bi = 0; bi < 3; bi++) {
        f.d.budget = (double[]){4.5, 5.3, 7.0}[bi];
        log.calls = 0;
        assert_int_equal(dmx_search(&f.d, &o, &r, &e), 0);
        assert_int_equal(log.calls, 40);
        assert_int_equal(r.steps_done, 40);
        assert_false(r.cancelled);
        check_discrete(&f, &r);
        /* annealed: theta sits near an integer, the argmax (or ILP repair) */
        search_result_free(&r);
    }
    tf_rand_model_free(&f.rm);
}

static void test_gamma_lands_on_budget(void **st)
{
    (void)st;
    fixture f;
    fixture_init(&f, 31, 5.5);
    search_opts o = opts_steps(SEARCH_GAMMA, 120, NULL);
    search_result r;
    mx_error e;
    assert_int_equal(gamma_search(&f.d, &o, &r, &e), 0);
    print_message("gamma: E[bits] %.4f at budget %.2f (mu %.3g rho %.3g)\n", r.exp_bits,
                  f.d.budget, r.mu, r.rho);
    assert_true(fabs(r.exp_bits - f.d.budget) < 0.05);
    check_discrete(&f, &r);
    assert_non_null(r.score);
    score_table t;
    assert_int_equal(gamma_export(&r, &f.rm.c, &t, &e), 0);
    assert_true(score_table_has(&t, SCORE_GAMMA));
    assert_int_equal(t.n_modules, r.n_modules);
    for (int m = 0; m < t.n_modules; m++)
        for (int k = 0; k < t.n_formats; k++) {
            mx_format fm = t.formats[k];
            assert_true(isfinite(t.modules[m].score[SCORE_GAMMA][fm]));
            assert_true(t.modules[m].bits[fm] > 4.0);
        }
    score_table_free(&t);
    search_result_free(&r);
    tf_rand_model_free(&f.rm);
}

static void test_deterministic(void **st)
{
    (void)st;
    fixture f;
    fixture_init(&f, 41, 5.0);
    for (int method = 0; method < SEARCH_NMETHODS; method++) {
        search_opts o = opts_steps((search_method)method, 15, NULL);
        o.seed = 99;
        search_result a, b;
        mx_error e;
        assert_int_equal(search_run(&f.d, &o, &a, &e), 0);
        assert_int_equal(search_run(&f.d, &o, &b, &e), 0);
        assert_int_equal(a.n_param, b.n_param);
        assert_memory_equal(a.param, b.param, sizeof(double) * (size_t)a.n_param);
        assert_memory_equal(a.choice, b.choice, sizeof(int) * (size_t)a.n_modules);
        assert_true(a.task_loss == b.task_loss);
        search_result_free(&a);
        search_result_free(&b);
    }
    tf_rand_model_free(&f.rm);
}

static void test_cancel(void **st)
{
    (void)st;
    fixture f;
    fixture_init(&f, 51, 4.6);
    event_log log = {0, 3, 0};
    search_opts o = opts_steps(SEARCH_GAMMA, 50, &log);
    search_result r;
    mx_error e;
    assert_int_equal(search_run(&f.d, &o, &r, &e), 0);
    assert_true(r.cancelled);
    assert_int_equal(r.steps_done, 3);
    check_discrete(&f, &r);
    search_result_free(&r);
    tf_rand_model_free(&f.rm);
}

typedef struct refine_log {
    int last_evals, n_refine, max;
} refine_log;

static int on_refine_event(void *user, const search_event *ev)
{
    refine_log *l = user;
    if (ev->refine_max > 0) {
        assert_int_equal(ev->refine_max, l->max);
        assert_true(ev->refine_evals >= l->last_evals && ev->refine_evals <= ev->refine_max);
        l->last_evals = ev->refine_evals;
        l->n_refine++;
    }
    return 0;
}

/* Refinement never raises the calibration cross-entropy, stays within the
 * budget, reports the loss that search_eval_assignment measures, respects its
 * evaluation budget, and gives the same answer without the Q_k cache and the
 * saved block inputs (a tiny memory limit). */
static void test_refine(void **st)
{
    (void)st;
    fixture f;
    fixture_init(&f, 71, 6.0);
    int improved = 0;
    for (int method = 0; method < SEARCH_NMETHODS; method++)
        for (int bi = 0; bi < 2; bi++) {
            f.d.budget = (double[]){4.8, 5.6}[bi];
            search_opts o = opts_steps((search_method)method, 20, NULL);
            o.refine = 0;
            search_result a, b, c;
            mx_error e;
            assert_int_equal(search_run(&f.d, &o, &a, &e), 0);
            assert_int_equal(a.refine_evals, 0);
            double nll_a, nll_b;
            assert_int_equal(search_eval_assignment(&f.d, a.assign, 0, &nll_a, &e), 0);
            refine_log log = {0, 0, 60};
            o.refine = 60;
            o.on_event = on_refine_event;
            o.user = &log;
            assert_int_equal(search_run(&f.d, &o, &b, &e), 0);
            check_discrete(&f, &b);
            assert_true(b.refine_evals >= 1 && b.refine_evals <= 60);
            assert_true(log.n_refine > 0);
            assert_true(fabs(b.refine_nll0 - nll_a) < 1e-9);
            assert_true(b.refine_nll <= b.refine_nll0);
            assert_int_equal(search_eval_assignment(&f.d, b.assign, 0, &nll_b, &e), 0);
            assert_true(fabs(nll_b - b.refine_nll) < 1e-9);
            improved += b.refine_nll < b.refine_nll0 - 1e-9;
            o.on_event = NULL;
            o.mem_limit = 1; /* no Q_k cache, no teacher cache, no saved inputs */
            assert_int_equal(search_run(&f.d, &o, &c, &e), 0);
            assert_memory_equal(b.choice, c.choice, sizeof(int) * (size_t)b.n_modules);
            assert_true(fabs(c.refine_nll - b.refine_nll) < 1e-9);
            search_result_free(&a);
            search_result_free(&b);
            search_result_free(&c);
        }
    assert_true(improved > 0); /* it does something on at least one of the four */
    tf_rand_model_free(&f.rm);
}

static void test_bad_input(void **st)
{
    (void)st;
    fixture f;
    fixture_init(&f, 61, 6.0);
    search_opts o;
    search_opts_init(&o, SEARCH_DMX);
    search_result r;
    mx_error e;
    f.d.budget = 3.0; /* below mxfp4's 4.25 */
    assert_int_equal(search_run(&f.d, &o, &r, &e), ERR_INFEASIBLE);
    assert_non_null(strstr(e.msg, "budget"));
    f.d.budget = 5.0;
    f.d.formats[1] = MX_FP8_E4M3; /* duplicate */
    assert_int_equal(search_run(&f.d, &o, &r, &e), ERR_ARG);
    f.d.formats[1] = MX_FP4_E2M1;
    f.in[5] = 1000; /* outside the vocabulary */
    assert_int_equal(search_run(&f.d, &o, &r, &e), ERR_ARG);
    f.in[5] = 2;
    o.steps = 0;
    assert_int_equal(search_run(&f.d, &o, &r, &e), ERR_ARG);
    tf_rand_model_free(&f.rm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relaxation_derivs),
        cmocka_unit_test(test_backward_matches),
        cmocka_unit_test(test_dmx_grad),
        cmocka_unit_test(test_gamma_grad),
        cmocka_unit_test(test_dmx_run),
        cmocka_unit_test(test_gamma_lands_on_budget),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_refine),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
