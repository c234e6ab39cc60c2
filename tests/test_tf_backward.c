/* Backward pass: every per-op gradient against central finite differences of
 * this file's own float64 forward (independent of the production forward).
 *
 * Error measure: rel = max_i |analytic_i - fd_i| / max_i |fd_i|.
 * Bound: rel < 1e-4 for the per-op tests. The analytic side runs in float
 * (rounding ~1e-6 relative); the FD side runs in double with step 1e-4 on O(1)
 * inputs, so its truncation error (~h^2) and cancellation error (~1e-16/h)
 * are both below 1e-7 (measured rel <= 5e-7). A wrong term in any gradient
 * gives rel of order 1 (checked by mutating the code: 0.07..0.4).
 *
 * Whole model (test_model_*): the production forward + tf_backward in float
 * against central differences of the independent float64 reference forward
 * (tests/ref_forward.c) on a tiny seeded model, perturbing a few elements of
 * every weight of every module type. Per weight matrix:
 *     err = max_i |analytic_i - fd_i| / max_j |analytic_j|   (j over the whole matrix)
 * Bound: err < MODEL_TOL = 2e-4 (measured 1e-6..7e-6: the float forward's
 * rounding, amplified through the layers, plus the FD truncation error at
 * step 2^-10 with the step's float rounding accounted for exactly). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "kernels/pool.h"
#include "kernels/tf_backward.h"
#include "kernels/err.h"
#include "src/model.h"
#include "tests/ref_forward.h"
#include "tests/tf_rand.h"

#define OP_TOL 1e-4
#define FD_STEP 1e-4

/* ---- helpers --------------------------------------------------------------- */

static uint64_t rng_state;
static void rng_seed(uint64_t s) { rng_state = s * 0x9E3779B97F4A7C15ull + 1; }
static double rng_u(void) /* [0, 1) */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}
static float rng_f(float lo, float hi) { return lo + (hi - lo) * (float)rng_u(); }
static void fill(float *a, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        a[i] = rng_f(lo, hi);
}
static double *to_d(const float *a, size_t n)
{
    double *d = malloc(n * sizeof *d);
    assert_non_null(d);
    for (size_t i = 0; i < n; i++)
        d[i] = a[i];
    return d;
}
static float *zeros(size_t n)
{
    float *a = calloc(n, sizeof *a);
    assert_non_null(a);
    return a;
}

typedef double (*loss_fn)(void *ctx);

/* Central differences of f with respect to every element of p (in place). */
static double *fd_grad(loss_fn f, void *ctx, double *p, size_t n)
{
    double *g = malloc(n * sizeof *g);
    assert_non_null(g);
    for (size_t i = 0; i < n; i++) {
        double keep = p[i];
        p[i] = keep + FD_STEP;
        double lp = f(ctx);
        p[i] = keep - FD_STEP;
        double lm = f(ctx);
        p[i] = keep;
        g[i] = (lp - lm) / (2 * FD_STEP);
    }
    return g;
}

/* rel error of analytic (float, minus a pre-fill `base` if not NULL) vs fd. */
static double rel_err(const float *a, const float *base, const double *fd, size_t n)
{
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        double ai = a[i] - (base ? base[i] : 0.0f);
        double d = fabs(ai - fd[i]);
        num = d > num ? d : num;
        den = fabs(fd[i]) > den ? fabs(fd[i]) : den;
    }
    return den > 0 ? num / den : num;
}

static void check_grad(const char *what, const float *a, const float *base, const double *fd,
                       size_t n, double tol)
{
    double r = rel_err(a, base, fd, n);
    if (!(r < tol))
        fail_msg("%s: relative error %.3g >= %.3g", what, r, tol);
}

/* sum_i c_i y_i: projecting the output onto fixed random c makes dL/dy = c. */
static double project(const double *y, const float *c, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += y[i] * c[i];
    return s;
}

/* ---- float64 reference forwards (test-only) --------------------------------- */

static void ref_rmsnorm(const double *x, const double *w, int n, int d, double eps, double *y)
{
    for (int t = 0; t < n; t++) {
        double ss = 0;
        for (int j = 0; j < d; j++)
            ss += x[t * d + j] * x[t * d + j];
        double r = 1.0 / sqrt(ss / d + eps);
        for (int j = 0; j < d; j++)
            y[t * d + j] = x[t * d + j] * r * w[j];
    }
}

static void ref_linear(const double *x, const double *w, int n, int rows, int cols, double *y)
{
    for (int t = 0; t < n; t++)
        for (int r = 0; r < rows; r++) {
            double s = 0;
            for (int c = 0; c < cols; c++)
                s += x[t * cols + c] * w[r * cols + c];
            y[t * rows + r] = s;
        }
}

static void ref_rope(double *x, int n, int heads, int hd, int pos0, double theta, int style)
{
    for (int t = 0; t < n; t++)
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < hd / 2; i++) {
                double ang = (pos0 + t) * pow(theta, -2.0 * i / hd);
                int a = style == TF_ROPE_HALF ? i : 2 * i;
                int b = style == TF_ROPE_HALF ? i + hd / 2 : 2 * i + 1;
                double *v = x + (size_t)t * heads * hd + (size_t)h * hd;
                double x0 = v[a], x1 = v[b];
                v[a] = x0 * cos(ang) - x1 * sin(ang);
                v[b] = x0 * sin(ang) + x1 * cos(ang);
            }
}

/* out = attention; P (optional) [H][n][n] gets the causal softmax, 0 above the diagonal. */
static void ref_attention(const double *q, const double *k, const double *v, int n, int H, int KV,
                          int hd, double *out, float *P)
{
    double *p = malloc((size_t)n * sizeof *p);
    assert_non_null(p);
    for (int h = 0; h < H; h++) {
        int g = h / (H / KV);
        for (int t = 0; t < n; t++) {
            double m = -INFINITY, sum = 0;
            for (int s = 0; s <= t; s++) {
                double d = 0;
                for (int i = 0; i < hd; i++)
                    d += q[(t * H + h) * hd + i] * k[(s * KV + g) * hd + i];
                p[s] = d / sqrt((double)hd);
                m = p[s] > m ? p[s] : m;
            }
            for (int s = 0; s <= t; s++)
                sum += (p[s] = exp(p[s] - m));
            for (int s = 0; P && s < n; s++)
                P[((size_t)h * n + t) * n + s] = s <= t ? (float)(p[s] / sum) : 0.0f;
            for (int i = 0; i < hd; i++) {
                double o = 0;
                for (int s = 0; s <= t; s++)
                    o += p[s] / sum * v[(s * KV + g) * hd + i];
                out[(t * H + h) * hd + i] = o;
            }
        }
    }
    free(p);
}

/* ---- embedding ------------------------------------------------------------- */

