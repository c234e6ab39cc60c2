/* GPTQ (Frantar et al., "GPTQ: Accurate Post-Training Quantization for
 * Generative Pre-trained Transformers", 2023) on the OCP MX block formats:
 * quantize a weight matrix column by column, each column's rounding error
 * spread over the columns not yet quantized so that the layer's output error
 * on the calibration inputs, tr(dW H dW^T) with H = X^T X, is what is
 * minimized rather than the weights' own error. Arithmetic only. */
#ifndef MXALLOC_GPTQ_H
#define MXALLOC_GPTQ_H

#include <stddef.h>

#include "kernels/err.h"
#include "kernels/mx.h"

/* Relative damping added to H's diagonal (GPTQ's default: 1% of its mean). */
#define GPTQ_DEFAULT_DAMP 0.01

/* 1 for the formats GPTQ quantizes: the MX block formats (E8M0 scales, either
 * scale mode). fp32, bf16 and NVFP4 are rounded to nearest by mx_fake_quant
 * (NVFP4's per-tensor scale is taken from the values a reader is given, so
 * values moved by GPTQ would not read back as they were written). */
int gptq_applies(mx_format f);

/* u (cols x cols, row-major) = the upper Cholesky factor U of (H + damping)^-1
 * (H^-1 = U^T U), what gptq_quantize needs. h: the sum of x x^T over
 * calibration inputs x (cols x cols, row-major, symmetric; its scale does not
 * matter). damp * mean(diag H) is added to the diagonal (columns never seen
 * get 1); when H is still not positive definite the damping is raised
 * tenfold, up to three times. Returns 0, ERR_ARG (H not finite, or never
 * positive definite) or ERR_NOMEM. */
int gptq_factor(const double *h, size_t cols, double damp, float *u, mx_error *e);

/* out (rows x cols) = GPTQ of w in format f with the factor u of gptq_factor.
 * Columns in order; a block's E8M0 scale is chosen by f's scale mode from the
 * block's values as the sweep reaches it (the error-compensated weights), so
 * every element is on the grid of its block's scale and
 * mx_fake_quant(f, out) == out bit for bit: every writer stores the values
 * exactly. Formats gptq_applies refuses and matrices holding NaN or Inf get
 * mx_fake_quant. in == out is not allowed. Returns 0, ERR_ARG or ERR_NOMEM.
 * Deterministic as gemm_f32 is (kernels/gemm.h). */
int gptq_quantize(mx_format f, const float *w, float *out, size_t rows, size_t cols, const float *u,
                  mx_error *e);

#endif
