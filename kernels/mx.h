/* OCP Microscaling (MX) v1.0 number formats: element codecs, block scaling,
 * fake quantization and packed storage. Arithmetic only: no I/O. */
#ifndef MXALLOC_MX_H
#define MXALLOC_MX_H

#include <stddef.h>
#include <stdint.h>

#define MX_BLOCK 32

/* The OCP formats ordered by bits per element (descending), fp32/bf16 first;
 * then the same six block formats with the error-minimizing scale choice
 * (scale mode mse, below), then NVFP4 (below): appended so the ids of files
 * written before them stay valid. */
typedef enum mx_format {
    MX_FP32 = 0,
    MX_BF16,
    MX_FP8_E4M3,
    MX_FP8_E5M2,
    MX_INT8,
    MX_FP6_E3M2,
    MX_FP6_E2M3,
    MX_FP4_E2M1,
    MX_FP8_E4M3_MSE,
    MX_FP8_E5M2_MSE,
    MX_INT8_MSE,
    MX_FP6_E3M2_MSE,
    MX_FP6_E2M3_MSE,
    MX_FP4_E2M1_MSE,
    MX_NVFP4,
    MX_NVFP4_MSE,
    MX_NFORMATS
} mx_format;

/* How a block's E8M0 scale is chosen. Both give valid OCP MX encodings: the
 * decoder is the same, only the scale bytes differ.
 *   ocp-floor  shared_exp = floor(log2 max|x|) - emax_elem (OCP MX v1.0 6.3).
 *   mse        of that exponent and its two neighbours, the one whose block
 *              quantizes with the least squared error (ties: ocp-floor's, then
 *              the larger). The larger exponent avoids clipping max|x| to the
 *              largest element; the smaller one buys resolution for the rest
 *              of the block at the price of clipping its largest values. */
typedef enum mx_scale_mode { MX_SCALE_OCP_FLOOR = 0, MX_SCALE_MSE, MX_NSCALE_MODES } mx_scale_mode;
const char *mx_scale_mode_name(mx_scale_mode m);  /* "ocp-floor", "mse"; "?" out of range */

/* What a block's scale is: an OCP E8M0 power of two, or NVFP4's E4M3 times
 * one fp32 scale per tensor. */
typedef enum mx_scale_type { MX_SCALE_E8M0 = 0, MX_SCALE_E4M3_TENSOR } mx_scale_type;

/* ---- Format traits: one row per format, read by every printer and parser ----
 * Names. Each format has one canonical name (printed in files, JSON, tables
 * wide enough), one short label of exactly 4 characters for narrow columns
 * (fp32 bf16 e4m3 e5m2 int8 e3m2 e2m3 e2m1: unique, unlike the old 2-letter
 * "e2"), one progress glyph (anneal's compact per-module string; a glyph, not a
 * name: never parsed) and aliases. The parser accepts the canonical name, the
 * label and every alias, case-insensitively:
 *   fp32        f32 float32            bf16        bfloat16
 *   mxfp8_e4m3  mxfp8 e4m3 fp8_e4m3   mxfp8_e5m2  e5m2 fp8_e5m2
 *   mxint8      int8 i8                mxfp6_e3m2  e3m2 fp6_e3m2
 *   mxfp6_e2m3  mxfp6 e2m3 fp6_e2m3   mxfp4_e2m1  mxfp4 e2m1 fp4 fp4_e2m1
 *   nvfp4       nv_fp4 (label nvf4; nvfp4+mse, label nvf4+)
 * mxfp8 / mxfp6 name the OCP default element of their width (README); bare
 * "fp8" and "fp6" are refused as ambiguous (two elements each), "fp4" is not
 * (E2M1 is the only 4-bit element). Old printed labels "f32", "i8", "fp4" stay
 * accepted. The mse scale mode of a block format is its name, label or alias
 * followed by "+mse" (canonical "mxfp4_e2m1+mse", label "e2m1+": 5 characters,
 * "mxfp4+mse", "fp4+mse", "e2m1+mse" ...); "+ocp-floor" names the plain
 * format. */
