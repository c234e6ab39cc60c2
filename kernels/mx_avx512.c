/* AVX-512 (F/BW/DQ/VL) fake quantization: the same two roundings as mx_avx2.c
 * (float fast path, integer path for extreme blocks) on 16 lanes, with masked
 * loads for short blocks. Twin of mx_rows_scalar, tested equal. */
#include <immintrin.h>

#include "kernels/mx_impl.h"

#define MX_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))

/* See round8 in mx_avx2.c for the method (exact_sub: fp32 subnormals' true binade). */
MX_AVX512 static inline __m512i round16(__m512i b, __m512i emin_x, __m512i sat, __m512i c23mb,
                                        int signed_zero, int exact_sub)
{
    const __m512i one = _mm512_set1_epi32(1);
    __m512i sign = _mm512_and_si512(b, _mm512_set1_epi32((int)0x80000000u));
    __m512i a = _mm512_and_si512(b, _mm512_set1_epi32(0x7FFFFFFF));
    __m512i e = _mm512_srli_epi32(a, 23);
    __m512i eeff = _mm512_max_epi32(e, one);
    __m512i base = _mm512_slli_epi32(_mm512_sub_epi32(eeff, one), 23);
    __m512i m = _mm512_sub_epi32(a, base);
    __m512i et = eeff;
    if (exact_sub) {
        __m512i fe = _mm512_srli_epi32(_mm512_castps_si512(_mm512_cvtepi32_ps(m)), 23);
        et = _mm512_mask_sub_epi32(e, _mm512_testn_epi32_mask(e, e), fe, _mm512_set1_epi32(149));
    }
    __m512i d = _mm512_add_epi32(_mm512_sub_epi32(_mm512_max_epi32(et, emin_x), eeff), c23mb);
    d = _mm512_min_epi32(d, _mm512_set1_epi32(25));
    __m512i low = _mm512_sub_epi32(_mm512_sllv_epi32(one, d), one);
    __m512i odd = _mm512_and_si512(_mm512_srlv_epi32(m, d), one);
    __m512i r = _mm512_add_epi32(_mm512_add_epi32(m, _mm512_srli_epi32(low, 1)), odd);
    r = _mm512_andnot_si512(low, r);
    __m512i res = _mm512_maskz_add_epi32(_mm512_test_epi32_mask(r, r), r, base);
    res = _mm512_min_epi32(res, sat);
    if (!signed_zero)
        sign = _mm512_maskz_mov_epi32(_mm512_test_epi32_mask(res, res), sign);
    return _mm512_or_si512(res, sign);
}

/* See fast8 in mx_avx2.c. */
MX_AVX512 static inline __m512i fast16(__m512i a, __m512i b, __m512i emin_bits, __m512i shift,
                                       __m512 sat, int signed_zero)
{
    const __m512i expm = _mm512_set1_epi32(0x7F800000);
    const __m512i signm = _mm512_set1_epi32((int)0x80000000u);
    __m512 c = _mm512_castsi512_ps(
        _mm512_add_epi32(_mm512_max_epi32(_mm512_and_si512(a, expm), emin_bits), shift));
    __m512 af = _mm512_castsi512_ps(a);
    __m512i r = _mm512_castps_si512(_mm512_min_ps(_mm512_sub_ps(_mm512_add_ps(af, c), c), sat));
    /* r | (b & signm), only where r != 0 when zeros are unsigned */
    if (signed_zero)
        return _mm512_ternarylogic_epi32(r, b, signm, 0xF8);
    return _mm512_mask_ternarylogic_epi32(r, _mm512_test_epi32_mask(r, r), b, signm, 0xF8);
}

/* NaN blocks and blocks outside the fast range: scalar scale, integer rounding. */
__attribute__((noinline)) MX_AVX512 static void block_slow(const mx_spec *sp, __m512i b0, __m512i b1, __mmask16 k0,
                                 __mmask16 k1, uint32_t amax, float *out)
{
    uint32_t s = mx_scale_from_amax_bits(sp, amax);
    if (s == MX_NAN_SCALE) {
        __m512i qn = _mm512_set1_epi32((int)MX_QNAN_BITS);
        _mm512_mask_storeu_epi32(out, k0, qn);
        _mm512_mask_storeu_epi32(out + 16, k1, qn);
        return;
    }
    __m512i emin_x = _mm512_set1_epi32((int)s + sp->emin);
    __m512i sat = _mm512_set1_epi32((int)mx_sat_bits(sp, s));
    __m512i c23mb = _mm512_set1_epi32(23 - sp->mbits);
    int sz = sp->signed_zero;
    if ((int)s + sp->emin >= 1) {
        _mm512_mask_storeu_epi32(out, k0, round16(b0, emin_x, sat, c23mb, sz, 0));
        _mm512_mask_storeu_epi32(out + 16, k1, round16(b1, emin_x, sat, c23mb, sz, 0));
    } else {
        _mm512_mask_storeu_epi32(out, k0, round16(b0, emin_x, sat, c23mb, sz, 1));
        _mm512_mask_storeu_epi32(out + 16, k1, round16(b1, emin_x, sat, c23mb, sz, 1));
    }
}

