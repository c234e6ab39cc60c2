/* Block linears held packed and dequantized in row chunks before each GEMM. */
#include "src/packed.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/clock.h"
#include "kernels/gemm.h"

/* mx.h: a block that held NaN or Inf has scale 0xFF and decodes to this NaN */
#define PACKED_NAN_SCALE 0xFFu
#define PACKED_QNAN_BITS 0x7FC00000u

static float u2f(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

int packed_linear_init(packed_linear *p, mx_format f, const float *w, int rows, int cols,
                       mx_error *e)
{
    memset(p, 0, sizeof *p);
    if ((unsigned)f >= MX_NFORMATS || rows <= 0 || cols <= 0)
        return err_set(e, ERR_ARG, "packed linear: bad format %d or shape %dx%d", (int)f, rows, cols);
    if (mx_traits_of(f)->scale_type != MX_SCALE_E8M0)
        return err_set(e, ERR_ARG, "%s: the packed path runs OCP MX formats (E8M0 scales) only", mx_format_name(f));
    p->fmt = f;
    p->rows = rows;
    p->cols = cols;
    int cr = PACKED_TILE_FLOATS / cols;
    p->chunk_rows = cr < 1 ? 1 : cr > rows ? rows : cr;
    p->n_chunks = (rows + p->chunk_rows - 1) / p->chunk_rows;
    p->off = malloc(((size_t)p->n_chunks + 1) * sizeof *p->off);
    if (!p->off)
        return err_set(e, ERR_NOMEM, "out of memory packing a %dx%d linear", rows, cols);
    size_t total = 0;
    for (int c = 0; c < p->n_chunks; c++) {
        int nr = c == p->n_chunks - 1 ? rows - c * p->chunk_rows : p->chunk_rows;
        p->off[c] = total;
        total += mx_packed_size(f, (size_t)nr, (size_t)cols);
    }
    p->off[p->n_chunks] = total;
    p->data = malloc(total ? total : 1);
    if (!p->data) {
        packed_linear_free(p);
        return err_set(e, ERR_NOMEM, "out of memory packing a %dx%d linear", rows, cols);
    }
    for (int c = 0; c < p->n_chunks; c++) {
        int nr = c == p->n_chunks - 1 ? rows - c * p->chunk_rows : p->chunk_rows;
        mx_pack(f, w + (size_t)c * p->chunk_rows * cols, (size_t)nr, (size_t)cols, p->data + p->off[c]);
    }
    return 0;
}

void packed_linear_free(packed_linear *p)
{
    free(p->off);
    free(p->data);
    memset(p, 0, sizeof *p);
}

size_t packed_linear_bytes(const packed_linear *p)
{
    return p->off ? p->off[p->n_chunks] : 0;
}

size_t packed_linear_scratch(const packed_linear *p)
{
    return (size_t)p->chunk_rows * (size_t)p->cols;
}

void packed_linear_dequant(const packed_linear *p, int c, float *out)
{
    const uint8_t *in = p->data + p->off[c];
    size_t cols = (size_t)p->cols;
    size_t nr = (size_t)(c == p->n_chunks - 1 ? p->rows - c * p->chunk_rows : p->chunk_rows);
    size_t n = nr * cols;
    if (p->fmt == MX_FP32 || p->fmt == MX_BF16) {
        int wide = p->fmt == MX_FP32;
        for (size_t i = 0; i < n; i++) {
            const uint8_t *q = in + (wide ? 4 : 2) * i;
            uint32_t u = wide ? (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24
                              : ((uint32_t)q[0] | (uint32_t)q[1] << 8) << 16;
            out[i] = u2f(u);
        }
        return;
    }
    int b = mx_element_bits(p->fmt);
    float lut[256];
    for (unsigned k = 0; k < (1u << b); k++)
        lut[k] = mx_decode(p->fmt, (uint8_t)k);
    size_t rb = mx_packed_row_bytes(p->fmt, cols), nb = (cols + MX_BLOCK - 1) / MX_BLOCK;
    const uint8_t *scales = in + nr * rb;
    for (size_t r = 0; r < nr; r++) {
        const uint8_t *row = in + r * rb;
        float *o = out + r * cols;
        for (size_t k = 0; k < nb; k++) {
            uint8_t s = scales[r * nb + k];
            size_t j0 = k * MX_BLOCK, j1 = j0 + MX_BLOCK < cols ? j0 + MX_BLOCK : cols;
            if (s == PACKED_NAN_SCALE) {
                for (size_t j = j0; j < j1; j++)
                    o[j] = u2f(PACKED_QNAN_BITS);
                continue;
            }
            /* 2^(s-127) is exact (2^-127 a subnormal): the product rounds as ldexpf does */
            float sc = mx_e8m0_to_float(s);
            if (b == 8)
                for (size_t j = j0; j < j1; j++)
                    o[j] = lut[row[j]] * sc;
            else if (b == 4)
                for (size_t j = j0; j < j1; j++)
                    o[j] = lut[(row[j >> 1] >> (4 * (j & 1))) & 15u] * sc;
            else
                for (size_t j = j0; j < j1; j++)
                    o[j] = lut[mx_packed_code(row, j, b)] * sc;
        }
    }
}

void packed_linear_apply(const packed_linear *p, int n, const float *x, float beta, float *y,
                         float *scratch)
{
    for (int c = 0; c < p->n_chunks; c++) {
        int r0 = c * p->chunk_rows, nr = c == p->n_chunks - 1 ? p->rows - r0 : p->chunk_rows;
        packed_linear_dequant(p, c, scratch);
        gemm_f32(0, 1, n, nr, p->cols, 1.0f, x, p->cols, scratch, p->cols, beta, y + r0, p->rows);
    }
}

int packed_model_init(packed_model *pm, const model *m, const mx_format *formats, mx_error *e)
{
    memset(pm, 0, sizeof *pm);
    pm->n_layers = m->cfg.n_layers;
    pm->lin = calloc((size_t)(pm->n_layers > 0 ? pm->n_layers : 1) * TF_NLIN, sizeof *pm->lin);
    if (!pm->lin)
        return err_set(e, ERR_NOMEM, "out of memory");
    size_t scratch = 1;
    for (int i = 0; i < m->n_modules; i++) {
        const model_module *mod = &m->modules[i];
        if (mod->layer < 0 || mod->layer >= pm->n_layers || mod->kind < 0 || mod->kind >= TF_NLIN) {
            packed_model_free(pm);
            return err_set(e, ERR_INTERNAL, "%s: layer %d kind %d out of range", mod->name, mod->layer, mod->kind);
        }
        packed_linear *p = &pm->lin[(size_t)mod->layer * TF_NLIN + mod->kind];
        int rc = packed_linear_init(p, formats[i], mod->w, mod->rows, mod->cols, e);
        if (rc) {
            err_prefix(e, "%s", mod->name);
            packed_model_free(pm);
            return rc;
        }
        if (packed_linear_scratch(p) > scratch)
            scratch = packed_linear_scratch(p);
    }
    for (size_t k = 0; k < (size_t)pm->n_layers * TF_NLIN; k++)
        if (!pm->lin[k].off) {
            packed_model_free(pm);
            return err_set(e, ERR_INTERNAL, "the model lacks linear %zu of layer %zu", k % TF_NLIN, k / TF_NLIN);
        }
    pm->scratch = malloc(scratch * sizeof *pm->scratch);
    pm->mod_seconds = calloc((size_t)pm->n_layers * TF_NLIN, sizeof *pm->mod_seconds);
    if (!pm->scratch || !pm->mod_seconds) {
        packed_model_free(pm);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    return 0;
}

void packed_model_free(packed_model *pm)
{
    if (pm->lin)
        for (size_t k = 0; k < (size_t)pm->n_layers * TF_NLIN; k++)
            packed_linear_free(&pm->lin[k]);
    free(pm->lin);
    free(pm->scratch);
    free(pm->mod_seconds);
    memset(pm, 0, sizeof *pm);
}

size_t packed_model_bytes(const packed_model *pm)
{
    size_t s = 0;
    for (size_t k = 0; k < (size_t)pm->n_layers * TF_NLIN; k++)
        s += packed_linear_bytes(&pm->lin[k]);
    return s;
}

static void packed_hook(void *user, int layer, int which, int n, int rows, int cols, const float *x,
                        const float *w, float beta, float *y)
{
    (void)w;
    packed_model *pm = user;
    const packed_linear *p = &pm->lin[(size_t)layer * TF_NLIN + which];
    (void)rows;
    (void)cols; /* the forward's shape is the packed one: packed_model_init took it from the model */
    double t0 = clock_now_s();
    packed_linear_apply(p, n, x, beta, y, pm->scratch);
    double dt = clock_now_s() - t0;
    pm->lin_seconds += dt;
    pm->mod_seconds[(size_t)layer * TF_NLIN + which] += dt;
    pm->lin_calls++;
}

void packed_model_attach(packed_model *pm, tf_ctx *t)
{
    tf_ctx_set_linear(t, packed_hook, pm);
}

void packed_model_reset_time(packed_model *pm)
{
    pm->lin_seconds = 0;
    pm->lin_calls = 0;
    memset(pm->mod_seconds, 0, (size_t)pm->n_layers * TF_NLIN * sizeof *pm->mod_seconds);
}