typedef struct mx_traits {
    const char *name;          /* canonical */
    const char *label;         /* 4 characters (5 with the mse mark '+'), for narrow columns */
    char glyph;                /* one character, for per-module progress strings */
    const char *aliases[5];    /* NULL-terminated */
    int bits;                  /* bits of one element code */
    int block;                 /* elements sharing one block scale; 0 = unscaled */
    int ebits, mbits, emax;    /* element spec (INT8: 0, 6, 0; fp32: 8, 23, 127; bf16: 8, 7, 127) */
    const char *llama_quant;   /* nearest llama-quantize type by bits ("q8_0", "q6_K", ...) */
    mx_format base;            /* the format with the same elements and ocp-floor scales (itself for those) */
    mx_scale_mode scale_mode;
    mx_scale_type scale_type;  /* 8 bits a block either way */
} mx_traits;

/* The row of f, or NULL when f is out of range. */
const mx_traits *mx_traits_of(mx_format f);
/* Canonical name ("mxfp4_e2m1", "fp32", ...); "?" out of range. */
const char *mx_format_name(mx_format f);
/* Short label ("e2m1", "int8", "fp32", "e2m1+", ...); "?" out of range. */
const char *mx_format_label(mx_format f);
/* The traits' base and scale mode (MX_FP32 / MX_SCALE_OCP_FLOOR out of range). */
mx_format mx_format_base(mx_format f);
mx_scale_mode mx_format_scale_mode(mx_format f);
/* Parse a canonical name, label or alias (above); case-insensitive. Returns 0
 * and sets *out, or -1 for an unknown or ambiguous name. */
int mx_format_parse(const char *s, mx_format *out);
/* The text to put after "unknown format 'X'": "(valid: fp32, bf16, ...;
 * aliases ...)", or why X is ambiguous. Static storage. */
const char *mx_format_valid_names(const char *bad);
/* A comma-separated list of formats ("mxfp4,e4m3"): 0..n-1 in list order into
 * out[MX_NFORMATS], returns n >= 1; -1 on an unknown name (copied to bad),
 * -2 on a duplicate (its canonical name copied to bad), -3 on an empty list. */
int mx_format_parse_list(const char *list, mx_format out[MX_NFORMATS], char *bad, size_t bad_len);

/* Where llama.cpp's GGUF stores f exactly for rows of cols elements. */
typedef struct mx_gguf_target {
    int type;            /* ggml_type id: 0 F32, 8 Q8_0, 30 BF16, 39 MXFP4, 40 NVFP4 */
    const char *name;    /* "F32", "Q8_0", "BF16", "MXFP4", "NVFP4" */
    double bits;         /* bits per weight of that storage (Q8_0 8.5, MXFP4 4.25, NVFP4 4.5) */
} mx_gguf_target;
/* MXFP4 -> MXFP4 (39) and MXINT8 -> Q8_0 (8) when cols % 32 == 0 (their blocks
 * are the MX blocks; Q8_0's fp16 scale 2^(s-6) holds E8M0 scales within fp16
 * range: the writer must check the data); NVFP4 -> NVFP4 (40) when cols % 64
 * == 0 (ggml's blocks are four of ours; the tensor scale goes beside it as the
 * f32 tensor NAME.scale that llama.cpp multiplies the product by); fp32 -> F32; everything else -> BF16
 * holding the fake-quantized values (MXFP6/MXFP8 elements have <= 3 mantissa
 * bits). Returns 0, or -1 for an out-of-range f. */