typedef struct {
    const int *tok;
    int n, dim;
    double *emb;
    const float *c;
} emb_ctx;

static double emb_loss(void *v)
{
    emb_ctx *e = v;
    double s = 0;
    for (int t = 0; t < e->n; t++)
        for (int j = 0; j < e->dim; j++)
            s += e->emb[e->tok[t] * e->dim + j] * e->c[t * e->dim + j];
    return s;
}

static void test_embedding(void **state)
{
    (void)state;
    rng_seed(1);
    enum { V = 6, D = 5, N = 8 };
    int tok[N] = {3, 1, 3, 0, 5, 3, 1, 2}; /* repeats must add up */
    float emb[V * D], c[N * D], base[V * D], g[V * D];
    fill(emb, V * D, -1, 1);
    fill(c, N * D, -1, 1);
    fill(base, V * D, -1, 1);
    memcpy(g, base, sizeof g);
    tf_bwd_embedding(tok, N, D, c, g);
    double *de = to_d(emb, V * D);
    emb_ctx e = {tok, N, D, de, c};
    double *fd = fd_grad(emb_loss, &e, de, V * D);
    check_grad("embedding d_emb", g, base, fd, V * D, OP_TOL);
    free(de);
    free(fd);
}

/* ---- rmsnorm / head rmsnorm -------------------------------------------------- */

typedef struct {
    double *x, *w;
    int n, d;
    double eps;
    const float *c;
    double *y;
} norm_ctx;

static double norm_loss(void *v)
{
    norm_ctx *e = v;
    ref_rmsnorm(e->x, e->w, e->n, e->d, e->eps, e->y);
    return project(e->y, e->c, (size_t)e->n * e->d);
}

/* rows x d norm; heads > 1 calls the per-head entry point on [n][heads*d]. */
static void check_rmsnorm(int n, int heads, int d, float eps, float xscale)
{
    int rows = n * heads;
    size_t nx = (size_t)rows * d;
    float *x = zeros(nx), *w = zeros(d), *c = zeros(nx);
    fill(x, nx, -xscale, xscale);
    fill(w, d, 0.5f, 1.5f);
    fill(c, nx, -1, 1);
    float *dx = zeros(nx), *dw = zeros(d), *bx = zeros(nx), *bw = zeros(d);
    fill(bx, nx, -1, 1);
    fill(bw, d, -1, 1);
    memcpy(dx, bx, nx * sizeof *dx);
    memcpy(dw, bw, d * sizeof *dw);
    if (heads > 1)
        tf_bwd_head_rmsnorm(x, w, c, n, heads, d, eps, dx, dw);
    else
        tf_bwd_rmsnorm(x, w, c, n, d, eps, dx, dw);
    double *xd = to_d(x, nx), *wd = to_d(w, d), *y = malloc(nx * sizeof *y);
    assert_non_null(y);
    norm_ctx e = {xd, wd, rows, d, eps, c, y};
    double *fx = fd_grad(norm_loss, &e, xd, nx), *fw = fd_grad(norm_loss, &e, wd, d);
    check_grad("rmsnorm dx", dx, bx, fx, nx, OP_TOL);
    check_grad("rmsnorm dw", dw, bw, fw, d, OP_TOL);
    /* NULL outputs are skipped, the other still computed the same. */
    float *dw2 = zeros(d);
    memcpy(dw2, bw, d * sizeof *dw2);
    if (heads > 1)
        tf_bwd_head_rmsnorm(x, w, c, n, heads, d, eps, NULL, dw2);
    else
        tf_bwd_rmsnorm(x, w, c, n, d, eps, NULL, dw2);
    assert_memory_equal(dw, dw2, d * sizeof *dw);
    free(dw2);
    free(x); free(w); free(c); free(dx); free(dw); free(bx); free(bw);
    free(xd); free(wd); free(y); free(fx); free(fw);
}

static void test_rmsnorm(void **state)
{
    (void)state;
    rng_seed(2);
    check_rmsnorm(5, 1, 16, 1e-5f, 1.0f);
    check_rmsnorm(3, 1, 7, 1e-6f, 3.0f);
    /* Small activations: eps matters (r is no longer 1/rms). */
    check_rmsnorm(4, 1, 8, 1e-2f, 0.05f);
}

static void test_head_rmsnorm(void **state)
{
    (void)state;
    rng_seed(3);
    check_rmsnorm(4, 3, 8, 1e-6f, 1.0f);
}

/* ---- linear ------------------------------------------------------------------ */

typedef struct {
    double *x, *w;
    int n, rows, cols;
    const float *c;
    double *y;
} lin_ctx;

static double lin_loss(void *v)
{
    lin_ctx *e = v;
    ref_linear(e->x, e->w, e->n, e->rows, e->cols, e->y);
    return project(e->y, e->c, (size_t)e->n * e->rows);
}

static void test_linear(void **state)
{
    (void)state;
    rng_seed(4);
    enum { N = 6, R = 5, C = 9 };
    float x[N * C], w[R * C], c[N * R], dx[N * C], dw[R * C], bx[N * C], bw[R * C];
    fill(x, N * C, -1, 1);
    fill(w, R * C, -1, 1);
    fill(c, N * R, -1, 1);
    fill(bx, N * C, -1, 1);
    fill(bw, R * C, -1, 1);
    memcpy(dx, bx, sizeof dx);
    memcpy(dw, bw, sizeof dw);
    tf_bwd_linear(x, w, c, N, R, C, dx, dw);
    double *xd = to_d(x, N * C), *wd = to_d(w, R * C), y[N * R];
    lin_ctx e = {xd, wd, N, R, C, c, y};
    double *fx = fd_grad(lin_loss, &e, xd, N * C), *fw = fd_grad(lin_loss, &e, wd, R * C);
    check_grad("linear dx", dx, bx, fx, N * C, OP_TOL);
    check_grad("linear dw", dw, bw, fw, R * C, OP_TOL);
    /* Only dw (the Fisher path): same numbers. */
    float dw2[R * C];
    memcpy(dw2, bw, sizeof dw2);
    tf_bwd_linear(x, w, c, N, R, C, NULL, dw2);
    assert_memory_equal(dw, dw2, sizeof dw);
    free(xd); free(wd); free(fx); free(fw);
}

