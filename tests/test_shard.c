/* Windows shared among processes (src/shard.h): the ranges cover every window
 * once, and score_compute run as 2 and 3 "processes" (threads exchanging rows
 * through memory, as MPI_Allgatherv does) gives every process the table of
 * one process, bit for bit: every method, its standard errors, the uniform
 * losses and the measured anchors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "solver/alloc_setup.h"
#include "src/score.h"
#include "src/shard.h"
#include "tests/testmodel.h"

#define CTX 16
#define NW 5
#define BOS 1
#define MAXP 3

static char g_tmp[4096];
static model g_m;
static int g_tokens[NW * CTX + 3];

static int setup(void **state)
{
    (void)state;
    if (tm_tmpdir(g_tmp, sizeof g_tmp))
        return -1;
    mx_error e = {0};
    tm_model t;
    char path[4200];
    snprintf(path, sizeof path, "%s/l.bin", g_tmp);
    if (tm_make(&t, TM_LLAMA2C, 5) || tm_write_llama2c(&t, path, 0, &e))
        return -1;
    tm_free(&t);
    if (model_load(path, &g_m, &e))
        return -1;
    uint64_t s = 777;
    for (size_t i = 0; i < sizeof g_tokens / sizeof g_tokens[0]; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        g_tokens[i] = (int)((s >> 33) % 40) + 2;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    model_free(&g_m);
    tm_rmtree(g_tmp);
    return 0;
}

static void test_ranges(void **state)
{
    (void)state;
    for (int size = 1; size <= 7; size++)
        for (long nw = 0; nw <= 20; nw++) {
            long next = 0;
            for (int r = 0; r < size; r++) {
                shard s = {.rank = r, .size = size};
                long w0, w1;
                shard_range(&s, nw, &w0, &w1);
                assert_int_equal(w0, next); /* contiguous, in rank order */
                assert_true(w1 - w0 == nw / size || w1 - w0 == nw / size + 1);
                next = w1;
            }
            assert_int_equal(next, nw);
        }
    long w0, w1;
    shard_range(NULL, 9, &w0, &w1);
    assert_true(w0 == 0 && w1 == 9);
}

/* The in-memory exchange: each process publishes its buffer, then copies
 * the others' rows out of theirs. */
typedef struct group {
    pthread_barrier_t bar;
    int size;
    double *bufs[MAXP];
} group;

typedef struct proc {
    group *g;
    shard sh;
    score_opts o;
    score_table t;
    int rc;
    long calls;
} proc;

static int mem_allgather(void *user, double *buf, long nw, size_t per, mx_error *e)
{
    (void)e;
    proc *p = user;
    group *g = p->g;
    g->bufs[p->sh.rank] = buf;
    pthread_barrier_wait(&g->bar);
    for (int r = 0; r < g->size; r++) {
        if (r == p->sh.rank)
            continue;
        shard o = {.rank = r, .size = g->size};
        long w0, w1;
        shard_range(&o, nw, &w0, &w1);
        memcpy(buf + (size_t)w0 * per, g->bufs[r] + (size_t)w0 * per,
               sizeof(double) * per * (size_t)(w1 - w0));
    }
    pthread_barrier_wait(&g->bar);
    p->calls++;
    return 0;
}

static void *run_proc(void *arg)
{
    proc *p = arg;
    mx_error e = {0};
    p->rc = score_compute(&g_m, g_tokens, NW * CTX, &p->o, &p->t, &e);
    return NULL;
}

static void opts(score_opts *o)
{
    score_opts_init(o);
    o->methods = (1u << SCORE_KL) | (1u << SCORE_FISHER) | (1u << SCORE_FISHER_OUT);
    o->ctx = CTX;
    o->bos = BOS;
    o->threads = 1;
    o->n_formats = 4;
    o->formats[0] = MX_FP8_E4M3;
    o->formats[1] = MX_INT8;
    o->formats[2] = MX_FP4_E2M1;
    o->formats[3] = MX_FP32;
    o->anchor_alloc = alloc_setup_anchor;
}

/* Equal bits, NaN equal to NaN. */
static void same(double a, double b, const char *what, int i)
{
    if (memcmp(&a, &b, sizeof a))
        fail_msg("%s (module %d): %.17g one process, %.17g sharded", what, i, a, b);
}

static void same_table(const score_table *a, const score_table *b)
{
    same(a->fp32_loss, b->fp32_loss, "fp32 loss", -1);
    for (int f = 0; f < MX_NFORMATS; f++)
        same(a->uniform_loss[f], b->uniform_loss[f], "uniform loss", -1);
    assert_int_equal(a->n_modules, b->n_modules);
    for (int i = 0; i < a->n_modules; i++)
        for (int f = 0; f < MX_NFORMATS; f++) {
            for (int s = 0; s < SCORE_NMETHODS; s++) {
                same(a->modules[i].score[s][f], b->modules[i].score[s][f], "score", i);
                same(a->modules[i].se[s][f], b->modules[i].se[s][f], "standard error", i);
            }
            same(a->modules[i].kld[f], b->modules[i].kld[f], "kld", i);
            same(a->modules[i].kld_se[f], b->modules[i].kld_se[f], "kld se", i);
        }
    assert_int_equal(a->n_anchors, b->n_anchors);
    for (int k = 0; k < a->n_anchors; k++) {
        assert_int_equal(a->anchors[k].method, b->anchors[k].method);
        same(a->anchors[k].loss, b->anchors[k].loss, "anchor loss", k);
        same(a->anchors[k].bits, b->anchors[k].bits, "anchor bits", k);
        same(a->anchors[k].score_sum, b->anchors[k].score_sum, "anchor score sum", k);
    }
}

static void test_sharded_equals_one(void **state)
{
    (void)state;
    score_opts o;
    opts(&o);
    score_table one;
    mx_error e = {0};
    assert_int_equal(score_compute(&g_m, g_tokens, NW * CTX, &o, &one, &e), 0);
    assert_true(one.n_anchors > 0);
    for (int P = 2; P <= MAXP; P++) {
        group g = {.size = P};
        pthread_barrier_init(&g.bar, NULL, (unsigned)P);
        proc ps[MAXP];
        pthread_t th[MAXP];
        for (int r = 0; r < P; r++) {
            ps[r] = (proc){.g = &g, .sh = {.rank = r, .size = P, .allgather = mem_allgather}};
            ps[r].sh.user = &ps[r];
            opts(&ps[r].o);
            ps[r].o.shard = &ps[r].sh;
            assert_int_equal(pthread_create(&th[r], NULL, run_proc, &ps[r]), 0);
        }
        for (int r = 0; r < P; r++)
            pthread_join(th[r], NULL);
        for (int r = 0; r < P; r++) {
            assert_int_equal(ps[r].rc, 0);
            assert_true(ps[r].calls > 3); /* every pass exchanged */
            assert_int_equal(ps[r].calls, ps[0].calls);
            assert_true(ps[r].sh.window_s > 0);
            same_table(&one, &ps[r].t);
            score_table_free(&ps[r].t);
        }
        pthread_barrier_destroy(&g.bar);
    }
    score_table_free(&one);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_sharded_equals_one),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
