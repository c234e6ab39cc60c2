/* Choice of implementation path (once per process, via pthread_once) and the
 * split of a matrix over threads by rows. Rows are independent, so results do
 * not depend on the split. */
#include <pthread.h>
#include <unistd.h>

#include "kernels/mx_impl.h"
#include "src/err.h"

/* Below this many elements per thread, starting a thread costs more than it saves. */
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

static void *run_job(void *p)
{
    const job *j = p;
    j->fn(j->f, j->in, j->out, j->rows, j->cols);
    return NULL;
}

int mx_fake_quant_with(mx_simd path, int nthreads, mx_format f, const float *in, float *out,
                       size_t rows, size_t cols)
{
    if ((unsigned)f >= MX_NFORMATS || nthreads < 0 || !mx_simd_supported(path))
        return ERR_ARG;
    if (rows == 0 || cols == 0)
        return 0;
    if (path == MX_SIMD_AUTO)
        path = cpu.best;
    rows_fn fn = path == MX_SIMD_AVX512 ? mx_rows_avx512
               : path == MX_SIMD_AVX2   ? mx_rows_avx2
                                        : mx_rows_scalar;
    size_t nt = (size_t)nthreads;
    if (nt == 0) {
        nt = rows * cols / MX_MIN_PER_THREAD;
        if (nt > (size_t)cpu.ncpu)
            nt = (size_t)cpu.ncpu;
    }
    if (nt > MX_MAX_THREADS)
        nt = MX_MAX_THREADS;
    if (nt > rows)
        nt = rows;
    if (nt <= 1) {
        fn(f, in, out, rows, cols);
        return 0;
    }
    job jobs[MX_MAX_THREADS];
    pthread_t tid[MX_MAX_THREADS];
    int started[MX_MAX_THREADS] = {0};
    for (size_t t = 0; t < nt; t++) {
        size_t r0 = rows * t / nt, r1 = rows * (t + 1) / nt;
        jobs[t] = (job){fn, f, in + r0 * cols, out + r0 * cols, r1 - r0, cols};
    }
    /* The caller takes the last share; a thread that fails to start has its
     * share run here too, so the result is the same either way. */
    for (size_t t = 0; t + 1 < nt; t++)
        started[t] = pthread_create(&tid[t], NULL, run_job, &jobs[t]) == 0;
    run_job(&jobs[nt - 1]);
    for (size_t t = 0; t + 1 < nt; t++) {
        if (started[t])
            pthread_join(tid[t], NULL);
        else
            run_job(&jobs[t]);
    }
    return 0;
}

void mx_fake_quant(mx_format f, const float *in, float *out, size_t rows, size_t cols)
{
    (void)mx_fake_quant_with(MX_SIMD_AUTO, 0, f, in, out, rows, cols);
}
