/* Backward of causal grouped-query attention, threaded over query heads.
 * Per head it is five n x n GEMM-shaped products (BLAS); the softmax P is
 * either the forward's saved matrix or recomputed by the forward's code.
 * Each head writes its own dQ slice and its own dK/dV partial; partials are
 * summed in head order afterwards, so the result does not depend on the
 * thread count. */
#include "kernels/tf_backward.h"
#include "kernels/tf_internal.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/err.h"
#include "kernels/pool.h"

#define ATTN_MAX_THREADS 16
#define TINY 1e-30f /* magnitudes below this are flushed to zero (see head_backward) */

typedef struct attn_job {
    const float *q, *k, *v, *dout, *att;
    float *dq;
    float *dk_part, *dv_part; /* [n_heads][n][head_dim] */
    int n, n_heads, n_kv, head_dim;
    int n_threads;
    float *scratch; /* [n_threads][2][n][n] */
} attn_job;

static void gemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                 const float *b, int ldb, float beta, float *c, int ldc)
{
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m,
                n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/* With S = scale Q K^T, P = softmax(S), O = P V:
 * dV = P^T dO, dP = dO V^T, dS = scale P * (dP - rowsum(P * dP)),
 * dQ = dS K, dK = dS^T Q. */
static void head_backward(const attn_job *j, int h, float *Sbuf, float *dP)
{
    int n = j->n, hd = j->head_dim, g = h / (j->n_heads / j->n_kv);
    int qs = j->n_heads * hd, ks = j->n_kv * hd;
    const float *Q = j->q + (size_t)h * hd, *dO = j->dout + (size_t)h * hd;
    const float *K = j->k + (size_t)g * hd, *V = j->v + (size_t)g * hd;
    float *dk = j->dk_part + (size_t)h * n * hd, *dv = j->dv_part + (size_t)h * n * hd;
    float scale = (float)(1.0 / sqrt((double)hd));
    /* P goes into Sbuf, saved or recomputed, with tiny entries flushed to 0:
     * a peaked softmax yields subnormal floats that make BLAS kernels crawl
     * (microcode assists) while contributing nothing measurable. */
    float *P = Sbuf;
    if (j->att) {
        const float *src = j->att + (size_t)h * n * n;
        for (size_t i = 0; i < (size_t)n * n; i++)
            P[i] = src[i] >= TINY ? src[i] : 0.0f;
    } else {
        /* The forward's own code (not a copy): a recomputed P equals a saved
         * one bit for bit, so both paths of tf_backward agree. */
        tf_attn_scores(P, Q, qs, K, ks, n, hd);
        tf_causal_softmax(P, n);
        for (size_t i = 0; i < (size_t)n * n; i++)
            P[i] = P[i] >= TINY ? P[i] : 0.0f;
    }
    gemm(1, 0, n, hd, n, 1.0f, P, n, dO, qs, 0.0f, dv, hd);
    gemm(0, 1, n, n, hd, 1.0f, dO, qs, V, ks, 0.0f, dP, n);
    for (int t = 0; t < n; t++) {
        const float *p = P + (size_t)t * n;
        float *d = dP + (size_t)t * n;
        double D = 0.0;
        for (int s = 0; s <= t; s++)
            D += (double)p[s] * d[s];
        float Df = (float)D;
        for (int s = 0; s <= t; s++) {
            float x = scale * p[s] * (d[s] - Df);
            d[s] = fabsf(x) >= TINY ? x : 0.0f;
        }
        if (t + 1 < n)
            memset(d + t + 1, 0, sizeof(float) * (size_t)(n - t - 1));
    }
    if (j->dq)
        gemm(0, 0, n, hd, n, 1.0f, dP, n, K, ks, 1.0f, j->dq + (size_t)h * hd, qs);
    gemm(1, 0, n, hd, n, 1.0f, dP, n, Q, qs, 0.0f, dk, hd);
}

/* Task tid of nth (nth == j->n_threads): heads tid, tid + nth, ... with
 * scratch slot tid. Each head's arithmetic is the same whoever runs it. */
static void attn_worker(void *arg, int tid, int nth)
{
    const attn_job *j = arg;
    size_t nn = (size_t)j->n * j->n;
    float *S = j->scratch + (size_t)tid * 2 * nn, *dP = S + nn;
    for (int h = tid; h < j->n_heads; h += nth)
        head_backward(j, h, S, dP);
}

/* Automatic (requested <= 0): the heads call BLAS, so when OpenBLAS runs its
 * own threads the heads go one after the other on the calling thread, each
 * GEMM threaded by OpenBLAS. Calling it from several threads at once made the
 * calls queue for its one thread pool (a third of the CPU time spent spinning
 * in exec_blas_async / sched_yield; the whole backward 2x slower on SmolLM2
 * shapes). With a single-threaded OpenBLAS the heads spread over the pool. */
static int thread_count(const pool *p, int requested, int n_heads)
{
    int t = requested;
    if (t <= 0)
        t = openblas_get_num_threads() > 1 ? 1 : pool_threads(p);
    if (t > n_heads)
        t = n_heads;
    if (t > ATTN_MAX_THREADS)
        t = ATTN_MAX_THREADS;
    return t < 1 ? 1 : t;
}

int tf_bwd_attention(pool *p, const float *q, const float *k, const float *v,
                     const float *att, const float *dout, int n, int n_heads, int n_kv,
                     int head_dim, int n_threads, float *dq, float *dk, float *dv)
{
    if (n <= 0)
        return 0;
    attn_job j = {.q = q, .k = k, .v = v, .dout = dout, .att = att, .dq = dq, .n = n,
                  .n_heads = n_heads, .n_kv = n_kv, .head_dim = head_dim,
                  .n_threads = thread_count(p, n_threads, n_heads)};
    size_t part = (size_t)n_heads * n * head_dim;
    j.dk_part = malloc(2 * part * sizeof *j.dk_part);
    j.scratch = malloc((size_t)j.n_threads * 2 * n * n * sizeof *j.scratch);
    if (!j.dk_part || !j.scratch) {
        free(j.dk_part);
        free(j.scratch);
        return ERR_NOMEM;
    }
    j.dv_part = j.dk_part + part;

    pool_run(j.n_threads > 1 ? p : NULL, j.n_threads, attn_worker, &j);

    int group = n_heads / n_kv;
    size_t ks = (size_t)n_kv * head_dim;
    for (int h = 0; h < n_heads; h++) { /* fixed head order: deterministic sums */
        int g = h / group;
        const float *pk = j.dk_part + (size_t)h * n * head_dim;
        const float *pv = j.dv_part + (size_t)h * n * head_dim;
        for (int t = 0; t < n; t++) {
            size_t o = t * ks + (size_t)g * head_dim, po = (size_t)t * head_dim;
            if (dk)
                for (int i = 0; i < head_dim; i++)
                    dk[o + i] += pk[po + i];
            if (dv)
                for (int i = 0; i < head_dim; i++)
                    dv[o + i] += pv[po + i];
        }
    }
    free(j.dk_part);
    free(j.scratch);
    return 0;
}
