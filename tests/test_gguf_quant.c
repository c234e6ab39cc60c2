/* Unit tests of the GGML block dequantizers (kernels/ggml_quant.c): blocks
 * whose values are worked out by hand from the published layouts, and for
 * every type an independent packer (written from the layout, not from the
 * decoder) whose random blocks must decode to d*sc*q - dmin*m exactly. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kernels/ggml_quant.h"
#include "kernels/mx.h"

static uint64_t rng = 0x243F6A8885A308D3ull;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (uint32_t)((rng * 0x2545F4914F6CDD1Dull) >> 33) % n;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void dq(int type, const uint8_t *b, float *y, int n)
{
    const gq_traits *t = gq_traits_of((uint32_t)type);
    assert_non_null(t);
    assert_int_equal(gq_row_bytes(t, (uint64_t)n) % (uint64_t)t->bytes, 0);
    gq_dequantize(t, b, y, (uint64_t)n);
}

/* A random f16 in [0.25, 2) (normal, positive): bits 0x3400..0x3fff. */
static uint16_t rand_half(void)
{
    return (uint16_t)(0x3400 + rnd(0x0c00));
}

/* ---- hand-checked blocks ----------------------------------------------- */

static void test_traits(void **state)
{
    (void)state;
    static const struct { int type, block, bytes; const char *name; } want[] = {
        {0, 1, 4, "F32"}, {1, 1, 2, "F16"}, {30, 1, 2, "BF16"}, {8, 32, 34, "Q8_0"},
        {2, 32, 18, "Q4_0"}, {3, 32, 20, "Q4_1"}, {6, 32, 22, "Q5_0"}, {7, 32, 24, "Q5_1"},
        {39, 32, 17, "MXFP4"}, {10, 256, 84, "Q2_K"}, {11, 256, 110, "Q3_K"}, {12, 256, 144, "Q4_K"},
        {13, 256, 176, "Q5_K"}, {14, 256, 210, "Q6_K"}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const gq_traits *t = gq_traits_of((uint32_t)want[i].type);
        assert_non_null(t);
        assert_int_equal(t->block, want[i].block);
        assert_int_equal(t->bytes, want[i].bytes);
        assert_string_equal(t->name, want[i].name);
        assert_string_equal(gq_type_name((uint32_t)want[i].type), want[i].name);
        assert_non_null(strstr(gq_supported_list(), want[i].name));
    }
    assert_null(gq_traits_of(16)); /* IQ2_XXS */
    assert_string_equal(gq_type_name(16), "IQ2_XXS");
    assert_string_equal(gq_type_name(22), "IQ2_S");
    assert_null(gq_type_name(1000));
    assert_int_equal(gq_row_bytes(gq_traits_of(12), 512), 288);
    assert_int_equal(gq_row_bytes(gq_traits_of(12), 100), 0); /* not whole blocks */
}

static void test_half(void **state)
{
    (void)state;
    assert_true(gq_f16(0x3c00) == 1.0f);
    assert_true(gq_f16(0xc000) == -2.0f);
    assert_true(gq_f16(0x3555) == 0x1.554p-2f);
    assert_true(gq_f16(0x0001) == 0x1p-24f);  /* smallest subnormal */
    assert_true(gq_f16(0x03ff) == 0x1.ff8p-15f);
    assert_true(gq_f16(0x7bff) == 65504.0f);
    assert_true(isinf(gq_f16(0x7c00)) && isnan(gq_f16(0x7e00)));
    assert_true(gq_e8m0(127) == 1.0f && gq_e8m0(0) == 0x1p-127f && gq_e8m0(130) == 8.0f);
}

