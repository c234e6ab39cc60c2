/* MX format names, parsing, per-format constants and storage sizes. */
#include <strings.h>

#include "kernels/mx_impl.h"

/* Indexed by mx_format; fp32/bf16 rows unused (bits only). OCP MX v1.0 tables. */
static const mx_spec specs[MX_NFORMATS] = {
    [MX_FP8_E4M3] = {8, 4, 3, 7, -6, 8, 448.0f, 0xE00000u, 1},
    [MX_FP8_E5M2] = {8, 5, 2, 15, -14, 15, 57344.0f, 0xE00000u, 1},
    [MX_INT8] = {8, 0, 6, 0, 0, 0, 127.0f / 64.0f, 0xFE0000u, 0},
    [MX_FP6_E3M2] = {6, 3, 2, 3, -2, 4, 28.0f, 0xE00000u, 1},
    [MX_FP6_E2M3] = {6, 2, 3, 1, 0, 2, 7.5f, 0xF00000u, 1},
    [MX_FP4_E2M1] = {4, 2, 1, 1, 0, 2, 6.0f, 0xC00000u, 1},
};

static const char *const names[MX_NFORMATS] = {
    [MX_FP32] = "fp32",
    [MX_BF16] = "bf16",
    [MX_FP8_E4M3] = "mxfp8_e4m3",
    [MX_FP8_E5M2] = "mxfp8_e5m2",
    [MX_INT8] = "mxint8",
    [MX_FP6_E3M2] = "mxfp6_e3m2",
    [MX_FP6_E2M3] = "mxfp6_e2m3",
    [MX_FP4_E2M1] = "mxfp4_e2m1",
};

static const struct {
    const char *alias;
    mx_format f;
} aliases[] = {
    {"mxfp8", MX_FP8_E4M3},
    {"mxfp6", MX_FP6_E2M3},
    {"mxfp4", MX_FP4_E2M1},
};

const mx_spec *mx_spec_of(mx_format f)
{
    if ((unsigned)f >= MX_NFORMATS || f == MX_FP32 || f == MX_BF16)
        return NULL;
    return &specs[f];
}

const char *mx_format_name(mx_format f)
{
    return (unsigned)f < MX_NFORMATS ? names[f] : "?";
}

int mx_format_parse(const char *s, mx_format *out)
{
    if (!s)
        return -1;
    for (int i = 0; i < MX_NFORMATS; i++)
        if (!strcasecmp(s, names[i])) {
            *out = (mx_format)i;
            return 0;
        }
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (!strcasecmp(s, aliases[i].alias)) {
            *out = aliases[i].f;
            return 0;
        }
    return -1;
}

int mx_element_bits(mx_format f)
{
    if (f == MX_FP32)
        return 32;
    if (f == MX_BF16)
        return 16;
    const mx_spec *sp = mx_spec_of(f);
    return sp ? sp->bits : 0;
}

int mx_is_block_format(mx_format f)
{
    return mx_spec_of(f) != NULL;
}

int mx_emax_elem(mx_format f)
{
    const mx_spec *sp = mx_spec_of(f);
    return sp ? sp->emax : 0;
}

float mx_element_max(mx_format f)
{
    const mx_spec *sp = mx_spec_of(f);
    return sp ? sp->maxval : 0.0f;
}

static size_t blocks_per_row(size_t cols)
{
    return (cols + MX_BLOCK - 1) / MX_BLOCK;
}

/* An empty matrix reports the full-block figure rather than dividing by zero. */
double mx_bits_per_weight(mx_format f, size_t rows, size_t cols)
{
    double eb = mx_element_bits(f);
    if (!mx_is_block_format(f))
        return eb;
    if (rows == 0 || cols == 0)
        return eb + 8.0 / MX_BLOCK;
    return eb + 8.0 * (double)blocks_per_row(cols) / (double)cols;
}

size_t mx_packed_row_bytes(mx_format f, size_t cols)
{
    return (cols * (size_t)mx_element_bits(f) + 7) / 8;
}

size_t mx_packed_size(mx_format f, size_t rows, size_t cols)
{
    size_t n = rows * mx_packed_row_bytes(f, cols);
    if (mx_is_block_format(f))
        n += rows * blocks_per_row(cols);
    return n;
}

static const char *const simd_names[MX_NSIMD] = {"auto", "scalar", "avx2", "avx512"};

const char *mx_simd_name(mx_simd s)
{
    return (unsigned)s < MX_NSIMD ? simd_names[s] : "?";
}

int mx_simd_parse(const char *s, mx_simd *out)
{
    if (!s)
        return -1;
    for (int i = 0; i < MX_NSIMD; i++)
        if (!strcasecmp(s, simd_names[i])) {
            *out = (mx_simd)i;
            return 0;
        }
    return -1;
}
