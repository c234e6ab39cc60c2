/* The scalar reference: element codecs, block scales and fake quantization,
 * written from the OCP MX v1.0 definitions in plain float arithmetic (frexpf,
 * ldexpf, rintf) so the bit-twiddling SIMD paths have an independent twin. */
#include <math.h>
#include <stdlib.h>

#include "kernels/mx_impl.h"

float mx_e8m0_to_float(uint8_t s)
{
    if (s == MX_NAN_SCALE)
        return mx_u2f(MX_QNAN_BITS);
    return ldexpf(1.0f, (int)s - 127);
}

/* shared_exp = floor(log2(max|x|)) - emax_elem, clamped to [-127, 127]. The
 * floor(log2) comes from frexpf, which is exact for subnormals too. */
static uint8_t scale_of(const mx_spec *sp, const float *x, size_t n)
{
    float amax = 0.0f;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i]))
            return MX_NAN_SCALE;
        float a = fabsf(x[i]);
        if (a > amax)
            amax = a;
    }
    if (amax == 0.0f)
        return 0; /* floor(log2 0) = -inf: clamps to -127 */
    int e;
    frexpf(amax, &e); /* amax = m * 2^e, m in [0.5, 1): floor(log2 amax) = e - 1 */
    int shared = e - 1 - sp->emax;
    if (shared < -127)
        shared = -127;
    if (shared > 127)
        shared = 127;
    return (uint8_t)(shared + 127);
}

/* x quantized with scale byte s (not the NaN scale) into q. Dividing by
 * 2^shared is exact except where the quotient falls below fp32's normals, far
 * under half the element's smallest step, so it rounds to zero either way. */
void mx_block_at_scalar(const mx_spec *sp, const float *x, float *q, size_t n, uint32_t s)
{
    int shared = (int)s - 127;
    for (size_t i = 0; i < n; i++)
        q[i] = ldexpf(mx_quant_elem(sp, ldexpf(x[i], -shared)), shared);
}

/* Squared error of q against x, summed in index order in double: every path
 * gets the same sum, so the same choice. (x - q is exact in double, and so is
 * its square: both have at most 26 significant bits.) */
static double sq_err(const float *x, const float *q, size_t n)
{
    double err = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)x[i] - (double)q[i];
        err += d * d;
    }
    return err;
}

uint8_t mx_block_mse(const mx_spec *sp, const float *x, float *q, float *cand, size_t n, mx_block_at_fn at)
{
    uint8_t s0 = scale_of(sp, x, n);
    if (s0 == MX_NAN_SCALE) {
        for (size_t i = 0; i < n; i++)
            q[i] = mx_u2f(MX_QNAN_BITS);
        return s0;
    }
    uint8_t sb = s0;
    at(sp, x, q, n, s0);
    double eb = sq_err(x, q, n);
    /* s0 + 1, then s0 - 1, each only when strictly better (kernels/mx.h) */
    const int tries[2] = {s0 + 1, s0 - 1};
    for (int t = 0; t < 2 && eb > 0; t++) {
        if (tries[t] < 0 || tries[t] > 254)
            continue;
        at(sp, x, cand, n, (uint32_t)tries[t]);
        double e = sq_err(x, cand, n);
        if (e < eb) {
            memcpy(q, cand, n * sizeof *q);
            eb = e, sb = (uint8_t)tries[t];
        }
    }
    return sb;
}

void mx_rows_mse(const mx_spec *sp, const float *in, float *out, size_t rows, size_t cols, mx_block_at_fn at)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c += MX_BLOCK) {
            size_t len = cols - c < MX_BLOCK ? cols - c : MX_BLOCK;
            float q[MX_BLOCK], cand[MX_BLOCK];
            mx_block_mse(sp, in + r * cols + c, q, cand, len, at);
            memcpy(out + r * cols + c, q, len * sizeof *q); /* after reading in: in == out is fine */
        }
}

uint8_t mx_block_scale(mx_format f, const float *x, size_t n)
{
    const mx_spec *sp = mx_spec_of(f);
    if (!sp)
        return 127;
    if (mx_format_scale_mode(f) == MX_SCALE_OCP_FLOOR)
        return scale_of(sp, x, n);
    float buf[2 * MX_BLOCK], *q = n <= MX_BLOCK ? buf : malloc(2 * n * sizeof *q);
    if (!q)
        return scale_of(sp, x, n); /* out of memory: the OCP choice is still a valid encoding */
    uint8_t sb = mx_block_mse(sp, x, q, q + n, n, mx_block_at_scalar);
    if (q != buf)
        free(q);
    return sb;
}

