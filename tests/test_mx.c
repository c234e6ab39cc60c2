/* Unit tests of the MX formats: names, sizes, the element codecs (exhaustive),
 * hand-checked roundings, SIMD paths bit-identical to the scalar reference on
 * millions of values, packed round trips and thread determinism. */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kernels/mx.h"
#include "kernels/pool.h"
#include "kernels/err.h"

static const mx_format block_formats[] = {MX_FP8_E4M3, MX_FP8_E5M2, MX_INT8,
                                          MX_FP6_E3M2, MX_FP6_E2M3, MX_FP4_E2M1};
#define N_BLOCK_FORMATS (sizeof block_formats / sizeof block_formats[0])

static uint32_t f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float u2f(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* xorshift64*: deterministic test data. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}
static uint32_t rnd_below(uint32_t n)
{
    return (uint32_t)(rnd() % n);
}

/* ---------------------------------------------------------------- names */

static void test_names(void **state)
{
    (void)state;
    for (int i = 0; i < MX_NFORMATS; i++) {
        mx_format f = MX_NFORMATS;
        assert_int_equal(mx_format_parse(mx_format_name((mx_format)i), &f), 0);
        assert_int_equal(f, i);
    }
    static const struct {
        const char *s;
        mx_format f;
    } ok[] = {
        {"fp32", MX_FP32},        {"BF16", MX_BF16},           {"mxfp8_e4m3", MX_FP8_E4M3},
        {"MXFP8_E5M2", MX_FP8_E5M2}, {"mxint8", MX_INT8},      {"MxFp6_E3m2", MX_FP6_E3M2},
        {"mxfp6_e2m3", MX_FP6_E2M3}, {"mxfp4_e2m1", MX_FP4_E2M1}, {"mxfp8", MX_FP8_E4M3},
        {"MXFP8", MX_FP8_E4M3},   {"mxfp6", MX_FP6_E2M3},      {"mxFP4", MX_FP4_E2M1},
        {"NVFP4", MX_NVFP4},      {"nvf4", MX_NVFP4},          {"nvfp4+mse", MX_NVFP4_MSE},
        {"nv_fp4+MSE", MX_NVFP4_MSE}, {"nvf4+", MX_NVFP4_MSE},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        mx_format f = MX_NFORMATS;
        assert_int_equal(mx_format_parse(ok[i].s, &f), 0);
        assert_int_equal(f, ok[i].f);
    }
    /* "int8" and "e4m3" were here: printed labels, now accepted (issue 17); the
     * ambiguous "fp8"/"fp6" and the old 2-letter "e2" take their place */
    /* NVFP4's reference rule is not OCP's */
    static const char *bad[] = {"", "mxfp5", "fp16", "mxfp4_e2m1x", "mxfp4 ", "fp8", "fp6", "e2", "mx",
                                "nvfp4+ocp-floor", "nvfp4+mse+mse"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mx_format f = MX_FP4_E2M1;
        assert_int_equal(mx_format_parse(bad[i], &f), -1);
        assert_int_equal(f, MX_FP4_E2M1); /* untouched on failure */
    }
    mx_format f;
    assert_int_equal(mx_format_parse(NULL, &f), -1);
    assert_string_equal(mx_format_name(MX_FP4_E2M1), "mxfp4_e2m1");
    assert_string_equal(mx_format_name(MX_INT8), "mxint8");

    static const int bits[MX_NFORMATS] = {32, 16, 8, 8, 8, 6, 6, 4, 8, 8, 8, 6, 6, 4, 4, 4};
    for (int i = 0; i < MX_NFORMATS; i++) {
        assert_int_equal(mx_element_bits((mx_format)i), bits[i]);
        assert_int_equal(mx_is_block_format((mx_format)i), i >= MX_FP8_E4M3);
    }

    mx_simd s;
    assert_int_equal(mx_simd_parse("AVX512", &s), 0);
    assert_int_equal(s, MX_SIMD_AVX512);
    assert_int_equal(mx_simd_parse("scalar", &s), 0);
    assert_int_equal(s, MX_SIMD_SCALAR);
    assert_int_equal(mx_simd_parse("sse", &s), -1);
    assert_string_equal(mx_simd_name(MX_SIMD_AVX2), "avx2");
    assert_true(mx_simd_supported(MX_SIMD_SCALAR));
    assert_true(mx_simd_supported(mx_simd_best()));
    /* auto's measured choice is a path this CPU runs, for every size class */
    for (size_t n = 1; n <= ((size_t)1 << 24); n *= 8)
        for (int f = 0; f < MX_NFORMATS; f++)
            assert_true(mx_simd_supported(mx_simd_best_for((mx_format)f, 1, n)));
    assert_false(mx_simd_supported(MX_NSIMD));
}

/* ---------------------------------------------------------------- sizes */

static void test_bits_per_weight(void **state)
{
    (void)state;
    assert_true(mx_bits_per_weight(MX_FP4_E2M1, 4096, 4096) == 4.25);
    assert_true(mx_bits_per_weight(MX_FP8_E4M3, 64, 64) == 8.25);
    assert_true(mx_bits_per_weight(MX_FP6_E3M2, 3, 96) == 6.25);
    /* 64 x 40: two blocks per row (32 + a short 8), two scale bytes. */
    assert_true(fabs(mx_bits_per_weight(MX_FP4_E2M1, 64, 40) - (40.0 * 4 + 16) / 40) < 1e-12);
    assert_true(fabs(mx_bits_per_weight(MX_INT8, 5, 33) - (8.0 + 16.0 / 33)) < 1e-12);
    assert_true(fabs(mx_bits_per_weight(MX_FP6_E2M3, 7, 1) - 14.0) < 1e-12);
    assert_true(mx_bits_per_weight(MX_FP32, 10, 40) == 32.0);
    assert_true(mx_bits_per_weight(MX_BF16, 10, 40) == 16.0);

    assert_int_equal(mx_packed_row_bytes(MX_FP4_E2M1, 40), 20);
    assert_int_equal(mx_packed_row_bytes(MX_FP6_E3M2, 40), 30);
    assert_int_equal(mx_packed_row_bytes(MX_FP6_E3M2, 3), 3);  /* 18 bits */
    assert_int_equal(mx_packed_row_bytes(MX_FP4_E2M1, 3), 2);
    assert_int_equal(mx_packed_size(MX_FP4_E2M1, 64, 40), 64 * (20 + 2));
    assert_int_equal(mx_packed_size(MX_FP6_E2M3, 2, 3), 2 * (3 + 1));
    assert_int_equal(mx_packed_size(MX_INT8, 4, 64), 4 * (64 + 2));
    assert_int_equal(mx_packed_size(MX_BF16, 3, 5), 30);
    assert_int_equal(mx_packed_size(MX_FP32, 3, 5), 60);
}

static void test_constants(void **state)
{
    (void)state;
    static const struct {
        mx_format f;
        int emax;
        float max;
    } t[] = {
        {MX_FP8_E4M3, 8, 448.0f}, {MX_FP8_E5M2, 15, 57344.0f}, {MX_FP6_E3M2, 4, 28.0f},
        {MX_FP6_E2M3, 2, 7.5f},   {MX_FP4_E2M1, 2, 6.0f},      {MX_INT8, 0, 127.0f / 64},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        assert_int_equal(mx_emax_elem(t[i].f), t[i].emax);
        assert_true(mx_element_max(t[i].f) == t[i].max);
        /* emax_elem is floor(log2(max)). */
        int e;
        frexpf(t[i].max, &e);
        assert_int_equal(e - 1, t[i].emax);
    }
    assert_true(mx_e8m0_to_float(127) == 1.0f);
    assert_true(mx_e8m0_to_float(0) == ldexpf(1.0f, -127));
    assert_true(mx_e8m0_to_float(254) == ldexpf(1.0f, 127));
    assert_true(isnan(mx_e8m0_to_float(255)));
}