static void test_q8_0_q4_q5_by_hand(void **state)
{
    (void)state;
    uint8_t b[34] = {0};
    float y[32];
    /* Q8_0: d = 0.5 (f16 0x3800); q = -128, -1, 0, 1, 127 */
    put16(b, 0x3800);
    b[2] = 0x80; b[3] = 0xff; b[4] = 0; b[5] = 1; b[6] = 127;
    dq(GQ_Q8_0, b, y, 32);
    assert_true(y[0] == -64.0f && y[1] == -0.5f && y[2] == 0.0f && y[3] == 0.5f && y[4] == 63.5f);

    /* Q4_0: d = 2; byte 0 = 0xF0: element 0 = (0 - 8) * 2, element 16 = (15 - 8) * 2 */
    memset(b, 0, sizeof b);
    put16(b, 0x4000);
    b[2] = 0xf0; b[3] = 0x98;
    dq(GQ_Q4_0, b, y, 32);
    assert_true(y[0] == -16.0f && y[16] == 14.0f && y[1] == 0.0f && y[17] == 2.0f && y[2] == -16.0f);

    /* Q4_1: d = 0.5, m = -1; byte j = 0x21: element j = 1*0.5 - 1, element j+16 = 2*0.5 - 1 */
    memset(b, 0, sizeof b);
    put16(b, 0x3800);
    put16(b + 2, 0xbc00);
    b[4 + 5] = 0x21;
    dq(GQ_Q4_1, b, y, 32);
    assert_true(y[5] == -0.5f && y[21] == 0.0f && y[0] == -1.0f);

    /* Q5_0: d = 1; qh bits 0 and 16 set, byte 0 = 0x32: element 0 = (2|16) - 16 = 2,
     * element 16 = (3|16) - 16 = 3; element 1: nibble 0, no high bit = -16 */
    memset(b, 0, sizeof b);
    put16(b, 0x3c00);
    b[2] = 0x01; b[4] = 0x01;
    b[6] = 0x32;
    dq(GQ_Q5_0, b, y, 32);
    assert_true(y[0] == 2.0f && y[16] == 3.0f && y[1] == -16.0f && y[17] == -16.0f);

    /* Q5_1: d = 0.25, m = 1; qh bit 31 set: element 31 = (high nibble of byte 15 | 16)*0.25 + 1 */
    memset(b, 0, sizeof b);
    put16(b, 0x3400);
    put16(b + 2, 0x3c00);
    b[7] = 0x80;
    b[8 + 15] = 0x40;
    dq(GQ_Q5_1, b, y, 32);
    assert_true(y[31] == 6.0f && y[15] == 1.0f && y[0] == 1.0f);

    /* MXFP4: e = 127 (scale 1): nibbles 7 -> 6.0, 0xF -> -6.0, 1 -> 0.5, 0xA -> -1.0;
     * e = 129 (scale 4) doubles twice */
    memset(b, 0, sizeof b);
    b[0] = 127;
    b[1] = 0xf7; b[2] = 0xa1;
    dq(GQ_MXFP4, b, y, 32);
    assert_true(y[0] == 6.0f && y[16] == -6.0f && y[1] == 0.5f && y[17] == -1.0f);
    b[0] = 129;
    dq(GQ_MXFP4, b, y, 32);
    assert_true(y[0] == 24.0f && y[17] == -4.0f);
    b[0] = 0; /* 2^-127: subnormal scale */
    dq(GQ_MXFP4, b, y, 32);
    assert_true(y[0] == 6.0f * 0x1p-127f);
}

