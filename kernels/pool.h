/* A persistent thread pool with one operation, a parallel-for: pool_run(p,
 * nth, fn, arg) calls fn(arg, ith, nth) once for every ith in 0..nth-1 and
 * returns when all have finished (ggml's compute threads: each task picks its
 * share of the work from ith and nth).
 *
 * The pool is an object its owner creates; there is no process-wide default
 * (kernels keep no global mutable state). tf_ctx owns one (tf_ctx_pool);
 * mx_fake_quant_on takes one; a NULL pool means "the calling thread only".
 *
 * Determinism: the calling thread and the workers take tasks in whatever
 * order they get to them, so a task must write only its own outputs. The
 * split (nth) is the caller's choice and does not depend on how many workers
 * exist: with fewer threads than tasks, some thread runs several tasks. A
 * kernel whose tasks own disjoint rows or heads gives the same bits for any
 * pool size, NULL included.
 *
 * One caller at a time: pool_run from a second thread while the pool is busy,
 * or from inside a task (nesting), runs that call's tasks on its own thread,
 * in order -- correct, just not parallel. Tasks never call OpenBLAS unless the
 * caller knows OpenBLAS is single-threaded (kernels/tf.h: OpenBLAS is never
 * entered from two of our threads at once). */
#ifndef MXALLOC_POOL_H
#define MXALLOC_POOL_H

typedef struct pool pool;

/* Task: the ith of nth parts of one parallel-for. */
typedef void (*pool_fn)(void *arg, int ith, int nth);

#define POOL_MAX_THREADS 64

/* CPUs this process may run on: its affinity mask (taskset, or mpirun binding
 * each rank to a core), else the online cores; at least 1. The default thread
 * count of every pool and kernel. */
int pool_cpus(void);

/* A pool of nthreads threads counting the caller (nthreads - 1 workers, which
 * sleep between runs); nthreads <= 0 means pool_cpus(). At most
 * POOL_MAX_THREADS. A worker that cannot be started is left out (see
 * pool_threads). Returns NULL only when out of memory. */
pool *pool_create(int nthreads);
/* Stops and joins the workers; NULL is a no-op. No pool_run may be running. */
void pool_free(pool *p);
/* Threads that take part in a run, the caller included (1 for NULL). */
int pool_threads(const pool *p);
/* Runs fn(arg, ith, nth) for ith = 0..nth-1 on the caller and the workers;
 * returns when every task has returned. nth <= 0 does nothing. */
void pool_run(pool *p, int nth, pool_fn fn, void *arg);

#endif
