/* Event queue, background job plumbing and the search history, driven by a
 * synthetic search producer thread (the interface dMX / GAMMA will post to). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/err.h"
#include "ui/ui_jobs.h"
#include "ui/ui_progress.h"
#include "ui/ui_search.h"

#define NMOD 6
#define NSTEPS 200

typedef struct producer {
    ui_job *job;
    int settle_at;   /* module m settles at step settle_at * (m + 1) */
    int wait_cancel; /* keep posting until cancelled */
} producer;

/* A fake annealing run: temperature decays, loss falls, each module's most
 * likely format flips until its settle step, then stays. */
static void *search_main(void *arg)
{
    producer *p = arg;
    long step = 0;
    for (; step < NSTEPS || p->wait_cancel; step++) {
        if (ui_job_cancelled(p->job)) {
            ui_job_done(p->job, ERR_CANCELLED, NAN, NAN, "search cancelled");
            return NULL;
        }
        ui_event ev;
        memset(&ev, 0, sizeof ev);
        ev.kind = UI_EV_SEARCH;
        ev.job = UI_JOB_SEARCH;
        ev.search.step = step;
        ev.search.temperature = exp(-0.02 * (double)step);
        ev.search.task_loss = 2.0 + 1.0 / (1.0 + (double)step);
        ev.search.regularizer = 0.1;
        ev.search.expected_bits = 8.0 - 3.0 * (double)step / NSTEPS;
        ev.search.n_modules = NMOD;
        ev.search.likely = malloc(NMOD * sizeof(int));
        for (int m = 0; m < NMOD; m++)
            ev.search.likely[m] = step < p->settle_at * (m + 1) ? (int)(step % 2) : 7;
        ui_queue_push(p->job->q, &ev);
        if (p->wait_cancel)
            usleep(1000);
    }
    ui_job_done(p->job, 0, (double)step, NAN, "done");
    return NULL;
}

/* Blocks until q has events; 20 s without one fails the test instead of hanging. */
static void wait_events(ui_queue *q)
{
    struct pollfd pf = {ui_queue_fd(q), POLLIN, 0};
    assert_true(poll(&pf, 1, 20000) > 0);
}

/* A search test's plumbing: the queue, an idle job slot, a history of NMOD modules. */
typedef struct search_rig {
    ui_queue q;
    ui_job job;
    ui_search_hist h;
} search_rig;

static void rig_open(search_rig *r)
{
    memset(&r->job, 0, sizeof r->job);
    assert_int_equal(ui_queue_init(&r->q), 0);
    assert_int_equal(ui_search_hist_init(&r->h, NMOD), 0);
}

static void rig_close(search_rig *r)
{
    ui_search_hist_free(&r->h);
    ui_queue_destroy(&r->q);
}

/* Adds the search events to the history until the job is done, then joins it. */
static int drain(search_rig *r, int *done_code)
{
    int done = 0;
    while (!done) {
        wait_events(&r->q);
        ui_event ev;
        while (ui_queue_pop(&r->q, &ev)) {
            if (ev.kind == UI_EV_SEARCH)
                assert_int_equal(ui_search_hist_add(&r->h, &ev.search), 0);
            if (ev.kind == UI_EV_DONE) {
                *done_code = ev.code;
                done = 1;
                ui_job_join(&r->job);
            }
            ui_event_clear(&ev);
        }
    }
    return 0;
}

static void test_search_events(void **state)
{
    (void)state;
    search_rig r;
    rig_open(&r);
    producer p = {&r.job, 25, 0};
    assert_int_equal(ui_job_start(&r.job, &r.q, UI_JOB_SEARCH, search_main, &p), 0);
    /* one job at a time */
    assert_int_equal(ui_job_start(&r.job, &r.q, UI_JOB_EVAL, search_main, &p), -1);
    int code = 1;
    drain(&r, &code);
    assert_int_equal(code, 0);
    assert_int_equal(r.job.kind, UI_JOB_NONE);
    /* every step arrived, in order */
    assert_int_equal(r.h.n, NSTEPS);
    for (int i = 0; i < r.h.n; i++)
        assert_int_equal(r.h.step[i], i);
    assert_true(r.h.temp[NSTEPS - 1] < r.h.temp[0]);
    assert_true(r.h.loss[NSTEPS - 1] < r.h.loss[0]);
    assert_true(fabs(r.h.bits[0] - 8.0) < 1e-12);
    /* module m settled at step 25(m+1): settled iff 200 - 25(m+1) >= UI_SETTLE_STEPS */
    for (int m = 0; m < NMOD; m++) {
        int expect = NSTEPS - 25 * (m + 1) >= UI_SETTLE_STEPS;
        assert_int_equal(ui_search_settled(&r.h, m), expect);
        assert_int_equal(r.h.likely[m], 7);
    }
    assert_int_equal(ui_search_n_settled(&r.h), 6);
    assert_false(ui_search_settled(&r.h, -1));
    assert_false(ui_search_settled(&r.h, NMOD));
    ui_search_hist_reset(&r.h);
    assert_int_equal(r.h.n, 0);
    assert_int_equal(ui_search_n_settled(&r.h), 0);
    rig_close(&r);
}

