/* NVFP4 (kernels/mx.h): E2M1 elements, an E4M3 scale per 16 elements, one
 * fp32 scale per tensor. Scalar only: the scale search of MX's SIMD paths
 * does not apply (the block scale is a float8, not a power of two). */
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

uint8_t mx_nvfp4_block_scale(float ts, const float *x, size_t n)
{
    float amax = 0;
    for (size_t i = 0; i < n; i++) {
        float a = fabsf(x[i]);
        if (!(a <= 3.4028235e38f))
            return MX_NVFP4_NAN_SCALE;
        amax = a > amax ? a : amax;
    }
    float s = amax / 6.0f / ts;
    s = s < E4M3_TINY ? E4M3_TINY : s > 448.0f ? 448.0f : s;
    return mx_encode(MX_FP8_E4M3, s);
}

float mx_nvfp4_step(float ts, uint8_t s)
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

uint8_t mx_nvfp4_block(float ts, const float *x, float *q, uint8_t *codes, size_t n)
{
    uint8_t s = mx_nvfp4_block_scale(ts, x, n);
    float step = mx_nvfp4_step(ts, s);
    for (size_t i = 0; i < n; i++) {
        /* x / step, not x * (1 / step): the reference divides */
        uint8_t c = s == MX_NVFP4_NAN_SCALE ? 0 : mx_encode(MX_FP4_E2M1, x[i] / step);
        if (codes)
            codes[i] = c;
        if (q)
            q[i] = mx_nvfp4_value(ts, s, c);
    }
    return s;
}

void mx_nvfp4_rows(float ts, const float *in, float *out, size_t rows, size_t cols)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c += MX_NVFP4_BLOCK) {
            size_t len = cols - c < MX_NVFP4_BLOCK ? cols - c : MX_NVFP4_BLOCK;
            mx_nvfp4_block(ts, in + r * cols + c, out + r * cols + c, NULL, len);
        }
}
