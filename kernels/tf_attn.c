/* Causal grouped-query attention, one GEMM pair per head. Heads go in groups
 * (as many as the score scratch holds, so few thread hand-offs): the calling
 * thread computes the group's scores with OpenBLAS, pthreads share the group's
 * softmaxes by head, the calling thread does P V. Each head is computed
 * independently, so the thread count never changes results. */
#include "kernels/tf_internal.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#include "kernels/gemm.h"

#define TF_ATTN_MAX_THREADS 8
#define TF_ATTN_MIN_THREADED_N 64
#define TF_ATTN_MAX_GROUP 256 /* heads per phase (bounded stack array) */
#define TF_ATTN_ROW_BLOCK 128 /* causal skipping: ~(1 + 128/n)/2 of the full n x n work */

/* In-place causal softmax of the n x n score matrix S (row i keeps 0..i). */
static void causal_softmax(float *S, int n)
{
    for (int i = 0; i < n; i++) {
        float *row = S + (size_t)i * n;
        float mx = row[0];
        for (int j = 1; j <= i; j++)
            mx = row[j] > mx ? row[j] : mx;
        double s0 = 0.0, s1 = 0.0; /* two chains: the sum is not the bottleneck */
        int j = 0;
        for (; j + 1 <= i; j += 2) {
            row[j] = expf(row[j] - mx);
            row[j + 1] = expf(row[j + 1] - mx);
            s0 += row[j];
            s1 += row[j + 1];
        }
        for (; j <= i; j++) {
            row[j] = expf(row[j] - mx);
            s0 += row[j];
        }
        float inv = (float)(1.0 / (s0 + s1));
        for (j = 0; j <= i; j++)
            row[j] *= inv;
        if (i + 1 < n)
            memset(row + i + 1, 0, sizeof(float) * (size_t)(n - i - 1));
    }
}

typedef struct softmax_job {
    float **S;       /* the group's score matrices */
    int n, cnt;      /* rows, heads in the group */
    int first, step; /* this worker's heads: first, first+step, ... */
} softmax_job;

static void *softmax_run(void *arg)
{
    softmax_job *j = arg;
    for (int i = j->first; i < j->cnt; i += j->step)
        causal_softmax(j->S[i], j->n);
    return NULL;
}

void tf_attention(tf_ctx *t, tf_layer_acts *A)
{
    const tf_config *c = &t->c;
    int n = t->n, hd = c->head_dim;
    int qd = c->n_heads * hd, kd = c->n_kv_heads * hd;
    int group = c->n_heads / c->n_kv_heads;
    float scale = (float)(1.0 / sqrt((double)hd));
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
            /* S = scale * Q_h K_g^T (row stride n), by row blocks that stop at the
             * diagonal block; the softmax zeroes everything right of the diagonal */
            for (int r0 = 0; r0 < n; r0 += TF_ATTN_ROW_BLOCK) {
                int rb = n - r0 < TF_ATTN_ROW_BLOCK ? n - r0 : TF_ATTN_ROW_BLOCK;
                gemm_f32(0, 1, rb, r0 + rb, hd, scale, A->q + (size_t)r0 * qd + (size_t)h * hd,
                         qd, A->k + (size_t)g * hd, kd, 0.0f, S[i] + (size_t)r0 * n, n);
            }
        }
        int use = nt < cnt ? nt : cnt;
        softmax_job jobs[TF_ATTN_MAX_THREADS];
        pthread_t th[TF_ATTN_MAX_THREADS];
        int started[TF_ATTN_MAX_THREADS] = {0};
        for (int i = 0; i < use; i++)
            jobs[i] = (softmax_job){S, n, cnt, i, use};
        for (int i = 1; i < use; i++)
            started[i] = pthread_create(&th[i], NULL, softmax_run, &jobs[i]) == 0;
        softmax_run(&jobs[0]);
        for (int i = 1; i < use; i++) {
            if (started[i])
                pthread_join(th[i], NULL);
            else /* could not start a thread: same work here, same result */
                softmax_run(&jobs[i]);
        }
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