/* ------------------------------------------------------ element codecs */

/* Codes that encode NaN/Inf, which the encoder never produces. */
static int special_code(mx_format f, unsigned c)
{
    if (f == MX_FP8_E4M3)
        return (c & 0x7F) == 0x7F;
    if (f == MX_FP8_E5M2)
        return ((c >> 2) & 0x1F) == 0x1F;
    if (f == MX_INT8)
        return c == 0x80; /* -2.0: valid, but the symmetric encoder never makes it */
    return 0;
}

static void test_codec_exhaustive(void **state)
{
    (void)state;
    for (size_t k = 0; k < N_BLOCK_FORMATS; k++) {
        mx_format f = block_formats[k];
        unsigned ncodes = 1u << mx_element_bits(f);
        float prev = -1.0f;
        int finite = 0;
        for (unsigned c = 0; c < ncodes; c++) {
            float v = mx_decode(f, (uint8_t)c);
            if (special_code(f, c)) {
                if (f == MX_INT8)
                    assert_true(v == -2.0f);
                else if (f == MX_FP8_E5M2 && (c & 3) == 0)
                    assert_true(isinf(v));
                else
                    assert_true(isnan(v));
                continue;
            }
            finite++;
            assert_true(isfinite(v));
            assert_true(fabsf(v) <= mx_element_max(f));
            uint8_t back = mx_encode(f, v);
            if (back != c)
                fail_msg("%s: code 0x%02x decodes to %a, encodes to 0x%02x", mx_format_name(f), c,
                         (double)v, back);
            assert_int_equal(f2u(mx_decode(f, back)), f2u(v));
            /* Positive codes of the FP formats increase with the value. */
            if (f != MX_INT8 && c < ncodes / 2) {
                assert_true(v > prev);
                prev = v;
            }
        }
        static const int expect_finite[] = {254, 248, 255, 64, 64, 16};
        assert_int_equal(finite, expect_finite[k]);
    }
    /* The largest codes decode to the documented maxima. */
    assert_true(mx_decode(MX_FP8_E4M3, 0x7E) == 448.0f);
    assert_true(mx_decode(MX_FP8_E5M2, 0x7B) == 57344.0f);
    assert_true(mx_decode(MX_FP6_E3M2, 0x1F) == 28.0f);
    assert_true(mx_decode(MX_FP6_E2M3, 0x1F) == 7.5f);
    assert_true(mx_decode(MX_FP4_E2M1, 0x7) == 6.0f);
    assert_true(mx_decode(MX_INT8, 0x7F) == 127.0f / 64);
    assert_true(mx_decode(MX_INT8, 0x81) == -127.0f / 64);
    assert_true(mx_decode(MX_FP4_E2M1, 0x1) == 0.5f);       /* the only subnormal */
    assert_true(mx_decode(MX_FP8_E4M3, 0x01) == ldexpf(1, -9));
    assert_true(mx_decode(MX_FP8_E5M2, 0x01) == ldexpf(1, -16));
    assert_true(mx_decode(MX_FP6_E3M2, 0x01) == 0.0625f);
    assert_true(mx_decode(MX_FP6_E2M3, 0x01) == 0.125f);
    assert_true(signbit(mx_decode(MX_FP4_E2M1, 0x8)) && mx_decode(MX_FP4_E2M1, 0x8) == 0.0f);
    /* Saturation and the symmetric INT8 range. */
    assert_int_equal(mx_encode(MX_INT8, -2.0f), 0x81);
    assert_int_equal(mx_encode(MX_INT8, 5.0f), 0x7F);
    assert_int_equal(mx_encode(MX_FP8_E4M3, 1e30f), 0x7E);
    assert_int_equal(mx_encode(MX_FP8_E4M3, -470.0f), 0xFE);
    assert_int_equal(mx_encode(MX_FP8_E5M2, 65504.0f), 0x7B);
    assert_int_equal(mx_encode(MX_FP4_E2M1, -7.0f), 0xF);
    assert_int_equal(mx_encode(MX_INT8, -0.0f), 0x00);
    assert_int_equal(mx_encode(MX_FP6_E3M2, -0.0f), 0x20);
}

/* --------------------------------------------------------- the paths */

static int n_paths(mx_simd *paths)
{
    int n = 0;
    for (int p = MX_SIMD_SCALAR; p < MX_NSIMD; p++)
        if (mx_simd_supported((mx_simd)p))
            paths[n++] = (mx_simd)p;
    return n;
}

/* Fake-quantize with every path; all must agree with the scalar reference
 * bit for bit. The reference result is left in ref. */
static void check_paths(mx_format f, const float *in, size_t rows, size_t cols, float *ref,
                        const char *what)
{
    size_t n = rows * cols;
    float *got = malloc(n * sizeof *got);
    assert_non_null(got);
    mx_fake_quant_scalar(f, in, ref, rows, cols);
    mx_simd paths[MX_NSIMD];
    int np = n_paths(paths);
    for (int p = 0; p < np; p++) {
        memset(got, 0xA5, n * sizeof *got);
        assert_int_equal(mx_fake_quant_with(paths[p], 1, f, in, got, rows, cols), 0);
        if (memcmp(got, ref, n * sizeof *got)) {
            for (size_t i = 0; i < n; i++)
                if (f2u(got[i]) != f2u(ref[i])) {
                    char msg[256];
                    snprintf(msg, sizeof msg,
                             "%s %s %s (%zux%zu): [%zu] in %a (0x%08x): scalar %a (0x%08x), got 0x%08x",
                             mx_format_name(f), mx_simd_name(paths[p]), what, rows, cols, i,
                             (double)in[i], f2u(in[i]), (double)ref[i], f2u(ref[i]), f2u(got[i]));
                    free(got);
                    fail_msg("%s", msg);
                }
        }
    }
    free(got);
}

