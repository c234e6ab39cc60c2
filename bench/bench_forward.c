/* Prefill throughput of the batched forward pass on synthetic models with the
 * shapes of llama2.c stories15M, SmolLM2-135M, Qwen3-0.6B, Llama-3.2-1B and
 * Llama-3-8B (its first 2 of 32 blocks, extrapolated), against bare
 * cblas_sgemm of the same linears and lm_head (issue 14's target: >= 0.65),
 * and the GFLOP/s of the gemm_ path relative to plain cblas_sgemm (same run). */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_clock.h"
#include "bench/bench_shapes.h"
#include "kernels/gemm.h"
#include "kernels/tf.h"
#include "tests/tf_rand.h"

typedef struct shape {
    const char *name;
    tf_config c;
    int tied;
    int ctx;
    int full_layers; /* the real model's blocks when c has fewer (extrapolated), else 0 */
} shape;

#define PREFILL_TARGET 0.65

static double linear_flops(const tf_config *c, int layers, int n)
{
    double f = 0;
    for (int k = 0; k < TF_NLIN; k++) {
        int r, cc;
        tf_linear_shape(c, k, &r, &cc);
        f += 2.0 * r * cc;
    }
    return (f * layers + 2.0 * c->vocab_size * c->dim) * n;
}

/* Prints the shape's line; returns bare / forward (the prefill ratio). */
static double bench_model(const shape *s, int reps, int single_too)
{
    tf_rand_model m;
    if (tf_rand_model_init(&m, &s->c, s->tied, 1)) {
        fprintf(stderr, "%s: out of memory\n", s->name);
        exit(1);
    }
    tf_ctx *t = tf_ctx_create(&s->c, s->ctx, 0);
    if (!t) {
        fprintf(stderr, "%s: out of memory for the workspace\n", s->name);
        exit(1);
    }
    int n = s->ctx;
    int *tok = malloc(sizeof(int) * (n + 1));
    uint64_t st = 3;
    for (int i = 0; i <= n; i++)
        tok[i] = (int)((tf_rand_uniform(&st) + 1.0f) * 0.5f * s->c.vocab_size) % s->c.vocab_size;
    double best = 1e30, best_blocks = 1e30, best_head = 1e30, nll = 0;
    for (int r = 0; r < reps + 1; r++) { /* first run warms up */
        double t0 = bench_now();
        tf_forward(t, &m.w, tok, n, 0);
        double t1 = bench_now();
        nll = tf_nll(t, &m.w, tok + 1, NULL) / n;
        double t2 = bench_now();
        if (r == 0)
            continue;
        if (t2 - t0 < best)
            best = t2 - t0;
        if (t1 - t0 < best_blocks)
            best_blocks = t1 - t0;
        if (t2 - t1 < best_head)
            best_head = t2 - t1;
    }
    /* the same linears and lm_head as bare cblas_sgemm calls: the floor the
     * forward pass is measured against in this run */
    int maxr = s->c.vocab_size, maxc = s->c.hidden_dim > s->c.dim ? s->c.hidden_dim : s->c.dim;
    if (s->c.n_heads * s->c.head_dim > maxc)
        maxc = s->c.n_heads * s->c.head_dim;
    float *xin = calloc((size_t)n * maxc, sizeof(float));
    float *yout = malloc(sizeof(float) * (size_t)n * maxr);
    double bare = 1e30, bare_head = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = bench_now();
        for (int l = 0; l < s->c.n_layers; l++)
            for (int k = 0; k < TF_NLIN; k++) {
                int rows, cols;
                tf_linear_shape(&s->c, k, &rows, &cols);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, rows, cols, 1.0f, xin,
                            cols, m.w.layers[l].lin[k], cols, 0.0f, yout, rows);
            }
        double th = bench_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, s->c.vocab_size, s->c.dim, 1.0f,
                    xin, s->c.dim, m.w.lm_head, s->c.dim, 0.0f, yout, s->c.vocab_size);
        double t1 = bench_now();
        if (t1 - t0 < bare)
            bare = t1 - t0;
        if (t1 - th < bare_head)
            bare_head = t1 - th;
    }
    free(xin);
    free(yout);
    int layers = s->c.n_layers;
    if (s->full_layers) { /* blocks scale with their count, the head does not */
        double k = (double)s->full_layers / s->c.n_layers;
        best_blocks *= k;
        best = best_blocks + best_head;
        bare = (bare - bare_head) * k + bare_head;
        layers = s->full_layers;
    }
    double fl = linear_flops(&s->c, layers, n);
    char note[64] = "";
    if (s->full_layers)
        snprintf(note, sizeof note, " [%d of %d blocks measured, extrapolated]", s->c.n_layers, s->full_layers);
    printf("%-14s ctx %4d: prefill %7.0f tok/s, %.3f s/window (blocks %.3f, lm_head+nll %.3f),"
           " %.1f GFLOP/s on linears+head%s\n"
           "               bare cblas_sgemm of the same linears+head: %.3f s (%.1f GFLOP/s);"
           " bare / forward = %.2f\n",
           s->name, n, n / best, best, best_blocks, best_head, fl / best * 1e-9,
           note, bare, fl / bare * 1e-9,
           bare / best);
    if (single_too) { /* the same forward with our own threads off (OpenBLAS keeps its threads) */
        int nt = tf_ctx_threads(t);
        tf_ctx_set_threads(t, 1);
        double single = 1e30;
        for (int r = 0; r < reps; r++) {
            double t0 = bench_now();
            tf_forward(t, &m.w, tok, n, 0);
            tf_nll(t, &m.w, tok + 1, NULL);
            double t1 = bench_now();
            if (t1 - t0 < single)
                single = t1 - t0;
        }
        tf_ctx_set_threads(t, nt);
        printf("               softmax/NLL on 1 thread instead of %d: %.3f s/window\n", nt, single);
    }
    (void)nll;
    free(tok);
    tf_ctx_free(t);
    tf_rand_model_free(&m);
    return bare / best;
}