int mx_gguf_target_of(mx_format f, size_t cols, mx_gguf_target *out);
/* What an allocation is made for: the storage that decides each format's
 * cost at a row width (`alloc/sweep/tui --target`).
 *   mx         packed OCP MX (mxalloc quantize --layout mx): mx_bits_per_weight.
 *   llama-cpp  the GGUF mxalloc quantize writes and llama.cpp runs
 *              (mx_gguf_target_of): MXFP4 and MXINT8 only on rows of whole
 *              32-blocks (4.25 and 8.5 bits), NVFP4 on rows of whole 64-blocks
 *              (4.5); MXFP6/MXFP8/bf16 as BF16 (16);
 *              fp32 as F32 (32). So the budget is the file's bits per weight. */
typedef enum mx_target { MX_TARGET_MX = 0, MX_TARGET_LLAMA_CPP, MX_NTARGETS } mx_target;
const char *mx_target_name(mx_target t);           /* "mx", "llama-cpp"; "?" out of range */
int mx_target_parse(const char *s, mx_target *out); /* also "llama.cpp", "gguf"; 0 or -1 */
/* Bits per weight of a rows x cols matrix in f as target t stores it, or NAN
 * when t does not store f itself at that width (llama-cpp: MXFP4/MXINT8/NVFP4 on
 * rows that are not whole blocks; their BF16 fallback costs what bf16 does,
 * with worse values, so an allocation never wants it). */
double mx_target_bits(mx_target t, mx_format f, size_t rows, size_t cols);
/* Bits of one element code (32 for fp32, 16 for bf16, 8/6/4 for MX). */
int mx_element_bits(mx_format f);
/* 1 for the block-scaled formats (MX and NVFP4), 0 for fp32/bf16. */
int mx_is_block_format(mx_format f);
/* Bits per weight of a rows x cols matrix (blocks run along a row), counting
 * the 8-bit scale of every block, short trailing blocks included, and NVFP4's
 * 32-bit tensor scale. The one place this is computed: every caller (score
 * tables, search, workbench) uses it. */
double mx_bits_per_weight(mx_format f, size_t rows, size_t cols);

/* Fake quantization: quantize then dequantize, rows x cols row-major, blocks of
 * the format's size along each row (a short last block gets its own scale); a
 * call is one tensor (NVFP4's tensor scale is taken over it). in == out is
 * allowed. Runs the fastest path this CPU supports, on the calling thread
 * (mx_fake_quant_on shares the rows with a pool's threads). */
void mx_fake_quant(mx_format f, const float *in, float *out, size_t rows, size_t cols);
/* The scalar reference the SIMD paths are tested against. */
void mx_fake_quant_scalar(mx_format f, const float *in, float *out, size_t rows, size_t cols);

/* Packed storage: element codes (bit-packed, little-endian within bytes, each
 * row starting on a byte boundary) followed by one E8M0 scale byte per block.
 * mx_pack returns bytes written; mx_unpack returns 0 or -1 on a short buffer.
 *
 * Layout in detail, for rows x cols:
 *   codes:  rows * mx_packed_row_bytes(f, cols) bytes. Element j of a row
 *           occupies bits [j*b, (j+1)*b) of the row's bit stream, where stream
 *           bit k is bit (k % 8) of byte k / 8 (LSB first). So MXFP4 puts
 *           element 2i in the low nibble of byte i; 8-bit codes are one byte
 *           each; bf16 is the upper half of the fp32 pattern and fp32 the
 *           pattern itself, as little-endian 16/32-bit words.
 *   scales: then rows * ceil(cols / 32) E8M0 bytes, row-major (block formats
 *           only). 0xFF (NaN scale) marks a block that held NaN or Inf.
 *           NVFP4: rows * ceil(cols / 16) E4M3 bytes (0x7F marks NaN), then
 *           the tensor scale as a little-endian fp32.
 * Element codes: the FP formats are sign|exponent|mantissa; MXINT8 is an
 * 8-bit two's complement integer c in [-127, 127] meaning c/64 (OCP MX v1.0;
 * 0x80 = -2.0 is decoded but never produced, so MXINT8 has a single +0).
 * unpack(pack(x)) equals mx_fake_quant(x) bit for bit. */