static void test_hand_values(void **state)
{
    (void)state;
    float in[32], out[32];

    /* MXFP4, block max 6: shared_exp = 2 - 2 = 0, X = 1. Ties go to the even code. */
    static const float fp4_in[] = {6.0f, 5.0f, 2.5f, 0.25f, 0.75f, 1.25f, 1.75f, 3.5f,
                                   -5.0f, 0.1f, 5.5f, -0.0f, 2.9f, 0.2500001f, 4.99f, 1.0f};
    static const float fp4_out[] = {6.0f, 4.0f, 2.0f, 0.0f, 1.0f, 1.0f, 2.0f, 4.0f,
                                    -4.0f, 0.0f, 6.0f, -0.0f, 3.0f, 0.5f, 4.0f, 1.0f};
    memset(in, 0, sizeof in);
    memcpy(in, fp4_in, sizeof fp4_in);
    check_paths(MX_FP4_E2M1, in, 1, 32, out, "fp4 hand");
    for (size_t i = 0; i < sizeof fp4_out / sizeof fp4_out[0]; i++)
        assert_int_equal(f2u(out[i]), f2u(fp4_out[i]));
    assert_int_equal(mx_block_scale(MX_FP4_E2M1, in, 32), 127);

    /* MXFP4 saturates: max 7 keeps X = 1 and clamps to 6; max 8 moves to X = 2. */
    memset(in, 0, sizeof in);
    in[0] = 7.0f;
    in[1] = -7.5f;
    in[2] = 0.75f;
    check_paths(MX_FP4_E2M1, in, 1, 32, out, "fp4 sat");
    assert_true(out[0] == 6.0f && out[1] == -6.0f && out[2] == 1.0f);
    in[0] = 8.0f;
    check_paths(MX_FP4_E2M1, in, 1, 32, out, "fp4 x2");
    assert_int_equal(mx_block_scale(MX_FP4_E2M1, in, 32), 128);
    /* 8/2 = 4; -7.5/2 = -3.75 -> -4; 0.75/2 = 0.375 -> 0.5 (step 0.5 below 1) */
    assert_true(out[0] == 8.0f && out[1] == -8.0f && out[2] == 1.0f);

    /* MXFP8 E4M3, block max 1: X = 2^-8, the block reaches 256 = 1.000 x 2^8. */
    memset(in, 0, sizeof in);
    in[0] = 1.0f;
    in[1] = 1.0625f;            /* 272: tie between 256 and 288 -> 256 */
    in[2] = 1.09375f;           /* 280 -> 288 */
    in[3] = ldexpf(1, -17);     /* 2^-9 after scaling: the smallest subnormal */
    in[4] = ldexpf(1, -18);     /* half of it: tie -> 0 */
    in[5] = ldexpf(3, -19);     /* 0.75 of it -> 2^-9 */
    in[6] = ldexpf(3, -18);     /* 1.5 subnormal steps: tie between 1 and 2 -> 2 */
    in[7] = -ldexpf(1, -20);
    in[8] = 0.5f + ldexpf(1, -5);  /* 136: tie between 128 and 144 -> 128 */
    check_paths(MX_FP8_E4M3, in, 1, 32, out, "e4m3 hand");
    assert_int_equal(mx_block_scale(MX_FP8_E4M3, in, 32), 127 - 8);
    assert_true(out[0] == 1.0f && out[1] == 1.0f && out[2] == 1.125f);
    assert_true(out[3] == ldexpf(1, -17) && out[4] == 0.0f && out[5] == ldexpf(1, -17));
    assert_true(out[6] == ldexpf(1, -16));
    assert_true(out[7] == 0.0f && signbit(out[7]));
    assert_true(out[8] == 0.5f);

    /* E4M3 saturates at 448, not at the NaN code 480. */
    memset(in, 0, sizeof in);
    in[0] = 479.0f;
    in[1] = 300.0f;
    check_paths(MX_FP8_E4M3, in, 1, 32, out, "e4m3 sat");
    assert_true(out[0] == 448.0f && out[1] == 288.0f);

    /* E5M2: block max 60000 -> X = 1; 61440 would be the rounding, saturate to 57344. */
    memset(in, 0, sizeof in);
    in[0] = 62000.0f; /* steps of 8192: rounds to 65536, saturates to 57344 */
    in[1] = -3.0f;
    in[2] = 5.0f;   /* 1.01 x 4: exact */
    in[3] = 4.5f;   /* 1.001 x 4: tie between 4 and 5 -> 4 */
    in[4] = ldexpf(1, -17); /* half the smallest subnormal 2^-16: tie -> 0 */
    in[5] = ldexpf(3, -17); /* 1.5 steps -> 2 steps */
    check_paths(MX_FP8_E5M2, in, 1, 32, out, "e5m2 hand");
    assert_true(out[0] == 57344.0f && out[1] == -3.0f && out[2] == 5.0f && out[3] == 4.0f);
    assert_true(out[4] == 0.0f && out[5] == ldexpf(1, -15));

    /* E3M2 / E2M3, block max 1. */
    memset(in, 0, sizeof in);
    in[0] = 1.0f;  /* E3M2: X = 2^-4, 16 */
    in[1] = 0.9f;  /* 14.4 -> step 2 in [8,16): 14 -> 0.875 */
    in[2] = 0.03125f; /* 0.5 -> step 0.0625 below 0.25: exact */
    check_paths(MX_FP6_E3M2, in, 1, 32, out, "e3m2 hand");
    assert_true(out[0] == 1.0f && out[1] == 0.875f && out[2] == 0.03125f);
    memset(in, 0, sizeof in);
    in[0] = 1.0f;   /* E2M3: X = 2^-2, 4 */
    in[1] = 0.9f;   /* 3.6 -> step 0.25 in [2,4): 3.5 -> 0.875 */
    in[2] = 0.0155f; /* 0.062 -> step 0.125: 0 */
    in[3] = 0.015625f; /* 0.0625: tie -> 0 */
    in[4] = 0.046875f; /* 0.1875: tie between 0.125 and 0.25 -> 0.25 */
    check_paths(MX_FP6_E2M3, in, 1, 32, out, "e2m3 hand");
    assert_true(out[0] == 1.0f && out[1] == 0.875f && out[2] == 0.0f && out[3] == 0.0f);
    assert_true(out[4] == 0.0625f);

    /* MXINT8: block max 1 -> X = 1, steps of 1/64, saturating at 127/64. */
    memset(in, 0, sizeof in);
    in[0] = 1.0f;
    in[1] = 1.0f / 128;   /* tie between 0 and 1/64 -> 0 */
    in[2] = 3.0f / 128;   /* tie between 1/64 and 2/64 -> 2/64 */
    in[3] = -0.0f;        /* MXINT8 has one zero: +0 */
    in[4] = -1.0f / 256;  /* rounds to zero: +0 */
    in[5] = -0.5f;
    check_paths(MX_INT8, in, 1, 32, out, "int8 hand");
    assert_true(out[0] == 1.0f && out[1] == 0.0f && out[2] == 1.0f / 32 && out[5] == -0.5f);
    assert_int_equal(f2u(out[3]), 0);
    assert_int_equal(f2u(out[4]), 0);
    in[0] = 1.9921875f;   /* 127.5 / 64: tie between 127 and 128 -> 128 -> saturate 127 */
    check_paths(MX_INT8, in, 1, 32, out, "int8 sat");
    assert_true(out[0] == 127.0f / 64);

    /* All-zero blocks stay zero, with their signs in the FP formats. */
    memset(in, 0, sizeof in);
    in[3] = -0.0f;
    for (size_t k = 0; k < N_BLOCK_FORMATS; k++) {
        check_paths(block_formats[k], in, 1, 32, out, "zeros");
        assert_int_equal(mx_block_scale(block_formats[k], in, 32), 0);
        for (int i = 0; i < 32; i++)
            assert_int_equal(f2u(out[i]),
                             i == 3 && block_formats[k] != MX_INT8 ? 0x80000000u : 0u);
    }

    /* fp32 subnormal blocks: scale 2^-127 (clamped). E5M2 keeps 2^-140 exactly
     * (2^-13 after scaling is normal); MXFP4 flushes it. */
    memset(in, 0, sizeof in);
    in[0] = ldexpf(1, -140);
    in[1] = ldexpf(1, -149);
    check_paths(MX_FP8_E5M2, in, 1, 32, out, "subnormal e5m2");
    assert_int_equal(mx_block_scale(MX_FP8_E5M2, in, 32), 0);
    assert_true(out[0] == ldexpf(1, -140) && out[1] == 0.0f);
    check_paths(MX_FP4_E2M1, in, 1, 32, out, "subnormal fp4");
    assert_true(out[0] == 0.0f);
    /* Largest floats: the scale stays finite (<= 2^127), nothing overflows. */
    memset(in, 0, sizeof in);
    in[0] = 3.4028235e38f;
    in[1] = -3.0e38f;
    in[2] = 1.0f;
    for (size_t k = 0; k < N_BLOCK_FORMATS; k++) {
        check_paths(block_formats[k], in, 1, 32, out, "huge");
        assert_true(isfinite(out[0]) && out[0] > 0 && out[0] <= 3.4028235e38f);
    }
    assert_int_equal(mx_block_scale(MX_INT8, in, 32), 254);

    /* NaN or Inf anywhere in a block: NaN scale, the whole block NaN; the
     * next block is unaffected. */
    float in2[64], out2[64];
    for (int i = 0; i < 64; i++)
        in2[i] = (float)i / 10;
    in2[5] = NAN;
    in2[40] = -INFINITY;
    float tmp[64];
    memcpy(tmp, in2, sizeof tmp);
    tmp[40] = 1.0f;
    for (size_t k = 0; k < N_BLOCK_FORMATS; k++) {
        check_paths(block_formats[k], in2, 2, 32, out2, "nan/inf");
        assert_int_equal(mx_block_scale(block_formats[k], in2, 32), 255);
        assert_int_equal(mx_block_scale(block_formats[k], in2 + 32, 32), 255);
        for (int i = 0; i < 64; i++)
            assert_int_equal(f2u(out2[i]), 0x7FC00000u);
        check_paths(block_formats[k], tmp, 2, 32, out2, "nan one block");
        assert_int_equal(f2u(out2[0]), 0x7FC00000u);
        assert_true(isfinite(out2[32]) && isfinite(out2[63]));
    }

    /* bf16: ties to even, NaN kept, overflow to Inf. */
    static const float b_in[] = {1.0f + 0x1p-8f, 1.0f + 0x3p-8f, -1.0f - 0x1p-9f, 3.4028235e38f,
                                 INFINITY, 1e-40f, -0.0f};
    static const float b_out[] = {1.0f, 1.0f + 0x1p-6f, -1.0f, INFINITY, INFINITY, 0x1p-133f,
                                  -0.0f};
    float bo[8];
    for (size_t i = 0; i < sizeof b_in / sizeof b_in[0]; i++)
        bo[i] = mx_bf16_round(b_in[i]);
    for (size_t i = 0; i < sizeof b_in / sizeof b_in[0]; i++)
        assert_int_equal(f2u(bo[i]), f2u(b_out[i]));
    assert_true(isnan(mx_bf16_round(NAN)));
    assert_true(isnan(mx_bf16_round(u2f(0x7F800001u)))); /* signalling NaN, payload in low bits */
}

