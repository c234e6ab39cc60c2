/* AVX2 fake quantization. The block scale X is a power of two, so rounding
 * x / X to the element grid and scaling back is the same as rounding x to the
 * grid scaled by X: done directly on x, by a float magic-number addition for
 * ordinary blocks (fast8) and by integer rounding of the significand for the
 * extreme ones (round8). Twin of mx_rows_scalar, tested equal. */
#include <immintrin.h>

#include "kernels/mx_impl.h"

#define MX_AVX2 __attribute__((target("avx2,fma")))

/* Round 8 values (bit patterns b) to the grid of a block: emin_x = biased fp32
 * exponent of the element's smallest normal times X, sat = bits of maxval * X,
 * c23mb = 23 - mbits. Per lane, with m the 24-bit significand (implicit bit
 * included) and Eeff = max(E, 1) the exponent its last bit is weighted by, the
 * grid step is 2^(max(Et, emin_x) - mbits), Et the true binade of |x|; so drop
 * d = max(Et, emin_x) - Eeff + 23 - mbits low bits of m, ties to even (d is
 * capped at 25, where everything rounds to zero). Et = E except for fp32
 * subnormals, which matter only when emin_x < 1 (blocks below ~2^-100): the
 * caller passes exact_sub = 1 then, to find their binade by an int->float
 * conversion of m. */
MX_AVX2 static inline __m256i round8(__m256i b, __m256i emin_x, __m256i sat, __m256i c23mb,
                                     int signed_zero, int exact_sub)
{
    const __m256i one = _mm256_set1_epi32(1), zero = _mm256_setzero_si256();
    __m256i sign = _mm256_and_si256(b, _mm256_set1_epi32((int)0x80000000u));
    __m256i a = _mm256_and_si256(b, _mm256_set1_epi32(0x7FFFFFFF));
    __m256i e = _mm256_srli_epi32(a, 23);
    __m256i eeff = _mm256_max_epi32(e, one);
    __m256i base = _mm256_slli_epi32(_mm256_sub_epi32(eeff, one), 23);
    __m256i m = _mm256_sub_epi32(a, base);
    __m256i et = eeff;
    if (exact_sub) {
        /* Subnormal: m < 2^23 converts exactly; its float exponent - 149 is Et. */
        __m256i fe = _mm256_srli_epi32(_mm256_castps_si256(_mm256_cvtepi32_ps(m)), 23);
        et = _mm256_blendv_epi8(e, _mm256_sub_epi32(fe, _mm256_set1_epi32(149)),
                                _mm256_cmpeq_epi32(e, zero));
    }
    __m256i d = _mm256_add_epi32(_mm256_sub_epi32(_mm256_max_epi32(et, emin_x), eeff), c23mb);
    d = _mm256_min_epi32(d, _mm256_set1_epi32(25));
    __m256i low = _mm256_sub_epi32(_mm256_sllv_epi32(one, d), one);
    __m256i odd = _mm256_and_si256(_mm256_srlv_epi32(m, d), one);
    __m256i r = _mm256_add_epi32(_mm256_add_epi32(m, _mm256_srli_epi32(low, 1)), odd);
    r = _mm256_andnot_si256(low, r);
    __m256i res = _mm256_andnot_si256(_mm256_cmpeq_epi32(r, zero), _mm256_add_epi32(r, base));
    res = _mm256_min_epi32(res, sat);
    if (!signed_zero)
        sign = _mm256_andnot_si256(_mm256_cmpeq_epi32(res, zero), sign);
    return _mm256_or_si256(res, sign);
}

/* The fast path (see mx_fast_block) on a = |x| (bits) and b = x: per lane
 * C = 2^(max(e, emin_x) - mbits + 23) built from the exponent bits; |x| + C
 * rounds (to nearest even) exactly at the grid step, and subtracting C is
 * exact. emin_bits / shift are emin_x << 23 and (23 - mbits) << 23. */
MX_AVX2 static inline __m256i fast8(__m256i a, __m256i b, __m256i emin_bits, __m256i shift,
                                    __m256 sat, int signed_zero)
{
    const __m256i expm = _mm256_set1_epi32(0x7F800000);
    __m256 c = _mm256_castsi256_ps(
        _mm256_add_epi32(_mm256_max_epi32(_mm256_and_si256(a, expm), emin_bits), shift));
    __m256 af = _mm256_castsi256_ps(a);
    __m256 r = _mm256_min_ps(_mm256_sub_ps(_mm256_add_ps(af, c), c), sat);
    __m256i sign = _mm256_xor_si256(a, b);
    if (!signed_zero)
        sign = _mm256_andnot_si256(
            _mm256_castps_si256(_mm256_cmp_ps(r, _mm256_setzero_ps(), _CMP_EQ_OQ)), sign);
    return _mm256_or_si256(_mm256_castps_si256(r), sign);
}