size_t mx_packed_size(mx_format f, size_t rows, size_t cols);
size_t mx_pack(mx_format f, const float *in, size_t rows, size_t cols, uint8_t *out);
int mx_unpack(mx_format f, const uint8_t *in, size_t in_len, size_t rows, size_t cols, float *out);
/* Bytes of element codes of one packed row (rows start on a byte boundary). */
size_t mx_packed_row_bytes(mx_format f, size_t cols);
/* Element code j of a packed row of bits-wide codes (the layout above). */
unsigned mx_packed_code(const uint8_t *row, size_t j, int bits);

/* ---- NVFP4 (NVIDIA's 4-bit format, as NVIDIA ModelOpt and PyTorch torchao
 * quantize weights) ----
 * E2M1 elements in blocks of MX_NVFP4_BLOCK along a row sharing an E4M3 scale
 * byte s, over one fp32 scale ts per tensor: x ~ e2m1 * (ts * e4m3(s)). In fp32:
 *   ts   = (max finite |x| of the tensor) / (448 * 6); 1 when that is 0
 *   s    = E4M3(clamp(max|x| of the block / 6 / ts, 2^-6, 448)), nearest even
 *   code = E2M1(x / (ts * e4m3(s))), nearest even, saturating at 6
 *   value = (e2m1(code) * e4m3(s)) * ts: the first product is exact, so the
 *           value is the real one rounded once (what a reader that scales the
 *           decoded blocks by ts gets, e.g. llama.cpp's NVFP4 + NAME.scale)
 * Zeros keep their sign. A block holding NaN or Inf gets s = 0x7F (E4M3 NaN)
 * and NaN values; ts is taken over the finite values.
 * nvfp4+mse (scale mode mse): per block, s as above or the byte that maps
 * max|x| to 4 instead of 6, whichever quantizes the block with the least
 * squared error (ties: the reference's), as in "Four Over Six" (Cook et al.,
 * 2025): a valid NVFP4 encoding, the same layout, other scale bytes. */
#define MX_NVFP4_BLOCK 16
#define MX_NVFP4_NAN_SCALE 0x7Fu
float mx_nvfp4_tensor_scale(const float *x, size_t n);
uint8_t mx_nvfp4_block_scale(float ts, const float *x, size_t n);
/* The value of code in a block with scale byte s (NaN for the NaN byte). */
float mx_nvfp4_value(float ts, uint8_t s, uint8_t code);
/* One block of n <= 16 in scale mode m: its scale byte returned, codes (NULL:
 * not wanted) and fake-quantized values q (NULL: not wanted) written. */
uint8_t mx_nvfp4_block(mx_scale_mode m, float ts, const float *x, float *q, uint8_t *codes, size_t n);
/* Fake-quantize rows with the tensor scale ts (mx_fake_quant computes it). */
void mx_nvfp4_rows(mx_scale_mode m, float ts, const float *in, float *out, size_t rows, size_t cols);
/* 1 for the NVFP4 rows (E4M3 block scales over a tensor scale). */
int mx_is_nvfp4(mx_format f);

/* ---- Numerics (OCP MX v1.0), all formats round to nearest, ties to even ----
 * Block scale: shared_exp = floor(log2(max|x|)) - emax_elem, clamped to
 * [-127, 127]; E8M0 byte = shared_exp + 127, taken exactly from the float's
 * exponent bits (fp32 subnormals and zero give byte 0, i.e. 2^-127). The mse
 * scale mode tries bytes s-1, s, s+1 within [0, 254] (mx_scale_mode).
 * Elements: x / 2^shared_exp rounded to the element grid (with element
 * subnormals), saturating at the largest finite element; never Inf or NaN.
 * Zeros keep their sign (-0 stays -0) except in MXINT8, which has one zero.
 * Non-finite input: a block holding any NaN or Inf gets the NaN scale (0xFF)
 * and every element of it fake-quantizes to the quiet NaN 0x7FC00000.
 * bf16: round to nearest even; NaN stays NaN (quieted), Inf stays Inf, and
 * finite values beyond the bf16 range round to Inf as IEEE rounding does.
 * All paths assume the default floating-point environment (round to nearest,
 * no flush-to-zero / denormals-are-zero). */

