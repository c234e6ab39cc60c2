/* Choice of implementation path and the split of a matrix over threads by
 * rows. Rows are independent, so results depend on neither. The CPU's flags
 * say which paths can run; which is fastest is measured, once per process and
 * size class, because it is not the widest everywhere: on a 2-core AVX-512
 * machine AVX-512 fake-quantizes a 4096x4096 matrix 3.5x slower than AVX2
 * while it is ~5% faster on cache-resident ones (make bench, bench_mx). */
#include <pthread.h>
#include <stdlib.h>

#include "kernels/clock.h"
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
    int n = pool_cpus();
    cpu.ncpu = n > MX_MAX_THREADS ? MX_MAX_THREADS : n;
}

/* Size classes by element count, powers of two from 2^15 (128 KB,
 * cache-resident) to 2^22 (16 MB, streaming) and above. Their measured
 * choice, per kind of kernel (bf16 rounding, block formats), is written once
 * under the class's pthread_once and read-only afterwards. */
#define MX_CLASS_MIN 15
#define MX_NCLASSES 8
static pthread_once_t class_once[MX_NCLASSES] = {PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT,
                                                 PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT,
                                                 PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT};
enum { KIND_BF16, KIND_BLOCK, KIND_MSE, NKINDS };
static mx_simd class_best[MX_NCLASSES][NKINDS];

static int class_of(size_t n)
{
    int c = 0;
    while (c + 1 < MX_NCLASSES && n > (size_t)1 << (MX_CLASS_MIN + c))
        c++;
    return c;
}

/* Seconds per call of path on x in place, single thread: the best of five
 * rounds of enough calls to last ~1 ms (timer and scheduler noise). */
static double time_path(rows_fn fn, mx_format f, float *x, size_t n)
{
    int calls = 1;
    double best = 1e30;
    for (int r = 0; r < 6; r++) {
        double t0 = clock_now_s();
        for (int k = 0; k < calls; k++)
            fn(f, x, x, n / 1024, 1024);
        double t = (clock_now_s() - t0) / calls;
        if (r == 0) { /* the first round warms up and sizes the others */
            calls = t > 1e-3 ? 1 : (int)(1e-3 / (t > 1e-7 ? t : 1e-7)) + 1;
            continue;
        }
        best = t < best ? t : best;
    }
    return best;
}

/* Times the SIMD paths this CPU has on a weight-like matrix of class c's
 * size (values below 1, every block on the fast path); AVX-512 must be 5%
 * faster to displace AVX2, so noise does not flip a tie. The mse scale mode
 * is its own kind: it is bound by arithmetic, not memory, and AVX2 won it by
 * up to 25% at 4096x4096 where AVX-512 wins the plain formats (bench_mx);
 * being compute-bound, it is timed on at most 2^17 elements. */
static void measure_class(int c)
{
    pthread_once(&cpu_once, detect);
    for (int k = 0; k < NKINDS; k++)
        class_best[c][k] = cpu.best;
    if (!cpu.supported[MX_SIMD_AVX512] || !cpu.supported[MX_SIMD_AVX2])
        return; /* one SIMD path: nothing to choose */
    size_t n = (size_t)1 << (MX_CLASS_MIN + c);
    float *x = malloc(n * sizeof *x);
    if (!x)
        return; /* out of memory: the widest path */
    static const mx_format kinds[NKINDS] = {MX_BF16, MX_FP4_E2M1, MX_FP4_E2M1_MSE};
    for (int k = 0; k < NKINDS; k++) {
        size_t m = k == KIND_MSE && n > ((size_t)1 << 17) ? (size_t)1 << 17 : n;
        uint32_t r = 12345;
        for (size_t i = 0; i < m; i++) {
            r = r * 1664525u + 1013904223u;
            x[i] = (float)(int32_t)r * 0x1p-31f;
        }
        double t2 = time_path(mx_rows_avx2, kinds[k], x, m);
        double t5 = time_path(mx_rows_avx512, kinds[k], x, m);
        class_best[c][k] = t5 < 0.95 * t2 ? MX_SIMD_AVX512 : MX_SIMD_AVX2;
    }
    free(x);
}

#define MEASURE(c) static void measure##c(void) { measure_class(c); }
MEASURE(0) MEASURE(1) MEASURE(2) MEASURE(3) MEASURE(4) MEASURE(5) MEASURE(6) MEASURE(7)
#undef MEASURE

mx_simd mx_simd_best_for(mx_format f, size_t rows, size_t cols)
{
    static void (*const init[MX_NCLASSES])(void) = {measure0, measure1, measure2, measure3,
                                                    measure4, measure5, measure6, measure7};
    if (f == MX_FP32)
        return mx_simd_best(); /* a copy: every path is memmove */
    if (mx_is_nvfp4(f))
        return MX_SIMD_SCALAR; /* its only path */
    int c = class_of(rows * cols);
    pthread_once(&class_once[c], init[c]);
    return class_best[c][f == MX_BF16 ? KIND_BF16 : mx_format_scale_mode(f) == MX_SCALE_MSE ? KIND_MSE : KIND_BLOCK];
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
    rows_fn fn;     /* NULL: NVFP4 with tensor scale ts */
    mx_format f;
    float ts;
    const float *in;
    float *out;
    size_t rows, cols;
} job;

static void run_rows(const job *j, size_t r0, size_t r1)
{
    if (j->fn)
        j->fn(j->f, j->in + r0 * j->cols, j->out + r0 * j->cols, r1 - r0, j->cols);
    else
        mx_nvfp4_rows(mx_format_scale_mode(j->f), j->ts, j->in + r0 * j->cols, j->out + r0 * j->cols, r1 - r0,
                      j->cols);
}

/* Task ith of nth: its contiguous share of the rows. */
static void run_job(void *arg, int ith, int nth)
{
    const job *j = arg;
    run_rows(j, j->rows * (size_t)ith / (size_t)nth, j->rows * (size_t)(ith + 1) / (size_t)nth);
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
        path = mx_simd_best_for(f, rows, cols);
    rows_fn fn = path == MX_SIMD_AVX512 ? mx_rows_avx512
               : path == MX_SIMD_AVX2   ? mx_rows_avx2
                                        : mx_rows_scalar;
    /* NVFP4 has one path; its tensor scale needs the whole tensor first */
    int nv = mx_is_nvfp4(f);
    job j = {nv ? NULL : fn, f, nv ? mx_nvfp4_tensor_scale(in, rows * cols) : 0, in, out, rows, cols};
    if (nt <= 1)
        run_rows(&j, 0, rows);
    else
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
