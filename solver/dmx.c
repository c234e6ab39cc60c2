/* dMX relaxation: a Gaussian bump over the bits-ascending format index. */
#include "solver/dmx.h"

#include <math.h>

void dmx_probs(double theta, double t, int k, double *p)
{
    double mx = -INFINITY, sum = 0.0;
    for (int i = 0; i < k; i++) {
        double z = -(theta - i) * (theta - i) / t;
        p[i] = z;
        if (z > mx)
            mx = z;
    }
    for (int i = 0; i < k; i++) {
        p[i] = exp(p[i] - mx);
        sum += p[i];
    }
    for (int i = 0; i < k; i++)
        p[i] /= sum;
}

double dmx_grad(double theta, double t, int k, const double *p, const double *dl_dp)
{
    double abar = 0.0, g = 0.0;
    for (int i = 0; i < k; i++)
        abar += p[i] * (-2.0 * (theta - i) / t);
    for (int i = 0; i < k; i++)
        g += p[i] * (-2.0 * (theta - i) / t - abar) * dl_dp[i];
    return g;
}

int dmx_search(const search_data *d, const search_opts *o, search_result *r, mx_error *e)
{
    return search_run_as(d, o, SEARCH_DMX, r, e);
}
