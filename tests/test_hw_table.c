/* The hardware cost table (src/hw_table.c): parsing, malformed files named
 * by line, write + read back; and the packed execution path (src/packed.c)
 * it times: the lookup-table dequantization equals mx_unpack bit for bit,
 * and the chunked dequantize + GEMM equals gemm_linear on the
 * fake-quantized weights. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kernels/gemm.h"
#include "kernels/mx.h"
#include "src/hw_table.h"
#include "src/packed.h"
#include "tests/test_tmp.h"

static int parse(hw_table *t, const char *s, mx_error *e)
{
    hw_table_init(t);
    return hw_table_parse(t, s, strlen(s), "t.hw", e);
}

static void test_parse_good(void **state)
{
    (void)state;
    hw_table t;
    mx_error e = {0};
    const char *s = "# mxalloc hardware cost table\n"
                    "  # machine: x86_64, a cpu\r\n"
                    "\n"
                    "mxfp4_e2m1 64 64 512 0.105 264320\n"
                    "mxfp4\t32 64 512 1.5e-1 197696   # an alias and a trailing comment\n"
                    "e4m3 64 64 512 0 0\r\n"
                    "bfloat16 64 64 512 0.2 264320\n"
                    "overhead 512 62.75";
    assert_int_equal(parse(&t, s, &e), 0);
    assert_int_equal(t.n, 4);
    assert_int_equal(t.batch, 512);
    assert_string_equal(t.machine, "x86_64, a cpu");
    assert_true(fabs(t.overhead_us - 62.75) < 1e-12);
    const hw_entry *h = hw_table_find(&t, MX_FP4_E2M1, 32, 64);
    assert_non_null(h);
    assert_true(fabs(h->us_per_token - 0.15) < 1e-12);
    assert_true(fabs(h->bytes - 197696) < 1e-9);
    assert_non_null(hw_table_find(&t, MX_FP8_E4M3, 64, 64));
    assert_non_null(hw_table_find(&t, MX_BF16, 64, 64));
    assert_null(hw_table_find(&t, MX_FP4_E2M1, 64, 32));
    assert_null(hw_table_find(&t, MX_INT8, 64, 64));
    hw_table_free(&t);
}

static void test_parse_bad(void **state)
{
    (void)state;
    static const struct {
        const char *text, *msg;
    } cases[] = {
        {"", "no rows"},
        {"# only comments\n\n", "no rows"},
        {"overhead 512 3\n", "no rows"},
        {"mxfp4 64 64 512 0.1\n", "t.hw:1: 5 fields, want 6"},
        {"mxfp4 64 64 512 0.1 1 2\n", "t.hw:1: 7 fields"},
        {"mxfp5 64 64 512 0.1 1\n", "t.hw:1: unknown format 'mxfp5'"},
        {"fp8 64 64 512 0.1 1\n", "unknown format 'fp8'"},
        {"\nmxfp4 0 64 512 0.1 1\n", "t.hw:2: rows '0' is not an integer"},
        {"mxfp4 64 6x4 512 0.1 1\n", "cols '6x4' is not an integer"},
        {"mxfp4 64 64 -1 0.1 1\n", "batch '-1'"},
        {"mxfp4 64 64 99999999999 0.1 1\n", "batch '99999999999'"},
        {"mxfp4 64 64 512 -0.1 1\n", "us_per_token '-0.1'"},
        {"mxfp4 64 64 512 nan 1\n", "us_per_token 'nan'"},
        {"mxfp4 64 64 512 inf 1\n", "us_per_token 'inf'"},
        {"mxfp4 64 64 512 1e999 1\n", "us_per_token '1e999'"},
        {"mxfp4 64 64 512 0.1 x\n", "bytes 'x'"},
        {"mxfp4 64 64 512 0.1 1\nmxfp4_e2m1 64 64 512 0.2 1\n", "t.hw:2: mxfp4_e2m1 64x64 appears twice"},
        {"mxfp4 64 64 512 0.1 1\nmxint8 64 64 256 0.2 1\n", "t.hw:2: batch 256 differs from the table's 512"},
        {"overhead 256 3\nmxfp4 64 64 512 0.1 1\n", "t.hw:2: batch 512 differs"},
        {"mxfp4 64 64 512 0.1 1\noverhead 512 3\noverhead 512 4\n", "t.hw:3: a second overhead line"},
        {"mxfp4 64 64 512 0.1 1\noverhead 512\n", "overhead wants 2 fields"},
        {"mxfp4 64 64 512 0.1 1\noverhead x 1\n", "overhead batch 'x'"},
        {"mxfp4 64 64 512 0.1 1\noverhead 512 -1\n", "overhead us_per_token '-1'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hw_table t;
        mx_error e = {0};
        int rc = parse(&t, cases[i].text, &e);
        if (rc != ERR_FORMAT || !strstr(e.msg, cases[i].msg))
            fail_msg("case %zu: rc %d, message '%s', want '%s'", i, rc, e.msg, cases[i].msg);
        assert_null(strchr(e.msg, '\n'));
        assert_int_equal(t.n, 0);
        assert_null(t.e);
    }
    /* a NUL byte and an overlong line */
    hw_table t;
    mx_error e = {0};
    hw_table_init(&t);
    assert_int_equal(hw_table_parse(&t, "mxfp4 64\0 64 512 0.1 1\n", 23, "t.hw", &e), ERR_FORMAT);
    assert_non_null(strstr(e.msg, "t.hw:1: a NUL byte"));
    char *big = malloc(3000);
    memset(big, ' ', 2999);
    big[2999] = 0;
    memcpy(big, "mxfp4 64 64 512 0.1 1", 21);
    assert_int_equal(parse(&t, big, &e), ERR_FORMAT);
    assert_non_null(strstr(e.msg, "line longer than"));
    free(big);
}

