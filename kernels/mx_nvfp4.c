/* NVFP4 (kernels/mx.h): E2M1 elements, an E4M3 scale per 16 elements, one
 * fp32 scale per tensor; the reference scale rule or, in the mse mode, the
 * better of two. Scalar only: MX's SIMD kernels round at power-of-two
 * scales, and this block scale is a float8. */
#include <math.h>

#include "kernels/mx_impl.h"

/* 2^-6: the smallest normal E4M3 (the reference clamps block scales to it). */
#define E4M3_TINY 0x1p-6f

float mx_nvfp4_tensor_scale(const float *x, size_t n)
{
    float amax = 0;
    for (size_t i = 0; i < n; i++) {
        float a = fabsf(x[i]);
        if (a > amax && a <= 3.4028235e38f) /* finite only; NaN compares false */
            amax = a;
    }
    float ts = amax / (448.0f * 6.0f);
    return ts > 0 ? ts : 1.0f;
}

/* max|x| of a block, or -1 when it holds NaN/Inf. */
static float block_amax(const float *x, size_t n)
{
    float amax = 0;
    for (size_t i = 0; i < n; i++) {
        float a = fabsf(x[i]);
        if (!(a <= 3.4028235e38f))
            return -1;
        amax = a > amax ? a : amax;
    }
    return amax;
}

/* The E4M3 byte mapping amax to the element top (6, or 4 for the mse mode's
 * other candidate). */
static uint8_t scale_to(float ts, float amax, float top)
{
    float s = amax / top / ts;
    s = s < E4M3_TINY ? E4M3_TINY : s > 448.0f ? 448.0f : s;
    return mx_encode(MX_FP8_E4M3, s);
}

uint8_t mx_nvfp4_block_scale(float ts, const float *x, size_t n)
{
    float amax = block_amax(x, n);
    return amax < 0 ? MX_NVFP4_NAN_SCALE : scale_to(ts, amax, 6.0f);
}

/* ts * e4m3(s): the divisor of a block's elements (NaN for the NaN byte). */
static float step_of(float ts, uint8_t s)
{
    return s == MX_NVFP4_NAN_SCALE ? mx_u2f(MX_QNAN_BITS) : ts * mx_decode(MX_FP8_E4M3, s);
}

float mx_nvfp4_value(float ts, uint8_t s, uint8_t code)
{
    if (s == MX_NVFP4_NAN_SCALE)
        return mx_u2f(MX_QNAN_BITS);
    /* e2m1 * e4m3 is exact (2 + 4 significant bits): one rounding in all */
    return mx_decode(MX_FP4_E2M1, code) * mx_decode(MX_FP8_E4M3, s) * ts;
}

/* The block at scale byte s (not NaN): codes and values; the squared error,
 * summed in index order in double. */
static double block_at(float ts, uint8_t s, const float *x, float *q, uint8_t *codes, size_t n)
{
    float step = step_of(ts, s);
    double err = 0;
    for (size_t i = 0; i < n; i++) {
        /* x / step, not x * (1 / step): the reference divides */
        codes[i] = mx_encode(MX_FP4_E2M1, x[i] / step);
        q[i] = mx_nvfp4_value(ts, s, codes[i]);
        double d = (double)q[i] - (double)x[i];
        err += d * d;
    }
    return err;
}

uint8_t mx_nvfp4_block(mx_scale_mode m, float ts, const float *x, float *q, uint8_t *codes, size_t n)
{
    float qb[2][MX_NVFP4_BLOCK], amax = block_amax(x, n);
    uint8_t cb[2][MX_NVFP4_BLOCK];
    if (amax < 0) {
        for (size_t i = 0; i < n; i++) {
            if (codes)
                codes[i] = 0;
            if (q)
                q[i] = mx_u2f(MX_QNAN_BITS);
        }
        return MX_NVFP4_NAN_SCALE;
    }
    uint8_t s[2] = {scale_to(ts, amax, 6.0f), scale_to(ts, amax, 4.0f)};
    int k = 0;
    double e0 = block_at(ts, s[0], x, qb[0], cb[0], n);
    /* mse: max|x| on 4 instead of 6 when that errs strictly less (Four Over Six) */
    if (m == MX_SCALE_MSE && s[1] != s[0] && block_at(ts, s[1], x, qb[1], cb[1], n) < e0)
        k = 1;
    if (q)
        memcpy(q, qb[k], n * sizeof *q);
    if (codes)
        memcpy(codes, cb[k], n);
    return s[k];
}

void mx_nvfp4_rows(mx_scale_mode m, float ts, const float *in, float *out, size_t rows, size_t cols)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c += MX_NVFP4_BLOCK) {
            size_t len = cols - c < MX_NVFP4_BLOCK ? cols - c : MX_NVFP4_BLOCK;
            mx_nvfp4_block(m, ts, in + r * cols + c, out + r * cols + c, NULL, len);
        }
}
