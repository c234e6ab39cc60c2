/* The SIMD fake quantization, written once over W-lane vectors: included by
 * mx_avx2.c (W = 8) and mx_avx512.c (W = 16), each defining the vector
 * operations below for its instruction set. No include guard: one copy per
 * instruction set.
 *
 * The block scale X is a power of two, so rounding x / X to the element grid
 * and scaling back is the same as rounding x to the grid scaled by X: done
 * directly on x, by a float magic-number addition for ordinary blocks (fast)
 * and by integer rounding of the significand for the extreme ones (round).
 * Twin of mx_rows_scalar, tested equal.
 *
 * Each including file defines:
 *   W, VI, VF, TGT (the target attribute), SFX(name) (name_avx2, ...)
 *   V_SET1(i)  V_AND V_ANDNOT(a, b) (~a & b)  V_OR  V_ADD V_SUB  V_MAX V_MIN (signed)
 *   V_SRLI V_SLLI (by a constant)  V_SLLV V_SRLV (per lane)  V_CVT_PS  V_CAST_PS V_CAST_SI
 *   VF_ADD VF_SUB VF_MIN
 *   V_NZ(t, x)           x where lane t != 0, else 0
 *   V_SEL_EQ0(t, a, b)   a where lane t == 0, else b
 *   V_SEL_GT(x, y, a, b) a where x > y (signed), else b
 *   V_OR_SIGN(r, b, sz)  r | (b's sign bit), only where r != 0 unless sz
 *   V_LOADN(p, n)        the first min(n, W) floats at p (the rest +0)
 *   V_STOREN(p, n, v)    store the first min(n, W) lanes of v
 *   V_HMAX(v)            the largest lane (signed), as uint32_t */

#define NV (MX_BLOCK / W) /* vectors per block; the loops over them unroll */

/* Round W values (bit patterns b) to the grid of a block: emin_x = biased fp32
 * exponent of the element's smallest normal times X, sat = bits of maxval * X,
 * c23mb = 23 - mbits. Per lane, with m the 24-bit significand (implicit bit
 * included) and Eeff = max(E, 1) the exponent its last bit is weighted by, the
 * grid step is 2^(max(Et, emin_x) - mbits), Et the true binade of |x|; so drop
 * d = max(Et, emin_x) - Eeff + 23 - mbits low bits of m, ties to even (d is
 * capped at 25, where everything rounds to zero). Et = E except for fp32
 * subnormals, which matter only when emin_x < 1 (blocks below ~2^-100): the
 * caller passes exact_sub = 1 then, to find their binade by an int->float
 * conversion of m. */
TGT static inline VI SFX(round)(VI b, VI emin_x, VI sat, VI c23mb, int signed_zero, int exact_sub)
{
    const VI one = V_SET1(1);
    VI sign = V_AND(b, V_SET1((int)0x80000000u));
    VI a = V_AND(b, V_SET1(0x7FFFFFFF));
    VI e = V_SRLI(a, 23);
    VI eeff = V_MAX(e, one);
    VI base = V_SLLI(V_SUB(eeff, one), 23);
    VI m = V_SUB(a, base);
    VI et = eeff;
    if (exact_sub) {
        /* Subnormal: m < 2^23 converts exactly; its float exponent - 149 is Et. */
        VI fe = V_SRLI(V_CAST_SI(V_CVT_PS(m)), 23);
        et = V_SEL_EQ0(e, V_SUB(fe, V_SET1(149)), e);
    }
    VI d = V_ADD(V_SUB(V_MAX(et, emin_x), eeff), c23mb);
    d = V_MIN(d, V_SET1(25));
    VI low = V_SUB(V_SLLV(one, d), one);
    VI odd = V_AND(V_SRLV(m, d), one);
    VI r = V_ADD(V_ADD(m, V_SRLI(low, 1)), odd);
    r = V_ANDNOT(low, r);
    VI res = V_MIN(V_NZ(r, V_ADD(r, base)), sat);
    if (!signed_zero)
        sign = V_NZ(res, sign);
    return V_OR(res, sign);
}

/* The fast path (see mx_fast_block) on a = |x| (bits) and b = x: per lane
 * C = 2^(max(e, emin_x) - mbits + 23) built from the exponent bits; |x| + C
 * rounds (to nearest even) exactly at the grid step, and subtracting C is
 * exact. emin_bits / shift are emin_x << 23 and (23 - mbits) << 23. */
TGT static inline VI SFX(fast)(VI a, VI b, VI emin_bits, VI shift, VF sat, int signed_zero)
{
    VF c = V_CAST_PS(V_ADD(V_MAX(V_AND(a, V_SET1(0x7F800000)), emin_bits), shift));
    VF af = V_CAST_PS(a);
    VI r = V_CAST_SI(VF_MIN(VF_SUB(VF_ADD(af, c), c), sat));
    return V_OR_SIGN(r, b, signed_zero);
}

/* The block of n <= 32 at scale byte s by the integer rounding (which holds
 * for every s), into o. */
TGT static inline void SFX(at_scale)(const mx_spec *sp, const VI *b, uint32_t s, VI *o)
{
    VI emin_x = V_SET1((int)s + sp->emin);
    VI sat = V_SET1((int)mx_sat_bits(sp, s));
    VI c23mb = V_SET1(23 - sp->mbits);
    int sz = sp->signed_zero;
    if ((int)s + sp->emin >= 1)
        _Pragma("GCC unroll 4") for (int k = 0; k < NV; k++)
            o[k] = SFX(round)(b[k], emin_x, sat, c23mb, sz, 0);
    else
        _Pragma("GCC unroll 4") for (int k = 0; k < NV; k++)
            o[k] = SFX(round)(b[k], emin_x, sat, c23mb, sz, 1);
}