/* ---------------------------------------------- SIMD vs scalar, in bulk */

/* Finite magnitudes, random exponent near center (spread binades below). */
static float rnd_mag(int center, int spread)
{
    int e = center - (int)rnd_below((uint32_t)spread + 1);
    float m = 1.0f + (float)(rnd() >> 40) * 0x1p-24f;
    float v = ldexpf(m, e);
    return rnd() & 1 ? -v : v;
}

/* A grid value of format f (finite code, not the max) and the next one up. */
static void rnd_grid_pair(mx_format f, float *lo, float *hi)
{
    for (;;) {
        unsigned c = rnd_below(1u << (mx_element_bits(f) - 1)); /* positive codes */
        if (special_code(f, c) || special_code(f, c + 1))
            continue;
        float a = mx_decode(f, (uint8_t)c), b = mx_decode(f, (uint8_t)(c + 1));
        if (b > mx_element_max(f) || !(b > a))
            continue;
        *lo = a;
        *hi = b;
        return;
    }
}

/* Biased exponents of max|x| around which the SIMD paths switch between their
 * float fast path and the integer path: below 1 + emax - emin the element's
 * smallest normal times X is an fp32 subnormal; above 231 + mbits the rounding
 * constant would overflow. */
static int fast_edge(mx_format f, int which)
{
    static const int emin[MX_NFORMATS] = {[MX_FP8_E4M3] = -6, [MX_FP8_E5M2] = -14, [MX_INT8] = 0,
                                          [MX_FP6_E3M2] = -2, [MX_FP6_E2M3] = 0, [MX_FP4_E2M1] = 0};
    static const int mbits[MX_NFORMATS] = {[MX_FP8_E4M3] = 3, [MX_FP8_E5M2] = 2, [MX_INT8] = 6,
                                           [MX_FP6_E3M2] = 2, [MX_FP6_E2M3] = 3, [MX_FP4_E2M1] = 1};
    return which ? 231 + mbits[f] : 1 + mx_emax_elem(f) - emin[f];
}

/* Fill one block of n values with kind k of test data. */
static void fill_block(mx_format f, int kind, float *x, size_t n)
{
    int e = (int)rnd_below(300) - 160; /* block exponent center over the whole fp32 range */
    if (kind == 7) {
        /* max|x| at the fast-path edges (+-2 binades), as a wide range or as ties */
        int big = (int)rnd_below(2);
        int E = fast_edge(f, big) + (int)rnd_below(5) - 2;
        if (E > 254)
            E = 254;
        kind = rnd_below(2) ? 1 : 3;
        e = kind == 1 ? E - 127 : E - 127 - mx_emax_elem(f);
    }
    switch (kind) {
    case 0: /* arbitrary bit patterns, mostly finite */
        for (size_t i = 0; i < n; i++) {
            uint32_t u = (uint32_t)rnd();
            if ((u & 0x7F800000u) == 0x7F800000u && rnd_below(8))
                u &= 0xBFFFFFFFu;
            x[i] = u2f(u);
        }
        break;
    case 1: /* a wide dynamic range inside the block, the max in binade e */
        if (e > 127)
            e = 127;
        for (size_t i = 0; i < n; i++)
            x[i] = rnd_mag(e, (int)rnd_below(40));
        x[rnd_below((uint32_t)n)] = rnd_mag(e, 0);
        break;
    case 2: /* zeros, -0 and a few values */
        for (size_t i = 0; i < n; i++)
            x[i] = rnd_below(3) ? (rnd() & 1 ? -0.0f : 0.0f) : rnd_mag(e < 127 ? e : 127, 10);
        break;
    case 3: /* exact ties between adjacent grid values, max element fixes X */
    case 4: /* the same, at grid points themselves */
        {
            if (e < -127)
                e = -127;
            int hi = 127 - mx_emax_elem(f); /* keep maxval * X finite */
            if (e > hi)
                e = hi;
            for (size_t i = 0; i < n; i++) {
                float lo, up;
                rnd_grid_pair(f, &lo, &up);
                float v = kind == 3 ? (lo + up) / 2 : (rnd() & 1 ? lo : up);
                if (rnd_below(16) == 0)
                    v = mx_decode(f, 1) / 2; /* tie between 0 and the smallest step */
                x[i] = ldexpf(rnd() & 1 ? -v : v, e);
            }
            x[rnd_below((uint32_t)n)] = ldexpf(mx_element_max(f), e);
        }
        break;
    case 5: /* saturation: block max between maxval and 2^(emax+1) */
        {
            if (e < -127)
                e = -127;
            int hi = 126 - mx_emax_elem(f);
            if (e > hi)
                e = hi;
            float top = ldexpf(1.0f, mx_emax_elem(f) + 1), mv = mx_element_max(f);
            for (size_t i = 0; i < n; i++) {
                float v = rnd_below(2) ? mv + (top - mv) * (float)(rnd() >> 40) * 0x1p-24f
                                       : fabsf(rnd_mag(mx_emax_elem(f), 12));
                x[i] = ldexpf(rnd() & 1 ? -v : v, e);
            }
        }
        break;
    default: /* fp32 subnormals and the smallest normals */
        for (size_t i = 0; i < n; i++) {
            uint32_t u = (uint32_t)(rnd() & 0x00FFFFFFu);
            if (rnd() & 1)
                u |= 0x80000000u;
            x[i] = u2f(u);
        }
        break;
    }
}
#define N_KINDS 8

/* The mse scale mode, by hand (E2M1 grid 0 .5 1 1.5 2 3 4 6), then on random
 * blocks: never a larger error than ocp-floor, scale within one of it, the
 * same on every path and through pack/unpack (test_pack_roundtrip). */
