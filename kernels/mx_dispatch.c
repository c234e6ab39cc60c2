/* Choice of implementation path (once per process, via pthread_once) and the
 * split of a matrix over threads by rows. Rows are independent, so results do
 * not depend on the split. */
#include <pthread.h>
#include <unistd.h>

#include "kernels/mx_impl.h"
#include "kernels/pool.h"
#include "kernels/err.h"

/* Below this many elements per task, handing rows to a thread costs more than it saves. */
#define MX_MIN_PER_THREAD ((size_t)1 << 18)
#define MX_MAX_THREADS 16

typedef void (*rows_fn)(mx_format, const float *, float *, size_t, size_t);

/* Written once by detect() under pthread_once, read-only afterwards. */
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;
static struct {
    int supported[MX_NSIMD];
    mx_simd best;
    int ncpu;
} cpu;

static void detect(void)
{
    __builtin_cpu_init();
    cpu.supported[MX_SIMD_AUTO] = 1;
    cpu.supported[MX_SIMD_SCALAR] = 1;
    cpu.supported[MX_SIMD_AVX2] = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    cpu.supported[MX_SIMD_AVX512] =
        __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    cpu.best = cpu.supported[MX_SIMD_AVX512] ? MX_SIMD_AVX512
             : cpu.supported[MX_SIMD_AVX2]   ? MX_SIMD_AVX2
                                             : MX_SIMD_SCALAR;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    cpu.ncpu = n < 1 ? 1 : n > MX_MAX_THREADS ? MX_MAX_THREADS : (int)n;
}

int mx_simd_supported(mx_simd s)
{
    if ((unsigned)s >= MX_NSIMD)
        return 0;
    pthread_once(&cpu_once, detect);
    return cpu.supported[s];
}

mx_simd mx_simd_best(void)
{
    pthread_once(&cpu_once, detect);
    return cpu.best;
}

typedef struct job {
    rows_fn fn;
    mx_format f;
    const float *in;
    float *out;
    size_t rows, cols;
} job;

/* Task ith of nth: its contiguous share of the rows. */
static void run_job(void *arg, int ith, int nth)
{
    const job *j = arg;
    size_t r0 = j->rows * (size_t)ith / (size_t)nth, r1 = j->rows * (size_t)(ith + 1) / (size_t)nth;
    j->fn(j->f, j->in + r0 * j->cols, j->out + r0 * j->cols, r1 - r0, j->cols);
}

/* Tasks for rows x cols: nthreads when given, else as many as pay off up to
 * avail; never more than MX_MAX_THREADS or rows. */
static size_t split(int nthreads, size_t rows, size_t cols, int avail)
{
    size_t nt = (size_t)nthreads;
    if (nt == 0) {
        nt = rows * cols / MX_MIN_PER_THREAD;
        if (nt > (size_t)avail)
            nt = (size_t)avail;
    }
    if (nt > MX_MAX_THREADS)
        nt = MX_MAX_THREADS;
    if (nt > rows)
        nt = rows;
    return nt < 1 ? 1 : nt;
}

/* Runs the rows in nt tasks on p (NULL: all on the calling thread). */
static void fake_quant(pool *p, size_t nt, mx_simd path, mx_format f, const float *in, float *out,
                       size_t rows, size_t cols)
{
    if (path == MX_SIMD_AUTO)
        path = cpu.best;
    rows_fn fn = path == MX_SIMD_AVX512 ? mx_rows_avx512
               : path == MX_SIMD_AVX2   ? mx_rows_avx2
                                        : mx_rows_scalar;
    if (nt <= 1) {
        fn(f, in, out, rows, cols);
        return;
    }
    job j = {fn, f, in, out, rows, cols};
    pool_run(p, (int)nt, run_job, &j);
}

int mx_fake_quant_on(pool *p, mx_simd path, mx_format f, const float *in, float *out, size_t rows,
                     size_t cols)
{
    if ((unsigned)f >= MX_NFORMATS || !mx_simd_supported(path))
        return ERR_ARG;
    if (rows == 0 || cols == 0)
        return 0;
    fake_quant(p, split(0, rows, cols, pool_threads(p)), path, f, in, out, rows, cols);
    return 0;
}

int mx_fake_quant_with(mx_simd path, int nthreads, mx_format f, const float *in, float *out,
                       size_t rows, size_t cols)
{
    if ((unsigned)f >= MX_NFORMATS || nthreads < 0 || !mx_simd_supported(path))
        return ERR_ARG;
    if (rows == 0 || cols == 0)
        return 0;
    size_t nt = split(nthreads, rows, cols, cpu.ncpu);
    /* One-shot: a pool for this call only (`mxalloc mx` makes one call per
     * process; a caller that repeats holds a pool and calls mx_fake_quant_on).
     * Without one (out of memory) the same tasks run here. */
    pool *p = nt > 1 ? pool_create((int)nt) : NULL;
    fake_quant(p, nt, path, f, in, out, rows, cols);
    pool_free(p);
    return 0;
}

void mx_fake_quant(mx_format f, const float *in, float *out, size_t rows, size_t cols)
{
    (void)mx_fake_quant_on(NULL, MX_SIMD_AUTO, f, in, out, rows, cols);
}