TGT static inline void SFX(load_block)(const float *x, size_t n, VI *b)
{
    _Pragma("GCC unroll 4") for (int k = 0; k < NV; k++)
        b[k] = V_CAST_SI(V_LOADN(x + W * k, n > (size_t)(W * k) ? n - (size_t)(W * k) : 0));
}

TGT static inline void SFX(store_block)(float *q, size_t n, const VI *o)
{
    _Pragma("GCC unroll 4") for (int k = 0; k < NV; k++)
        if (n > (size_t)(W * k))
            V_STOREN(q + W * k, n - (size_t)(W * k), V_CAST_PS(o[k]));
}

/* A block of n <= 32 at a given scale byte s (the mse choice tries three). */
TGT void SFX(mx_block_at)(const mx_spec *sp, const float *x, float *q, size_t n, uint32_t s)
{
    VI b[NV], o[NV];
    SFX(load_block)(x, n, b);
    SFX(at_scale)(sp, b, s, o);
    SFX(store_block)(q, n, o);
}

/* NaN blocks and blocks outside the fast range: scalar scale, integer rounding.
 * It loads the block again, so the fast path's vectors stay in registers. */
__attribute__((noinline)) TGT static void SFX(block_slow)(const mx_spec *sp, const float *in, uint32_t amax,
                                                         float *out, size_t n)
{
    VI b[NV], o[NV];
    SFX(load_block)(in, n, b);
    uint32_t s = mx_scale_from_amax_bits(sp, amax);
    if (s == MX_NAN_SCALE)
        _Pragma("GCC unroll 4") for (int k = 0; k < NV; k++)
            o[k] = V_SET1((int)MX_QNAN_BITS);
    else
        SFX(at_scale)(sp, b, s, o);
    SFX(store_block)(out, n, o);
}

/* A block of n <= 32 values; padding lanes load as +0, which leaves max|x|
 * unchanged. in == out is fine: everything is loaded before the first store. */
TGT static inline __attribute__((always_inline)) void SFX(block)(const mx_spec *sp, const float *in, float *out,
                                                                size_t n)
{
    const VI absm = V_SET1(0x7FFFFFFF);
    VI b[NV], a[NV];
    SFX(load_block)(in, n, b);
    VI mx = V_AND(b[0], absm);
    _Pragma("GCC unroll 4") for (int k = 0; k < NV; k++) {
        a[k] = V_AND(b[k], absm);
        mx = V_MAX(mx, a[k]);
    }
    /* |x| patterns order like |x| (NaN above Inf above finite): integer max. */
    uint32_t amax = V_HMAX(mx);
    if (!mx_fast_block(sp, amax)) {
        SFX(block_slow)(sp, in, amax, out, n);
        return;
    }
    VI expo = V_SET1((int)(amax & 0x7F800000u));
    VI emin_bits = V_SUB(expo, V_SET1((sp->emax - sp->emin) << 23));
    VF sat = V_CAST_PS(V_OR(expo, V_SET1((int)(sp->max_m24 & 0x7FFFFFu))));
    VI shift = V_SET1((23 - sp->mbits) << 23);
    VI o[NV];
    if (sp->signed_zero)
        _Pragma("GCC unroll 4") for (int k = 0; k < NV; k++)
            o[k] = SFX(fast)(a[k], b[k], emin_bits, shift, sat, 1);
    else
        _Pragma("GCC unroll 4") for (int k = 0; k < NV; k++)
            o[k] = SFX(fast)(a[k], b[k], emin_bits, shift, sat, 0);
    SFX(store_block)(out, n, o);
}

/* bf16: round to nearest even on the bit pattern; NaN quieted, kept NaN. */
TGT static void SFX(bf16)(const float *in, float *out, size_t n)
{
    const VI absm = V_SET1(0x7FFFFFFF), inf = V_SET1(0x7F800000);
    const VI hi = V_SET1((int)0xFFFF0000u), quiet = V_SET1(0x00400000);
    const VI bias = V_SET1(0x7FFF), one = V_SET1(1);
    for (size_t i = 0; i < n; i += W) {
        VI u = V_CAST_SI(V_LOADN(in + i, n - i));
        VI odd = V_AND(V_SRLI(u, 16), one);
        VI r = V_SEL_GT(V_AND(u, absm), inf, V_OR(u, quiet), V_ADD(u, V_ADD(bias, odd)));
        V_STOREN(out + i, n - i, V_CAST_PS(V_AND(r, hi)));
    }
}

TGT void SFX(mx_rows)(mx_format f, const float *in, float *out, size_t rows, size_t cols)
{
    const mx_spec *sp = mx_spec_of(f);
    if (!sp) {
        if (f == MX_BF16)
            SFX(bf16)(in, out, rows * cols);
        else
            mx_rows_scalar(f, in, out, rows, cols);
        return;
    }
    if (mx_format_scale_mode(f) == MX_SCALE_MSE) {
        mx_rows_mse(sp, in, out, rows, cols, SFX(mx_block_at));
        return;
    }
    size_t full = cols / MX_BLOCK * MX_BLOCK;
    for (size_t r = 0; r < rows; r++) {
        const float *ir = in + r * cols;
        float *orow = out + r * cols;
        for (size_t c = 0; c < full; c += MX_BLOCK)
            SFX(block)(sp, ir + c, orow + c, MX_BLOCK);
        if (full < cols)
            SFX(block)(sp, ir + full, orow + full, cols - full);
    }
}

#undef NV
