/* dMX: annealed per-layer offsets (see solver/search.h for the whole search).
 * Module m has one learnable scalar theta over the candidate formats ordered
 * by bits ASCENDING (index 0 = fewest bits). Its mixture weights are
 *     p_k = softmax_k(-(theta - k)^2 / T),
 * a discretised Gaussian bump centred on theta; as T anneals to ~0 the bump
 * collapses onto the nearest index, so argmax p = round(theta). */
#ifndef MXALLOC_DMX_H
#define MXALLOC_DMX_H

#include "solver/search.h"

/* p[0..k-1] for one module (t > 0). */
void dmx_probs(double theta, double t, int k, double *p);
/* dL/dtheta = sum_k (dp_k/dtheta) dl_dp[k], with p from dmx_probs:
 * dp_k/dtheta = p_k (a_k - sum_j p_j a_j), a_k = -2 (theta - k) / T. */
double dmx_grad(double theta, double t, int k, const double *p, const double *dl_dp);

/* search_run with method dMX; o NULL = search_opts_init defaults. */
int dmx_search(const search_data *d, const search_opts *o, search_result *r, mx_error *e);

#endif