/* NaN blocks and blocks outside the fast range: scalar scale, integer rounding. */
__attribute__((noinline)) MX_AVX2 static void block32_slow(const mx_spec *sp, const float *in, uint32_t amax, __m256i *o)
{
    __m256i b[4];
    for (int k = 0; k < 4; k++)
        b[k] = _mm256_loadu_si256((const __m256i *)(in + 8 * k));
    uint32_t s = mx_scale_from_amax_bits(sp, amax);
    if (s == MX_NAN_SCALE) {
        __m256i qn = _mm256_set1_epi32((int)MX_QNAN_BITS);
        for (int k = 0; k < 4; k++)
            _mm256_storeu_si256(o + k, qn);
        return;
    }
    __m256i emin_x = _mm256_set1_epi32((int)s + sp->emin);
    __m256i sat = _mm256_set1_epi32((int)mx_sat_bits(sp, s));
    __m256i c23mb = _mm256_set1_epi32(23 - sp->mbits);
    int sz = sp->signed_zero;
    if ((int)s + sp->emin >= 1)
        for (int k = 0; k < 4; k++)
            _mm256_storeu_si256(o + k, round8(b[k], emin_x, sat, c23mb, sz, 0));
    else
        for (int k = 0; k < 4; k++)
            _mm256_storeu_si256(o + k, round8(b[k], emin_x, sat, c23mb, sz, 1));
}

/* A block of n <= 32 at a given scale byte s (the mse choice tries three):
 * the integer rounding, which holds for every s. */
MX_AVX2 void mx_block_at_avx2(const mx_spec *sp, const float *x, float *q, size_t n, uint32_t s)
{
    float buf[MX_BLOCK] = {0};
    const float *in = x;
    if (n < MX_BLOCK) {
        memcpy(buf, x, n * sizeof *buf);
        in = buf;
    }
    __m256i emin_x = _mm256_set1_epi32((int)s + sp->emin);
    __m256i sat = _mm256_set1_epi32((int)mx_sat_bits(sp, s));
    __m256i c23mb = _mm256_set1_epi32(23 - sp->mbits);
    int sub = (int)s + sp->emin < 1;
    __m256i o[4];
    for (int k = 0; k < 4; k++) {
        __m256i b = _mm256_loadu_si256((const __m256i *)(in + 8 * k));
        o[k] = sub ? round8(b, emin_x, sat, c23mb, sp->signed_zero, 1)
                   : round8(b, emin_x, sat, c23mb, sp->signed_zero, 0);
    }
    if (n == MX_BLOCK) {
        for (int k = 0; k < 4; k++)
            _mm256_storeu_si256((__m256i *)(q + 8 * k), o[k]);
        return;
    }
    for (int k = 0; k < 4; k++)
        _mm256_storeu_si256((__m256i *)(buf + 8 * k), o[k]);
    memcpy(q, buf, n * sizeof *q);
}