static void test_linear_sq_tokens(void **state)
{
    (void)state;
    rng_seed(5);
    enum { N = 7, R = 4, C = 6 };
    float x[N * C], dy[N * R], acc[R * C], base[R * C], sq[R * C];
    fill(x, N * C, -1, 1);
    fill(dy, N * R, -1, 1);
    fill(base, R * C, 0, 1);
    memcpy(acc, base, sizeof acc);
    assert_int_equal(tf_bwd_linear_sq_tokens(x, dy, N, R, C, 0.5f, acc), 0);
    /* Explicit per-position outer products dy_t x_t^T, squared and summed. */
    double want[R * C] = {0};
    for (int t = 0; t < N; t++)
        for (int r = 0; r < R; r++)
            for (int c = 0; c < C; c++) {
                double g = (double)dy[t * R + r] * x[t * C + c];
                want[r * C + c] += 0.5 * g * g;
            }
    check_grad("linear per-token squared grads", acc, base, want, R * C, 1e-5);
    /* sq_accum of one window's gradient. */
    float g[R * C];
    fill(g, R * C, -2, 2);
    memcpy(sq, base, sizeof sq);
    tf_bwd_sq_accum(g, R * C, 0.25f, sq);
    for (int i = 0; i < R * C; i++)
        assert_float_equal(sq[i], base[i] + 0.25f * g[i] * g[i], 1e-6);
}

/* ---- rope ---------------------------------------------------------------------- */

typedef struct {
    double *x;
    int n, heads, hd, pos0, style;
    double theta;
    const float *c;
    double *y;
} rope_ctx;

static double rope_loss(void *v)
{
    rope_ctx *e = v;
    size_t len = (size_t)e->n * e->heads * e->hd;
    memcpy(e->y, e->x, len * sizeof *e->y);
    ref_rope(e->y, e->n, e->heads, e->hd, e->pos0, e->theta, e->style);
    return project(e->y, e->c, len);
}

static void check_rope(int style, int pos0, float theta)
{
    enum { N = 5, H = 3, HD = 8 };
    size_t len = N * H * HD;
    float x[N * H * HD], c[N * H * HD], g[N * H * HD];
    fill(x, len, -1, 1);
    fill(c, len, -1, 1);
    memcpy(g, c, sizeof g);
    tf_bwd_rope(g, N, H, HD, pos0, theta, style);
    double *xd = to_d(x, len), y[N * H * HD];
    rope_ctx e = {xd, N, H, HD, pos0, style, theta, c, y};
    double *fx = fd_grad(rope_loss, &e, xd, len);
    check_grad(style == TF_ROPE_HALF ? "rope (half) dx" : "rope (interleaved) dx", g, NULL, fx,
               len, OP_TOL);
    /* Forward twin against the double forward. */
    float f[N * H * HD];
    memcpy(f, x, sizeof f);
    tf_bwd_rope_forward(f, N, H, HD, pos0, theta, style);
    memcpy(y, xd, sizeof y);
    ref_rope(y, N, H, HD, pos0, theta, style);
    for (size_t i = 0; i < len; i++)
        assert_float_equal(f[i], y[i], 1e-4);
    free(xd);
    free(fx);
}

static void test_rope(void **state)
{
    (void)state;
    rng_seed(6);
    check_rope(TF_ROPE_INTERLEAVED, 0, 10000.0f);
    check_rope(TF_ROPE_HALF, 0, 10000.0f);
    check_rope(TF_ROPE_INTERLEAVED, 11, 500.0f);
    check_rope(TF_ROPE_HALF, 11, 1000000.0f);
}

/* ---- attention ------------------------------------------------------------------- */

typedef struct {
    double *q, *k, *v;
    int n, H, KV, hd;
    const float *c;
    double *y;
} attn_ctx;

static double attn_loss(void *p)
{
    attn_ctx *e = p;
    ref_attention(e->q, e->k, e->v, e->n, e->H, e->KV, e->hd, e->y, NULL);
    return project(e->y, e->c, (size_t)e->n * e->H * e->hd);
}

static void check_attention(int n, int H, int KV, int hd, float qscale)
{
    size_t nq = (size_t)n * H * hd, nk = (size_t)n * KV * hd;
    float *q = zeros(nq), *k = zeros(nk), *v = zeros(nk), *c = zeros(nq);
    fill(q, nq, -qscale, qscale);
    fill(k, nk, -qscale, qscale);
    fill(v, nk, -1, 1);
    fill(c, nq, -1, 1);
    float *dq = zeros(nq), *dk = zeros(nk), *dv = zeros(nk);
    float *bq = zeros(nq), *bk = zeros(nk), *bv = zeros(nk);
    fill(bq, nq, -1, 1);
    fill(bk, nk, -1, 1);
    fill(bv, nk, -1, 1);
    memcpy(dq, bq, nq * sizeof *dq);
    memcpy(dk, bk, nk * sizeof *dk);
    memcpy(dv, bv, nk * sizeof *dv);
    pool *tp = pool_create(3); /* NULL (out of memory) would only run the tasks serially */
    assert_int_equal(tf_bwd_attention(tp, q, k, v, NULL, c, n, H, KV, hd, 2, dq, dk, dv), 0);
    double *qd = to_d(q, nq), *kd = to_d(k, nk), *vd = to_d(v, nk);
    double *y = malloc(nq * sizeof *y);
    assert_non_null(y);
    attn_ctx e = {qd, kd, vd, n, H, KV, hd, c, y};
    double *fq = fd_grad(attn_loss, &e, qd, nq), *fk = fd_grad(attn_loss, &e, kd, nk);
    double *fv = fd_grad(attn_loss, &e, vd, nk);
    check_grad("attention dq", dq, bq, fq, nq, OP_TOL);
    check_grad("attention dk", dk, bk, fk, nk, OP_TOL);
    check_grad("attention dv", dv, bv, fv, nk, OP_TOL);

    /* With a saved softmax (here the float64 one, rounded): same gradients. */
    float *P = zeros((size_t)H * n * n);
    ref_attention(qd, kd, vd, n, H, KV, hd, y, P);
    float *sq = zeros(nq), *sk = zeros(nk), *sv = zeros(nk);
    memcpy(sq, bq, nq * sizeof *sq);
    memcpy(sk, bk, nk * sizeof *sk);
    memcpy(sv, bv, nk * sizeof *sv);
    assert_int_equal(tf_bwd_attention(tp, q, k, v, P, c, n, H, KV, hd, 2, sq, sk, sv), 0);
    check_grad("attention dq (saved P)", sq, bq, fq, nq, OP_TOL);
    check_grad("attention dk (saved P)", sk, bk, fk, nk, OP_TOL);
    check_grad("attention dv (saved P)", sv, bv, fv, nk, OP_TOL);
    free(P); free(sq); free(sk); free(sv);

    /* Bitwise the same for 1, 3 and all threads (deterministic reduction), on
     * the pool or on the calling thread alone. */
    int threads[3] = {1, 3, 0};
    for (int ti = 0; ti < 6; ti++) {
        float *q2 = zeros(nq), *k2 = zeros(nk), *v2 = zeros(nk);
        memcpy(q2, bq, nq * sizeof *q2);
        memcpy(k2, bk, nk * sizeof *k2);
        memcpy(v2, bv, nk * sizeof *v2);
        assert_int_equal(
            tf_bwd_attention(ti < 3 ? tp : NULL, q, k, v, NULL, c, n, H, KV, hd, threads[ti % 3],
                             q2, k2, v2),
            0);
        assert_memory_equal(q2, dq, nq * sizeof *q2);
        assert_memory_equal(k2, dk, nk * sizeof *k2);
        assert_memory_equal(v2, dv, nk * sizeof *v2);
        free(q2); free(k2); free(v2);
    }
    /* NULL dq: dk/dv unchanged. */
    float *k3 = zeros(nk), *v3 = zeros(nk);
    memcpy(k3, bk, nk * sizeof *k3);
    memcpy(v3, bv, nk * sizeof *v3);
    assert_int_equal(tf_bwd_attention(tp, q, k, v, NULL, c, n, H, KV, hd, 2, NULL, k3, v3), 0);
    assert_memory_equal(k3, dk, nk * sizeof *k3);
    assert_memory_equal(v3, dv, nk * sizeof *v3);
    free(k3); free(v3);
    pool_free(tp);

    free(q); free(k); free(v); free(c); free(dq); free(dk); free(dv);
    free(bq); free(bk); free(bv); free(qd); free(kd); free(vd); free(y);
    free(fq); free(fk); free(fv);
}

