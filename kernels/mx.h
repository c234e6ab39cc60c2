/* OCP Microscaling (MX) v1.0 number formats: element codecs, block scaling,
 * fake quantization and packed storage. Arithmetic only: no I/O. */
#ifndef MXALLOC_MX_H
#define MXALLOC_MX_H

#include <stddef.h>
#include <stdint.h>

#define MX_BLOCK 32

/* Ordered by bits per element (descending), fp32/bf16 first. */
typedef enum mx_format {
    MX_FP32 = 0,
    MX_BF16,
    MX_FP8_E4M3,
    MX_FP8_E5M2,
    MX_INT8,
    MX_FP6_E3M2,
    MX_FP6_E2M3,
    MX_FP4_E2M1,
    MX_NFORMATS
} mx_format;

/* Canonical name ("mxfp4_e2m1", "fp32", ...). */
const char *mx_format_name(mx_format f);
/* Parse a canonical name or alias (mxfp8 = e4m3, mxfp6 = e2m3, mxfp4 = e2m1);
 * case-insensitive. Returns 0 and sets *out, or -1 for an unknown name. */
int mx_format_parse(const char *s, mx_format *out);
/* Bits of one element code (32 for fp32, 16 for bf16, 8/6/4 for MX). */
int mx_element_bits(mx_format f);
/* 1 for the block-scaled MX formats, 0 for fp32/bf16. */
int mx_is_block_format(mx_format f);
/* Bits per weight of a rows x cols matrix (blocks run along a row), counting
 * the 8-bit E8M0 scale of every block, short trailing blocks included. */
double mx_bits_per_weight(mx_format f, size_t rows, size_t cols);

/* Fake quantization: quantize then dequantize, rows x cols row-major, blocks of
 * MX_BLOCK along each row (a short last block gets its own scale). in == out is
 * allowed. Runs the fastest path this CPU supports; threads over rows. */
void mx_fake_quant(mx_format f, const float *in, float *out, size_t rows, size_t cols);
/* The scalar reference the SIMD paths are tested against. */
void mx_fake_quant_scalar(mx_format f, const float *in, float *out, size_t rows, size_t cols);

/* Packed storage: element codes (bit-packed, little-endian within bytes, each
 * row starting on a byte boundary) followed by one E8M0 scale byte per block.
 * mx_pack returns bytes written; mx_unpack returns 0 or -1 on a short buffer. */
size_t mx_packed_size(mx_format f, size_t rows, size_t cols);
size_t mx_pack(mx_format f, const float *in, size_t rows, size_t cols, uint8_t *out);
int mx_unpack(mx_format f, const uint8_t *in, size_t in_len, size_t rows, size_t cols, float *out);

#endif