static void test_mse_scale(void **state)
{
    (void)state;
    float in[32] = {7.5f, 0.75f}, out[32];
    /* ocp (byte 127): 7.5 clips to 6, 0.75 ties to 1: error 2.3125; byte 128:
     * 3.75 -> 4, 0.375 -> 0.5, i.e. 8 and 1: error 0.3125 */
    assert_int_equal(mx_block_scale(MX_FP4_E2M1, in, 32), 127);
    assert_int_equal(mx_block_scale(MX_FP4_E2M1_MSE, in, 32), 128);
    check_paths(MX_FP4_E2M1_MSE, in, 1, 32, out, "clip");
    assert_true(out[0] == 8.0f && out[1] == 1.0f && out[2] == 0.0f);
    /* [4, 0.3 x 31]: byte 127 errs 31 x 0.04 = 1.24; byte 126 clips 8 to 6 (3,
     * error 1) but puts 0.6 on 0.5 (0.25, error 0.0025 each): 1.0775 */
    in[0] = 4.0f;
    for (int i = 1; i < 32; i++)
        in[i] = 0.3f;
    assert_int_equal(mx_block_scale(MX_FP4_E2M1_MSE, in, 32), 126);
    check_paths(MX_FP4_E2M1_MSE, in, 1, 32, out, "resolution");
    assert_true(out[0] == 3.0f && out[1] == 0.25f && out[31] == 0.25f);
    /* exact blocks, zeros and NaN keep the OCP byte */
    float exact[32] = {6.0f, -1.0f, 0.5f};
    assert_int_equal(mx_block_scale(MX_FP4_E2M1_MSE, exact, 32), 127);
    float zero[32] = {0};
    assert_int_equal(mx_block_scale(MX_FP4_E2M1_MSE, zero, 32), 0);
    zero[5] = NAN;
    assert_int_equal(mx_block_scale(MX_FP6_E2M3_MSE, zero, 32), 255);
    /* a short block and a long one (mx_block_scale takes any n) */
    assert_int_equal(mx_block_scale(MX_FP4_E2M1_MSE, (const float[]){7.5f}, 1), 128);
    float longb[100];
    for (int i = 0; i < 100; i++)
        longb[i] = i ? 0.3f : 4.0f;
    assert_int_equal(mx_block_scale(MX_FP4_E2M1_MSE, longb, 100), 126);

    rng_state = 0x5EEDull;
    enum { ROWS = 64, COLS = 96 };
    float *x = malloc(ROWS * COLS * sizeof *x), *qo = malloc(ROWS * COLS * sizeof *qo);
    float *qm = malloc(ROWS * COLS * sizeof *qm);
    assert_true(x && qo && qm);
    for (size_t k = 0; k < N_BLOCK_FORMATS; k++) {
        mx_format f = block_formats[k], fm = MX_NFORMATS;
        char name[32];
        snprintf(name, sizeof name, "%s+mse", mx_format_name(f));
        assert_int_equal(mx_format_parse(name, &fm), 0);
        /* bell-shaped blocks like weights (a sum of uniforms), scaled by 2^-8..2^7,
         * and every fourth block from the codec tests' wide-range generator */
        for (int i = 0; i < ROWS * COLS; i += 32) {
            if (i % 128 == 0) {
                fill_block(f, 1, x + i, 32);
                continue;
            }
            float sc = ldexpf(1.0f, (int)rnd_below(16) - 8);
            for (int j = i; j < i + 32; j++)
                x[j] = sc * ((float)rnd_below(1000) + (float)rnd_below(1000) + (float)rnd_below(1000) - 1498.5f) / 500.0f;
        }
        mx_fake_quant(f, x, qo, ROWS, COLS);
        check_paths(fm, x, ROWS, COLS, qm, "random");
        int moved = 0;
        for (int i = 0; i < ROWS * COLS; i += 32) {
            int so = mx_block_scale(f, x + i, 32), sm = mx_block_scale(fm, x + i, 32);
            if (so == 255) {
                assert_int_equal(sm, 255);
                continue;
            }
            assert_true(sm >= so - 1 && sm <= so + 1);
            double eo = 0, em = 0;
            for (int j = i; j < i + 32; j++) {
                eo += ((double)x[j] - qo[j]) * ((double)x[j] - qo[j]);
                em += ((double)x[j] - qm[j]) * ((double)x[j] - qm[j]);
            }
            assert_true(em <= eo);
            moved += sm != so;
        }
        assert_true(moved > 0); /* the choice is not always the OCP one */
    }
    free(x);
    free(qo);
    free(qm);
}

static void test_simd_matches_scalar(void **state)
{
    (void)state;
    static const size_t colss[] = {32, 64, 40, 33, 31, 1, 95, 17, 128};
    size_t total = 0;
    rng_state = 0x1234567887654321ull;
    for (int fi = 0; fi < MX_NFORMATS; fi++) {
        mx_format f = (mx_format)fi;
        int is_block = mx_is_block_format(f);
        for (int kind = 0; kind < N_KINDS; kind++) {
            for (size_t ci = 0; ci < sizeof colss / sizeof colss[0]; ci++) {
                size_t cols = colss[ci], rows = (ci == 0 ? 40000 : 2000) / cols + 1;
                size_t n = rows * cols;
                float *in = malloc(n * sizeof *in), *ref = malloc(n * sizeof *ref);
                assert_non_null(in);
                assert_non_null(ref);
                for (size_t r = 0; r < rows; r++)
                    for (size_t c = 0; c < cols; c += MX_BLOCK) {
                        size_t len = cols - c < MX_BLOCK ? cols - c : MX_BLOCK;
                        /* fp32/bf16 have no grid: use the bulk kinds only */
                        fill_block(is_block ? f : MX_FP8_E4M3, kind, in + r * cols + c, len);
                    }
                char what[32];
                snprintf(what, sizeof what, "kind %d", kind);
                check_paths(f, in, rows, cols, ref, what);
                if (f == MX_FP32)
                    assert_memory_equal(in, ref, n * sizeof *in);
                total += n;
                free(in);
                free(ref);
            }
        }
    }
    print_message("    %zu values compared on every path\n", total);
    assert_true(total > 2000000);
}

/* Every grid value of every format is a fixed point at many scales. */
static void test_grid_fixed_points(void **state)
{
    (void)state;
    static const int shifts[] = {-127, -120, -60, -9, 0, 1, 7, 60, 100};
    for (size_t k = 0; k < N_BLOCK_FORMATS; k++) {
        mx_format f = block_formats[k];
        unsigned ncodes = 1u << mx_element_bits(f);
        size_t cols = 32, rows = (ncodes + 30) / 31;
        float *in = malloc(rows * cols * sizeof *in), *out = malloc(rows * cols * sizeof *out);
        assert_non_null(in);
        assert_non_null(out);
        for (size_t si = 0; si < sizeof shifts / sizeof shifts[0]; si++) {
            int sh = shifts[si];
            if (sh + mx_emax_elem(f) > 127)
                continue;
            unsigned c = 0;
            for (size_t r = 0; r < rows; r++) {
                in[r * cols] = ldexpf(mx_element_max(f), sh);
                for (size_t j = 1; j < cols; j++) {
                    while (c < ncodes && special_code(f, c))
                        c++;
                    in[r * cols + j] = c < ncodes ? ldexpf(mx_decode(f, (uint8_t)c++), sh) : 0.0f;
                }
            }
            check_paths(f, in, rows, cols, out, "grid");
            for (size_t i = 0; i < rows * cols; i++)
                if (f2u(in[i]) != f2u(out[i]))
                    fail_msg("%s shift %d: grid value %a moved to %a", mx_format_name(f), sh,
                             (double)in[i], (double)out[i]);
        }
        free(in);
        free(out);
    }
}

/* ------------------------------------------------------------- NVFP4 */

/* E2M1 by hand: the nearest of the eight magnitudes, ties to the even code
 * (codes 0..7 = 0, .5, 1, 1.5, 2, 3, 4, 6), saturating; a second path beside
 * mx_encode's generic rounding. */
static float e2m1_nearest(float v)
{
    static const float mag[8] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6};
    float a = fabsf(v);
    int best = 7;
    for (int c = 0; c < 7; c++) {
        float mid = 0.5f * (mag[c] + mag[c + 1]);
        if (a < mid || (a == mid && c % 2 == 0)) {
            best = c;
            break;
        }
    }
    return signbit(v) ? -mag[best] : mag[best];
}

