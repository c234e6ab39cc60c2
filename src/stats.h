/* Small order statistics shared by the timings and the projection check. */
#ifndef MXALLOC_STATS_H
#define MXALLOC_STATS_H

/* Median of x[0..n-1], n >= 1 (the mean of the middle two for even n); sorts x. */
double stats_median(double *x, int n);

#endif