static void test_attention(void **state)
{
    (void)state;
    rng_seed(7);
    check_attention(6, 4, 2, 8, 1.0f);  /* GQA, 2 query heads per kv head */
    check_attention(5, 3, 1, 4, 2.0f);  /* MQA, peaked softmax */
    check_attention(4, 2, 2, 6, 1.0f);  /* plain MHA */
    check_attention(1, 2, 1, 4, 1.0f);  /* one token: softmax is constant */
}

/* ---- swiglu ------------------------------------------------------------------------ */

typedef struct {
    double *g, *u;
    size_t len;
    const float *c;
} swi_ctx;

static double swi_loss(void *p)
{
    swi_ctx *e = p;
    double s = 0;
    for (size_t i = 0; i < e->len; i++)
        s += e->g[i] / (1 + exp(-e->g[i])) * e->u[i] * e->c[i];
    return s;
}

static void test_swiglu(void **state)
{
    (void)state;
    rng_seed(8);
    enum { L = 40 };
    float g[L], u[L], c[L], dg[L], du[L], bg[L], bu[L];
    fill(g, L, -6, 6);
    fill(u, L, -2, 2);
    fill(c, L, -1, 1);
    fill(bg, L, -1, 1);
    fill(bu, L, -1, 1);
    memcpy(dg, bg, sizeof dg);
    memcpy(du, bu, sizeof du);
    tf_bwd_swiglu(g, u, c, L, dg, du);
    double *gd = to_d(g, L), *ud = to_d(u, L);
    swi_ctx e = {gd, ud, L, c};
    double *fg = fd_grad(swi_loss, &e, gd, L), *fu = fd_grad(swi_loss, &e, ud, L);
    check_grad("swiglu dgate", dg, bg, fg, L, OP_TOL);
    check_grad("swiglu dup", du, bu, fu, L, OP_TOL);
    free(gd); free(ud); free(fg); free(fu);
}

/* ---- cross-entropy ------------------------------------------------------------------- */

typedef struct {
    double *l;
    const int *y;
    int n, V;
} ce_ctx;

static double ce_loss(void *p)
{
    ce_ctx *e = p;
    double s = 0;
    int cnt = 0;
    for (int t = 0; t < e->n; t++) {
        if (e->y[t] < 0)
            continue;
        const double *l = e->l + (size_t)t * e->V;
        double m = l[0], sum = 0;
        for (int j = 1; j < e->V; j++)
            m = l[j] > m ? l[j] : m;
        for (int j = 0; j < e->V; j++)
            sum += exp(l[j] - m);
        s += m + log(sum) - l[e->y[t]];
        cnt++;
    }
    return s / cnt;
}

static void test_cross_entropy(void **state)
{
    (void)state;
    rng_seed(9);
    enum { N = 5, V = 11 };
    int y[N] = {3, -1, 0, 10, 3};
    float l[N * V], g[N * V];
    fill(l, N * V, -4, 4);
    int cnt = -1;
    double loss = tf_bwd_cross_entropy(NULL, l, y, N, V, 1.0f, g, &cnt);
    assert_int_equal(cnt, 4);
    double *ld = to_d(l, N * V);
    ce_ctx e = {ld, y, N, V};
    assert_float_equal(loss, ce_loss(&e), 1e-5);
    double *fl = fd_grad(ce_loss, &e, ld, N * V);
    check_grad("cross-entropy dlogits", g, NULL, fl, N * V, OP_TOL);
    for (int j = 0; j < V; j++) /* ignored row */
        assert_true(g[V + j] == 0.0f);
    /* In place and scaled. */
    float l2[N * V];
    memcpy(l2, l, sizeof l2);
    double loss2 = tf_bwd_cross_entropy(NULL, l2, y, N, V, 2.0f, l2, NULL);
    assert_true(loss2 == loss);
    for (int i = 0; i < N * V; i++)
        assert_float_equal(l2[i], 2.0f * g[i], 1e-7);
    /* Nothing counted: zero loss, zero gradient. */
    int none[N] = {-1, -1, -1, -1, -1};
    assert_true(tf_bwd_cross_entropy(NULL, l, none, N, V, 1.0f, g, &cnt) == 0.0);
    assert_int_equal(cnt, 0);
    for (int i = 0; i < N * V; i++)
        assert_true(g[i] == 0.0f);
    free(ld);
    free(fl);

    /* Large enough to run on threads: each row as if alone, same total. */
    enum { BN = 40, BV = 30000 };
    float *bl = zeros((size_t)BN * BV), *bg = zeros((size_t)BN * BV), *rg = zeros(BV);
    int by[BN];
    fill(bl, (size_t)BN * BV, -30, 30);
    for (int t = 0; t < BN; t++)
        by[t] = t == 7 ? -1 : (int)(rng_u() * BV);
    pool *cp = pool_create(4);
    double big = tf_bwd_cross_entropy(cp, bl, by, BN, BV, 1.0f, bg, &cnt);
    pool_free(cp);
    assert_int_equal(cnt, BN - 1);
    double sum = 0;
    for (int t = 0; t < BN; t++) {
        if (by[t] < 0)
            continue;
        sum += tf_bwd_cross_entropy(NULL, bl + (size_t)t * BV, by + t, 1, BV, 1.0f / (BN - 1),
                                    rg, NULL);
        for (int j = 0; j < BV; j++)
            assert_float_equal(bg[(size_t)t * BV + j], rg[j], 1e-9 + 1e-6 * fabsf(rg[j]));
    }
    assert_float_equal(big, sum / (BN - 1), 1e-9);
    for (int j = 0; j < BV; j++)
        assert_true(bg[(size_t)7 * BV + j] == 0.0f);
    free(bl);
    free(bg);
    free(rg);
}

