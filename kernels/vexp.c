/* exp over float arrays (kernels/vexp.h). libm's expf one element at a time
 * was a third of a stories260K ppl run (causal softmaxes) and most of the NLL
 * after lm_head; these paths run 8 or 16 lanes. Every path does the same
 * operations in the same order (FMA where the scalar path calls fmaf), so
 * their values are equal bit for bit; sums go to 16 partial sums in double,
 * element i to sum i % 16, added at the end in one fixed tree. */
#include "kernels/vexp.h"

#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <pthread.h>
#include <string.h>

#include "kernels/clock.h"

#define LOG2E 1.44269504088896341f
#define LN2_HI 0.693359375f /* Cephes' split of ln 2 */
#define LN2_LO -2.12194440e-4f
#define X_LO -87.3365402f /* below: 0 (2^-126 and smaller) */
#define X_HI 88.0f        /* above: inf (keeps 2^n a normal float) */
#define C5 1.9875691500e-4f
#define C4 1.3981999507e-3f
#define C3 8.3334519073e-3f
#define C2 4.1665795894e-2f
#define C1 1.6666665459e-1f
#define C0 5.0000001201e-1f
#define NSUM 16

float vexp1(float x)
{
    if (x != x)
        return x;
    if (x < X_LO)
        return 0.0f;
    if (x > X_HI)
        return INFINITY;
    float n = rintf(x * LOG2E);
    float r = fmaf(-n, LN2_HI, x);
    r = fmaf(-n, LN2_LO, r);
    float p = fmaf(C5, r, C4);
    p = fmaf(p, r, C3);
    p = fmaf(p, r, C2);
    p = fmaf(p, r, C1);
    p = fmaf(p, r, C0);
    float e = fmaf(p, r * r, r) + 1.0f;
    unsigned bits = (unsigned)((int)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return e * scale;
}

/* The fixed tree over the 16 partial sums (the SIMD paths add the same pairs). */
static double sum_tree(const double a[NSUM])
{
    double b[8], c[4];
    for (int k = 0; k < 8; k++)
        b[k] = a[k] + a[k + 8];
    for (int k = 0; k < 4; k++)
        c[k] = b[k] + b[k + 4];
    return (c[0] + c[2]) + (c[1] + c[3]);
}

static double shift_scalar(float *y, const float *x, size_t n, float sub)
{
    double a[NSUM] = {0};
    for (size_t i = 0; i < n; i++) {
        float v = vexp1(x[i] - sub);
        if (y)
            y[i] = v;
        a[i % NSUM] += v;
    }
    return sum_tree(a);
}

static float max_scalar(const float *x, size_t n)
{
    float m = x[0];
    for (size_t i = 1; i < n; i++)
        m = x[i] > m ? x[i] : m;
    return m;
}

static void swiglu_scalar(float *a, const float *g, const float *u, size_t n)
{
    for (size_t i = 0; i < n; i++)
        a[i] = g[i] / (1.0f + vexp1(-g[i])) * u[i];
}

/* ---- AVX2 + FMA: 8 lanes, 16 elements a step ---- */
#define T2 __attribute__((target("avx2,fma")))

T2 static __m256 exp_avx2(__m256 x)
{
    __m256 nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
    __m256 lo = _mm256_cmp_ps(x, _mm256_set1_ps(X_LO), _CMP_LT_OQ);
    __m256 hi = _mm256_cmp_ps(x, _mm256_set1_ps(X_HI), _CMP_GT_OQ);
    __m256 xc = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(X_LO)), _mm256_set1_ps(X_HI));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(LOG2E)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), xc);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
    __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(C5), r, _mm256_set1_ps(C4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(C3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(C2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(C1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(C0));
    __m256 e = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
    __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    __m256 v = _mm256_mul_ps(e, _mm256_castsi256_ps(bits));
    v = _mm256_blendv_ps(v, _mm256_setzero_ps(), lo);
    v = _mm256_blendv_ps(v, _mm256_set1_ps(INFINITY), hi);
    return _mm256_blendv_ps(v, x, nan);
}

/* lanes [0, m) of a step's 8 */
T2 static __m256i mask_avx2(size_t m)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)m), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

T2 static __m256 load_avx2(const float *x, size_t m, float fill)
{
    if (m >= 8)
        return _mm256_loadu_ps(x);
    __m256i k = mask_avx2(m);
    return _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(x, k), _mm256_castsi256_ps(k));
}

T2 static void store_avx2(float *y, __m256 v, size_t m)
{
    if (m >= 8)
        _mm256_storeu_ps(y, v);
    else
        _mm256_maskstore_ps(y, mask_avx2(m), v);
}