/* GFLOP/s of gemm_linear vs cblas_sgemm for Y[n][rows] = X[n][cols] W^T. */
static void bench_gemm(const char *what, int n, int rows, int cols)
{
    float *x = malloc(sizeof(float) * n * cols), *w = malloc(sizeof(float) * rows * cols);
    float *y = malloc(sizeof(float) * n * rows);
    uint64_t st = 9;
    for (long i = 0; i < (long)n * cols; i++)
        x[i] = tf_rand_uniform(&st);
    for (long i = 0; i < (long)rows * cols; i++)
        w[i] = tf_rand_uniform(&st);
    double fl = 2.0 * n * rows * cols;
    int reps = (int)(2e9 / fl) + 1;
    double tg = 1e30, tb = 1e30;
    for (int round = 0; round < 3; round++) {
        double t0 = bench_now();
        for (int r = 0; r < reps; r++)
            gemm_linear(n, rows, cols, x, w, 0.0f, y);
        double t1 = bench_now();
        for (int r = 0; r < reps; r++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, rows, cols, 1.0f, x, cols, w,
                        cols, 0.0f, y, rows);
        double t2 = bench_now();
        if (t1 - t0 < tg)
            tg = t1 - t0;
        if (t2 - t1 < tb)
            tb = t2 - t1;
    }
    printf("  gemm %-22s %4d x %5d x %4d: gemm_ %6.1f GFLOP/s, cblas %6.1f GFLOP/s, ratio %.3f\n",
           what, n, rows, cols, fl * reps / tg * 1e-9, fl * reps / tb * 1e-9, tb / tg);
    free(x);
    free(w);
    free(y);
}

int main(void)
{
    shape smol = {"SmolLM2-135M", BENCH_SMOLLM2_135M, 1, 512, 0};
    shape s15 = {"stories15M", BENCH_STORIES15M, 0, 256, 0};
    shape qwen = {"Qwen3-0.6B", BENCH_QWEN3_0_6B, 1, 512, 0};
    shape l1b = {"Llama-3.2-1B", BENCH_LLAMA32_1B, 1, 512, 0};
    shape l8b = {"Llama-3-8B", BENCH_LLAMA3_8B, 0, 512, 32};
    l8b.c.n_layers = 2; /* measured; the 32 extrapolated */
    printf("forward pass (fp32, synthetic weights; best of 3 after a warm-up, 2 for the 0.6B and larger)\n");
    const shape *all[] = {&s15, &smol, &qwen, &l1b, &l8b};
    double worst = 1e30;
    const char *worst_name = "";
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        int big = i >= 2;
        double r = bench_model(all[i], big ? 2 : 3, !big);
        if (r < worst) {
            worst = r;
            worst_name = all[i]->name;
        }
    }
    int ok = worst >= PREFILL_TARGET;
    printf("target: prefill >= %.2f of bare cblas_sgemm time for every shape: worst %s %.2f: %s\n",
           PREFILL_TARGET, worst_name, worst, ok ? "ok" : "MISSED");
    printf("GEMM path vs plain cblas_sgemm (ratio = cblas time / gemm_ time)\n");
    bench_gemm("smol q/o 576x576", 512, 576, 576);
    bench_gemm("smol k/v 192x576", 512, 192, 576);
    bench_gemm("smol gate/up", 512, 1536, 576);
    bench_gemm("smol down", 512, 576, 1536);
    bench_gemm("smol lm_head chunk", 128, 49152, 576);
    bench_gemm("15M qkvo", 256, 288, 288);
    bench_gemm("15M gate/up", 256, 768, 288);
    bench_gemm("15M down", 256, 288, 768);
    bench_gemm("15M lm_head chunk", 128, 32000, 288);
    return ok ? 0 : 1;
}
