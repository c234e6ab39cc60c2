/* Per-op backward of the elementwise / row-wise transformer operations and
 * the linear layers (attention lives in tf_backward_attn.c). */
#include "kernels/tf_backward.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/err.h"
#include "kernels/pool.h"
#include "kernels/vexp.h"

void tf_bwd_embedding(const int *tok, int n, int dim, const float *dx, float *d_emb)
{
    /* Serial on purpose: repeated tokens add in position order (deterministic). */
    for (int t = 0; t < n; t++) {
        float *row = d_emb + (size_t)tok[t] * dim;
        const float *g = dx + (size_t)t * dim;
        for (int j = 0; j < dim; j++)
            row[j] += g[j];
    }
}

/* y_j = x_j w_j r, r = (mean(x^2) + eps)^-1/2:
 * dx_j = r w_j dy_j - x_j r^3 / d * sum_k dy_k w_k x_k ; dw_j = sum_t dy_j x_j r. */
void tf_bwd_rmsnorm(const float *x, const float *w, const float *dy, int n, int d, float eps,
                    float *dx, float *dw)
{
    for (int t = 0; t < n; t++) {
        const float *xr = x + (size_t)t * d, *gr = dy + (size_t)t * d;
        double ss = 0.0, dot = 0.0;
        for (int j = 0; j < d; j++) {
            ss += (double)xr[j] * xr[j];
            dot += (double)gr[j] * w[j] * xr[j];
        }
        double r = 1.0 / sqrt(ss / d + eps);
        if (dx) {
            float *o = dx + (size_t)t * d;
            float a = (float)r, b = (float)(r * r * r * dot / d);
            for (int j = 0; j < d; j++)
                o[j] += a * w[j] * gr[j] - b * xr[j];
        }
        if (dw) {
            float a = (float)r;
            for (int j = 0; j < d; j++)
                dw[j] += gr[j] * xr[j] * a;
        }
    }
}

void tf_bwd_head_rmsnorm(const float *x, const float *w, const float *dy, int n, int n_heads,
                         int head_dim, float eps, float *dx, float *dw)
{
    /* Heads are contiguous head_dim slices of each row: n * n_heads short rows. */
    tf_bwd_rmsnorm(x, w, dy, n * n_heads, head_dim, eps, dx, dw);
}

void tf_bwd_linear(const float *x, const float *w, const float *dy, int n, int rows, int cols,
                   float *dx, float *dw)
{
    if (n <= 0)
        return;
    if (dx) /* dx [n][cols] += dy [n][rows] * W [rows][cols] */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, cols, rows, 1.0f, dy, rows, w,
                    cols, 1.0f, dx, cols);
    if (dw) /* dW [rows][cols] += dy^T [rows][n] * x [n][cols] */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, rows, cols, n, 1.0f, dy, rows, x, cols,
                    1.0f, dw, cols);
}

int tf_bwd_linear_sq_tokens(const float *x, const float *dy, int n, int rows, int cols,
                            float scale, float *acc)
{
    if (n <= 0)
        return 0;
    size_t nx = (size_t)n * cols, ny = (size_t)n * rows;
    float *x2 = malloc(nx * sizeof *x2), *y2 = malloc(ny * sizeof *y2);
    if (!x2 || !y2) {
        free(x2);
        free(y2);
        return ERR_NOMEM;
    }
    for (size_t i = 0; i < nx; i++)
        x2[i] = x[i] * x[i];
    for (size_t i = 0; i < ny; i++)
        y2[i] = dy[i] * dy[i];
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, rows, cols, n, scale, y2, rows, x2, cols,
                1.0f, acc, cols);
    free(x2);
    free(y2);
    return 0;
}

void tf_bwd_sq_accum(const float *g, size_t len, float scale, float *acc)
{
    for (size_t i = 0; i < len; i++)
        acc[i] += scale * g[i] * g[i];
}

/* Rotate every pair by +angle (sign 1) or -angle (sign -1). The angles follow
 * the forward's table (kernels/tf.c): double, then cos/sin rounded to float. */
static void rope_rotate(float *d, int n, int n_heads, int head_dim, int pos0, float theta,
                        int style, float sign)
{
    int half = head_dim / 2;
    int width = n_heads * head_dim;
    for (int i = 0; i < half; i++) {
        double freq = pow((double)theta, -2.0 * i / (double)head_dim);
        int a = style == TF_ROPE_HALF ? i : 2 * i;
        int b = style == TF_ROPE_HALF ? i + half : 2 * i + 1;
        for (int t = 0; t < n; t++) {
            double ang = (double)(pos0 + t) * freq;
            float c = (float)cos(ang), s = sign * (float)sin(ang);
            for (int h = 0; h < n_heads; h++) {
                float *v = d + (size_t)t * width + (size_t)h * head_dim;
                float x0 = v[a], x1 = v[b];
                v[a] = x0 * c - x1 * s;
                v[b] = x0 * s + x1 * c;
            }
        }
    }
}