/* ---- whole model -------------------------------------------------------------------- */

#define MODEL_TOL 2e-4
#define MODEL_N 9

typedef struct {
    const tf_config *c;
    const tf_weights *w;
    const int *tok, *tgt;
    int n;
    double *logits;
} model_ctx;

/* Mean NLL of the counted targets from the float64 reference. */
static double model_loss(model_ctx *e)
{
    assert_int_equal(ref_forward(e->c, e->w, e->tok, e->n, e->logits), 0);
    int V = e->c->vocab_size, cnt = 0;
    double s = 0;
    for (int t = 0; t < e->n; t++) {
        if (e->tgt[t] < 0)
            continue;
        const double *l = e->logits + (size_t)t * V;
        double m = l[0], z = 0;
        for (int j = 1; j < V; j++)
            m = l[j] > m ? l[j] : m;
        for (int j = 0; j < V; j++)
            z += exp(l[j] - m);
        s += m + log(z) - l[e->tgt[t]];
        cnt++;
    }
    return s / cnt;
}

/* Central difference in element i of weight p (a float the model reads); the
 * float rounding of w +- h is accounted for by dividing by the actual step. */
static double model_fd(model_ctx *e, float *p, size_t i)
{
    const double h = 1.0 / 1024;
    float keep = p[i];
    float up = (float)(keep + h), dn = (float)(keep - h);
    p[i] = up;
    double lp = model_loss(e);
    p[i] = dn;
    double lm = model_loss(e);
    p[i] = keep;
    return (lp - lm) / ((double)up - (double)dn);
}

static double model_worst; /* largest err seen, for the message */

/* Check `picks` elements of weight p (len) against the analytic gradient g. */
static void model_check(model_ctx *e, const char *what, float *p, const float *g, size_t len,
                        const size_t *pick, int npick)
{
    double gs = 0;
    for (size_t i = 0; i < len; i++)
        gs = fabs(g[i]) > gs ? fabs(g[i]) : gs;
    assert_true(gs > 0); /* every weight influences the loss */
    double err = 0;
    for (int k = 0; k < npick; k++) {
        size_t i = pick[k] % len;
        double d = fabs(model_fd(e, p, i) - g[i]);
        err = d > err ? d : err;
    }
    err /= gs;
    model_worst = err > model_worst ? err : model_worst;
    if (!(err < MODEL_TOL))
        fail_msg("whole model %s: error %.3g >= %.3g", what, err, MODEL_TOL);
}

static void random_picks(size_t *pick, int npick)
{
    for (int k = 0; k < npick; k++)
        pick[k] = (size_t)(rng_u() * 1e9);
}

static void window(int V, int *tok, int *tgt, int n)
{
    for (int t = 0; t < n; t++)
        tok[t] = (int)(rng_u() * V);
    for (int t = 0; t < n; t++)
        tgt[t] = t + 1 < n ? tok[t + 1] : (int)(rng_u() * V);
    tgt[2] = -1; /* an ignored target */
}

static int run_backward_max(const tf_config *c, const tf_weights *w, int flags, int max_n,
                            const int *tok, const int *tgt, int n, float scale, const tf_grads *g,
                            double *nll)
{
    tf_ctx *t = tf_ctx_create(c, max_n, flags);
    tf_bwd *b = tf_bwd_create(c, max_n);
    assert_non_null(t);
    assert_non_null(b);
    assert_int_equal(tf_forward(t, w, tok, n, 0), 0);
    int cnt = -1;
    int rc = tf_backward(b, t, w, tok, tgt, scale, g, nll, &cnt);
    if (rc == 0) {
        int want = 0;
        for (int i = 0; i < n; i++)
            want += tgt[i] >= 0;
        assert_int_equal(cnt, want);
    }
    tf_bwd_free(b);
    tf_ctx_free(t);
    return rc;
}

static int run_backward(const tf_config *c, const tf_weights *w, int flags, const int *tok,
                        const int *tgt, int n, float scale, const tf_grads *g, double *nll)
{
    return run_backward_max(c, w, flags, n, tok, tgt, n, scale, g, nll);
}

static void grads_equal(const tf_config *c, const tf_grads *a, const tf_grads *b)
{
    size_t d = c->dim, ve = (size_t)c->vocab_size * d;
    assert_memory_equal(a->tok_emb, b->tok_emb, ve * sizeof(float));
    assert_memory_equal(a->lm_head, b->lm_head, ve * sizeof(float));
    assert_memory_equal(a->final_norm, b->final_norm, d * sizeof(float));
    for (int l = 0; l < c->n_layers; l++) {
        const tf_layer_grads *x = &a->layers[l], *y = &b->layers[l];
        assert_memory_equal(x->attn_norm, y->attn_norm, d * sizeof(float));
        assert_memory_equal(x->ffn_norm, y->ffn_norm, d * sizeof(float));
        if (c->qk_norm) {
            assert_memory_equal(x->q_norm, y->q_norm, c->head_dim * sizeof(float));
            assert_memory_equal(x->k_norm, y->k_norm, c->head_dim * sizeof(float));
        }
        for (int k = 0; k < TF_NLIN; k++) {
            int r, cc;
            tf_linear_shape(c, k, &r, &cc);
            assert_memory_equal(x->lin[k], y->lin[k], (size_t)r * cc * sizeof(float));
        }
    }
}

