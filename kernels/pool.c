/* Persistent thread pool: workers sleep on a condition variable between runs
 * and take task indices from a shared counter, so a run costs two wake-ups
 * instead of a thread creation and join per worker (that churn was 40% of
 * `mxalloc ppl`'s time, spent in the kernel). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#endif
#include "kernels/pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

struct pool {
    pthread_mutex_t mu;   /* guards everything below */
    pthread_cond_t wake;  /* a run started, or quit */
    pthread_cond_t done;  /* the last task of a run finished */
    pthread_mutex_t busy; /* held by the one caller of pool_run */
    pool_fn fn;
    void *arg;
    int nth;     /* tasks of the current run */
    int next;    /* next task index to hand out (>= nth: nothing to do) */
    int pending; /* tasks of the current run not yet finished */
    int quit;
    int nworkers;
    pthread_t th[];
};

/* Takes and runs tasks until none is left; called and returns with p->mu held. */
static void take_tasks(pool *p)
{
    while (p->next < p->nth) {
        int i = p->next++;
        pool_fn fn = p->fn;
        void *arg = p->arg;
        int nth = p->nth;
        pthread_mutex_unlock(&p->mu);
        fn(arg, i, nth);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0)
            pthread_cond_signal(&p->done);
    }
}

static void *worker(void *arg)
{
    pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        /* A worker that wakes late finds the run over (next >= nth) and sleeps
         * again; one that sleeps through a whole run is not waited for. */
        while (p->next >= p->nth && !p->quit)
            pthread_cond_wait(&p->wake, &p->mu);
        if (p->quit)
            break;
        take_tasks(p);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int pool_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    return c < 1 ? 1 : c > 4096 ? 4096 : (int)c;
}

pool *pool_create(int nthreads)
{
    if (nthreads <= 0)
        nthreads = pool_cpus();
    if (nthreads > POOL_MAX_THREADS)
        nthreads = POOL_MAX_THREADS;
    pool *p = calloc(1, sizeof *p + (size_t)(nthreads - 1) * sizeof(pthread_t));
    if (!p)
        return NULL;
    pthread_mutex_init(&p->mu, NULL);
    pthread_mutex_init(&p->busy, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    for (int i = 0; i < nthreads - 1; i++) {
        if (pthread_create(&p->th[p->nworkers], NULL, worker, p))
            break; /* fewer workers: the same tasks run, on fewer threads */
        p->nworkers++;
    }
    return p;
}

void pool_free(pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nworkers; i++)
        pthread_join(p->th[i], NULL);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->busy);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

int pool_threads(const pool *p) { return p ? p->nworkers + 1 : 1; }

void pool_run(pool *p, int nth, pool_fn fn, void *arg)
{
    if (nth <= 0)
        return;
    /* Serial: no pool, one task, no workers, or the pool is busy (another
     * caller, or a task of this pool calling back in). */
    if (!p || nth == 1 || p->nworkers == 0 || pthread_mutex_trylock(&p->busy)) {
        for (int i = 0; i < nth; i++)
            fn(arg, i, nth);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->arg = arg;
    p->nth = nth;
    p->next = 0;
    p->pending = nth;
    if (nth - 1 < p->nworkers) /* wake only the workers there is work for */
        for (int i = 0; i < nth - 1; i++)
            pthread_cond_signal(&p->wake);
    else
        pthread_cond_broadcast(&p->wake);
    take_tasks(p);
    while (p->pending > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
    pthread_mutex_unlock(&p->busy);
}