static void test_k_quants_by_hand(void **state)
{
    (void)state;
    uint8_t b[210];
    float y[256];

    /* Q2_K: d = 1, dmin = 0.5. q byte 0 = 0xE4 holds 2-bit quants 0,1,2,3 for elements
     * 0, 32, 64, 96 (sub-blocks 0, 2, 4, 6). scales[0] = 0x21 (sc 1, m 2): element 0 =
     * 1*0 - 0.5*2 = -1; scales[2] = 0x01: element 32 = 1; scales[6] = 0x13 (sc 3, m 1):
     * element 96 = 3*3 - 0.5 = 8.5. Byte 32 (second half) = 0x02, scales[8] = 0x05:
     * element 128 = 5*2 = 10. */
    memset(b, 0, sizeof b);
    b[0] = 0x21; b[2] = 0x01; b[6] = 0x13; b[8] = 0x05;
    b[16] = 0xe4; b[16 + 32] = 0x02;
    put16(b + 80, 0x3c00);
    put16(b + 82, 0x3800);
    dq(GQ_Q2_K, b, y, 256);
    assert_true(y[0] == -1.0f && y[32] == 1.0f && y[64] == 0.0f && y[96] == 8.5f && y[128] == 10.0f);
    assert_true(y[1] == -1.0f && y[16] == 0.0f);

    /* Q3_K: d = 0.5. scale 0 = 33 (low nibble 1 in byte 96, high bits 2 in byte 104 bits 0-1)
     * -> 1; all other scales 0 -> -32. Element 0: q 3, hmask bit set -> 3 * 1 * 0.5 = 1.5;
     * element 1: q 0, hmask clear -> -4 * 0.5 = -2; element 16 (scale 1 = -32): q 0, hmask
     * clear -> -4 * -32 * 0.5 = 64. Scale 9 = 63 - 32 = 31 (low nibble F in the high nibble
     * of byte 97, high bits 3 at byte 105 bits 4-5); element 144 (second half, bit-plane
     * shift 0, part 1, hmask bit 4): q 1, hmask set -> 31 * 0.5 = 15.5. */
    memset(b, 0, sizeof b);
    b[32 + 0] = 0x03;
    b[0] = 0x01;
    b[96] = 0x01; b[104] = 0x02;
    b[97] = 0xf0; b[105] = 0x30;
    b[32 + 32 + 16] = 0x01; b[16] |= 0x10;
    put16(b + 108, 0x3800);
    dq(GQ_Q3_K, b, y, 256);
    assert_true(y[0] == 1.5f && y[1] == -2.0f && y[16] == 64.0f && y[144] == 15.5f);

    /* Q4_K: d = 1, dmin = 2. Sub-block 0: sc 3 (byte 4 low 6 bits), m 1 (byte 8);
     * sub-block 5: sc = low nibble of byte 13 | (byte 5 >> 6) << 4 = 2 | 1<<4 = 18,
     * m = byte 13 >> 4 | (byte 9 >> 6) << 4 = 1. Element 0: q = low nibble of qs[0] = 7 ->
     * 3*7 - 2*1 = 19; element 32 (sub-block 1, sc 0, m 0) = high nibble of qs[0] -> 0;
     * element 160 + 3 (sub-block 5 = high nibbles of qs[64..95]): qs[67] = 0x40 -> 18*4 - 2 = 70. */
    memset(b, 0, sizeof b);
    put16(b, 0x3c00);
    put16(b + 2, 0x4000);
    b[4] = 3; b[8] = 1;
    b[4 + 9] = 0x12; b[4 + 1] = 0x40;
    b[16] = 0x07;
    b[16 + 67] = 0x40;
    dq(GQ_Q4_K, b, y, 256);
    assert_true(y[0] == 19.0f && y[32] == 0.0f && y[163] == 70.0f && y[1] == -2.0f);

    /* Q5_K: as Q4_K plus a fifth bit: qh[0] bit 0 -> element 0 gains 16, qh[3] bit 5 ->
     * element 160 + 3 gains 16. d = 1, dmin = 0: sub-block 0 sc 1, sub-block 5 sc 18:
     * element 0 = (7 + 16) * 1 = 23; element 163 = (4 + 16) * 18 = 360. */
    memset(b, 0, sizeof b);
    put16(b, 0x3c00);
    b[4] = 1;
    b[4 + 9] = 0x02; b[4 + 1] = 0x40;
    b[16] = 0x01; b[16 + 3] = 0x20;
    b[48] = 0x07; b[48 + 67] = 0x40;
    dq(GQ_Q5_K, b, y, 256);
    assert_true(y[0] == 23.0f && y[163] == 360.0f && y[1] == 0.0f);

    /* Q6_K: d = 0.5. Element 0: low nibble of ql[0] = 5, qh[0] bits 0-1 = 2 -> q = 5 + 32 - 32
     * = 5, scale sc[0] = 3 -> 0.5*3*5 = 7.5. Element 96 (k = 3: high nibble of ql[32], qh[0]
     * bits 6-7 = 0) -> q = 0 - 32, sc[6] = -1 -> 16. Element 128 + 17 (second half: ql[64 + 17]
     * low nibble 1, qh[32 + 17] = 3 -> 1 + 48 - 32 = 17, sc[8 + 1] = 2) -> 17. */
    memset(b, 0, sizeof b);
    b[0] = 0x05;
    b[128] = 0x02;
    b[192] = 3; b[192 + 6] = 0xff; b[192 + 9] = 2;
    b[64 + 17] = 0x01; b[128 + 32 + 17] = 0x03;
    put16(b + 208, 0x3800);
    dq(GQ_Q6_K, b, y, 256);
    assert_true(y[0] == 7.5f && y[96] == 16.0f && y[145] == 17.0f);
}