T2 static double shift_avx2(float *y, const float *x, size_t n, float sub)
{
    __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0; /* sums 0-3, 4-7, 8-11, 12-15 */
    __m256 s = _mm256_set1_ps(sub);
    for (size_t i = 0; i < n; i += NSUM) {
        size_t m = n - i;
        size_t m1 = m > 8 ? m - 8 : 0;
        /* missing lanes read -inf: exp gives 0, which leaves their sums unchanged */
        __m256 v0 = exp_avx2(_mm256_sub_ps(load_avx2(x + i, m, -INFINITY), s));
        __m256 v1 = m1 ? exp_avx2(_mm256_sub_ps(load_avx2(x + i + 8, m1, -INFINITY), s))
                       : _mm256_setzero_ps();
        if (y) {
            store_avx2(y + i, v0, m);
            if (m1)
                store_avx2(y + i + 8, v1, m1);
        }
        a0 = _mm256_add_pd(a0, _mm256_cvtps_pd(_mm256_castps256_ps128(v0)));
        a1 = _mm256_add_pd(a1, _mm256_cvtps_pd(_mm256_extractf128_ps(v0, 1)));
        a2 = _mm256_add_pd(a2, _mm256_cvtps_pd(_mm256_castps256_ps128(v1)));
        a3 = _mm256_add_pd(a3, _mm256_cvtps_pd(_mm256_extractf128_ps(v1, 1)));
    }
    __m256d b03 = _mm256_add_pd(a0, a2), b47 = _mm256_add_pd(a1, a3);
    double c[4];
    _mm256_storeu_pd(c, _mm256_add_pd(b03, b47));
    return (c[0] + c[2]) + (c[1] + c[3]);
}

T2 static float max_avx2(const float *x, size_t n)
{
    __m256 m = _mm256_set1_ps(x[0]);
    for (size_t i = 0; i < n; i += 8)
        m = _mm256_max_ps(m, load_avx2(x + i, n - i, x[0]));
    float l[8];
    _mm256_storeu_ps(l, m);
    return max_scalar(l, 8);
}

T2 static void swiglu_avx2(float *a, const float *g, const float *u, size_t n)
{
    for (size_t i = 0; i < n; i += 8) {
        size_t m = n - i;
        __m256 gv = load_avx2(g + i, m, 0.0f);
        __m256 e = exp_avx2(_mm256_xor_ps(gv, _mm256_set1_ps(-0.0f))); /* -g, as the scalar path */
        __m256 v = _mm256_div_ps(gv, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
        store_avx2(a + i, _mm256_mul_ps(v, load_avx2(u + i, m, 0.0f)), m);
    }
}

/* ---- AVX-512: 16 lanes, 16 elements a step ---- */
#define T5 __attribute__((target("avx512f,avx512dq")))

T5 static __m512 exp_avx512(__m512 x)
{
    __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
    __mmask16 lo = _mm512_cmp_ps_mask(x, _mm512_set1_ps(X_LO), _CMP_LT_OQ);
    __mmask16 hi = _mm512_cmp_ps_mask(x, _mm512_set1_ps(X_HI), _CMP_GT_OQ);
    __m512 xc = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(X_LO)), _mm512_set1_ps(X_HI));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(LOG2E)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_HI), xc);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_LO), r);
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(C5), r, _mm512_set1_ps(C4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(C3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(C2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(C1));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(C0));
    __m512 e = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
    __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    __m512 v = _mm512_mul_ps(e, _mm512_castsi512_ps(bits));
    v = _mm512_mask_mov_ps(v, lo, _mm512_setzero_ps());
    v = _mm512_mask_mov_ps(v, hi, _mm512_set1_ps(INFINITY));
    return _mm512_mask_mov_ps(v, nan, x);
}

T5 static __mmask16 mask_avx512(size_t m)
{
    return m >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << m) - 1);
}

T5 static double shift_avx512(float *y, const float *x, size_t n, float sub)
{
    __m512d lo = _mm512_setzero_pd(), hi = lo; /* sums 0-7, 8-15 */
    __m512 s = _mm512_set1_ps(sub);
    for (size_t i = 0; i < n; i += NSUM) {
        __mmask16 k = mask_avx512(n - i);
        __m512 v = exp_avx512(_mm512_sub_ps(_mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), k, x + i), s));
        if (y)
            _mm512_mask_storeu_ps(y + i, k, v);
        lo = _mm512_add_pd(lo, _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
        hi = _mm512_add_pd(hi, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))));
    }
    __m512d b = _mm512_add_pd(lo, hi);
    __m256d c = _mm256_add_pd(_mm512_castpd512_pd256(b), _mm512_extractf64x4_pd(b, 1));
    double cc[4];
    _mm256_storeu_pd(cc, c);
    return (cc[0] + cc[2]) + (cc[1] + cc[3]);
}

