/* The one monotonic clock every timer reads: dispatch trials, solver
 * deadlines, progress lines, measured latencies, the workbench. */
#ifndef MXALLOC_CLOCK_H
#define MXALLOC_CLOCK_H

/* Seconds on CLOCK_MONOTONIC (an arbitrary origin: take differences). */
double clock_now_s(void);

#endif