float mx_quant_elem(const mx_spec *sp, float v)
{
    float a = fabsf(v);
    int e = sp->emin;
    if (a > 0.0f) {
        int e2;
        frexpf(a, &e2);
        if (e2 - 1 > e)
            e = e2 - 1;
    }
    /* Grid step in a's binade (the subnormal step below 2^emin); a / step
     * and the product below are exact power-of-two scalings. */
    float step = ldexpf(1.0f, e - sp->mbits);
    float r = rintf(a / step) * step;
    if (r > sp->maxval)
        r = sp->maxval;
    if (r == 0.0f && !sp->signed_zero)
        return 0.0f;
    return copysignf(r, v);
}

/* Code of a grid value q (|q| <= maxval). */
static uint8_t code_of(const mx_spec *sp, float q)
{
    if (sp->ebits == 0) /* MXINT8: two's complement q * 64 */
        return (uint8_t)(unsigned)(int)lrintf(q * 64.0f);
    unsigned sign = signbit(q) ? 1u << (sp->bits - 1) : 0u;
    float a = fabsf(q);
    unsigned mag;
    if (a < ldexpf(1.0f, sp->emin)) {
        mag = (unsigned)lrintf(ldexpf(a, sp->mbits - sp->emin));
    } else {
        int e2;
        float m = frexpf(a, &e2); /* a = (2m) * 2^(e2-1), 2m in [1, 2) */
        unsigned mant = (unsigned)lrintf(ldexpf(2.0f * m - 1.0f, sp->mbits));
        mag = ((unsigned)(e2 - 1 + sp->bias) << sp->mbits) | mant;
    }
    return (uint8_t)(sign | mag);
}

uint8_t mx_encode(mx_format f, float v)
{
    const mx_spec *sp = mx_spec_of(f);
    return sp ? code_of(sp, mx_quant_elem(sp, v)) : 0;
}

float mx_decode(mx_format f, uint8_t code)
{
    const mx_spec *sp = mx_spec_of(f);
    if (!sp)
        return mx_u2f(MX_QNAN_BITS);
    if (sp->ebits == 0)
        return (float)(code >= 128 ? (int)code - 256 : (int)code) / 64.0f;
    unsigned c = code & ((1u << sp->bits) - 1);
    unsigned emask = (1u << sp->ebits) - 1, mmask = (1u << sp->mbits) - 1;
    unsigned ef = (c >> sp->mbits) & emask, mant = c & mmask;
    int neg = (c >> (sp->bits - 1)) & 1;
    float v;
    mx_format b = mx_format_base(f);
    if (b == MX_FP8_E4M3 && ef == emask && mant == mmask)
        v = mx_u2f(MX_QNAN_BITS); /* S.1111.111: E4M3's only NaN, no Inf */
    else if (b == MX_FP8_E5M2 && ef == emask)
        v = mant ? mx_u2f(MX_QNAN_BITS) : INFINITY; /* IEEE-like */
    else if (ef == 0)
        v = ldexpf((float)mant, sp->emin - sp->mbits);
    else
        v = ldexpf((float)((1u << sp->mbits) | mant), (int)ef - sp->bias - sp->mbits);
    return neg ? -v : v;
}

float mx_bf16_round(float x)
{
    uint32_t u = mx_f2u(x);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) /* NaN: quiet it so truncation keeps it NaN */
        return mx_u2f((u | 0x00400000u) & 0xFFFF0000u);
    u += 0x7FFFu + ((u >> 16) & 1u);     /* ties to even; overflow carries into Inf */
    return mx_u2f(u & 0xFFFF0000u);
}

static void block_scalar(const mx_spec *sp, const float *in, float *out, size_t n)
{
    uint8_t s = scale_of(sp, in, n);
    if (s == MX_NAN_SCALE) {
        for (size_t i = 0; i < n; i++)
            out[i] = mx_u2f(MX_QNAN_BITS);
        return;
    }
    mx_block_at_scalar(sp, in, out, n, s);
}

void mx_rows_scalar(mx_format f, const float *in, float *out, size_t rows, size_t cols)
{
    size_t n = rows * cols;
    if (f == MX_FP32) {
        if (in != out)
            memmove(out, in, n * sizeof *in);
        return;
    }
    if (f == MX_BF16) {
        for (size_t i = 0; i < n; i++)
            out[i] = mx_bf16_round(in[i]);
        return;
    }
    const mx_spec *sp = mx_spec_of(f);
    if (!sp)
        return;
    if (mx_format_scale_mode(f) == MX_SCALE_MSE) {
        mx_rows_mse(sp, in, out, rows, cols, mx_block_at_scalar);
        return;
    }
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c += MX_BLOCK) {
            size_t len = cols - c < MX_BLOCK ? cols - c : MX_BLOCK;
            block_scalar(sp, in + r * cols + c, out + r * cols + c, len);
        }
}

void mx_fake_quant_scalar(mx_format f, const float *in, float *out, size_t rows, size_t cols)
{
    if (mx_is_nvfp4(f))
        mx_nvfp4_rows(mx_format_scale_mode(f), mx_nvfp4_tensor_scale(in, rows * cols), in, out, rows, cols);
    else
        mx_rows_scalar(f, in, out, rows, cols);
}