/* ---- independent packers: random blocks, exact expectations -------------- */

/* 32-element types: q[32] integer codes; d, m f16. */
static void pack32(int type, uint8_t *b, uint16_t d, uint16_t m, const int *q)
{
    memset(b, 0, 34);
    int off = 2;
    put16(b, d);
    if (type == GQ_Q4_1 || type == GQ_Q5_1) {
        put16(b + 2, m);
        off = 4;
    }
    if (type == GQ_Q8_0) {
        for (int i = 0; i < 32; i++)
            b[2 + i] = (uint8_t)(int8_t)q[i];
        return;
    }
    if (type == GQ_Q5_0 || type == GQ_Q5_1) {
        uint32_t qh = 0;
        for (int i = 0; i < 32; i++)
            qh |= (uint32_t)((q[i] >> 4) & 1) << i;
        for (int i = 0; i < 4; i++)
            b[off + i] = (uint8_t)(qh >> (8 * i));
        off += 4;
    }
    for (int i = 0; i < 16; i++)
        b[off + i] = (uint8_t)((q[i] & 15) | (q[i + 16] & 15) << 4);
}

/* Dequantize n (<= 256) values of `type` from b: each must have want's bits exactly. */
static void expect_dq_bits(int type, const uint8_t *b, const float *want, int n)
{
    float y[256];
    assert_true(n <= 256);
    dq(type, b, y, n);
    for (int i = 0; i < n; i++)
        if (memcmp(&y[i], &want[i], 4) != 0)
            fail_msg("%s element %d: %a, want %a", gq_traits_of((uint32_t)type)->name, i, (double)y[i],
                     (double)want[i]);
}

static void test_packed_32(void **state)
{
    (void)state;
    const int types[] = {GQ_Q8_0, GQ_Q4_0, GQ_Q4_1, GQ_Q5_0, GQ_Q5_1};
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++)
        for (int rep = 0; rep < 200; rep++) {
            int type = types[ti], q[32];
            int bits = type == GQ_Q8_0 ? 8 : type == GQ_Q5_0 || type == GQ_Q5_1 ? 5 : 4;
            uint16_t d = rand_half() | (uint16_t)(rnd(2) << 15), m = rand_half() | (uint16_t)(rnd(2) << 15);
            for (int i = 0; i < 32; i++)
                q[i] = (int)rnd(1u << bits);
            uint8_t b[34];
            pack32(type, b, d, m, q);
            float want[32], fd = gq_f16(d), fm = gq_f16(m);
            for (int i = 0; i < 32; i++) {
                switch (type) {
                case GQ_Q8_0: want[i] = (float)(int8_t)(uint8_t)q[i] * fd; break;
                case GQ_Q4_0: want[i] = (float)(q[i] - 8) * fd; break;
                case GQ_Q5_0: want[i] = (float)(q[i] - 16) * fd; break;
                default: want[i] = (float)q[i] * fd + fm; break;
                }
            }
            expect_dq_bits(type, b, want, 32);
        }
}

static void test_packed_mxfp4(void **state)
{
    (void)state;
    static const float e2m1[16] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6, -0.0f, -0.5f, -1, -1.5f, -2, -3, -4, -6};
    for (int e = 0; e < 255; e++) {
        uint8_t b[17];
        int q[32];
        b[0] = (uint8_t)e;
        for (int i = 0; i < 32; i++)
            q[i] = (int)rnd(16);
        for (int i = 0; i < 16; i++)
            b[1 + i] = (uint8_t)(q[i] | q[i + 16] << 4);
        float y[32];
        dq(GQ_MXFP4, b, y, 32);
        for (int i = 0; i < 32; i++) {
            float want = e2m1[q[i]] * ldexpf(1.0f, e - 127);
            assert_true(y[i] == want); /* ggml's table gives +0 for code 8: compare by value */
        }
    }
}

