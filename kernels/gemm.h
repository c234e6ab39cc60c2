/* Single-precision GEMM (row-major) over OpenBLAS, with a naive scalar twin
 * that the tests hold it equal to. Arithmetic only. */
#ifndef MXALLOC_GEMM_H
#define MXALLOC_GEMM_H

/* C[m][n] = alpha * op(A)[m][k] * op(B)[k][n] + beta * C, all row-major.
 * op(X) = X, or X^T when trans_x is non-zero (then X is stored [k][m] / [n][k]).
 * lda/ldb/ldc are the row strides of the matrices as stored. fp32 accumulation.
 * Deterministic for a given build and thread count (OpenBLAS splits m and n,
 * never k). beta == 0 overwrites C without reading it. */
void gemm_f32(int trans_a, int trans_b, int m, int n, int k, float alpha,
              const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);

/* The same contract, straightforward triple loop (float accumulation in k
 * order). Slow; for tests only. */
void gemm_f32_scalar(int trans_a, int trans_b, int m, int n, int k, float alpha,
                     const float *a, int lda, const float *b, int ldb, float beta, float *c,
                     int ldc);

/* A linear layer on a batch: Y[n][rows] = X[n][cols] W^T, W is [rows][cols]
 * (PyTorch nn.Linear layout). beta as above (1 adds into Y, e.g. a residual). */
void gemm_linear(int n, int rows, int cols, const float *x, const float *w, float beta, float *y);

#endif