void tf_bwd_rope(float *d, int n, int n_heads, int head_dim, int pos0, float theta, int style)
{
    /* The rotation is orthogonal: its Jacobian transpose is the inverse rotation. */
    rope_rotate(d, n, n_heads, head_dim, pos0, theta, style, -1.0f);
}

void tf_bwd_rope_forward(float *x, int n, int n_heads, int head_dim, int pos0, float theta,
                         int style)
{
    rope_rotate(x, n, n_heads, head_dim, pos0, theta, style, 1.0f);
}

void tf_bwd_swiglu(const float *g, const float *u, const float *dh, size_t len, float *dg,
                   float *du)
{
    for (size_t i = 0; i < len; i++) {
        float s = 1.0f / (1.0f + expf(-g[i]));
        float silu = g[i] * s;
        if (dg)
            dg[i] += dh[i] * u[i] * s * (1.0f + g[i] * (1.0f - s));
        if (du)
            du[i] += dh[i] * silu;
    }
}

/* One row: writes scale/count * (softmax - onehot) into g (may alias l) and
 * returns the row's NLL; c = scale / count. */
static double ce_row(const float *l, float *g, int y, int vocab, double c)
{
    float ly = l[y], m = vexp_max(l, (size_t)vocab);
    /* g may alias l: keep exp(l - m) in g, then scale it to probabilities. */
    double sum = vexp_shift(g, l, (size_t)vocab, m);
    float p = (float)(c / sum);
    /* Flush what would be (near-)subnormal: such probabilities change nothing
     * measurable but slow every later GEMM down many times. */
    for (int j = 0; j < vocab; j++) {
        float v = g[j] * p;
        g[j] = v >= 1e-30f ? v : 0.0f;
    }
    g[y] -= (float)c;
    return m + log(sum) - ly;
}

typedef struct ce_job {
    const float *logits;
    const int *targets;
    float *dlogits;
    double *row_nll;
    int n, vocab;
    double c;
} ce_job;

/* Row t of the job: its gradient row (zero when ignored) and NLL (0 then). */
static double ce_one(const ce_job *j, int t)
{
    float *g = j->dlogits + (size_t)t * j->vocab;
    int y = j->targets[t];
    if (y < 0 || y >= j->vocab) {
        memset(g, 0, (size_t)j->vocab * sizeof *g);
        return 0.0;
    }
    return ce_row(j->logits + (size_t)t * j->vocab, g, y, j->vocab, j->c);
}

/* Task ith of nth: rows ith, ith + nth, ... */
static void ce_worker(void *arg, int ith, int nth)
{
    const ce_job *j = arg;
    for (int t = ith; t < j->n; t += nth)
        j->row_nll[t] = ce_one(j, t);
}

#define CE_MAX_THREADS 8

double tf_bwd_cross_entropy(pool *p, const float *logits, const int *targets, int n,
                            int vocab, float scale, float *dlogits, int *count)
{
    int cnt = 0;
    for (int t = 0; t < n; t++)
        cnt += targets[t] >= 0 && targets[t] < vocab;
    if (count)
        *count = cnt;
    if (n <= 0)
        return 0.0;
    double c = cnt ? (double)scale / cnt : 0.0;
    /* Per-row NLLs are summed in row order afterwards: the same total whether
     * or not rows ran on several threads. */
    double one, *row_nll = n == 1 ? &one : malloc((size_t)n * sizeof *row_nll);
    int nt = 1;
    if ((size_t)n * vocab >= ((size_t)1 << 20)) {
        nt = pool_threads(p) > CE_MAX_THREADS ? CE_MAX_THREADS : pool_threads(p);
        nt = nt > n ? n : nt;
    }
    if (!row_nll) { /* no memory for the row sums: one serial pass, same arithmetic */
        ce_job j = {logits, targets, dlogits, NULL, n, vocab, c};
        double nll = 0.0;
        for (int t = 0; t < n; t++)
            nll += ce_one(&j, t);
        return cnt ? nll / cnt : 0.0;
    }
    ce_job j = {logits, targets, dlogits, row_nll, n, vocab, c};
    pool_run(nt > 1 ? p : NULL, nt, ce_worker, &j);
    double nll = 0.0;
    for (int t = 0; t < n; t++)
        nll += row_nll[t];
    if (row_nll != &one)
        free(row_nll);
    return cnt ? nll / cnt : 0.0;
}