/* Q4_K/Q5_K 6-bit scale packing, from the layout: sub-blocks 0-3 in the low six
 * bits of bytes 0-3 (scales) and 4-7 (mins); 4-7 split into a low nibble in bytes
 * 8-11 (scale low, min high nibble) and two high bits on top of bytes 0-3 / 4-7. */
static void pack_k4_scales(uint8_t *s, const int *sc, const int *mn)
{
    memset(s, 0, 12);
    for (int j = 0; j < 4; j++) {
        s[j] = (uint8_t)(sc[j] | (sc[j + 4] >> 4) << 6);
        s[j + 4] = (uint8_t)(mn[j] | (mn[j + 4] >> 4) << 6);
        s[j + 8] = (uint8_t)((sc[j + 4] & 15) | (mn[j + 4] & 15) << 4);
    }
}

/* NVFP4: every scale byte, random codes, against kernels/mx's E4M3 and E2M1
 * decoders (a second path); gq_put_nvfp4 places the codes where dq reads them. */
static void test_packed_nvfp4(void **state)
{
    (void)state;
    for (int d = 0; d < 128; d++) { /* E4M3 scales are positive: sign bit clear */
        uint8_t b[36], ds[4] = {(uint8_t)d, (uint8_t)(d ^ 1), 0x38, 0x7F}, codes[64];
        for (int i = 0; i < 64; i++)
            codes[i] = (uint8_t)rnd(16);
        gq_put_nvfp4(ds, codes, b);
        float y[64];
        dq(GQ_NVFP4, b, y, 64);
        for (int i = 0; i < 64; i++) {
            uint8_t s = ds[i / 16];
            float want = s == 0x7F ? 0 : mx_decode(MX_FP4_E2M1, codes[i]) * mx_decode(MX_FP8_E4M3, s);
            if (!(y[i] == want))
                fail_msg("nvfp4 scale 0x%02x code %d [%d]: %a, want %a", s, codes[i], i, (double)y[i],
                         (double)want);
        }
    }
    /* by hand: scale 0x38 = 1.0, nibble 7 (6.0) at element 0, 0xA (-1.0) at 8 */
    uint8_t b[36] = {0x38, 0x40, 0, 0};
    b[4] = 0xA7;
    float y[64];
    dq(GQ_NVFP4, b, y, 64);
    assert_true(y[0] == 6.0f && y[8] == -1.0f && y[1] == 0);
}