static void test_nvfp4(void **state)
{
    (void)state;
    /* max|x| = 2.625 = 2688 * 2^-10: tensor scale exactly 2^-10. Block 0's
     * scale 2.625 / 6 / 2^-10 = 448 (E4M3 0x7E): step 0.4375, the elements
     * multiples of it by hand, ties to even (2.5 -> 2, 0.25 -> 0, 0.75 -> 1,
     * 5 -> 4, 3.5 -> 4). Block 1: max 0.01, scale 1.7066 -> E4M3 1.75 (0x3E),
     * step 1.75 * 2^-10. Block 2 is zero: scale clamped to 2^-6 (0x08). The
     * short block 3 (8 values) is tiny: scale clamped too, values flush to 0. */
    float x[56] = {0}, q[56], want[56] = {0};
    const float st = 0.4375f;
    const float b0[16] = {2.625f, st * 2.5f, st * 0.25f, st * 0.75f, st * 5, -st * 1.5f, -0.0f, st * 3.5f,
                          st * 6, -st * 6, st * 0.5f, st * 5.5f, st * 1.25f, st * 1.75f, st * 4.5f, st * 3};
    const float w0[16] = {2.625f, st * 2, 0, st * 1, st * 4, -st * 1.5f, -0.0f, st * 4,
                          st * 6, -st * 6, st * 0.5f, st * 6, st * 1, st * 2, st * 4, st * 3};
    memcpy(x, b0, sizeof b0);
    memcpy(want, w0, sizeof w0);
    const float st1 = 1.75f * 0x1p-10f;
    x[16] = 0.01f, want[16] = st1 * 6;      /* 5.85 steps -> 6 */
    x[17] = -0.004f, want[17] = -st1 * 2;   /* 2.34 -> 2 */
    x[18] = st1 * 2.5f, want[18] = st1 * 2; /* a tie -> 2 (even) */
    x[48] = 1e-6f, x[55] = -1e-6f, want[55] = -0.0f;
    assert_true(mx_nvfp4_tensor_scale(x, 56) == 0x1p-10f);
    assert_int_equal(mx_nvfp4_block_scale(0x1p-10f, x, 16), 0x7E);
    assert_int_equal(mx_nvfp4_block_scale(0x1p-10f, x + 16, 16), 0x3E);
    assert_int_equal(mx_nvfp4_block_scale(0x1p-10f, x + 32, 16), 0x08);
    assert_int_equal(mx_nvfp4_block_scale(0x1p-10f, x + 48, 8), 0x08);
    mx_fake_quant(MX_NVFP4, x, q, 1, 56);
    for (int i = 0; i < 56; i++)
        if (f2u(q[i]) != f2u(want[i]))
            fail_msg("nvfp4 [%d]: in %a got %a want %a", i, (double)x[i], (double)q[i], (double)want[i]);
    /* a NaN block: its scale byte is E4M3's NaN, its values NaN; the tensor
     * scale skips it, the other blocks are untouched */
    x[20] = NAN;
    mx_fake_quant(MX_NVFP4, x, q, 1, 56);
    for (int i = 0; i < 56; i++)
        assert_true(i >= 16 && i < 32 ? isnan(q[i]) : f2u(q[i]) == f2u(want[i]));
    assert_int_equal(mx_nvfp4_block_scale(0x1p-10f, x + 16, 16), MX_NVFP4_NAN_SCALE);
    x[20] = INFINITY;
    assert_true(mx_nvfp4_tensor_scale(x, 56) == 0x1p-10f);
    /* all zero: tensor scale 1, values stay (signed) zeros */
    float z[3] = {0, -0.0f, 0}, zq[3];
    assert_true(mx_nvfp4_tensor_scale(z, 3) == 1.0f);
    mx_fake_quant(MX_NVFP4, z, zq, 1, 3);
    assert_true(zq[0] == 0 && signbit(zq[1]) && zq[2] == 0);

    /* nvfp4+mse: a block whose 0.75 * max sits on a tie of the reference's
     * grid (4.5 steps -> 4) but exactly on the grid that maps max to 4 (3
     * steps): scale 24 (0x5C) instead of 16 (0x58), no error at all. */
    float m4[32] = {2.625f}, m4q[32];
    m4[16] = 0.09375f;
    for (int i = 17; i < 32; i++)
        m4[i] = 0.0703125f;
    assert_int_equal(mx_nvfp4_block(MX_SCALE_OCP_FLOOR, 0x1p-10f, m4 + 16, NULL, NULL, 16), 0x58);
    assert_int_equal(mx_nvfp4_block(MX_SCALE_MSE, 0x1p-10f, m4 + 16, NULL, NULL, 16), 0x5C);
    mx_fake_quant(MX_NVFP4_MSE, m4, m4q, 1, 32);
    assert_memory_equal(m4q + 16, m4 + 16, 16 * sizeof *m4);
    mx_fake_quant(MX_NVFP4, m4, m4q, 1, 32);
    assert_true(m4q[17] == 0.0625f);

    /* Random tensors against the definition written out again (fp32, the
     * reference's order of operations), on every path and thread count; the
     * mse mode is the better of the two candidates per block (ties: 6). */
    rng_state = 0x5EEDF00D12345678ull;
    size_t rows = 37, cols = 88, n = rows * cols;
    float *in = malloc(n * sizeof *in), *ref = malloc(n * sizeof *ref), *got = malloc(n * sizeof *got);
    assert_true(in && ref && got);
    for (int trial = 0; trial < 4; trial++) {
        float amax = 0;
        for (size_t i = 0; i < n; i++) {
            /* magnitudes over ~2^-20..2^4, some blocks much smaller than others */
            float v = (float)((int32_t)rnd() >> 8) * 0x1p-23f * ldexpf(1.0f, (int)(i / 16 % 7) * 3 - 16 + trial);
            in[i] = v;
            amax = fabsf(v) > amax ? fabsf(v) : amax;
        }
        float ts = amax / 2688.0f;
        for (int mse = 0; mse < 2; mse++) {
            for (size_t r = 0; r < rows; r++)
                for (size_t c0 = 0; c0 < cols; c0 += 16) {
                    size_t len = cols - c0 < 16 ? cols - c0 : 16;
                    const float *b = in + r * cols + c0;
                    float bm = 0, cand[2][16];
                    double err[2] = {0, 0};
                    for (size_t j = 0; j < len; j++)
                        bm = fabsf(b[j]) > bm ? fabsf(b[j]) : bm;
                    for (int k = 0; k < 2; k++) {
                        float sc = bm / (k ? 4.0f : 6.0f) / ts;
                        sc = sc < 0x1p-6f ? 0x1p-6f : sc > 448 ? 448 : sc;
                        float e4 = mx_decode(MX_FP8_E4M3, mx_encode(MX_FP8_E4M3, sc)), step = ts * e4;
                        for (size_t j = 0; j < len; j++) {
                            cand[k][j] = (float)((double)e2m1_nearest(b[j] / step) * e4 * ts);
                            err[k] += ((double)cand[k][j] - b[j]) * ((double)cand[k][j] - b[j]);
                        }
                    }
                    memcpy(ref + r * cols + c0, cand[mse && err[1] < err[0]], len * sizeof *ref);
                }
            mx_format f = mse ? MX_NVFP4_MSE : MX_NVFP4;
            for (int p = MX_SIMD_AUTO; p < MX_NSIMD; p++) {
                if (!mx_simd_supported((mx_simd)p))
                    continue;
                for (int nt = 1; nt <= 3; nt += 2) {
                    assert_int_equal(mx_fake_quant_with((mx_simd)p, nt, f, in, got, rows, cols), 0);
                    for (size_t i = 0; i < n; i++)
                        if (f2u(got[i]) != f2u(ref[i]))
                            fail_msg("%s trial %d path %s threads %d [%zu]: in %a got %a want %a",
                                     mx_format_name(f), trial, mx_simd_name((mx_simd)p), nt, i, (double)in[i],
                                     (double)got[i], (double)ref[i]);
                }
            }
        }
    }
    free(in);
    free(ref);
    free(got);

    /* storage: 4.5 bits plus the tensor scale; packed codes, scales, scale */
    assert_true(mx_bits_per_weight(MX_NVFP4, 4, 64) == 4.5 + 32.0 / 256);
    assert_true(fabs(mx_bits_per_weight(MX_NVFP4, 2, 40) - (4 + 8.0 * 3 / 40 + 32.0 / 80)) < 1e-12);
    assert_int_equal(mx_packed_size(MX_NVFP4, 2, 40), 2 * 20 + 2 * 3 + 4);
    uint8_t pk[20 + 3 + 4];
    float one[40];
    for (int i = 0; i < 40; i++)
        one[i] = i < 16 ? b0[i] : 0;
    assert_int_equal(mx_pack(MX_NVFP4, one, 1, 40, pk), sizeof pk);
    assert_int_equal(pk[0], 0x47); /* 6 (code 7) then 2 (code 4): element 0 in the low nibble */
    assert_int_equal(pk[1], 0x20); /* 0 then 1.0 (code 2) */
    assert_int_equal(pk[2], 0xB6); /* 4 (code 6) then -1.5 (code 8|3) */
    assert_int_equal(pk[20], 0x7E);
    assert_int_equal(pk[21], 0x08);
    assert_int_equal(pk[22], 0x08);
    uint32_t tsb = (uint32_t)pk[23] | (uint32_t)pk[24] << 8 | (uint32_t)pk[25] << 16 | (uint32_t)pk[26] << 24;
    assert_int_equal(tsb, f2u(0x1p-10f));
}

