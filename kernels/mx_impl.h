/* Private to kernels/mx*.c: the per-format constants and the row kernels that
 * mx_dispatch.c chooses between. Not part of the public API (kernels/mx.h). */
#ifndef MXALLOC_MX_IMPL_H
#define MXALLOC_MX_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernels/mx.h"

/* An element format of an MX block format. The integer format fits the same
 * description: MXINT8 is "no normals above 2^0, 6 fraction bits", i.e. every
 * value is a multiple of 2^-6 below 2 (emin 0, mbits 6). */
typedef struct mx_spec {
    int bits;          /* element code width */
    int ebits, mbits;  /* exponent / mantissa field widths (INT8: 0 / 6) */
    int bias;          /* exponent bias (INT8: unused) */
    int emin;          /* unbiased exponent of the smallest normal (grid step below it is fixed) */
    int emax;          /* emax_elem: unbiased exponent of the largest normal */
    float maxval;      /* largest finite magnitude */
    uint32_t max_m24;  /* maxval = max_m24 * 2^(emax - 23), max_m24 in [2^23, 2^24) */
    int signed_zero;   /* 1 when a code for -0 exists (all FP formats, not INT8) */
} mx_spec;

/* NULL for MX_FP32 / MX_BF16 and out-of-range values. */
const mx_spec *mx_spec_of(mx_format f);

#define MX_QNAN_BITS 0x7FC00000u
#define MX_NAN_SCALE 0xFFu

static inline uint32_t mx_f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float mx_u2f(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* fp32 bit pattern of maxval * 2^(s-127), the saturation bound of a block with
 * scale byte s (exact: it may be an fp32 subnormal only for MXINT8 at s = 0). */
static inline uint32_t mx_sat_bits(const mx_spec *sp, uint32_t s)
{
    int field = sp->emax + (int)s;
    if (field >= 1)
        return ((uint32_t)field << 23) | (sp->max_m24 & 0x7FFFFFu);
    return sp->max_m24 >> (1 - field);
}

/* Scale byte from the largest |x| bit pattern of a block (sign cleared). */
static inline uint32_t mx_scale_from_amax_bits(const mx_spec *sp, uint32_t amax)
{
    if (amax >= 0x7F800000u)
        return MX_NAN_SCALE;
    int s = (int)(amax >> 23) - sp->emax;
    return s > 0 ? (uint32_t)s : 0u;
}

/* Whether a block whose largest |x| has the bit pattern amax can use the SIMD
 * float fast path: rounding |x| to the grid by (|x| + C) - C with
 * C = 2^(max(e, emin_x) - mbits + 23), one C per lane. It needs the element's
 * smallest normal (times X) to be an fp32 normal, so fp32 subnormals sit on
 * the fixed subnormal step, and C to stay finite: a range of max|x| exponents,
 * NaN/Inf excluded. There shared_exp >= 1 - emin, so with E = exponent field of
 * amax: scale byte s = E - emax, emin_x = E - emax + emin, and the saturation
 * bound maxval * X has exponent field E. Other blocks (max|x| below ~2^-100
 * or above ~2^104) take the integer path. */
static inline int mx_fast_block(const mx_spec *sp, uint32_t amax)
{
    uint32_t e = amax >> 23, lo = (uint32_t)(1 + sp->emax - sp->emin);
    return e - lo <= (uint32_t)(231 + sp->mbits) - lo;
}

/* Row kernels: fake-quantize rows [0, rows) of a rows x cols matrix. Formats
 * MX_FP32 and MX_BF16 included. in == out allowed. */
void mx_rows_scalar(mx_format f, const float *in, float *out, size_t rows, size_t cols);
void mx_rows_avx2(mx_format f, const float *in, float *out, size_t rows, size_t cols);
void mx_rows_avx512(mx_format f, const float *in, float *out, size_t rows, size_t cols);

/* Quantize n <= MX_BLOCK values x at scale byte s (not the NaN scale) into q
 * (q == x allowed): one path's block kernel, the same values on every path. */
typedef void (*mx_block_at_fn)(const mx_spec *sp, const float *x, float *q, size_t n, uint32_t s);
void mx_block_at_scalar(const mx_spec *sp, const float *x, float *q, size_t n, uint32_t s);
void mx_block_at_avx2(const mx_spec *sp, const float *x, float *q, size_t n, uint32_t s);
void mx_block_at_avx512(const mx_spec *sp, const float *x, float *q, size_t n, uint32_t s);
/* The mse scale choice (kernels/mx.h) of a block of n values by the block
 * kernel at: returns the scale byte, q holds the block's values (all NaN for
 * the NaN scale); cand is n floats of scratch. The errors are summed in one
 * order on every path, so every path chooses alike. */
uint8_t mx_block_mse(const mx_spec *sp, const float *x, float *q, float *cand, size_t n, mx_block_at_fn at);
/* Rows [0, rows) in the mse scale mode, blocks quantized by at. */
void mx_rows_mse(const mx_spec *sp, const float *in, float *out, size_t rows, size_t cols, mx_block_at_fn at);

/* Scalar element quantization of v = x / X (finite): the nearest grid value
 * (ties to even), saturated; used by the reference path and by mx_pack. */
float mx_quant_elem(const mx_spec *sp, float v);

#endif
