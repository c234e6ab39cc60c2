/* Causal grouped-query attention, one GEMM pair per head. Heads go in groups
 * (as many as the score scratch holds, so few thread hand-offs): the calling
 * thread computes the group's scores with OpenBLAS, the context's pool shares
 * the group's softmaxes by head, the calling thread does P V. Each head is computed
 * independently, so the thread count never changes results. */
#include "kernels/tf_internal.h"

#include <math.h>
#include <string.h>

#include "kernels/gemm.h"
#include "kernels/vexp.h"

#define TF_ATTN_MAX_THREADS 8
#define TF_ATTN_MIN_THREADED_N 64
#define TF_ATTN_MAX_GROUP 256 /* heads per phase (bounded stack array) */
#define TF_ATTN_ROW_BLOCK 128 /* causal skipping: ~(1 + 128/n)/2 of the full n x n work */

void tf_causal_softmax(float *S, int n)
{
    for (int i = 0; i < n; i++) {
        float *row = S + (size_t)i * n;
        size_t len = (size_t)i + 1;
        float inv = (float)(1.0 / vexp_shift(row, row, len, vexp_max(row, len)));
        for (size_t j = 0; j < len; j++)
            row[j] *= inv;
        if (i + 1 < n)
            memset(row + i + 1, 0, sizeof(float) * (size_t)(n - i - 1));
    }
}

void tf_attn_scores(float *S, const float *q, int qs, const float *k, int ks, int n, int hd)
{
    float scale = (float)(1.0 / sqrt((double)hd));
    /* By row blocks that stop at the diagonal block; the softmax zeroes
     * everything right of the diagonal. */
    for (int r0 = 0; r0 < n; r0 += TF_ATTN_ROW_BLOCK) {
        int rb = n - r0 < TF_ATTN_ROW_BLOCK ? n - r0 : TF_ATTN_ROW_BLOCK;
        gemm_f32(0, 1, rb, r0 + rb, hd, scale, q + (size_t)r0 * qs, qs, k, ks, 0.0f,
                 S + (size_t)r0 * n, n);
    }
}

typedef struct softmax_job {
    float **S; /* the group's score matrices */
    int n, cnt; /* rows, heads in the group */
} softmax_job;

/* Task ith of nth: heads ith, ith + nth, ... of the group. */
static void softmax_run(void *arg, int ith, int nth)
{
    softmax_job *j = arg;
    for (int i = ith; i < j->cnt; i += nth)
        tf_causal_softmax(j->S[i], j->n);
}

void tf_attention(tf_ctx *t, tf_layer_acts *A)
{
    const tf_config *c = &t->c;
    int n = t->n, hd = c->head_dim;
    int qd = c->n_heads * hd, kd = c->n_kv_heads * hd;
    int group = c->n_heads / c->n_kv_heads;
    int nt = t->nthreads < TF_ATTN_MAX_THREADS ? t->nthreads : TF_ATTN_MAX_THREADS;
    if (n < TF_ATTN_MIN_THREADED_N) /* a thread costs more than a tiny softmax */
        nt = 1;
    /* heads per phase: all of them when att is kept, else what the scratch holds */
    int G = A->att ? c->n_heads : t->att_group;
    size_t nn = (size_t)t->max_n * t->max_n;
    float *S[TF_ATTN_MAX_GROUP];
    if (G > TF_ATTN_MAX_GROUP)
        G = TF_ATTN_MAX_GROUP;
    for (int h0 = 0; h0 < c->n_heads; h0 += G) {
        int cnt = c->n_heads - h0 < G ? c->n_heads - h0 : G;
        for (int i = 0; i < cnt; i++) {
            int h = h0 + i, g = h / group;
            S[i] = A->att ? A->att + (size_t)h * n * n : t->att_scratch + i * nn;
            tf_attn_scores(S[i], A->q + (size_t)h * hd, qd, A->k + (size_t)g * hd, kd, n, hd);
        }
        int use = nt < cnt ? nt : cnt;
        softmax_job job = {S, n, cnt};
        pool_run(use > 1 ? tf_ctx_pool(t) : NULL, use, softmax_run, &job);
        for (int i = 0; i < cnt; i++) {
            int h = h0 + i, g = h / group;
            for (int r0 = 0; r0 < n; r0 += TF_ATTN_ROW_BLOCK) { /* P V, causal blocks */
                int rb = n - r0 < TF_ATTN_ROW_BLOCK ? n - r0 : TF_ATTN_ROW_BLOCK;
                gemm_f32(0, 0, rb, hd, r0 + rb, 1.0f, S[i] + (size_t)r0 * n, n,
                         A->v + (size_t)g * hd, kd, 0.0f,
                         A->ao + (size_t)r0 * qd + (size_t)h * hd, qd);
            }
        }
    }
}
