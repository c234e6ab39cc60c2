/* GGML tensor types as GGUF files store them: one traits row per type and
 * dequantization of every supported block layout to fp32. Arithmetic only:
 * no files, no messages. The layouts follow ggml's published block structs
 * (ggml-common.h); the arithmetic order (per-block scale products first, in
 * float) matches ggml's reference dequantizers bit for bit. */
#ifndef MXALLOC_GGML_QUANT_H
#define MXALLOC_GGML_QUANT_H

#include <stddef.h>
#include <stdint.h>

/* GGML type ids (the GGUF tensor-info `type` field) this code knows by layout. */
enum gq_type {
    GQ_F32 = 0, GQ_F16 = 1, GQ_Q4_0 = 2, GQ_Q4_1 = 3, GQ_Q5_0 = 6, GQ_Q5_1 = 7, GQ_Q8_0 = 8,
    GQ_Q2_K = 10, GQ_Q3_K = 11, GQ_Q4_K = 12, GQ_Q5_K = 13, GQ_Q6_K = 14, GQ_BF16 = 30,
    GQ_MXFP4 = 39, GQ_NVFP4 = 40
};

typedef struct gq_traits {
    int type;          /* enum gq_type */
    const char *name;  /* "Q4_K", as llama.cpp prints it */
    int block;         /* elements per block (1 for F32/F16/BF16) */
    int bytes;         /* bytes per block */
} gq_traits;

/* The row of a supported type, or NULL. */
const gq_traits *gq_traits_of(uint32_t type);
/* The name of any GGML type id ggml has defined ("IQ2_XXS" for 16), or NULL
 * for an id it never had. */
const char *gq_type_name(uint32_t type);
/* "F32, F16, BF16, Q8_0, ..." (every supported type, in a fixed order). */
const char *gq_supported_list(void);

/* Bytes that n elements of a supported type take; 0 when n is not a whole
 * number of blocks or the product overflows 64 bits. */
uint64_t gq_row_bytes(const gq_traits *t, uint64_t n);

/* Dequantize n elements (a whole number of blocks) from src to dst. No
 * checks of the values: a NaN/Inf scale gives NaN/Inf outputs. */
void gq_dequantize(const gq_traits *t, const uint8_t *src, float *dst, uint64_t n);

/* IEEE half and E8M0 (2^(e-127)) decoding, exact. */
float gq_f16(uint16_t h);
float gq_e8m0(uint8_t e);

/* ---- Encoding (for writers of exactly known values) ----
 * f32 -> IEEE half / bfloat16, round to nearest even; *exact (may be NULL)
 * is set to 1 when the result decodes back to x bit for bit, else 0. */
uint16_t gq_to_f16(float x, int *exact);
uint16_t gq_to_bf16(float x, int *exact);
/* One MXFP4 block (17 bytes) from its E8M0 scale byte and 32 E2M1 codes
 * (sign | 2-bit exponent | 1-bit mantissa, as OCP MX and kernels/mx.h
 * define them: ggml's nibble values are the same codes). */
void gq_put_mxfp4(uint8_t e, const uint8_t codes[32], uint8_t *blk);
/* One NVFP4 block (36 bytes, 64 elements) from its four E4M3 scale bytes
 * and 64 E2M1 codes. */
void gq_put_nvfp4(const uint8_t d[4], const uint8_t codes[64], uint8_t *blk);
/* One Q8_0 block (34 bytes): the fp16 scale d and 32 int8 quants. */
void gq_put_q8_0(uint16_t d, const int8_t q[32], uint8_t *blk);

#endif
