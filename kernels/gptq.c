/* GPTQ on MX blocks (kernels/gptq.h). With U the upper Cholesky factor of
 * H^-1 (H^-1 = U^T U), quantizing column j of a row with error
 * d = (w_j - q_j) / U_jj and subtracting d * U_jk from every later column k is
 * the optimal update of the remaining weights for that row (GPTQ, eq. 3, in
 * the Cholesky form of its section 3.3). Rows share U, so the updates of the
 * columns past a 32-column block are one GEMM for all rows ("lazy batch"). */
#include "kernels/gptq.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gemm.h"
#include "kernels/mx_impl.h"

/* LAPACK from OpenBLAS (column-major; H and H^-1 are symmetric, so row-major
 * storage is the same matrix). */
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info);
void dpotri_(const char *uplo, const int *n, double *a, const int *lda, int *info);

int gptq_applies(mx_format f)
{
    return mx_is_block_format(f) && !mx_is_nvfp4(f);
}

/* mx_quant_elem (kernels/mx_scalar.c) without its libm calls: the same
 * value for every finite v. floor(log2 |v|) from the exponent bits (a
 * subnormal v is below every element's emin), the power-of-two scalings
 * exact, and rint(t) for 0 <= t < 2^(mbits + 1) as (t + 1.5 * 2^23) - 1.5 *
 * 2^23 in the default rounding mode. GPTQ quantizes one element at a time,
 * so this is its inner loop. */
static inline float quant_elem(const mx_spec *sp, float v)
{
    uint32_t u = mx_f2u(v), au = u & 0x7FFFFFFFu;
    int e = sp->emin;
    if (au >= 0x00800000u && (int)(au >> 23) - 127 > e)
        e = (int)(au >> 23) - 127;
    float step = mx_u2f((uint32_t)(e - sp->mbits + 127) << 23), inv = mx_u2f((uint32_t)(127 - e + sp->mbits) << 23);
    volatile float t = mx_u2f(au) * inv + 0x1.8p23f; /* volatile: the rounding must happen here */
    float r = (t - 0x1.8p23f) * step;
    if (r > sp->maxval)
        r = sp->maxval;
    if (r == 0.0f && !sp->signed_zero)
        return 0.0f;
    return mx_u2f(mx_f2u(r) | (u & 0x80000000u));
}

int gptq_factor(const double *h, size_t n, double damp, float *u, mx_error *e)
{
    if (!h || !u || n == 0 || n > (size_t)1 << 16 || !(damp >= 0.0))
        return err_set(e, ERR_ARG, "gptq: bad arguments");
    double mean = 0.0;
    for (size_t i = 0; i < n * n; i++)
        if (!isfinite(h[i]))
            return err_set(e, ERR_ARG, "gptq: the calibration second moments are not finite");
    for (size_t i = 0; i < n; i++)
        mean += h[i * n + i];
    mean /= (double)n;
    double *a = malloc(n * n * sizeof *a);
    if (!a)
        return err_set(e, ERR_NOMEM, "gptq: out of memory for a %zu x %zu factor", n, n);
    int ni = (int)n, info = 1;
    for (int t = 0; t < 4 && info != 0; t++, damp *= 10.0) {
        memcpy(a, h, n * n * sizeof *a);
        for (size_t i = 0; i < n; i++)
            a[i * n + i] = (h[i * n + i] > 0.0 ? h[i * n + i] : 1.0) + damp * (mean > 0.0 ? mean : 1.0);
        dpotrf_("L", &ni, a, &ni, &info);
        if (info == 0)
            dpotri_("L", &ni, a, &ni, &info);
        if (info == 0) {
            /* column-major lower = row-major upper triangle: mirror it */
            for (size_t r = 0; r < n; r++)
                for (size_t c = r + 1; c < n; c++)
                    a[c * n + r] = a[r * n + c];
            dpotrf_("L", &ni, a, &ni, &info);
        }
    }
    if (info == 0) /* H^-1 = L L^T, L column-major lower = row-major upper: U = L^T */
        for (size_t r = 0; r < n; r++)
            for (size_t c = 0; c < n; c++)
                u[r * n + c] = c >= r ? (float)a[r * n + c] : 0.0f;
    free(a);
    return info == 0 ? 0 : err_set(e, ERR_ARG, "gptq: the calibration second moments are not positive definite");
}

int gptq_quantize(mx_format f, const float *w, float *out, size_t rows, size_t cols, const float *u,
                  mx_error *e)
{
    if (!w || !out || !u || w == out)
        return err_set(e, ERR_ARG, "gptq: bad arguments");
    size_t n = rows * cols;
    int finite = 1;
    for (size_t i = 0; i < n && finite; i++)
        finite = isfinite(w[i]);
    if (!gptq_applies(f) || !finite || rows == 0 || cols == 0) {
        mx_fake_quant(f, w, out, rows, cols);
        return 0;
    }
    const mx_spec *sp = mx_spec_of(f);
    float *x = malloc(n * sizeof *x), *err = malloc(rows * MX_BLOCK * sizeof *err);
    int rc = 0;
    if (!x || !err) {
        rc = err_set(e, ERR_NOMEM, "gptq: out of memory for a %zu x %zu matrix", rows, cols);
        goto done;
    }
    memcpy(x, w, n * sizeof *x);
    for (size_t b0 = 0; b0 < cols; b0 += MX_BLOCK) {
        size_t len = cols - b0 < MX_BLOCK ? cols - b0 : MX_BLOCK, b1 = b0 + len;
        for (size_t r = 0; r < rows; r++) {
            float *xr = x + r * cols, *er = err + r * MX_BLOCK;
            uint32_t s = mx_block_scale(f, xr + b0, len);
            /* 2^(s-127) and its inverse, exact (2^-127 is an fp32 subnormal): x * inv
             * and q * X round as ldexpf does in mx_block_at_scalar */
            float X = s ? mx_u2f(s << 23) : 0x1p-127f, inv = mx_u2f((254u - s) << 23);
            for (size_t j = b0; j < b1; j++) {
                float q, v = xr[j] * inv;
                if (isfinite(v) && 254u - s >= 1u)
                    q = quant_elem(sp, v) * X;
                else
                    mx_block_at_scalar(sp, xr + j, &q, 1, s);
                out[r * cols + j] = q;
                float d = (xr[j] - q) / u[j * cols + j];
                er[j - b0] = d;
                for (size_t k = j + 1; k < b1; k++)
                    xr[k] -= d * u[j * cols + k];
            }
        }
        if (b1 < cols) /* x[:, b1:] -= err[:, 0:len] U[b0:b1, b1:] */
            gemm_f32(0, 0, (int)rows, (int)(cols - b1), (int)len, -1.0f, err, MX_BLOCK, u + b0 * cols + b1,
                     (int)cols, 1.0f, x + b1, (int)cols);
    }
done:
    free(x);
    free(err);
    return rc;
}
