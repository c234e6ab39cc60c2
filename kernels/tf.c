/* tf_ctx: the reusable workspace of the forward pass, shapes, row helpers. */
#include "kernels/tf_internal.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define TF_MAX_THREADS 8
#define TF_ATT_SCRATCH_BYTES (64u << 20) /* score buffers: more heads per threaded phase */
#define TF_CHUNK_ROWS TF_NLL_MAX_CHUNK /* lm_head GEMM rows per tf_nll chunk */
#define TF_CHUNK_FLOATS (16u << 20)     /* ... and at most 64 MB of logits */

void tf_linear_shape(const tf_config *c, int which, int *rows, int *cols)
{
    int qd = c->n_heads * c->head_dim, kd = c->n_kv_heads * c->head_dim;
    int r = 0, k = 0;
    switch (which) {
    case TF_Q: r = qd; k = c->dim; break;
    case TF_K: case TF_V: r = kd; k = c->dim; break;
    case TF_O: r = c->dim; k = qd; break;
    case TF_GATE: case TF_UP: r = c->hidden_dim; k = c->dim; break;
    case TF_DOWN: r = c->dim; k = c->hidden_dim; break;
    default: break;
    }
    if (rows)
        *rows = r;
    if (cols)
        *cols = k;
}

int tf_config_check(const tf_config *c)
{
    if (!c || c->dim <= 0 || c->hidden_dim <= 0 || c->n_layers <= 0 || c->n_heads <= 0 ||
        c->n_kv_heads <= 0 || c->head_dim <= 0 || c->vocab_size <= 0 || c->max_seq <= 0)
        return -1;
    if (c->n_heads % c->n_kv_heads || c->head_dim % 2)
        return -1;
    if (c->rope_style != TF_ROPE_INTERLEAVED && c->rope_style != TF_ROPE_HALF)
        return -1;
    if (!(c->norm_eps >= 0.0f) || !(c->rope_theta > 0.0f))
        return -1;
    return 0;
}

static float *falloc(size_t count)
{
    if (count == 0)
        count = 1;
    if (count > SIZE_MAX / sizeof(float))
        return NULL;
    return calloc(count, sizeof(float));
}

static void acts_free(tf_layer_acts *a)
{
    float **p[] = {&a->xn1, &a->r1, &a->q_raw, &a->k_raw, &a->rq, &a->rk, &a->q, &a->k,
                   &a->v, &a->att, &a->ao, &a->h, &a->xn2, &a->r2, &a->g, &a->u, &a->a};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) {
        free(*p[i]);
        *p[i] = NULL;
    }
}

static int acts_alloc(tf_layer_acts *a, const tf_config *c, size_t n, int keep_att)
{
    size_t qd = (size_t)c->n_heads * c->head_dim, kd = (size_t)c->n_kv_heads * c->head_dim;
    size_t d = c->dim, hd = c->hidden_dim;
    memset(a, 0, sizeof *a);
    a->xn1 = falloc(n * d);
    a->r1 = falloc(n);
    if (c->qk_norm) {
        a->q_raw = falloc(n * qd);
        a->k_raw = falloc(n * kd);
        a->rq = falloc(n * c->n_heads);
        a->rk = falloc(n * c->n_kv_heads);
        if (!a->q_raw || !a->k_raw || !a->rq || !a->rk)
            return -1;
    }
    a->q = falloc(n * qd);
    a->k = falloc(n * kd);
    a->v = falloc(n * kd);
    if (keep_att && !(a->att = falloc((size_t)c->n_heads * n * n)))
        return -1;
    a->ao = falloc(n * qd);
    a->h = falloc(n * d);
    a->xn2 = falloc(n * d);
    a->r2 = falloc(n);
    a->g = falloc(n * hd);
    a->u = falloc(n * hd);
    a->a = falloc(n * hd);
    if (!a->xn1 || !a->r1 || !a->q || !a->k || !a->v || !a->ao || !a->h || !a->xn2 || !a->r2 ||
        !a->g || !a->u || !a->a)
        return -1;
    return 0;
}

void tf_ctx_free(tf_ctx *t)
{
    if (!t)
        return;
    if (t->acts)
        for (int i = 0; i < t->n_acts; i++)
            acts_free(&t->acts[i]);
    free(t->acts);
    free(t->xs);
    free(t->rope);
    free(t->xf);
    free(t->rf);
    free(t->chunk);
    free(t->att_scratch);
    pool_free(t->pool);
    free(t);
}

