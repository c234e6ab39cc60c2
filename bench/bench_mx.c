/* MX fake-quantization throughput: every format on every implementation path
 * this CPU runs, single-threaded and threaded, against a memcpy of the same
 * bytes measured in the same run. Usage: bench_mx [ROWS COLS]  (default
 * 4096 4096); MXALLOC_SIMD=scalar|avx2|avx512 limits the paths measured. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_clock.h"
#include "kernels/mx.h"
#include "kernels/pool.h"

/* Gaussian-ish weights (sum of 4 uniforms), like a trained linear layer. */
static void fill(float *x, size_t n)
{
    uint64_t s = 88172645463325252ull;
    for (size_t i = 0; i < n; i++) {
        float acc = 0;
        for (int k = 0; k < 4; k++) {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            acc += (float)(s >> 40) * 0x1p-24f - 0.5f;
        }
        x[i] = 0.02f * acc;
    }
}

/* One persistent pool of the online cores for the "auto" rows, as a caller
 * that repeats uses it (mx_fake_quant_on); NULL = 1 thread. */
static pool *auto_pool;

/* Best of reps wall times of `calls` back-to-back calls, seconds per call. */
static double time_fq(mx_simd p, int threads, mx_format f, const float *in, float *out, size_t rows,
                      size_t cols, int reps, int calls)
{
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = bench_now();
        for (int c = 0; c < calls; c++)
            if (threads == 1 ? mx_fake_quant_with(p, 1, f, in, out, rows, cols)
                             : mx_fake_quant_on(auto_pool, p, f, in, out, rows, cols))
                return -1;
        double t = (bench_now() - t0) / calls;
        if (t < best)
            best = t;
    }
    return best;
}

static double time_memcpy(float *out, const float *in, size_t bytes, int calls)
{
    double best = 1e30;
    for (int r = 0; r < 10; r++) {
        double t0 = bench_now();
        for (int c = 0; c < calls; c++) {
            memcpy(out, in, bytes);
            __asm__ volatile("" ::: "memory"); /* keep every copy */
        }
        double t = (bench_now() - t0) / calls;
        if (t < best)
            best = t;
    }
    return best;
}

/* One table: every format on every path (and thread setting) for rows x cols. */
static void table(size_t rows, size_t cols, const float *in, float *out, mx_simd only, int with_threads)
{
    size_t bytes = rows * cols * sizeof(float);
    /* Small matrices: repeat calls so each timing covers a few milliseconds. */
    int calls = bytes >= ((size_t)16 << 20) ? 1 : (int)(((size_t)64 << 20) / bytes);
    double tm = time_memcpy(out, in, bytes, calls);
    double mgb = (double)bytes / tm / 1e9;
    printf("\nMX fake-quant of a %zux%zu fp32 matrix (%.2f MB)\n", rows, cols, (double)bytes / 1e6);
    printf("memcpy of the same bytes: %.3f ms, %.2f GB/s (ratio = GB/s / memcpy GB/s)\n", tm * 1e3, mgb);
    printf("%-14s %-7s %-7s %10s %9s %7s %9s\n", "format", "path", "threads", "ms", "GB/s", "ratio",
           "vs scalar");
    int worst_f = -1;
    double worst = 1e30;
    for (int fi = 0; fi < MX_NFORMATS; fi++) {
        mx_format f = (mx_format)fi;
        double scalar_t = -1, fastest = 1e30;
        for (int p = MX_SIMD_SCALAR; p < MX_NSIMD; p++) {
            if (!mx_simd_supported((mx_simd)p) || (only != MX_SIMD_AUTO && (int)only != p))
                continue;
            static const int threads[] = {1, 0};
            for (int ti = 0; ti < (with_threads ? 2 : 1); ti++) {
                int reps = p == MX_SIMD_SCALAR ? 2 : 6;
                int nc = p == MX_SIMD_SCALAR ? (calls + 19) / 20 : calls;
                double t = time_fq((mx_simd)p, threads[ti], f, in, out, rows, cols, reps, nc);
                if (t < 0)
                    continue;
                if (p == MX_SIMD_SCALAR && ti == 0)
                    scalar_t = t;
                if (ti == 0 && t < fastest)
                    fastest = t;
                double gb = (double)bytes / t / 1e9;
                char vs[16] = "";
                if (scalar_t > 0)
                    snprintf(vs, sizeof vs, "%.1fx", scalar_t / t);
                printf("%-14s %-7s %-7s %10.3f %9.2f %7.2f %9s\n", mx_format_name(f),
                       mx_simd_name((mx_simd)p), threads[ti] ? "1" : "auto", t * 1e3, gb, gb / mgb, vs);
            }
        }
        /* the auto path (what every caller runs) against the fastest, one thread */
        if (only == MX_SIMD_AUTO) {
            double t = time_fq(MX_SIMD_AUTO, 1, f, in, out, rows, cols, 6, calls);
            if (t > 0) {
                printf("%-14s %-7s %-7s %10.3f %9.2f %7.2f  = %s, %.2fx the fastest\n", mx_format_name(f), "auto", "1",
                       t * 1e3, (double)bytes / t / 1e9, (double)bytes / t / 1e9 / mgb,
                       mx_simd_name(mx_simd_best_for(f, rows, cols)), fastest / t);
                if (fastest / t < worst)
                    worst = fastest / t, worst_f = fi;
            }
        }
    }
    if (worst_f >= 0)
        printf("auto path vs the fastest, worst format: %s %.2fx (target >= 0.9)\n",
               mx_format_name((mx_format)worst_f), worst);
}

int main(int argc, char **argv)
{
    size_t rows = 4096, cols = 4096;
    if (argc == 3) {
        rows = strtoul(argv[1], NULL, 10);
        cols = strtoul(argv[2], NULL, 10);
    }
    if (argc != 1 && argc != 3) {
        fprintf(stderr, "usage: bench_mx [ROWS COLS]\n");
        return 2;
    }
    if (!rows || !cols) {
        fprintf(stderr, "bench_mx: ROWS and COLS must be positive\n");
        return 2;
    }
    mx_simd only = MX_SIMD_AUTO;
    const char *env = getenv("MXALLOC_SIMD");
    if (env && *env && mx_simd_parse(env, &only)) {
        fprintf(stderr, "bench_mx: MXALLOC_SIMD: unknown path '%s' (scalar, avx2, avx512, auto)\n", env);
        return 2;
    }
    size_t n = rows * cols, bytes = n * sizeof(float);
    float *in = malloc(bytes), *out = malloc(bytes);
    if (!in || !out) {
        fprintf(stderr, "bench_mx: out of memory for %zu x %zu\n", rows, cols);
        return 1;
    }
    fill(in, n);
    memset(out, 0, bytes);
    printf("widest path on this CPU: %s; auto runs the one measured fastest for the size\n",
           mx_simd_name(mx_simd_best()));
    auto_pool = pool_create(0);
    printf("threads \"auto\": a persistent pool of %d\n", pool_threads(auto_pool));
    table(rows, cols, in, out, only, 1);
    /* A cache-resident matrix shows the arithmetic rate that memory hides above
     * (the scoring loop's layers are this size or smaller). */
    if (argc == 1)
        table(128, 1024, in, out, only, 0);
    pool_free(auto_pool);
    free(in);
    free(out);
    return 0;
}
