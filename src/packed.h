/* A deployment-like execution path: each block linear of a model held packed
 * (kernels/mx.h mx_pack layout, in row chunks) and dequantized right before
 * its GEMM, chunk by chunk into a small scratch tile. The forward pass reaches
 * it through tf_ctx_set_linear, so `mxalloc ppl --packed` times what a
 * runtime storing MX weights would do. The weights it multiplies are the
 * fake-quantized path's bit for bit (unpack(pack(x)) == mx_fake_quant(x));
 * the results equal that path's to float rounding (a chunk's GEMM may sum
 * in other blocks than the whole matrix's; on stories260K they are equal). */
#ifndef MXALLOC_PACKED_H
#define MXALLOC_PACKED_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/err.h"
#include "kernels/mx.h"
#include "kernels/tf.h"
#include "src/model.h"

/* Rows per chunk: as many as keep one chunk's fp32 tile within this many
 * floats (64 KiB), at least 1. */
#define PACKED_TILE_FLOATS 16384

/* One linear, rows x cols, in format fmt: chunk c holds rows
 * [c*chunk_rows, min(rows, (c+1)*chunk_rows)) packed by mx_pack on its own
 * (codes then scales), at data + off[c]. */
typedef struct packed_linear {
    mx_format fmt;
    int rows, cols;
    int chunk_rows, n_chunks;
    size_t *off;    /* [n_chunks + 1] */
    uint8_t *data;
} packed_linear;

/* Pack w (rows x cols, row-major fp32). 0 or ERR_ARG/ERR_NOMEM. */
int packed_linear_init(packed_linear *p, mx_format f, const float *w, int rows, int cols,
                       mx_error *e);
void packed_linear_free(packed_linear *p);
/* Bytes of the packed weights (codes and scales of every chunk). */
size_t packed_linear_bytes(const packed_linear *p);
/* Floats of scratch packed_linear_apply needs: chunk_rows * cols. */
size_t packed_linear_scratch(const packed_linear *p);
/* Dequantize rows [r0, r0 + nr) of chunk c (r0 = c * chunk_rows) into
 * out[nr][cols]: equal bit for bit to mx_unpack of the chunk (a lookup table
 * per format instead of decoding each element). */
void packed_linear_dequant(const packed_linear *p, int c, float *out);
/* Y[n][rows] = X[n][cols] W^T (+ Y when beta is 1), W dequantized one chunk at
 * a time into scratch (packed_linear_scratch floats), each chunk's GEMM
 * writing its columns of Y. */
void packed_linear_apply(const packed_linear *p, int n, const float *x, float beta, float *y,
                         float *scratch);

/* Every block linear of a model: module i (m->modules order) in formats[i]. */
typedef struct packed_model {
    int n_layers;
    packed_linear *lin;     /* [n_layers * TF_NLIN] */
    float *scratch;         /* the largest chunk tile */
    double lin_seconds;     /* wall time spent in the linears since the last reset */
    long lin_calls;
    double *mod_seconds;    /* [n_layers * TF_NLIN]: the same per linear (layer * TF_NLIN + kind) */
} packed_model;

int packed_model_init(packed_model *pm, const model *m, const mx_format *formats, mx_error *e);
void packed_model_free(packed_model *pm);
/* Total bytes of the packed linears. */
size_t packed_model_bytes(const packed_model *pm);
/* Route t's block linears through pm (tf_ctx_set_linear); pm must outlive
 * its use by t. The time spent in them accumulates in pm->lin_seconds. */
void packed_model_attach(packed_model *pm, tf_ctx *t);
void packed_model_reset_time(packed_model *pm);

#endif
