/* Processes started together by mpirun share a command's calibration windows
 * (src/shard.h). Built with ./configure --with-mpi (Open MPI); one process,
 * started any other way, stays the default and never touches MPI. */
#ifndef MXALLOC_CLI_MPI_H
#define MXALLOC_CLI_MPI_H

#include "src/shard.h"

/* Sets *s to this process's place: size 1 (no MPI) unless mpirun started it.
 * Returns 0; -1 (message printed, prefixed by prog) when mpirun started
 * several processes and this build has no MPI, or MPI fails to start. */
int cli_mpi_begin(const char *prog, shard *s);
/* This process's value v added over all processes (*sum) and their largest
 * (*max); v itself for one process. */
void cli_mpi_reduce(const shard *s, double v, double *sum, double *max);
/* Ends MPI after a command: ok non-zero finalizes; 0 aborts every process
 * (one that failed must not leave the others waiting in an exchange).
 * Nothing for one process. */
void cli_mpi_end(const shard *s, int ok);

#endif