/* emax_elem of a block format (exponent of its largest normal): E4M3 8, E5M2 15,
 * INT8 0, E3M2 4, E2M3 2, E2M1 2; 0 for fp32/bf16. */
int mx_emax_elem(mx_format f);
/* Largest finite element magnitude: E4M3 448, E5M2 57344, INT8 127/64, E3M2 28,
 * E2M3 7.5, E2M1 6; 0 for fp32/bf16. */
float mx_element_max(mx_format f);
/* E8M0 scale byte of a block of n values (n <= MX_BLOCK typical; any n works),
 * chosen by f's scale mode. MX formats only (NVFP4: mx_nvfp4_block_scale). */
uint8_t mx_block_scale(mx_format f, const float *x, size_t n);
/* 2^(s-127) as a float (exact, 2^-127 is an fp32 subnormal); NaN for 0xFF. */
float mx_e8m0_to_float(uint8_t s);
/* Element codec of a block format: v is already divided by the block scale
 * and must be finite. mx_encode rounds and saturates; mx_decode is exact
 * (NaN/Inf codes of E4M3/E5M2 decode to NaN/Inf). */
uint8_t mx_encode(mx_format f, float v);
float mx_decode(mx_format f, uint8_t code);
/* Round one value to bfloat16 (returned widened to float). */
float mx_bf16_round(float x);

/* ---- Implementation paths ---- */
typedef enum mx_simd {
    MX_SIMD_AUTO = 0,   /* the fastest measured on this CPU for the size (mx_simd_best_for) */
    MX_SIMD_SCALAR,
    MX_SIMD_AVX2,       /* AVX2 + FMA */
    MX_SIMD_AVX512,     /* AVX-512 F/BW/DQ/VL */
    MX_NSIMD
} mx_simd;

const char *mx_simd_name(mx_simd s);            /* "auto", "scalar", "avx2", "avx512" */
int mx_simd_parse(const char *s, mx_simd *out); /* case-insensitive; 0 or -1 */
int mx_simd_supported(mx_simd s);               /* 1 when this CPU can run s */
mx_simd mx_simd_best(void);                     /* the widest path this CPU supports */
/* What MX_SIMD_AUTO runs for f on a rows x cols matrix: of the supported
 * paths, the one measured fastest for matrices of about that size (timed
 * once per process and size class, on first use: up to ~0.1 s for the
 * largest class). */
mx_simd mx_simd_best_for(mx_format f, size_t rows, size_t cols);

/* mx_fake_quant on an explicit path with nthreads threads over rows (0 = as
 * many as pays off for this size, 1 = the calling thread only). Results do
 * not depend on path or thread count. Returns 0, or ERR_ARG (kernels/err.h) when
 * the CPU lacks the path or an argument is out of range (out is untouched). */
int mx_fake_quant_with(mx_simd path, int nthreads, mx_format f, const float *in, float *out,
                       size_t rows, size_t cols);
/* mx_fake_quant on path with the rows shared between the threads of pool p
 * (kernels/pool.h; NULL = the calling thread), as many as pay off for this
 * size. mx_fake_quant_with(.., nthreads, ..) makes a pool for its one call:
 * callers that repeat hold a pool (e.g. tf_ctx_pool) and use this. Same
 * results and errors as mx_fake_quant_with. */
struct pool;
int mx_fake_quant_on(struct pool *p, mx_simd path, mx_format f, const float *in, float *out,
                     size_t rows, size_t cols);

#endif