static void test_packed_k(void **state)
{
    (void)state;
    for (int rep = 0; rep < 100; rep++) {
        uint8_t b[210];
        float want[256];
        int q[256], sc[16], mn[16];
        uint16_t d = rand_half(), dm = rand_half();
        float fd = gq_f16(d), fm = gq_f16(dm);

        /* Q2_K: element i: half h = i/128, plane p = (i%128)/32, l = i%32; byte 16 + 32h + l,
         * bits 2p; sub-block i/16 with scale/min nibbles in byte i/16. */
        memset(b, 0, sizeof b);
        for (int j = 0; j < 16; j++) {
            sc[j] = (int)rnd(16);
            mn[j] = (int)rnd(16);
            b[j] = (uint8_t)(sc[j] | mn[j] << 4);
        }
        for (int i = 0; i < 256; i++) {
            q[i] = (int)rnd(4);
            b[16 + 32 * (i / 128) + i % 32] |= (uint8_t)(q[i] << (2 * ((i % 128) / 32)));
        }
        put16(b + 80, d);
        put16(b + 82, dm);
        for (int i = 0; i < 256; i++)
            want[i] = fd * (float)sc[i / 16] * (float)q[i] - fm * (float)mn[i / 16];
        expect_dq_bits(GQ_Q2_K, b, want, 256);

        /* Q3_K: q in [-4, 3]: low 2 bits as Q2_K's layout (offset 32), high bit (set = no -4)
         * in hmask byte i%32, bit i/32; 6-bit scales: low nibbles in bytes 96..103 (0-7 low,
         * 8-15 high nibble), top bits in byte 104 + j%4 at bit 2*(j/4). */
        memset(b, 0, sizeof b);
        for (int j = 0; j < 16; j++) {
            sc[j] = (int)rnd(64);
            b[96 + j % 8] |= (uint8_t)((sc[j] & 15) << (j < 8 ? 0 : 4));
            b[104 + j % 4] |= (uint8_t)((sc[j] >> 4) << (2 * (j / 4)));
        }
        for (int i = 0; i < 256; i++) {
            q[i] = (int)rnd(8) - 4;
            int low = q[i] & 3, hi = q[i] >= 0;
            b[32 + 32 * (i / 128) + i % 32] |= (uint8_t)(low << (2 * ((i % 128) / 32)));
            b[i % 32] |= (uint8_t)(hi << (i / 32));
        }
        put16(b + 108, d);
        for (int i = 0; i < 256; i++)
            want[i] = fd * (float)(sc[i / 16] - 32) * (float)q[i];
        expect_dq_bits(GQ_Q3_K, b, want, 256);

        /* Q4_K / Q5_K: 8 sub-blocks of 32; element i in byte qs[32*(i/64) + i%32], low nibble
         * when (i/32) is even; Q5_K's fifth bit in qh[i%32] bit i/32. */
        for (int five = 0; five < 2; five++) {
            int type = five ? GQ_Q5_K : GQ_Q4_K, qs = five ? 48 : 16;
            memset(b, 0, sizeof b);
            for (int j = 0; j < 8; j++) {
                sc[j] = (int)rnd(64);
                mn[j] = (int)rnd(64);
            }
            pack_k4_scales(b + 4, sc, mn);
            put16(b, d);
            put16(b + 2, dm);
            for (int i = 0; i < 256; i++) {
                q[i] = (int)rnd(five ? 32 : 16);
                b[qs + 32 * (i / 64) + i % 32] |= (uint8_t)((q[i] & 15) << (4 * ((i / 32) % 2)));
                if (five)
                    b[16 + i % 32] |= (uint8_t)((q[i] >> 4) << (i / 32));
            }
            for (int i = 0; i < 256; i++)
                want[i] = fd * (float)sc[i / 32] * (float)q[i] - fm * (float)mn[i / 32];
            expect_dq_bits(type, b, want, 256);
        }

        /* Q6_K: q in [-32, 31] (+32 stored); element i: half h = i/128, k = (i%128)/32,
         * l = i%32: low nibble in ql[64h + l + 32*(k%2)] (nibble k/2), top 2 bits in
         * qh[32h + l] bits 2k; signed scale sc[i/16]. */
        memset(b, 0, sizeof b);
        for (int j = 0; j < 16; j++) {
            sc[j] = (int)rnd(256) - 128;
            b[192 + j] = (uint8_t)(int8_t)sc[j];
        }
        for (int i = 0; i < 256; i++) {
            q[i] = (int)rnd(64) - 32;
            int u = q[i] + 32, h = i / 128, k = (i % 128) / 32, l = i % 32;
            b[64 * h + l + 32 * (k % 2)] |= (uint8_t)((u & 15) << (4 * (k / 2)));
            b[128 + 32 * h + l] |= (uint8_t)((u >> 4) << (2 * k));
        }
        put16(b + 208, d);
        for (int i = 0; i < 256; i++)
            want[i] = fd * (float)sc[i / 16] * (float)q[i];
        expect_dq_bits(GQ_Q6_K, b, want, 256);
    }
}

static void test_plain_types(void **state)
{
    (void)state;
    uint8_t b[8] = {0x00, 0x3c, 0x00, 0xc0, 0xc0, 0x3f, 0x80, 0xbf};
    float y[4];
    dq(GQ_F16, b, y, 2);
    assert_true(y[0] == 1.0f && y[1] == -2.0f);
    dq(GQ_BF16, b + 4, y, 2);
    assert_true(y[0] == 1.5f && y[1] == -1.0f);
    float f[2] = {3.25f, -0.0f};
    dq(GQ_F32, (const uint8_t *)f, y, 2);
    assert_true(y[0] == 3.25f && signbit(y[1]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_traits),
        cmocka_unit_test(test_half),
        cmocka_unit_test(test_q8_0_q4_q5_by_hand),
        cmocka_unit_test(test_k_quants_by_hand),
        cmocka_unit_test(test_packed_32),
        cmocka_unit_test(test_packed_mxfp4),
        cmocka_unit_test(test_packed_nvfp4),
        cmocka_unit_test(test_packed_k),
        cmocka_unit_test(test_plain_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