MX_AVX2 static inline void block32(const mx_spec *sp, const float *in, float *out)
{
    const __m256i absm = _mm256_set1_epi32(0x7FFFFFFF);
    __m256i b0 = _mm256_loadu_si256((const __m256i *)in);
    __m256i b1 = _mm256_loadu_si256((const __m256i *)(in + 8));
    __m256i b2 = _mm256_loadu_si256((const __m256i *)(in + 16));
    __m256i b3 = _mm256_loadu_si256((const __m256i *)(in + 24));
    __m256i a0 = _mm256_and_si256(b0, absm), a1 = _mm256_and_si256(b1, absm);
    __m256i a2 = _mm256_and_si256(b2, absm), a3 = _mm256_and_si256(b3, absm);
    /* |x| patterns order like |x| (NaN above Inf above finite): integer max. */
    __m256i mx = _mm256_max_epi32(_mm256_max_epi32(a0, a1), _mm256_max_epi32(a2, a3));
    __m128i h = _mm_max_epi32(_mm256_castsi256_si128(mx), _mm256_extracti128_si256(mx, 1));
    h = _mm_max_epi32(h, _mm_shuffle_epi32(h, _MM_SHUFFLE(1, 0, 3, 2)));
    h = _mm_max_epi32(h, _mm_shuffle_epi32(h, _MM_SHUFFLE(2, 3, 0, 1)));
    uint32_t amax = (uint32_t)_mm_cvtsi128_si32(h);
    __m256i *o = (__m256i *)out;
    if (!mx_fast_block(sp, amax)) {
        block32_slow(sp, in, amax, o); /* nothing written yet: in == out is fine */
        return;
    }
    __m256i expo = _mm256_and_si256(_mm256_broadcastd_epi32(h), _mm256_set1_epi32(0x7F800000));
    __m256i emin_bits = _mm256_sub_epi32(expo, _mm256_set1_epi32((sp->emax - sp->emin) << 23));
    __m256 sat = _mm256_castsi256_ps(_mm256_or_si256(expo, _mm256_set1_epi32((int)(sp->max_m24 & 0x7FFFFFu))));
    __m256i shift = _mm256_set1_epi32((23 - sp->mbits) << 23);
    if (sp->signed_zero) {
        _mm256_storeu_si256(o, fast8(a0, b0, emin_bits, shift, sat, 1));
        _mm256_storeu_si256(o + 1, fast8(a1, b1, emin_bits, shift, sat, 1));
        _mm256_storeu_si256(o + 2, fast8(a2, b2, emin_bits, shift, sat, 1));
        _mm256_storeu_si256(o + 3, fast8(a3, b3, emin_bits, shift, sat, 1));
    } else {
        _mm256_storeu_si256(o, fast8(a0, b0, emin_bits, shift, sat, 0));
        _mm256_storeu_si256(o + 1, fast8(a1, b1, emin_bits, shift, sat, 0));
        _mm256_storeu_si256(o + 2, fast8(a2, b2, emin_bits, shift, sat, 0));
        _mm256_storeu_si256(o + 3, fast8(a3, b3, emin_bits, shift, sat, 0));
    }
}

MX_AVX2 static void bf16_avx2(const float *in, float *out, size_t n)
{
    const __m256i absm = _mm256_set1_epi32(0x7FFFFFFF), inf = _mm256_set1_epi32(0x7F800000);
    const __m256i hi = _mm256_set1_epi32((int)0xFFFF0000u), quiet = _mm256_set1_epi32(0x00400000);
    const __m256i bias = _mm256_set1_epi32(0x7FFF), one = _mm256_set1_epi32(1);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i u = _mm256_loadu_si256((const __m256i *)(in + i));
        __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, absm), inf);
        __m256i odd = _mm256_and_si256(_mm256_srli_epi32(u, 16), one);
        __m256i r = _mm256_and_si256(_mm256_add_epi32(u, _mm256_add_epi32(bias, odd)), hi);
        __m256i q = _mm256_and_si256(_mm256_or_si256(u, quiet), hi);
        _mm256_storeu_si256((__m256i *)(out + i), _mm256_blendv_epi8(r, q, nan));
    }
    for (; i < n; i++)
        out[i] = mx_bf16_round(in[i]);
}

void mx_rows_avx2(mx_format f, const float *in, float *out, size_t rows, size_t cols)
{
    const mx_spec *sp = mx_spec_of(f);
    if (!sp) {
        if (f == MX_BF16)
            bf16_avx2(in, out, rows * cols);
        else
            mx_rows_scalar(f, in, out, rows, cols);
        return;
    }
    if (mx_format_scale_mode(f) == MX_SCALE_MSE) {
        mx_rows_mse(sp, in, out, rows, cols, mx_block_at_avx2);
        return;
    }
    size_t full = cols / MX_BLOCK * MX_BLOCK, tail = cols - full;
    for (size_t r = 0; r < rows; r++) {
        const float *ir = in + r * cols;
        float *orow = out + r * cols;
        for (size_t c = 0; c < full; c += MX_BLOCK)
            block32(sp, ir + c, orow + c);
        if (tail) {
            /* Zero padding leaves max|x| unchanged. */
            float buf[MX_BLOCK] = {0};
            memcpy(buf, ir + full, tail * sizeof *buf);
            block32(sp, buf, buf);
            memcpy(orow + full, buf, tail * sizeof *buf);
        }
    }
}