static void test_write_read(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/t.hw", tmp_dir);
    hw_table t;
    hw_table_init(&t);
    mx_error e = {0};
    snprintf(t.machine, sizeof t.machine, "test machine");
    for (int f = 0; f < MX_NFORMATS; f++)
        assert_int_equal(hw_table_add(&t, (mx_format)f, 172, 64, 128, 0.125 * (f + 1), 1000.0 + f, &e), 0);
    assert_int_equal(hw_table_add(&t, MX_INT8, 172, 64, 128, 1, 1, &e), ERR_ARG); /* twice */
    assert_int_equal(hw_table_add(&t, MX_INT8, 64, 64, 64, 1, 1, &e), ERR_ARG);   /* another batch */
    assert_int_equal(hw_table_add(&t, MX_INT8, 64, 64, 128, NAN, 1, &e), ERR_ARG);
    t.overhead_us = 40.5;
    assert_int_equal(hw_table_write(path, &t, "line one\nline two", &e), 0);
    hw_table r;
    assert_int_equal(hw_table_read(path, &r, &e), 0);
    assert_int_equal(r.n, MX_NFORMATS);
    assert_int_equal(r.batch, 128);
    assert_string_equal(r.machine, "test machine");
    assert_true(fabs(r.overhead_us - 40.5) < 1e-9);
    for (int f = 0; f < MX_NFORMATS; f++) {
        const hw_entry *h = hw_table_find(&r, (mx_format)f, 172, 64);
        assert_non_null(h);
        assert_true(fabs(h->us_per_token - 0.125 * (f + 1)) < 1e-9);
    }
    hw_table_free(&r);
    hw_table_free(&t);
    assert_int_equal(hw_table_read("/nonexistent/t.hw", &r, &e), ERR_IO);
}

static void fill(float *x, size_t n, uint64_t s, int specials)
{
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        float u = (float)(s >> 40) / (float)(1u << 24) * 2.0f - 1.0f;
        x[i] = u * ldexpf(1.0f, (int)(s >> 20 & 15) - 8);
    }
    if (specials && n > 100) {
        x[3] = NAN;
        x[40] = INFINITY;
        x[77] = 0.0f;
        x[78] = -0.0f;
        x[90] = 1e-40f;
    }
}

