/* The clocks every benchmark reads: wall time (monotonic) in seconds and in
 * milliseconds, and the process's CPU time (to tell waiting from working). */
#ifndef MXALLOC_BENCH_CLOCK_H
#define MXALLOC_BENCH_CLOCK_H

double bench_now(void);     /* monotonic seconds */
double bench_now_ms(void);  /* monotonic milliseconds */
double bench_cpu_now(void); /* CPU seconds of this process, all threads */

#endif