/* ------------------------------------------------------------ packing */

static void test_pack_roundtrip(void **state)
{
    (void)state;
    static const size_t shapes[][2] = {{7, 32}, {5, 40}, {3, 33}, {4, 3}, {2, 1}, {9, 100}, {1, 65}};
    rng_state = 0xDEADBEEFCAFEF00Dull;
    for (int fi = 0; fi < MX_NFORMATS; fi++) {
        mx_format f = (mx_format)fi;
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
            size_t rows = shapes[si][0], cols = shapes[si][1], n = rows * cols;
            for (int kind = 0; kind < N_KINDS; kind++) {
                float *in = malloc(n * sizeof *in), *fq = malloc(n * sizeof *fq);
                float *back = malloc(n * sizeof *back);
                size_t psize = mx_packed_size(f, rows, cols);
                uint8_t *packed = malloc(psize);
                assert_true(in && fq && back && packed);
                for (size_t r = 0; r < rows; r++)
                    for (size_t c = 0; c < cols; c += MX_BLOCK)
                        fill_block(mx_is_block_format(f) ? f : MX_FP4_E2M1, kind, in + r * cols + c,
                                   cols - c < MX_BLOCK ? cols - c : MX_BLOCK);
                mx_fake_quant(f, in, fq, rows, cols);
                assert_int_equal(mx_pack(f, in, rows, cols, packed), psize);
                assert_int_equal(mx_unpack(f, packed, psize, rows, cols, back), 0);
                if (memcmp(fq, back, n * sizeof *fq))
                    for (size_t i = 0; i < n; i++)
                        if (f2u(fq[i]) != f2u(back[i]))
                            fail_msg("%s %zux%zu kind %d [%zu]: in %a fake %a (0x%08x) unpacked %a (0x%08x)",
                                     mx_format_name(f), rows, cols, kind, i, (double)in[i],
                                     (double)fq[i], f2u(fq[i]), (double)back[i], f2u(back[i]));
                if (psize)
                    assert_int_equal(mx_unpack(f, packed, psize - 1, rows, cols, back), -1);
                free(in);
                free(fq);
                free(back);
                free(packed);
            }
        }
    }
}

static void test_pack_layout(void **state)
{
    (void)state;
    /* MXFP4, one row of 40: block 0 max 6 (scale 127), block 1 max 1 (scale 125). */
    float in[40] = {0};
    in[0] = 6.0f;   /* code 0x7 */
    in[1] = -1.0f;  /* code 0xA */
    in[2] = 0.5f;   /* code 0x1 */
    in[32] = 1.0f;  /* X = 2^-2: 4.0, code 0x6 */
    in[33] = -0.125f; /* 0.5: code 0x9 */
    uint8_t p[22];
    assert_int_equal(mx_packed_size(MX_FP4_E2M1, 1, 40), 22);
    assert_int_equal(mx_pack(MX_FP4_E2M1, in, 1, 40, p), 22);
    assert_int_equal(p[0], 0xA7);
    assert_int_equal(p[1], 0x01);
    assert_int_equal(p[16], 0x96);
    assert_int_equal(p[20], 127);
    assert_int_equal(p[21], 125);

    /* MXFP6 E3M2: codes straddle bytes, LSB first. */
    float x6[4] = {28.0f, 1.0f, -0.0625f, 2.0f}; /* max 28: X = 1 */
    uint8_t q[4];
    assert_int_equal(mx_pack(MX_FP6_E3M2, x6, 1, 4, q), 4);
    unsigned c0 = mx_encode(MX_FP6_E3M2, 28.0f), c1 = mx_encode(MX_FP6_E3M2, 1.0f);
    unsigned c2 = mx_encode(MX_FP6_E3M2, -0.0625f), c3 = mx_encode(MX_FP6_E3M2, 2.0f);
    assert_int_equal(c0, 0x1F);
    assert_int_equal(c1, 0x0C);
    assert_int_equal(c2, 0x21);
    assert_int_equal(c3, 0x10);
    uint32_t bitsw = c0 | c1 << 6 | c2 << 12 | c3 << 18;
    assert_int_equal(q[0], bitsw & 0xFF);
    assert_int_equal(q[1], (bitsw >> 8) & 0xFF);
    assert_int_equal(q[2], (bitsw >> 16) & 0xFF);
    assert_int_equal(q[3], 127);

    /* MXINT8 codes are two's complement; bf16 is the upper half, little-endian. */
    float xi[2] = {-1.0f, 0.5f};
    uint8_t qi[3];
    assert_int_equal(mx_pack(MX_INT8, xi, 1, 2, qi), 3);
    assert_int_equal(qi[0], 0xC0);
    assert_int_equal(qi[1], 0x20);
    assert_int_equal(qi[2], 127);
    float xb = -2.0f;
    uint8_t qb[2];
    assert_int_equal(mx_pack(MX_BF16, &xb, 1, 1, qb), 2);
    assert_int_equal(qb[0], 0x00);
    assert_int_equal(qb[1], 0xC0);

    /* A NaN block packs to scale 0xFF and unpacks to NaN. */
    float xn[32] = {0};
    xn[7] = NAN;
    uint8_t qn[17];
    float bn[32];
    assert_int_equal(mx_pack(MX_FP4_E2M1, xn, 1, 32, qn), 17);
    assert_int_equal(qn[16], 0xFF);
    assert_int_equal(mx_unpack(MX_FP4_E2M1, qn, 17, 1, 32, bn), 0);
    for (int i = 0; i < 32; i++)
        assert_int_equal(f2u(bn[i]), 0x7FC00000u);
}

/* ----------------------------------------------------------- threading */

/* n random signed values of exponent -20..0 (rnd_mag from seed), and two
 * output buffers of n in *a and *b. */
static float *big_input(size_t n, uint64_t seed, float **a, float **b)
{
    float *in = malloc(n * sizeof *in);
    *a = malloc(n * sizeof **a);
    *b = malloc(n * sizeof **b);
    assert_true(in && *a && *b);
    rng_state = seed;
    for (size_t i = 0; i < n; i++)
        in[i] = rnd_mag(0, 20);
    return in;
}

