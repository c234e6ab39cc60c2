/* GGML block types dequantized to fp32, each from its block layout:
 *   Q4_0  {f16 d; u8 qs[16]}                 x = d * (nibble - 8)
 *   Q4_1  {f16 d, m; u8 qs[16]}              x = d * nibble + m
 *   Q5_0  {f16 d; u8 qh[4]; u8 qs[16]}       x = d * ((nibble | hbit << 4) - 16)
 *   Q5_1  {f16 d, m; u8 qh[4]; u8 qs[16]}    x = d * (nibble | hbit << 4) + m
 *   Q8_0  {f16 d; i8 qs[32]}                 x = d * q
 *   MXFP4 {u8 e; u8 qs[16]}                  x = 2^(e-127) * E2M1(nibble)
 * (32-element blocks: byte j holds element j in its low nibble and j+16 in
 * its high nibble; qh bit j is element j's fifth bit), the 64-element
 *   NVFP4 {u8 d[4]; u8 qs[32]}               x = E4M3(d[k]) * E2M1(nibble)
 * of four 16-element sub-blocks k (byte 8k+j: element j low, j+8 high; the
 * scale byte 0x7F, E4M3's NaN, reads as 0 as in ggml; the per-tensor scale is
 * a separate tensor, applied by the reader), and the 256-element
 * K-quant super-blocks of 16 or 8 sub-blocks with 4/6/8-bit sub-scales:
 *   Q2_K  {u8 scales[16]; u8 qs[64]; f16 d, dmin}       x = d*sc*q - dmin*m (2-bit q)
 *   Q3_K  {u8 hmask[32]; u8 qs[64]; u8 scales[12]; f16 d}  x = d*(sc-32)*(q - 4*!hbit)
 *   Q4_K  {f16 d, dmin; u8 scales[12]; u8 qs[128]}      x = d*sc*q - dmin*m (4-bit q)
 *   Q5_K  {f16 d, dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]}
 *   Q6_K  {u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d}  x = d*sc*(q - 32)
 * Sub-block products (d*sc, dmin*m) are rounded to float before they scale
 * the quants, as ggml's reference code does, so results match it exactly. */
#include "kernels/ggml_quant.h"

#include <string.h>

#define QK 32
#define QK_K 256

static const gq_traits traits[] = {
    {GQ_F32, "F32", 1, 4},        {GQ_F16, "F16", 1, 2},        {GQ_BF16, "BF16", 1, 2},
    {GQ_Q8_0, "Q8_0", QK, 34},    {GQ_Q4_0, "Q4_0", QK, 18},    {GQ_Q4_1, "Q4_1", QK, 20},
    {GQ_Q5_0, "Q5_0", QK, 22},    {GQ_Q5_1, "Q5_1", QK, 24},    {GQ_MXFP4, "MXFP4", QK, 17},
    {GQ_NVFP4, "NVFP4", 64, 36},
    {GQ_Q2_K, "Q2_K", QK_K, 84},  {GQ_Q3_K, "Q3_K", QK_K, 110}, {GQ_Q4_K, "Q4_K", QK_K, 144},
    {GQ_Q5_K, "Q5_K", QK_K, 176}, {GQ_Q6_K, "Q6_K", QK_K, 210},
};
#define N_TRAITS (sizeof traits / sizeof traits[0])

/* Every id ggml has assigned (removed ones included, so old files get a name). */
static const char *const all_names[] = {
    "F32", "F16", "Q4_0", "Q4_1", "Q4_2", "Q4_3", "Q5_0", "Q5_1", "Q8_0", "Q8_1", "Q2_K", "Q3_K",
    "Q4_K", "Q5_K", "Q6_K", "Q8_K", "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S",
    "IQ2_S", "IQ4_XS", "I8", "I16", "I32", "I64", "F64", "IQ1_M", "BF16", "Q4_0_4_4", "Q4_0_4_8",
    "Q4_0_8_8", "TQ1_0", "TQ2_0", "IQ4_NL_4_4", "IQ4_NL_4_8", "IQ4_NL_8_8", "MXFP4", "NVFP4",
    "Q1_0", "Q2_0"};