MX_AVX512 static inline void block(const mx_spec *sp, const float *in, float *out, size_t n)
{
    const __m512i absm = _mm512_set1_epi32(0x7FFFFFFF);
    __mmask16 k0 = 0xFFFF, k1 = 0xFFFF;
    if (n < MX_BLOCK) {
        k0 = n >= 16 ? 0xFFFF : (__mmask16)((1u << n) - 1);
        k1 = n <= 16 ? 0 : (__mmask16)((1u << (n - 16)) - 1);
    }
    /* Masked-off lanes load as +0, which leaves max|x| unchanged. */
    __m512i b0 = _mm512_maskz_loadu_epi32(k0, in);
    __m512i b1 = _mm512_maskz_loadu_epi32(k1, in + 16);
    __m512i a0 = _mm512_and_si512(b0, absm), a1 = _mm512_and_si512(b1, absm);
    /* Integer max of the |x| patterns, broadcast to every lane. */
    __m512i mx = _mm512_max_epi32(a0, a1);
    mx = _mm512_max_epi32(mx, _mm512_shuffle_i32x4(mx, mx, _MM_SHUFFLE(1, 0, 3, 2)));
    mx = _mm512_max_epi32(mx, _mm512_shuffle_i32x4(mx, mx, _MM_SHUFFLE(2, 3, 0, 1)));
    mx = _mm512_max_epi32(mx, _mm512_shuffle_epi32(mx, (_MM_PERM_ENUM)_MM_SHUFFLE(1, 0, 3, 2)));
    mx = _mm512_max_epi32(mx, _mm512_shuffle_epi32(mx, (_MM_PERM_ENUM)_MM_SHUFFLE(2, 3, 0, 1)));
    uint32_t amax = (uint32_t)_mm_cvtsi128_si32(_mm512_castsi512_si128(mx));
    if (!mx_fast_block(sp, amax)) {
        block_slow(sp, b0, b1, k0, k1, amax, out);
        return;
    }
    __m512i expo = _mm512_and_si512(mx, _mm512_set1_epi32(0x7F800000));
    __m512i emin_bits = _mm512_sub_epi32(expo, _mm512_set1_epi32((sp->emax - sp->emin) << 23));
    __m512 sat = _mm512_castsi512_ps(_mm512_or_si512(expo, _mm512_set1_epi32((int)(sp->max_m24 & 0x7FFFFFu))));
    __m512i shift = _mm512_set1_epi32((23 - sp->mbits) << 23);
    if (sp->signed_zero) {
        _mm512_mask_storeu_epi32(out, k0, fast16(a0, b0, emin_bits, shift, sat, 1));
        _mm512_mask_storeu_epi32(out + 16, k1, fast16(a1, b1, emin_bits, shift, sat, 1));
    } else {
        _mm512_mask_storeu_epi32(out, k0, fast16(a0, b0, emin_bits, shift, sat, 0));
        _mm512_mask_storeu_epi32(out + 16, k1, fast16(a1, b1, emin_bits, shift, sat, 0));
    }
}

MX_AVX512 static void bf16_avx512(const float *in, float *out, size_t n)
{
    const __m512i absm = _mm512_set1_epi32(0x7FFFFFFF), inf = _mm512_set1_epi32(0x7F800000);
    const __m512i hi = _mm512_set1_epi32((int)0xFFFF0000u), quiet = _mm512_set1_epi32(0x00400000);
    const __m512i bias = _mm512_set1_epi32(0x7FFF), one = _mm512_set1_epi32(1);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = n - i >= 16 ? 0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        __m512i u = _mm512_maskz_loadu_epi32(k, in + i);
        __mmask16 nan = _mm512_cmpgt_epi32_mask(_mm512_and_si512(u, absm), inf);
        __m512i odd = _mm512_and_si512(_mm512_srli_epi32(u, 16), one);
        __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(bias, odd));
        r = _mm512_mask_or_epi32(r, nan, u, quiet);
        _mm512_mask_storeu_epi32(out + i, k, _mm512_and_si512(r, hi));
    }
}

void mx_rows_avx512(mx_format f, const float *in, float *out, size_t rows, size_t cols)
{
    const mx_spec *sp = mx_spec_of(f);
    if (!sp) {
        if (f == MX_BF16)
            bf16_avx512(in, out, rows * cols);
        else
            mx_rows_scalar(f, in, out, rows, cols);
        return;
    }
    if (mx_format_scale_mode(f) == MX_SCALE_MSE) { /* its block kernel is AVX2's */
        mx_rows_mse(sp, in, out, rows, cols, mx_block_at_avx2);
        return;
    }
    for (size_t r = 0; r < rows; r++) {
        const float *ir = in + r * cols;
        float *orow = out + r * cols;
        for (size_t c = 0; c < cols; c += MX_BLOCK)
            block(sp, ir + c, orow + c, cols - c < MX_BLOCK ? cols - c : MX_BLOCK);
    }
}
