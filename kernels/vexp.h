/* exp over float arrays for the softmaxes, the NLL and SwiGLU: one definition
 * (Cody-Waite reduction by ln 2, a degree-5 minimax polynomial, FMA; within 1.5
 * ulp of exp), computed by a scalar path and by AVX2 and AVX-512 paths that
 * give the same bits, sums included (16 partial sums in double, one order). */
#ifndef MXALLOC_VEXP_H
#define MXALLOC_VEXP_H

#include <stddef.h>

typedef enum { VEXP_AUTO, VEXP_SCALAR, VEXP_AVX2, VEXP_AVX512, VEXP_NPATHS } vexp_path;

/* exp(x): the scalar definition every path follows (0 below -87.33, inf above 88.37, NaN kept). */
float vexp1(float x);

/* y[i] = exp(x[i] - sub) for i < n (y may be x, or NULL to only sum); returns
 * the sum of those values in double, in the same order on every path. */
double vexp_shift(float *y, const float *x, size_t n, float sub);
/* max of x[0..n), n >= 1 */
float vexp_max(const float *x, size_t n);
/* a[i] = g[i] / (1 + exp(-g[i])) * u[i]: SwiGLU's SiLU(gate) * up */
void vexp_swiglu(float *a, const float *g, const float *u, size_t n);

/* The same on a given path (tests and benchmarks); VEXP_AUTO is the path
 * measured fastest on this machine at first use. */
int vexp_supported(vexp_path p);
vexp_path vexp_auto_path(void);
double vexp_shift_on(vexp_path p, float *y, const float *x, size_t n, float sub);
float vexp_max_on(vexp_path p, const float *x, size_t n);
void vexp_swiglu_on(vexp_path p, float *a, const float *g, const float *u, size_t n);
const char *vexp_path_name(vexp_path p);

#endif