const gq_traits *gq_traits_of(uint32_t type)
{
    for (size_t i = 0; i < N_TRAITS; i++)
        if ((uint32_t)traits[i].type == type)
            return &traits[i];
    return NULL;
}

const char *gq_type_name(uint32_t type)
{
    return type < sizeof all_names / sizeof all_names[0] ? all_names[type] : NULL;
}

const char *gq_supported_list(void)
{
    return "F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, MXFP4, NVFP4, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K";
}

uint64_t gq_row_bytes(const gq_traits *t, uint64_t n)
{
    if (n % (uint64_t)t->block)
        return 0;
    uint64_t nb = n / (uint64_t)t->block;
    if (nb > UINT64_MAX / (uint64_t)t->bytes)
        return 0;
    return nb * (uint64_t)t->bytes;
}

float gq_f16(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, ex = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (ex == 0x1f) {
        bits = sign | 0x7f800000u | man << 13;
    } else if (ex) {
        bits = sign | (ex + 112) << 23 | man << 13;
    } else if (man) {
        /* subnormal: normalize the mantissa */
        int e = 113;
        while (!(man & 0x400)) {
            man <<= 1;
            e--;
        }
        bits = sign | (uint32_t)e << 23 | (man & 0x3ff) << 13;
    } else {
        bits = sign;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

float gq_e8m0(uint8_t e)
{
    /* 2^(e-127); e = 0 and 1 are float subnormal/smallest normal: build the bits. */
    uint32_t bits = e >= 1 ? (uint32_t)e << 23 : 0x00400000u;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static float half_at(const uint8_t *p)
{
    return gq_f16((uint16_t)(p[0] | p[1] << 8));
}

/* 32-element blocks ------------------------------------------------------- */

static void dq_q8_0(const uint8_t *b, float *y)
{
    float d = half_at(b);
    for (int j = 0; j < QK; j++)
        y[j] = (float)(int8_t)b[2 + j] * d;
}

static void dq_q4_0(const uint8_t *b, float *y)
{
    float d = half_at(b);
    const uint8_t *qs = b + 2;
    for (int j = 0; j < QK / 2; j++) {
        y[j] = (float)((qs[j] & 0xf) - 8) * d;
        y[j + QK / 2] = (float)((qs[j] >> 4) - 8) * d;
    }
}

static void dq_q4_1(const uint8_t *b, float *y)
{
    float d = half_at(b), m = half_at(b + 2);
    const uint8_t *qs = b + 4;
    for (int j = 0; j < QK / 2; j++) {
        y[j] = (float)(qs[j] & 0xf) * d + m;
        y[j + QK / 2] = (float)(qs[j] >> 4) * d + m;
    }
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void dq_q5_0(const uint8_t *b, float *y)
{
    float d = half_at(b);
    uint32_t qh = le32(b + 2);
    const uint8_t *qs = b + 6;
    for (int j = 0; j < QK / 2; j++) {
        int lo = (qs[j] & 0xf) | (int)((qh >> j) & 1) << 4;
        int hi = (qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
        y[j] = (float)(lo - 16) * d;
        y[j + QK / 2] = (float)(hi - 16) * d;
    }
}

static void dq_q5_1(const uint8_t *b, float *y)
{
    float d = half_at(b), m = half_at(b + 2);
    uint32_t qh = le32(b + 4);
    const uint8_t *qs = b + 8;
    for (int j = 0; j < QK / 2; j++) {
        int lo = (qs[j] & 0xf) | (int)((qh >> j) & 1) << 4;
        int hi = (qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
        y[j] = (float)lo * d + m;
        y[j + QK / 2] = (float)hi * d + m;
    }
}

/* E2M1 values doubled (0, 0.5, 1, 1.5, 2, 3, 4, 6 -> integers), so the
 * scales are halved, as ggml computes them (exact either way). */
static const int8_t e2m1x2[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

static void dq_mxfp4(const uint8_t *b, float *y)
{
    uint8_t e = b[0];
    uint32_t bits = e >= 2 ? (uint32_t)(e - 1) << 23 : 0x00200000u << e;
    float d;
    memcpy(&d, &bits, 4);
    const uint8_t *qs = b + 1;
    for (int j = 0; j < QK / 2; j++) {
        y[j] = (float)e2m1x2[qs[j] & 0xf] * d;
        y[j + QK / 2] = (float)e2m1x2[qs[j] >> 4] * d;
    }
}

/* Half an unsigned E4M3 (bias 7, subnormals m * 2^-9); 0 and 0x7F give 0. */
static float ue4m3_half(uint8_t x)
{
    if (x == 0 || x == 0x7F)
        return 0;
    int e = (x >> 3) & 0xF, m = x & 7;
    /* as an fp32 bit pattern, exactly: (8 + m) * 2^(e - 11) or m * 2^-10 */
    uint32_t bits = e ? (uint32_t)(e - 1 + 127 - 7) << 23 | (uint32_t)m << 20 : 0;
    float d;
    memcpy(&d, &bits, 4);
    return e ? d : (float)m * 0x1p-10f;
}

static void dq_nvfp4(const uint8_t *b, float *y)
{
    for (int k = 0; k < 4; k++) {
        float d = ue4m3_half(b[k]);
        const uint8_t *qs = b + 4 + 8 * k;
        for (int j = 0; j < 8; j++) {
            y[16 * k + j] = (float)e2m1x2[qs[j] & 0xf] * d;
            y[16 * k + j + 8] = (float)e2m1x2[qs[j] >> 4] * d;
        }
    }
}

/* K-quants ------------------------------------------------------------------ */

static void dq_q2_k(const uint8_t *b, float *y)
{
    const uint8_t *sc = b, *q = b + 16;
    float d = half_at(b + 80), dmin = half_at(b + 82);
    /* Two halves of 128; in each, 4 bit-planes (shift 0,2,4,6) of 32 bytes,
     * each plane two 16-element sub-blocks with their own scale/min nibbles. */
    int is = 0;
    for (int half = 0; half < 2; half++, q += 32)
        for (int shift = 0; shift < 8; shift += 2)
            for (int part = 0; part < 2; part++, is++) {
                float dl = d * (float)(sc[is] & 0xf), ml = dmin * (float)(sc[is] >> 4);
                for (int l = 0; l < 16; l++)
                    *y++ = dl * (float)((q[16 * part + l] >> shift) & 3) - ml;
            }
}

/* The 16 six-bit scales of Q3_K: low nibbles in bytes 0..7 (two per byte,
 * low nibble first for scales 0..7, high nibble for 8..15), top two bits in
 * bytes 8..11 (scale i: byte 8 + i%4, bits 2*(i/4)). */
static void q3k_scales(const uint8_t *s, int sc[16])
{
    for (int i = 0; i < 16; i++) {
        int lo = i < 8 ? s[i] & 0xf : s[i - 8] >> 4;
        int hi = (s[8 + i % 4] >> (2 * (i / 4))) & 3;
        sc[i] = (lo | hi << 4) - 32;
    }
}

static void dq_q3_k(const uint8_t *b, float *y)
{
    const uint8_t *hm = b, *q = b + 32;
    int sc[16];
    q3k_scales(b + 96, sc);
    float d = half_at(b + 108);
    int is = 0, bit = 0;
    for (int half = 0; half < 2; half++, q += 32)
        for (int shift = 0; shift < 8; shift += 2, bit++)
            for (int part = 0; part < 2; part++, is++) {
                float dl = d * (float)sc[is];
                for (int l = 0; l < 16; l++) {
                    int k = 16 * part + l;
                    int v = ((q[k] >> shift) & 3) - ((hm[k] >> bit) & 1 ? 0 : 4);
                    *y++ = dl * (float)v;
                }
            }
}

/* Scale and min of sub-block j (0..7) of Q4_K/Q5_K: six bits each; j < 4 in
 * the low six bits of bytes j and j+4, j >= 4 in the nibbles of byte j+4
 * with the top two bits from the high bits of bytes j-4 and j. */
static void k4_scale_min(const uint8_t *s, int j, int *sc, int *m)
{
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0xf) | (s[j - 4] >> 6) << 4;
        *m = (s[j + 4] >> 4) | (s[j] >> 6) << 4;
    }
}

/* Q4_K and Q5_K share their layout: d, dmin, 12 bytes of 6-bit scales and
 * mins, then (Q5_K only) 32 bytes of fifth bits, then 128 bytes of nibbles. */
static void dq_q45_k(const uint8_t *b, float *y, int five)
{
    float d = half_at(b), dmin = half_at(b + 2);
    const uint8_t *s = b + 4, *qh = b + 16, *q = b + (five ? 48 : 16);
    for (int j = 0; j < 8; j += 2, q += 32) {
        int sc, m;
        k4_scale_min(s, j, &sc, &m);
        float d1 = d * (float)sc, m1 = dmin * (float)m;
        k4_scale_min(s, j + 1, &sc, &m);
        float d2 = d * (float)sc, m2 = dmin * (float)m;
        for (int l = 0; l < 32; l++)
            *y++ = d1 * (float)((q[l] & 0xf) | (five ? ((qh[l] >> j) & 1) << 4 : 0)) - m1;
        for (int l = 0; l < 32; l++)
            *y++ = d2 * (float)((q[l] >> 4) | (five ? ((qh[l] >> (j + 1)) & 1) << 4 : 0)) - m2;
    }
}

static void dq_q4_k(const uint8_t *b, float *y)
{
    dq_q45_k(b, y, 0);
}

static void dq_q5_k(const uint8_t *b, float *y)
{
    dq_q45_k(b, y, 1);
}

static void dq_q6_k(const uint8_t *b, float *y)
{
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t *sc = (const int8_t *)(b + 192);
    float d = half_at(b + 208);
    /* Two halves of 128: element l + 32*k (k = 0..3) takes nibble k/2 of
     * ql[l + 32*(k%2)] and bits 2k..2k+1 of qh[l]; scale sc[l/16 + 2k]. */
    for (int half = 0; half < 2; half++, ql += 64, qh += 32, sc += 8, y += 128)
        for (int k = 0; k < 4; k++)
            for (int l = 0; l < 32; l++) {
                int lo = (ql[l + 32 * (k & 1)] >> (4 * (k >> 1))) & 0xf;
                int v = (lo | ((qh[l] >> (2 * k)) & 3) << 4) - 32;
                y[l + 32 * k] = d * (float)sc[l / 16 + 2 * k] * (float)v;
            }
}

void gq_dequantize(const gq_traits *t, const uint8_t *src, float *dst, uint64_t n)
{
    void (*blk)(const uint8_t *, float *) = NULL;
    switch (t->type) {
    case GQ_F32:
        for (uint64_t i = 0; i < n; i++) {
            uint32_t b = le32(src + 4 * i);
            memcpy(&dst[i], &b, 4);
        }
        return;
    case GQ_F16:
        for (uint64_t i = 0; i < n; i++)
            dst[i] = half_at(src + 2 * i);
        return;
    case GQ_BF16:
        for (uint64_t i = 0; i < n; i++) {
            uint32_t b = (uint32_t)(src[2 * i] | src[2 * i + 1] << 8) << 16;
            memcpy(&dst[i], &b, 4);
        }
        return;
    case GQ_Q8_0: blk = dq_q8_0; break;
    case GQ_Q4_0: blk = dq_q4_0; break;
    case GQ_Q4_1: blk = dq_q4_1; break;
    case GQ_Q5_0: blk = dq_q5_0; break;
    case GQ_Q5_1: blk = dq_q5_1; break;
    case GQ_MXFP4: blk = dq_mxfp4; break;
    case GQ_NVFP4: blk = dq_nvfp4; break;
    case GQ_Q2_K: blk = dq_q2_k; break;
    case GQ_Q3_K: blk = dq_q3_k; break;
    case GQ_Q4_K: blk = dq_q4_k; break;
    case GQ_Q5_K: blk = dq_q5_k; break;
    case GQ_Q6_K: blk = dq_q6_k; break;
    default: return;
    }
    uint64_t nb = n / (uint64_t)t->block;
    for (uint64_t i = 0; i < nb; i++)
        blk(src + i * (uint64_t)t->bytes, dst + i * (uint64_t)t->block);
}

/* Encoding --------------------------------------------------------------- */

uint16_t gq_to_bf16(float x, int *exact)
{
    uint32_t b;
    memcpy(&b, &x, 4);
    uint16_t h;
    if ((b & 0x7fffffffu) > 0x7f800000u)
        h = (uint16_t)((b >> 16) | 0x40); /* NaN stays a (quiet) NaN */
    else
        h = (uint16_t)((b + 0x7fffu + ((b >> 16) & 1)) >> 16);
    if (exact)
        *exact = ((uint32_t)h << 16) == b;
    return h;
}

uint16_t gq_to_f16(float x, int *exact)
{
    uint32_t b;
    memcpy(&b, &x, 4);
    uint16_t sign = (uint16_t)((b >> 16) & 0x8000u);
    uint32_t a = b & 0x7fffffffu;
    uint16_t h;
    if (a > 0x7f800000u) {
        h = sign | 0x7e00u;
    } else if (a >= 0x477ff000u) { /* rounds to >= 65520: Inf */
        h = sign | 0x7c00u;
    } else if (a < 0x38800000u) { /* below 2^-14: a half subnormal (or zero) */
        /* Units of 2^-24 with round-to-nearest-even, done in float: exact,
         * since a * 2^24 < 2^10 keeps every bit that matters. */
        float f;
        memcpy(&f, &a, 4);
        float u = f * 16777216.0f;
        float r = __builtin_rintf(u); /* default rounding mode: nearest even */
        h = sign | (uint16_t)r;
    } else {
        uint32_t m = a + 0xfffu + ((a >> 13) & 1); /* round at bit 13 */
        h = sign | (uint16_t)((m - ((uint32_t)(127 - 15) << 23)) >> 13);
    }
    if (exact) {
        float back = gq_f16(h);
        uint32_t bb;
        memcpy(&bb, &back, 4);
        *exact = bb == b;
    }
    return h;
}

void gq_put_mxfp4(uint8_t e, const uint8_t codes[32], uint8_t *blk)
{
    blk[0] = e;
    for (int j = 0; j < QK / 2; j++)
        blk[1 + j] = (uint8_t)((codes[j] & 0xf) | (codes[j + QK / 2] & 0xf) << 4);
}

void gq_put_nvfp4(const uint8_t d[4], const uint8_t codes[64], uint8_t *blk)
{
    memcpy(blk, d, 4);
    for (int k = 0; k < 4; k++)
        for (int j = 0; j < 8; j++)
            blk[4 + 8 * k + j] = (uint8_t)((codes[16 * k + j] & 0xf) | (codes[16 * k + j + 8] & 0xf) << 4);
}

void gq_put_q8_0(uint16_t d, const int8_t q[32], uint8_t *blk)
{
    blk[0] = (uint8_t)(d & 0xff);
    blk[1] = (uint8_t)(d >> 8);
    memcpy(blk + 2, q, QK);
}
