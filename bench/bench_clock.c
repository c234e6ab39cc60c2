/* Clocks of the benchmarks (see bench/bench_clock.h). */
#include "bench/bench_clock.h"

#include <time.h>

static double seconds(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double bench_now(void)
{
    return seconds(CLOCK_MONOTONIC);
}

double bench_now_ms(void)
{
    return 1e3 * seconds(CLOCK_MONOTONIC);
}

double bench_cpu_now(void)
{
    return seconds(CLOCK_PROCESS_CPUTIME_ID);
}