static void test_cancel(void **state)
{
    (void)state;
    search_rig r;
    rig_open(&r);
    producer p = {&r.job, 1000, 1};
    assert_int_equal(ui_job_start(&r.job, &r.q, UI_JOB_SEARCH, search_main, &p), 0);
    /* wait for a few steps, then cancel */
    while (r.h.n < 5) {
        wait_events(&r.q);
        ui_event ev;
        while (ui_queue_pop(&r.q, &ev)) {
            assert_int_equal(ev.kind, UI_EV_SEARCH);
            ui_search_hist_add(&r.h, &ev.search);
            ui_event_clear(&ev);
        }
    }
    ui_job_cancel(&r.job);
    int code = 0;
    drain(&r, &code);
    assert_int_equal(code, ERR_CANCELLED);
    assert_int_equal(ui_search_n_settled(&r.h), 0);
    /* the slot is free again */
    producer p2 = {&r.job, 1, 0};
    assert_int_equal(ui_job_start(&r.job, &r.q, UI_JOB_SEARCH, search_main, &p2), 0);
    drain(&r, &code);
    assert_int_equal(code, 0);
    rig_close(&r);
}

static void *progress_main(void *arg)
{
    ui_job *j = arg;
    for (int i = 1; i <= 1000; i++)
        ui_job_progress(j, i, 1000, "testing", "items");
    ui_job_done(j, 0, 42.5, 4.25, "ok");
    return NULL;
}

static void test_queue_many(void **state)
{
    (void)state;
    /* more events than the pipe buffer holds wake-ups for: nothing is lost */
    ui_queue q;
    ui_job job;
    memset(&job, 0, sizeof job);
    assert_int_equal(ui_queue_init(&q), 0);
    assert_int_equal(ui_job_start(&job, &q, UI_JOB_EVAL, progress_main, &job), 0);
    double last = 0;
    int n = 0, done = 0;
    while (!done) {
        wait_events(&q);
        ui_event ev;
        while (ui_queue_pop(&q, &ev)) {
            if (ev.kind == UI_EV_PROGRESS) {
                assert_true(ev.done > last);
                last = ev.done;
                n++;
            } else {
                assert_int_equal(ev.kind, UI_EV_DONE);
                assert_true(ev.value == 42.5 && ev.value2 == 4.25);
                assert_string_equal(ev.msg, "ok");
                assert_int_equal(ev.job, UI_JOB_EVAL);
                done = 1;
            }
            ui_event_clear(&ev);
        }
    }
    ui_job_join(&job);
    assert_int_equal(n, 1000);
    /* events left in the queue are freed by destroy */
    ui_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = UI_EV_SEARCH;
    ev.search.likely = malloc(4 * sizeof(int));
    ui_queue_push(&q, &ev);
    ui_queue_destroy(&q);
    assert_string_equal(ui_job_name(UI_JOB_SEARCH), "search");
}

/* The status line's phase, count, rate and ETA, by hand: 20 steps in 2 s is
 * 10/s, 170 left is 17 s; a new phase measures its own rate. */
static void test_progress_text(void **state)
{
    (void)state;
    ui_progress p;
    char buf[96];
    ui_progress_reset(&p);
    ui_progress_update(&p, UI_JOB_SEARCH, "annealing", "steps", 10, 200, 100.0);
    ui_progress_text(&p, buf, sizeof buf);
    assert_string_equal(buf, "annealing 10/200 steps"); /* no rate before a second has passed */
    ui_progress_update(&p, UI_JOB_SEARCH, "annealing", "steps", 30, 200, 102.0);
    ui_progress_text(&p, buf, sizeof buf);
    assert_string_equal(buf, "annealing 30/200 steps  10/s  ETA 0:17");
    assert_true(fabs(ui_progress_frac(&p) - 0.15) < 1e-12);
    ui_progress_update(&p, UI_JOB_SEARCH, "refining", "evals", 0, 50, 103.0);
    ui_progress_update(&p, UI_JOB_SEARCH, "refining", "evals", 10, 50, 105.0);
    ui_progress_text(&p, buf, sizeof buf);
    assert_string_equal(buf, "refining 10/50 evals  5.0/s  ETA 0:08");
    /* a phase counted as a fraction; then a new job of the same phase starts over */
    ui_progress_update(&p, UI_JOB_SCORE, "fisher", NULL, 0.25, 1, 200.0);
    ui_progress_update(&p, UI_JOB_SCORE, "fisher", NULL, 0.5, 1, 201.0);
    ui_progress_text(&p, buf, sizeof buf);
    assert_string_equal(buf, "fisher  50%  ETA 0:02");
    ui_progress_update(&p, UI_JOB_SCORE, "fisher", NULL, 0.1, 1, 300.0);
    ui_progress_update(&p, UI_JOB_SCORE, "fisher", NULL, 0.2, 1, 300.5);
    ui_progress_text(&p, buf, sizeof buf);
    assert_string_equal(buf, "fisher  20%");
    /* long waits in h:mm:ss; a tiny buffer is cut, not overrun */
    ui_progress_update(&p, UI_JOB_SCORE, "kl", "modules", 1, 7201, 0.0);
    ui_progress_update(&p, UI_JOB_SCORE, "kl", "modules", 2, 7201, 1.0);
    ui_progress_text(&p, buf, sizeof buf);
    assert_string_equal(buf, "kl 2/7201 modules  1.0/s  ETA 1:59:59");
    char small[8];
    ui_progress_text(&p, small, sizeof small);
    assert_string_equal(small, "kl 2/72");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_search_events),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_queue_many),
        cmocka_unit_test(test_progress_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