static void check_model(const tf_config *c, int tied, uint64_t seed)
{
    rng_seed(seed);
    model_worst = 0;
    tf_rand_model m;
    assert_int_equal(tf_rand_model_init(&m, c, tied, seed), 0);
    int tok[MODEL_N], tgt[MODEL_N];
    window(c->vocab_size, tok, tgt, MODEL_N);

    /* Effective weights: layer 1's down_proj is swapped for a rounded copy
     * (as the format search swaps in fake-quantized weights). */
    int rr, rc_;
    tf_linear_shape(c, TF_DOWN, &rr, &rc_);
    size_t ndown = (size_t)rr * rc_;
    float *eff = malloc(ndown * sizeof *eff);
    assert_non_null(eff);
    for (size_t i = 0; i < ndown; i++)
        eff[i] = roundf(m.layers[1].lin[TF_DOWN][i] * 16.0f) / 16.0f;
    m.layers[1].lin[TF_DOWN] = eff;

    tf_grads g, g2;
    int all = TF_GRAD_LINEAR | TF_GRAD_NORMS | TF_GRAD_EMBED;
    assert_int_equal(tf_grads_alloc(c, all, tied, &g), 0);
    double nll = -1;
    assert_int_equal(run_backward(c, &m.w, TF_KEEP_ACTS, tok, tgt, MODEL_N, 1.0f, &g, &nll), 0);

    double *logits = malloc((size_t)MODEL_N * c->vocab_size * sizeof *logits);
    assert_non_null(logits);
    model_ctx e = {c, &m.w, tok, tgt, MODEL_N, logits};
    assert_float_equal(nll, model_loss(&e), 1e-4);

    size_t pick[6], d = c->dim, ve = (size_t)c->vocab_size * d;
    char what[64];
    for (int l = 0; l < c->n_layers; l++) {
        tf_layer_weights *lw = &m.layers[l];
        for (int k = 0; k < TF_NLIN; k++) {
            int r, cc;
            tf_linear_shape(c, k, &r, &cc);
            random_picks(pick, 6);
            snprintf(what, sizeof what, "layer %d linear %d", l, k);
            model_check(&e, what, (float *)lw->lin[k], g.layers[l].lin[k], (size_t)r * cc, pick,
                        6);
        }
        random_picks(pick, 4);
        snprintf(what, sizeof what, "layer %d attn_norm", l);
        model_check(&e, what, (float *)lw->attn_norm, g.layers[l].attn_norm, d, pick, 4);
        snprintf(what, sizeof what, "layer %d ffn_norm", l);
        model_check(&e, what, (float *)lw->ffn_norm, g.layers[l].ffn_norm, d, pick, 4);
        if (c->qk_norm) {
            snprintf(what, sizeof what, "layer %d q_norm", l);
            model_check(&e, what, (float *)lw->q_norm, g.layers[l].q_norm, c->head_dim, pick, 4);
            snprintf(what, sizeof what, "layer %d k_norm", l);
            model_check(&e, what, (float *)lw->k_norm, g.layers[l].k_norm, c->head_dim, pick, 4);
        }
    }
    random_picks(pick, 4);
    model_check(&e, "final_norm", (float *)m.w.final_norm, g.final_norm, d, pick, 4);
    /* Embedding rows of input tokens (both uses when tied) and other rows. */
    for (int k = 0; k < 3; k++)
        pick[k] = (size_t)tok[k] * d + (size_t)(rng_u() * d);
    random_picks(pick + 3, 3);
    model_check(&e, tied ? "tied embedding" : "tok_emb", (float *)m.w.tok_emb, g.tok_emb, ve, pick,
                6);
    if (!tied) {
        random_picks(pick, 6);
        model_check(&e, "lm_head", (float *)m.w.lm_head, g.lm_head, ve, pick, 6);
    }

    /* Shared-scratch context (blocks recomputed): bitwise the same. */
    assert_int_equal(tf_grads_alloc(c, all, tied, &g2), 0);
    assert_int_equal(run_backward(c, &m.w, 0, tok, tgt, MODEL_N, 1.0f, &g2, NULL), 0);
    grads_equal(c, &g, &g2);
    /* Workspaces larger than the window (saved softmax laid out for n). */
    for (int keep = 0; keep < 2; keep++) {
        tf_grads_zero(c, &g2);
        assert_int_equal(run_backward_max(c, &m.w, keep ? TF_KEEP_ACTS : 0, MODEL_N + 5, tok, tgt,
                                          MODEL_N, 1.0f, &g2, NULL),
                         0);
        grads_equal(c, &g, &g2);
    }
    /* Shared scratch: a second backward after the same forward (the scratch
     * now holds block 0) still gives the same numbers. */
    {
        tf_ctx *t2 = tf_ctx_create(c, MODEL_N, 0);
        tf_bwd *b2 = tf_bwd_create(c, MODEL_N);
        assert_non_null(t2);
        assert_non_null(b2);
        assert_int_equal(tf_forward(t2, &m.w, tok, MODEL_N, 0), 0);
        for (int rep = 0; rep < 2; rep++) {
            tf_grads_zero(c, &g2);
            assert_int_equal(tf_backward(b2, t2, &m.w, tok, tgt, 1.0f, &g2, NULL, NULL), 0);
            grads_equal(c, &g, &g2);
        }
        tf_bwd_free(b2);
        tf_ctx_free(t2);
    }
    tf_grads_free(&g2);

    /* Linear weights only, scale 0.5, accumulated twice: the same numbers. */
    tf_grads lin;
    assert_int_equal(tf_grads_alloc(c, TF_GRAD_LINEAR, tied, &lin), 0);
    assert_null(lin.tok_emb);
    assert_null(lin.layers[0].attn_norm);
    for (int rep = 0; rep < 2; rep++)
        assert_int_equal(run_backward(c, &m.w, 0, tok, tgt, MODEL_N, 0.5f, &lin, NULL), 0);
    for (int l = 0; l < c->n_layers; l++)
        for (int k = 0; k < TF_NLIN; k++) {
            int r, cc;
            tf_linear_shape(c, k, &r, &cc);
            for (size_t i = 0; i < (size_t)r * cc; i++)
                assert_float_equal(lin.layers[l].lin[k][i], g.layers[l].lin[k][i],
                                   1e-6 + 1e-5 * fabsf(g.layers[l].lin[k][i]));
        }
    tf_grads_free(&lin);

    /* Only the last layer wanted (the backward stops early): same numbers. */
    int L = c->n_layers;
    tf_grads top, view = {0};
    assert_int_equal(tf_grads_alloc(c, TF_GRAD_LINEAR, tied, &top), 0);
    view.layers = calloc((size_t)L, sizeof *view.layers);
    assert_non_null(view.layers);
    view.layers[L - 1] = top.layers[L - 1];
    assert_int_equal(run_backward(c, &m.w, 0, tok, tgt, MODEL_N, 1.0f, &view, NULL), 0);
    for (int k = 0; k < TF_NLIN; k++) {
        int r, cc;
        tf_linear_shape(c, k, &r, &cc);
        assert_memory_equal(top.layers[L - 1].lin[k], g.layers[L - 1].lin[k],
                            (size_t)r * cc * sizeof(float));
    }
    free(view.layers);
    tf_grads_free(&top);

    /* Per-position squared terms: with one position they are lin^2. */
    tf_grads sq;
    assert_int_equal(tf_grads_alloc(c, TF_GRAD_LINEAR | TF_GRAD_LINEAR_SQ, tied, &sq), 0);
    assert_int_equal(run_backward(c, &m.w, 0, tok, tgt, 1, 1.0f, &sq, NULL), 0);
    for (int l = 0; l < L; l++)
        for (int k = 0; k < TF_NLIN; k++) {
            int r, cc;
            tf_linear_shape(c, k, &r, &cc);
            for (size_t i = 0; i < (size_t)r * cc; i++) {
                float gi = sq.layers[l].lin[k][i];
                assert_float_equal(sq.layers[l].lin_sq[k][i], gi * gi, 1e-6f * (1 + gi * gi));
            }
        }
    tf_grads_free(&sq);

    /* Error cases. */
    int bad[MODEL_N];
    memcpy(bad, tgt, sizeof bad);
    bad[4] = c->vocab_size;
    assert_int_equal(run_backward(c, &m.w, 0, tok, bad, MODEL_N, 1.0f, &g, NULL), ERR_ARG);
    for (int i = 0; i < MODEL_N; i++)
        bad[i] = -1;
    tf_grads_zero(c, &g);
    nll = -1;
    assert_int_equal(run_backward(c, &m.w, 0, tok, bad, MODEL_N, 1.0f, &g, &nll), 0);
    assert_true(nll == 0.0);
    for (size_t i = 0; i < ve; i++)
        assert_true(g.tok_emb[i] == 0.0f);

    print_message("whole model (%s): worst error %.3g, bound %.3g\n",
                  c->qk_norm ? "qwen3" : "llama", model_worst, MODEL_TOL);
    /* A workspace made for another shape, or no tokens for tok_emb. */
    tf_config other = *c;
    other.vocab_size++;
    tf_ctx *t = tf_ctx_create(c, MODEL_N, 0);
    tf_bwd *bo = tf_bwd_create(&other, MODEL_N), *bs = tf_bwd_create(c, MODEL_N);
    assert_non_null(t);
    assert_non_null(bo);
    assert_non_null(bs);
    assert_int_equal(tf_forward(t, &m.w, tok, MODEL_N, 0), 0);
    assert_int_equal(tf_backward(bo, t, &m.w, tok, tgt, 1.0f, &g, NULL, NULL), ERR_ARG);
    assert_int_equal(tf_backward(bs, t, &m.w, NULL, tgt, 1.0f, &g, NULL, NULL), ERR_ARG);
    tf_bwd_free(bo);
    tf_bwd_free(bs);
    tf_ctx_free(t);
    assert_null(tf_bwd_create(c, 0));

    tf_grads_free(&g);
    free(logits);
    free(eff);
    tf_rand_model_free(&m);
}

