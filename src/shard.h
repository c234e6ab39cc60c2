/* Calibration windows shared out among processes (mpirun -np N mxalloc
 * score). Process `rank` of `size` takes the contiguous windows
 * shard_range gives; every pass writes one row of doubles per window it
 * runs, then shard_gather fills in the other processes' rows. Every total
 * is then summed over all rows in window order on every process, so N
 * processes give the same bits as one: the tolerance is zero, not a bound.
 *
 * The exchange itself is the caller's (src/shard_mpi.h with Open MPI; the
 * tests use threads), so the library needs no MPI. */
#ifndef MXALLOC_SHARD_H
#define MXALLOC_SHARD_H

#include <stddef.h>

#include "kernels/err.h"

typedef struct shard {
    int rank, size;
    /* Fill every process's rows of buf ([nw][per] doubles, rows
     * shard_range(rank) are this process's) from their owners; every
     * process calls it with the same nw and per. 0, or non-zero with e set. */
    int (*allgather)(void *user, double *buf, long nw, size_t per, mx_error *e);
    void *user;
    /* Output: seconds this process spent in its own windows' passes (the part
     * that N processes divide), for the speedup the front end prints. */
    double window_s;
} shard;

/* Windows [*w0, *w1) of nw for process rank of size: contiguous, the first
 * nw % size processes one more. s NULL: all of them. */
void shard_range(const shard *s, long nw, long *w0, long *w1);
/* s->allgather when there is more than one process, else nothing. */
int shard_gather(const shard *s, double *buf, long nw, size_t per, mx_error *e);

#endif
