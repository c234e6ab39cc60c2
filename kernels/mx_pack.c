/* Packed MX storage (layout documented in kernels/mx.h): element codes bit-packed
 * per row, then the E8M0 scale bytes (NVFP4: E4M3 bytes and the tensor scale). Built on the scalar codec, so
 * unpack(pack(x)) reproduces mx_fake_quant(x) bit for bit. */
#include <math.h>

#include "kernels/mx_impl.h"

static void put_bits(uint8_t *row, size_t j, int bits, unsigned code)
{
    size_t p = j * (size_t)bits;
    unsigned sh = (unsigned)(p & 7);
    row[p >> 3] |= (uint8_t)(code << sh);
    if (sh + (unsigned)bits > 8)
        row[(p >> 3) + 1] |= (uint8_t)(code >> (8 - sh));
}

unsigned mx_packed_code(const uint8_t *row, size_t j, int bits)
{
    size_t p = j * (size_t)bits;
    unsigned sh = (unsigned)(p & 7);
    unsigned v = row[p >> 3] >> sh;
    if (sh + (unsigned)bits > 8)
        v |= (unsigned)row[(p >> 3) + 1] << (8 - sh);
    return v & ((1u << bits) - 1);
}

static void put_le(uint8_t *p, uint32_t v, int nbytes)
{
    for (int i = 0; i < nbytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le(const uint8_t *p, int nbytes)
{
    uint32_t v = 0;
    for (int i = 0; i < nbytes; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

/* NVFP4: codes as MXFP4's, one E4M3 byte per 16, then the tensor scale. */
static size_t pack_nvfp4(mx_scale_mode m, const float *in, size_t rows, size_t cols, uint8_t *out)
{
    size_t rb = mx_packed_row_bytes(MX_NVFP4, cols), nb = (cols + MX_NVFP4_BLOCK - 1) / MX_NVFP4_BLOCK;
    uint8_t *scales = out + rows * rb, codes[MX_NVFP4_BLOCK];
    float ts = mx_nvfp4_tensor_scale(in, rows * cols);
    memset(out, 0, rows * rb);
    for (size_t r = 0; r < rows; r++)
        for (size_t b = 0; b < nb; b++) {
            size_t c0 = b * MX_NVFP4_BLOCK, len = cols - c0 < MX_NVFP4_BLOCK ? cols - c0 : MX_NVFP4_BLOCK;
            scales[r * nb + b] = mx_nvfp4_block(m, ts, in + r * cols + c0, NULL, codes, len);
            for (size_t j = 0; j < len; j++)
                put_bits(out + r * rb, c0 + j, 4, codes[j]);
        }
    put_le(scales + rows * nb, mx_f2u(ts), 4);
    return rows * rb + rows * nb + 4;
}

static void unpack_nvfp4(const uint8_t *in, size_t rows, size_t cols, float *out)
{
    size_t rb = mx_packed_row_bytes(MX_NVFP4, cols), nb = (cols + MX_NVFP4_BLOCK - 1) / MX_NVFP4_BLOCK;
    const uint8_t *scales = in + rows * rb;
    float ts = mx_u2f(get_le(scales + rows * nb, 4));
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++)
            out[r * cols + c] = mx_nvfp4_value(ts, scales[r * nb + c / MX_NVFP4_BLOCK],
                                               (uint8_t)mx_packed_code(in + r * rb, c, 4));
}

size_t mx_pack(mx_format f, const float *in, size_t rows, size_t cols, uint8_t *out)
{
    if (mx_is_nvfp4(f))
        return pack_nvfp4(mx_format_scale_mode(f), in, rows, cols, out);
    size_t n = rows * cols;
    if (f == MX_FP32) {
        for (size_t i = 0; i < n; i++)
            put_le(out + 4 * i, mx_f2u(in[i]), 4);
        return 4 * n;
    }
    if (f == MX_BF16) {
        for (size_t i = 0; i < n; i++)
            put_le(out + 2 * i, mx_f2u(mx_bf16_round(in[i])) >> 16, 2);
        return 2 * n;
    }
    const mx_spec *sp = mx_spec_of(f);
    if (!sp)
        return 0;
    size_t rb = mx_packed_row_bytes(f, cols), nb = (cols + MX_BLOCK - 1) / MX_BLOCK;
    uint8_t *scales = out + rows * rb;
    memset(out, 0, rows * rb);
    for (size_t r = 0; r < rows; r++) {
        uint8_t *row = out + r * rb;
        for (size_t b = 0; b < nb; b++) {
            size_t c0 = b * MX_BLOCK, len = cols - c0 < MX_BLOCK ? cols - c0 : MX_BLOCK;
            const float *x = in + r * cols + c0;
            uint8_t s = mx_block_scale(f, x, len);
            scales[r * nb + b] = s;
            if (s == MX_NAN_SCALE)
                continue; /* codes stay 0; the scale alone says NaN */
            for (size_t j = 0; j < len; j++)
                put_bits(row, c0 + j, sp->bits, mx_encode(f, ldexpf(x[j], 127 - (int)s)));
        }
    }
    return rows * rb + rows * nb;
}

int mx_unpack(mx_format f, const uint8_t *in, size_t in_len, size_t rows, size_t cols, float *out)
{
    if ((unsigned)f >= MX_NFORMATS || in_len < mx_packed_size(f, rows, cols))
        return -1;
    size_t n = rows * cols;
    if (f == MX_FP32) {
        for (size_t i = 0; i < n; i++)
            out[i] = mx_u2f(get_le(in + 4 * i, 4));
        return 0;
    }
    if (f == MX_BF16) {
        for (size_t i = 0; i < n; i++)
            out[i] = mx_u2f(get_le(in + 2 * i, 2) << 16);
        return 0;
    }
    if (mx_is_nvfp4(f)) {
        unpack_nvfp4(in, rows, cols, out);
        return 0;
    }
    const mx_spec *sp = mx_spec_of(f);
    size_t rb = mx_packed_row_bytes(f, cols), nb = (cols + MX_BLOCK - 1) / MX_BLOCK;
    const uint8_t *scales = in + rows * rb;
    for (size_t r = 0; r < rows; r++) {
        const uint8_t *row = in + r * rb;
        for (size_t c = 0; c < cols; c++) {
            uint8_t s = scales[r * nb + c / MX_BLOCK];
            float v = s == MX_NAN_SCALE ? mx_u2f(MX_QNAN_BITS)
                                        : ldexpf(mx_decode(f, (uint8_t)mx_packed_code(row, c, sp->bits)),
                                                 (int)s - 127);
            out[r * cols + c] = v;
        }
    }
    return 0;
}