static void test_model_llama(void **state)
{
    (void)state;
    tf_config c = {.dim = 16, .hidden_dim = 40, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2,
                   .head_dim = 4, .vocab_size = 23, .max_seq = 32, .rope_theta = 10000.0f,
                   .norm_eps = 1e-5f, .rope_style = TF_ROPE_INTERLEAVED, .qk_norm = 0};
    check_model(&c, 0, 11);
}

static void test_model_qwen3(void **state)
{
    (void)state;
    /* n_heads * head_dim (24) != dim (16), MQA, rotate-half RoPE, tied embeddings. */
    tf_config c = {.dim = 16, .hidden_dim = 24, .n_layers = 2, .n_heads = 4, .n_kv_heads = 1,
                   .head_dim = 6, .vocab_size = 19, .max_seq = 32, .rope_theta = 1000000.0f,
                   .norm_eps = 1e-6f, .rope_style = TF_ROPE_HALF, .qk_norm = 1};
    check_model(&c, 1, 12);
}

/* The real stories260K (llama2.c, GQA, interleaved RoPE, tied classifier):
 * a greedy-generated window, a few elements of one module of every kind. */
static void test_model_stories260k(void **state)
{
    (void)state;
    const char *dd = getenv("MXALLOC_DATA");
    char path[4200];
    snprintf(path, sizeof path, "%s/tinystories-260k/stories260K.bin",
             dd && *dd ? dd : "../shared/data");
    if (access(path, R_OK)) {
        print_message("stories260K not found at %s (set MXALLOC_DATA): skipped\n", path);
        skip();
    }
    model m;
    mx_error err = {0};
    if (model_load(path, &m, &err))
        fail_msg("%s", err.msg);
    const tf_config *c = &m.cfg;
    enum { N = 24 };
    int tok[N + 1];
    tf_weights w;
    assert_int_equal(model_weights_copy(&m, &w, &err), 0);
    /* Writable copies of the weights that get perturbed: the embedding (tied)
     * and one module of each kind, spread over the layers. */
    size_t ve = (size_t)c->vocab_size * c->dim;
    float *emb = malloc(ve * sizeof *emb), *lin[TF_NLIN];
    assert_non_null(emb);
    memcpy(emb, m.weights.tok_emb, ve * sizeof *emb);
    assert_true(m.weights.lm_head == m.weights.tok_emb);
    w.tok_emb = w.lm_head = emb;
    for (int k = 0; k < TF_NLIN; k++) {
        int r, cc, l = k % c->n_layers;
        tf_linear_shape(c, k, &r, &cc);
        lin[k] = malloc((size_t)r * cc * sizeof *lin[k]);
        assert_non_null(lin[k]);
        memcpy(lin[k], m.weights.layers[l].lin[k], (size_t)r * cc * sizeof *lin[k]);
        w.layers[l].lin[k] = lin[k];
    }

    /* Greedy continuation of BOS with the production forward. */
    tf_ctx *t = tf_ctx_create(c, N + 1, TF_KEEP_ACTS);
    float *row = malloc((size_t)c->vocab_size * sizeof *row);
    assert_non_null(t);
    assert_non_null(row);
    tok[0] = 1;
    for (int i = 1; i <= N; i++) {
        assert_int_equal(tf_forward(t, &w, tok, i, 0), 0);
        tf_logits(t, &w, i - 1, 1, row);
        int best = 0;
        for (int v = 1; v < c->vocab_size; v++)
            best = row[v] > row[best] ? v : best;
        tok[i] = best;
    }
    tf_grads g;
    assert_int_equal(tf_grads_alloc(c, TF_GRAD_LINEAR | TF_GRAD_EMBED, 1, &g), 0);
    tf_bwd *b = tf_bwd_create(c, N + 1);
    assert_non_null(b);
    double nll;
    assert_int_equal(tf_forward(t, &w, tok, N, 0), 0);
    assert_int_equal(tf_backward(b, t, &w, tok, tok + 1, 1.0f, &g, &nll, NULL), 0);
    assert_true(nll > 0 && nll < 2.0); /* its own greedy text: confident */

    double *logits = malloc((size_t)N * c->vocab_size * sizeof *logits);
    assert_non_null(logits);
    model_ctx e = {c, &w, tok, tok + 1, N, logits};
    assert_float_equal(nll, model_loss(&e), 1e-4);
    rng_seed(13);
    model_worst = 0;
    size_t pick[6];
    char what[64];
    for (int k = 0; k < TF_NLIN; k++) {
        int r, cc, l = k % c->n_layers;
        tf_linear_shape(c, k, &r, &cc);
        random_picks(pick, 6);
        snprintf(what, sizeof what, "stories260K layer %d %s", l, model_kind_label(k));
        model_check(&e, what, lin[k], g.layers[l].lin[k], (size_t)r * cc, pick, 6);
    }
    for (int k = 0; k < 3; k++)
        pick[k] = (size_t)tok[k] * c->dim + (size_t)(rng_u() * c->dim);
    random_picks(pick + 3, 3);
    model_check(&e, "stories260K tied embedding", emb, g.tok_emb, ve, pick, 6);
    print_message("stories260K: mean NLL %.4f, worst error %.3g, bound %.3g\n", nll, model_worst,
                  MODEL_TOL);

    free(logits);
    tf_bwd_free(b);
    tf_grads_free(&g);
    free(row);
    tf_ctx_free(t);
    for (int k = 0; k < TF_NLIN; k++)
        free(lin[k]);
    free(emb);
    model_weights_free(&w);
    model_free(&m);
}