T5 static float max_avx512(const float *x, size_t n)
{
    __m512 m = _mm512_set1_ps(x[0]);
    for (size_t i = 0; i < n; i += 16)
        m = _mm512_max_ps(m, _mm512_mask_loadu_ps(_mm512_set1_ps(x[0]), mask_avx512(n - i), x + i));
    return _mm512_reduce_max_ps(m);
}

T5 static void swiglu_avx512(float *a, const float *g, const float *u, size_t n)
{
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = mask_avx512(n - i);
        __m512 gv = _mm512_maskz_loadu_ps(k, g + i);
        __m512 e = exp_avx512(_mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(gv), _mm512_set1_epi32(INT32_MIN))));
        __m512 v = _mm512_div_ps(gv, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
        _mm512_mask_storeu_ps(a + i, k, _mm512_mul_ps(v, _mm512_maskz_loadu_ps(k, u + i)));
    }
}

/* ---- choice of path ---- */

/* Written once under pthread_once, read-only afterwards. */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int supported[VEXP_NPATHS];
static vexp_path best = VEXP_SCALAR;

static double shift_path(vexp_path p, float *y, const float *x, size_t n, float sub)
{
    switch (p) {
    case VEXP_AVX512: return shift_avx512(y, x, n, sub);
    case VEXP_AVX2: return shift_avx2(y, x, n, sub);
    default: return shift_scalar(y, x, n, sub);
    }
}

/* Best of five rounds of one vexp_shift over a softmax-row-sized buffer. */
static double time_path(vexp_path p, float *x, size_t n)
{
    double t_best = 1e30;
    for (int r = 0; r < 5; r++) {
        double t0 = clock_now_s();
        shift_path(p, x, x, n, 0.0f);
        double t = clock_now_s() - t0;
        t_best = t < t_best ? t : t_best;
        for (size_t i = 0; i < n; i++) /* back to values exp keeps in range */
            x[i] = -(float)(i % 61) * 0.25f;
    }
    return t_best;
}

static void detect(void)
{
    __builtin_cpu_init();
    supported[VEXP_SCALAR] = 1;
    supported[VEXP_AVX2] = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    supported[VEXP_AVX512] = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
    enum { N = 4096 };
    float buf[N];
    for (size_t i = 0; i < N; i++)
        buf[i] = -(float)(i % 61) * 0.25f;
    double t_best = time_path(VEXP_SCALAR, buf, N);
    for (int p = VEXP_AVX2; p < VEXP_NPATHS; p++) {
        if (!supported[p])
            continue;
        double t = time_path((vexp_path)p, buf, N);
        if (t < t_best) {
            t_best = t;
            best = (vexp_path)p;
        }
    }
    supported[VEXP_AUTO] = 1;
}

static vexp_path resolve(vexp_path p)
{
    pthread_once(&once, detect);
    if (p == VEXP_AUTO || p >= VEXP_NPATHS || !supported[p])
        return best;
    return p;
}

int vexp_supported(vexp_path p)
{
    pthread_once(&once, detect);
    return p < VEXP_NPATHS && supported[p];
}

vexp_path vexp_auto_path(void)
{
    return resolve(VEXP_AUTO);
}

const char *vexp_path_name(vexp_path p)
{
    static const char *const names[VEXP_NPATHS] = {"auto", "scalar", "avx2", "avx512"};
    return p < VEXP_NPATHS ? names[p] : "?";
}

double vexp_shift_on(vexp_path p, float *y, const float *x, size_t n, float sub)
{
    return n ? shift_path(resolve(p), y, x, n, sub) : 0.0;
}

float vexp_max_on(vexp_path p, const float *x, size_t n)
{
    switch (resolve(p)) {
    case VEXP_AVX512: return max_avx512(x, n);
    case VEXP_AVX2: return max_avx2(x, n);
    default: return max_scalar(x, n);
    }
}

void vexp_swiglu_on(vexp_path p, float *a, const float *g, const float *u, size_t n)
{
    switch (resolve(p)) {
    case VEXP_AVX512: swiglu_avx512(a, g, u, n); break;
    case VEXP_AVX2: swiglu_avx2(a, g, u, n); break;
    default: swiglu_scalar(a, g, u, n); break;
    }
}

double vexp_shift(float *y, const float *x, size_t n, float sub)
{
    return vexp_shift_on(VEXP_AUTO, y, x, n, sub);
}

float vexp_max(const float *x, size_t n)
{
    return vexp_max_on(VEXP_AUTO, x, n);
}

void vexp_swiglu(float *a, const float *g, const float *u, size_t n)
{
    vexp_swiglu_on(VEXP_AUTO, a, g, u, n);
}