tf_ctx *tf_ctx_create(const tf_config *c, int max_n, int flags)
{
    if (tf_config_check(c) || max_n <= 0)
        return NULL;
    tf_ctx *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->c = *c;
    t->max_n = max_n;
    t->flags = flags;
    int np = pool_cpus();
    t->nthreads = np > TF_MAX_THREADS ? TF_MAX_THREADS : np;
    if (t->nthreads > c->n_heads)
        t->nthreads = c->n_heads;
    /* As many heads per attention phase as 64 MB of scores allow (fewer thread
     * hand-offs), at least one per thread. */
    size_t per_head = (size_t)max_n * (size_t)max_n * sizeof(float);
    size_t fit = TF_ATT_SCRATCH_BYTES / per_head;
    t->att_group = fit > (size_t)c->n_heads ? c->n_heads : (int)fit;
    if (t->att_group < t->nthreads)
        t->att_group = t->nthreads;
    size_t n = (size_t)max_n, d = (size_t)c->dim;
    int keep = (flags & TF_KEEP_ACTS) != 0;
    t->n_acts = keep ? c->n_layers : 1;
    t->acts = calloc((size_t)t->n_acts, sizeof *t->acts);
    t->xs = falloc(((size_t)c->n_layers + 1) * n * d);
    t->rope = falloc(n * (size_t)c->head_dim);
    t->xf = falloc(n * d);
    t->rf = falloc(n);
    t->chunk_rows = max_n < TF_CHUNK_ROWS ? max_n : TF_CHUNK_ROWS;
    if ((size_t)t->chunk_rows * (size_t)c->vocab_size > TF_CHUNK_FLOATS)
        t->chunk_rows = (int)(TF_CHUNK_FLOATS / (size_t)c->vocab_size);
    if (t->chunk_rows < 1)
        t->chunk_rows = 1;
    t->chunk = falloc((size_t)t->chunk_rows * (size_t)c->vocab_size);
    if (!keep)
        t->att_scratch = falloc((size_t)t->att_group * n * n);
    if (!t->acts || !t->xs || !t->rope || !t->xf || !t->rf || !t->chunk ||
        (!keep && !t->att_scratch))
        goto fail;
    for (int i = 0; i < t->n_acts; i++)
        if (acts_alloc(&t->acts[i], c, n, keep))
            goto fail;
    int half = c->head_dim / 2;
    for (int p = 0; p < max_n; p++)
        for (int i = 0; i < half; i++) {
            double freq = pow((double)c->rope_theta, -2.0 * i / (double)c->head_dim);
            double ang = (double)p * freq;
            t->rope[((size_t)p * half + i) * 2] = (float)cos(ang);
            t->rope[((size_t)p * half + i) * 2 + 1] = (float)sin(ang);
        }
    return t;
fail:
    tf_ctx_free(t);
    return NULL;
}

const tf_config *tf_ctx_config(const tf_ctx *t) { return &t->c; }

int tf_ctx_set_threads(tf_ctx *t, int n)
{
    if (n < 1)
        n = 1;
    if (n > TF_MAX_THREADS)
        n = TF_MAX_THREADS;
    if (n > t->c.n_heads)
        n = t->c.n_heads;
    if (t->att_scratch && n > t->att_group) { /* at least one n x n score buffer per thread */
        size_t nn = (size_t)t->max_n * t->max_n;
        float *p = realloc(t->att_scratch, sizeof(float) * nn * (size_t)n);
        if (p) {
            t->att_scratch = p;
            t->att_group = n;
        } else {
            n = t->att_group;
        }
    }
    if (t->pool && pool_threads(t->pool) != n) { /* remade at the new size on next use */
        pool_free(t->pool);
        t->pool = NULL;
    }
    t->nthreads = n;
    return n;
}

pool *tf_ctx_pool(tf_ctx *t)
{
    /* Made on first use, so a context that never runs a threaded phase never
     * starts a thread. Out of memory: NULL, and the phases run serially. */
    if (!t->pool && t->nthreads > 1)
        t->pool = pool_create(t->nthreads);
    return t->pool;
}

int tf_ctx_max_n(const tf_ctx *t) { return t->max_n; }

void tf_ctx_set_linear(tf_ctx *t, tf_linear_fn fn, void *user)
{
    t->linear = fn;
    t->linear_user = fn ? user : NULL;
}
int tf_ctx_threads(const tf_ctx *t) { return t->nthreads; }
int tf_ctx_n(const tf_ctx *t) { return t->n; }

float *tf_block_input(tf_ctx *t, int l)
{
    if (l < 0 || l > t->c.n_layers)
        return NULL;
    return t->xs + (size_t)l * t->max_n * t->c.dim;
}

const tf_layer_acts *tf_acts(const tf_ctx *t, int l)
{
    if (l < 0 || l >= t->c.n_layers)
        return NULL;
    return &t->acts[t->n_acts > 1 ? l : 0];
}

const float *tf_final_hidden(const tf_ctx *t) { return t->xf; }
const float *tf_final_rms(const tf_ctx *t) { return t->rf; }

float tf_rmsnorm_row(float *y, const float *x, const float *w, int d, float eps)
{
    double ss = 0.0;
    for (int i = 0; i < d; i++)
        ss += (double)x[i] * x[i];
    float r = (float)(1.0 / sqrt(ss / d + (double)eps));
    for (int i = 0; i < d; i++)
        y[i] = x[i] * r * w[i];
    return r;
}

void tf_rope_head(float *x, const float *cs, int head_dim, int style)
{
    int half = head_dim / 2;
    for (int i = 0; i < half; i++) {
        float c = cs[2 * i], s = cs[2 * i + 1];
        float *a, *b;
        if (style == TF_ROPE_INTERLEAVED) {
            a = &x[2 * i];
            b = &x[2 * i + 1];
        } else {
            a = &x[i];
            b = &x[i + half];
        }
        float x0 = *a, x1 = *b;
        *a = x0 * c - x1 * s;
        *b = x0 * s + x1 * c;
    }
}