/* The guarantee of tf_backward.h on a window longer than the forward's
 * attention row block (128): bitwise the same gradients from the kept-softmax
 * path, the recompute path and repeated runs. The recompute path once rebuilt
 * P with its own copy of the forward's recipe (one n x n GEMM, one summation
 * chain), which differed in the last bits from the forward's row-blocked
 * GEMMs and two-chain softmax once n > 128, so `make bench` saw NO. (Across
 * OpenBLAS thread counts results may differ: OpenBLAS's threaded sgemm rounds
 * differently; that is outside this guarantee.) */
enum { LONG_N = 200 }; /* two row blocks; head_dim 8: head_dim 4 happened to agree */

/* A tied model, one window of LONG_N tokens and three sets of every gradient. */
typedef struct long_fixture {
    tf_config c;
    tf_rand_model m;
    int tok[LONG_N], tgt[LONG_N];
    tf_grads g[3];
} long_fixture;

static void long_fixture_init(long_fixture *f, uint64_t seed)
{
    f->c = (tf_config){.dim = 16, .hidden_dim = 24, .n_layers = 2, .n_heads = 4,
                       .n_kv_heads = 2, .head_dim = 8, .vocab_size = 29, .max_seq = LONG_N,
                       .rope_theta = 10000.0f, .norm_eps = 1e-5f,
                       .rope_style = TF_ROPE_INTERLEAVED};
    assert_int_equal(tf_rand_model_init(&f->m, &f->c, 1, seed), 0);
    rng_seed(seed);
    window(f->c.vocab_size, f->tok, f->tgt, LONG_N);
    int all = TF_GRAD_LINEAR | TF_GRAD_NORMS | TF_GRAD_EMBED;
    for (int i = 0; i < 3; i++)
        assert_int_equal(tf_grads_alloc(&f->c, all, 1, &f->g[i]), 0);
}

static void long_fixture_free(long_fixture *f)
{
    for (int i = 0; i < 3; i++)
        tf_grads_free(&f->g[i]);
    tf_rand_model_free(&f->m);
}

static void test_model_long_window_deterministic(void **state)
{
    (void)state;
    enum { N = LONG_N };
    long_fixture f;
    long_fixture_init(&f, 21);
    const tf_config *c = &f.c;
    const int *tok = f.tok, *tgt = f.tgt;
    tf_grads *g = f.g;
    assert_int_equal(run_backward(c, &f.m.w, TF_KEEP_ACTS, tok, tgt, N, 1.0f, &g[0], NULL), 0);
    assert_int_equal(run_backward(c, &f.m.w, 0, tok, tgt, N, 1.0f, &g[1], NULL), 0);
    assert_int_equal(run_backward(c, &f.m.w, TF_KEEP_ACTS, tok, tgt, N, 1.0f, &g[2], NULL), 0);
    grads_equal(c, &g[0], &g[1]);
    grads_equal(c, &g[0], &g[2]);
    long_fixture_free(&f);
}

/* tf_backward_logits given the cross-entropy's own dL/dlogits is tf_backward
 * bit for bit (one logits chunk, so the lm_head products are the same), on
 * one thread or the context's pool; and it refuses what tf_backward refuses. */
static void test_backward_logits(void **state)
{
    (void)state;
    enum { N = LONG_N };
    long_fixture f;
    long_fixture_init(&f, 23);
    tf_config c = f.c;
    tf_rand_model m = f.m;
    int *tok = f.tok, *tgt = f.tgt;
    tf_grads *g = f.g;
    tgt[5] = -1; /* an ignored row: zero gradient in both */
    tf_ctx *t = tf_ctx_create(&c, N, TF_KEEP_ACTS);
    tf_bwd *b = tf_bwd_create(&c, N);
    float *dl = malloc(sizeof(float) * N * c.vocab_size);
    assert_true(t && b && dl);
    assert_int_equal(tf_forward(t, &m.w, tok, N, 0), 0);
    assert_int_equal(tf_backward(b, t, &m.w, tok, tgt, 1.0f, &g[0], NULL, NULL), 0);
    tf_logits(t, &m.w, 0, N, dl);
    tf_bwd_cross_entropy(NULL, dl, tgt, N, c.vocab_size, 1.0f, dl, NULL);
    for (int i = 1; i < 3; i++) {
        assert_int_equal(tf_ctx_set_threads(t, i == 1 ? 1 : 3), i == 1 ? 1 : 3);
        assert_int_equal(tf_backward_logits(b, t, &m.w, tok, dl, &g[i]), 0);
        grads_equal(&c, &g[0], &g[i]);
    }
    assert_int_equal(tf_backward_logits(b, t, &m.w, tok, NULL, &g[1]), ERR_ARG);
    assert_int_equal(tf_backward_logits(b, t, &m.w, NULL, dl, &g[1]), ERR_ARG); /* tok_emb wanted */
    tf_config other = c;
    other.vocab_size++;
    tf_bwd *bo = tf_bwd_create(&other, N);
    assert_non_null(bo);
    assert_int_equal(tf_backward_logits(bo, t, &m.w, tok, dl, &g[1]), ERR_ARG);
    tf_bwd_free(bo);
    free(dl);
    tf_bwd_free(b);
    tf_ctx_free(t);
    long_fixture_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embedding),
        cmocka_unit_test(test_rmsnorm),
        cmocka_unit_test(test_head_rmsnorm),
        cmocka_unit_test(test_linear),
        cmocka_unit_test(test_linear_sq_tokens),
        cmocka_unit_test(test_rope),
        cmocka_unit_test(test_attention),
        cmocka_unit_test(test_swiglu),
        cmocka_unit_test(test_cross_entropy),
        cmocka_unit_test(test_model_llama),
        cmocka_unit_test(test_model_qwen3),
        cmocka_unit_test(test_model_stories260k),
        cmocka_unit_test(test_model_long_window_deterministic),
        cmocka_unit_test(test_backward_logits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