static void test_packed_dequant_equals_unpack(void **state)
{
    (void)state;
    static const int shapes[][2] = {{1, 1}, {3, 31}, {64, 64}, {172, 64}, {64, 172}, {300, 70}, {600, 40}};
    for (int f = 0; f < MX_NFORMATS; f++)
        for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
            int rows = shapes[k][0], cols = shapes[k][1];
            size_t n = (size_t)rows * cols;
            if (mx_is_nvfp4((mx_format)f)) { /* OCP MX only: refused with a message */
                packed_linear p;
                mx_error e = {0};
                assert_int_equal(packed_linear_init(&p, (mx_format)f, NULL, rows, cols, &e), ERR_ARG);
                assert_non_null(strstr(e.msg, "OCP MX"));
                continue;
            }
            float *w = malloc(n * sizeof *w), *fq = malloc(n * sizeof *fq), *dq = malloc(n * sizeof *dq);
            fill(w, n, (uint64_t)(f * 100 + (int)k), 1);
            mx_fake_quant((mx_format)f, w, fq, (size_t)rows, (size_t)cols);
            packed_linear p;
            assert_int_equal(packed_linear_init(&p, (mx_format)f, w, rows, cols, NULL), 0);
            assert_true(packed_linear_scratch(&p) <= (size_t)PACKED_TILE_FLOATS || p.chunk_rows == 1);
            size_t bytes = 0;
            for (int c = 0; c < p.n_chunks; c++) {
                int r0 = c * p.chunk_rows, nr = c == p.n_chunks - 1 ? rows - r0 : p.chunk_rows;
                packed_linear_dequant(&p, c, dq + (size_t)r0 * cols);
                /* each chunk is mx_pack's layout: mx_unpack reads it the same */
                float *u = malloc((size_t)nr * cols * sizeof *u);
                assert_int_equal(mx_unpack((mx_format)f, p.data + p.off[c], p.off[c + 1] - p.off[c], (size_t)nr,
                                           (size_t)cols, u), 0);
                assert_memory_equal(u, dq + (size_t)r0 * cols, (size_t)nr * cols * sizeof *u);
                free(u);
                bytes += mx_packed_size((mx_format)f, (size_t)nr, (size_t)cols);
            }
            assert_int_equal(packed_linear_bytes(&p), bytes);
            if (memcmp(fq, dq, n * sizeof *fq))
                fail_msg("%s %dx%d: packed dequantization differs from mx_fake_quant", mx_format_name((mx_format)f),
                         rows, cols);
            packed_linear_free(&p);
            free(w);
            free(fq);
            free(dq);
        }
}

static void test_packed_apply_equals_gemm(void **state)
{
    (void)state;
    static const int shapes[][2] = {{64, 64}, {172, 64}, {64, 172}, {600, 40}};
    const int n = 37;
    for (int f = 0; f < MX_NFORMATS; f++)
        for (size_t k = 0; k < sizeof shapes / sizeof shapes[0] && !mx_is_nvfp4((mx_format)f); k++) {
            int rows = shapes[k][0], cols = shapes[k][1];
            float *w = malloc(sizeof(float) * rows * cols), *fq = malloc(sizeof(float) * rows * cols);
            float *x = malloc(sizeof(float) * n * cols), *y0 = malloc(sizeof(float) * n * rows),
                  *y1 = malloc(sizeof(float) * n * rows);
            fill(w, (size_t)rows * cols, 5 + k, 0);
            fill(x, (size_t)n * cols, 9, 0);
            mx_fake_quant((mx_format)f, w, fq, (size_t)rows, (size_t)cols);
            packed_linear p;
            assert_int_equal(packed_linear_init(&p, (mx_format)f, w, rows, cols, NULL), 0);
            float *scratch = malloc(sizeof(float) * packed_linear_scratch(&p));
            for (int beta = 0; beta <= 1; beta++) {
                fill(y0, (size_t)n * rows, 11, 0);
                memcpy(y1, y0, sizeof(float) * n * rows);
                gemm_linear(n, rows, cols, x, fq, (float)beta, y0);
                packed_linear_apply(&p, n, x, (float)beta, y1, scratch);
                /* the same products, summed by OpenBLAS over other column
                 * blocks: equal to float rounding of sum |x w| */
                for (size_t i = 0; i < (size_t)n * rows; i++) {
                    double mag = 1;
                    for (int c = 0; c < cols; c++)
                        mag += fabs((double)x[(i / rows) * cols + c] * fq[(i % rows) * cols + c]);
                    if (fabsf(y0[i] - y1[i]) > 1e-5 * mag)
                        fail_msg("%s %dx%d beta %d: y[%zu] %g vs %g", mx_format_name((mx_format)f), rows, cols,
                                 beta, i, y0[i], y1[i]);
                }
            }
            packed_linear_free(&p);
            free(scratch);
            free(w);
            free(fq);
            free(x);
            free(y0);
            free(y1);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_good),
        cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_write_read),
        cmocka_unit_test(test_packed_dequant_equals_unpack),
        cmocka_unit_test(test_packed_apply_equals_gemm),
    };
    return cmocka_run_group_tests(tests, tmp_setup, tmp_teardown);
}