static void test_threads_and_inplace(void **state)
{
    (void)state;
    size_t rows = 301, cols = 1000, n = rows * cols;
    float *a, *b, *in = big_input(n, 42, &a, &b);
    mx_simd paths[MX_NSIMD];
    int np = n_paths(paths);
    for (int fi = 0; fi < MX_NFORMATS; fi++) {
        mx_format f = (mx_format)fi;
        assert_int_equal(mx_fake_quant_with(MX_SIMD_SCALAR, 1, f, in, a, rows, cols), 0);
        for (int p = 0; p < np; p++) {
            static const int threads[] = {0, 2, 3, 7};
            for (size_t t = 0; t < sizeof threads / sizeof threads[0]; t++) {
                memset(b, 0, n * sizeof *b);
                assert_int_equal(mx_fake_quant_with(paths[p], threads[t], f, in, b, rows, cols), 0);
                assert_memory_equal(a, b, n * sizeof *a);
            }
        }
        memcpy(b, in, n * sizeof *b);
        mx_fake_quant(f, b, b, rows, cols); /* in place */
        assert_memory_equal(a, b, n * sizeof *a);
    }
    /* Bad arguments leave out untouched. */
    memset(b, 0x5A, 64);
    assert_int_equal(mx_fake_quant_with(MX_SIMD_AUTO, 1, MX_NFORMATS, in, b, 1, 16), ERR_ARG);
    assert_int_equal(mx_fake_quant_with(MX_SIMD_AUTO, -1, MX_INT8, in, b, 1, 16), ERR_ARG);
    assert_int_equal(mx_fake_quant_with(MX_NSIMD, 1, MX_INT8, in, b, 1, 16), ERR_ARG);
    for (int i = 0; i < 64; i++)
        assert_int_equal(((unsigned char *)b)[i], 0x5A);
    assert_int_equal(mx_fake_quant_with(MX_SIMD_AUTO, 0, MX_INT8, in, b, 0, 16), 0);
    free(in);
    free(a);
    free(b);
}

/* ------------------------------------------------------------ the pool */

typedef struct count_job {
    int hits[128]; /* per task: how often it ran (each task writes its own slot) */
    int bad_nth;   /* a task saw another nth than the run's */
    int nth;
    pool *inner;   /* when set, every task runs a nested parallel-for on it */
    int inner_hits[128][4];
} count_job;

static void inner_task(void *arg, int ith, int nth)
{
    int *hits = arg;
    (void)nth;
    hits[ith]++;
}

static void count_task(void *arg, int ith, int nth)
{
    count_job *j = arg;
    j->hits[ith]++;
    if (nth != j->nth)
        j->bad_nth = 1;
    if (j->inner) /* a task calling back into its busy pool: serial, no deadlock */
        pool_run(j->inner, 4, inner_task, j->inner_hits[ith]);
}

/* Every task runs exactly once, with the run's nth, for pools smaller and
 * larger than the task count, NULL included; runs repeat on one pool. */
static void test_pool_runs_every_task_once(void **state)
{
    (void)state;
    static const int sizes[] = {1, 2, 3, 8};
    static const int nths[] = {0, 1, 2, 3, 5, 8, 9, 64, 128};
    for (size_t si = 0; si <= sizeof sizes / sizeof sizes[0]; si++) {
        pool *p = si < sizeof sizes / sizeof sizes[0] ? pool_create(sizes[si]) : NULL;
        if (si < sizeof sizes / sizeof sizes[0]) {
            assert_non_null(p);
            assert_true(pool_threads(p) >= 1 && pool_threads(p) <= sizes[si]);
        } else {
            assert_int_equal(pool_threads(p), 1);
        }
        for (int rep = 0; rep < 50; rep++)
            for (size_t ni = 0; ni < sizeof nths / sizeof nths[0]; ni++) {
                count_job j;
                memset(&j, 0, sizeof j);
                j.nth = nths[ni];
                j.inner = rep == 0 ? p : NULL;
                pool_run(p, j.nth, count_task, &j);
                assert_int_equal(j.bad_nth, 0);
                for (int i = 0; i < 128; i++)
                    assert_int_equal(j.hits[i], i < j.nth ? 1 : 0);
                if (j.inner)
                    for (int i = 0; i < j.nth; i++)
                        for (int k = 0; k < 4; k++)
                            assert_int_equal(j.inner_hits[i][k], 1);
            }
        pool_free(p);
    }
    pool *d = pool_create(0); /* the online cores */
    assert_non_null(d);
    assert_true(pool_threads(d) >= 1 && pool_threads(d) <= POOL_MAX_THREADS);
    pool_free(d);
}

typedef struct caller_arg {
    pool *p;
    int ok;
} caller_arg;

static void *caller_thread(void *arg)
{
    caller_arg *c = arg;
    c->ok = 1;
    for (int rep = 0; rep < 200; rep++) {
        count_job j;
        memset(&j, 0, sizeof j);
        j.nth = 7;
        pool_run(c->p, j.nth, count_task, &j);
        for (int i = 0; i < 128; i++)
            c->ok &= j.hits[i] == (i < j.nth ? 1 : 0);
    }
    return NULL;
}

/* Two threads calling one pool at once: each call completes all its tasks
 * (the second runs serially while the pool is busy). */
static void test_pool_concurrent_callers(void **state)
{
    (void)state;
    pool *p = pool_create(3);
    assert_non_null(p);
    caller_arg a = {p, 0}, b = {p, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, caller_thread, &a), 0);
    caller_thread(&b);
    pthread_join(th, NULL);
    assert_true(a.ok && b.ok);
    pool_free(p);
}

/* mx_fake_quant_on: the same bits on any pool as the scalar reference on one
 * thread, for a matrix large enough to be split. */
static void test_pool_fake_quant(void **state)
{
    (void)state;
    size_t rows = 1201, cols = 1000, n = rows * cols;
    float *a, *b, *in = big_input(n, 7, &a, &b);
    pool *pools[3] = {NULL, pool_create(2), pool_create(5)};
    assert_true(pools[1] && pools[2]);
    static const mx_format fs[] = {MX_BF16, MX_FP8_E4M3, MX_INT8, MX_FP4_E2M1};
    for (size_t fi = 0; fi < sizeof fs / sizeof fs[0]; fi++) {
        assert_int_equal(mx_fake_quant_with(MX_SIMD_SCALAR, 1, fs[fi], in, a, rows, cols), 0);
        for (int pi = 0; pi < 3; pi++) {
            memset(b, 0, n * sizeof *b);
            assert_int_equal(
                mx_fake_quant_on(pools[pi], MX_SIMD_AUTO, fs[fi], in, b, rows, cols), 0);
            assert_memory_equal(a, b, n * sizeof *a);
        }
    }
    memset(b, 0x5A, 64);
    assert_int_equal(mx_fake_quant_on(pools[1], MX_SIMD_AUTO, MX_NFORMATS, in, b, 1, 16), ERR_ARG);
    assert_int_equal(mx_fake_quant_on(pools[1], MX_NSIMD, MX_INT8, in, b, 1, 16), ERR_ARG);
    for (int i = 0; i < 64; i++)
        assert_int_equal(((unsigned char *)b)[i], 0x5A);
    for (int pi = 0; pi < 3; pi++)
        pool_free(pools[pi]);
    free(in);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_bits_per_weight),
        cmocka_unit_test(test_constants),
        cmocka_unit_test(test_codec_exhaustive),
        cmocka_unit_test(test_hand_values),
        cmocka_unit_test(test_grid_fixed_points),
        cmocka_unit_test(test_mse_scale),
        cmocka_unit_test(test_nvfp4),
        cmocka_unit_test(test_simd_matches_scalar),
        cmocka_unit_test(test_pack_roundtrip),
        cmocka_unit_test(test_pack_layout),
        cmocka_unit_test(test_threads_and_inplace),
        cmocka_unit_test(test_pool_runs_every_task_once),
        cmocka_unit_test(test_pool_concurrent_callers),
        cmocka_unit_test(test_pool_fake_quant),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
