/* The MPI side of sharded windows (src/cli/cli_mpi.h): Open MPI's
 * allgather of whole window rows, in rank order. */
#include "config.h"

#include "src/cli/cli_mpi.h"

#include <stdio.h>
#include <stdlib.h>

#ifdef HAVE_MPI
#include <cblas.h>
#include <mpi.h>

#include "kernels/pool.h"

/* Every process's rows [w0, w1) of buf, as one row datatype so the counts
 * stay in windows (int) whatever the row length. */
static int mpi_allgather(void *user, double *buf, long nw, size_t per, mx_error *e)
{
    const shard *s = user;
    int *cnt = malloc(sizeof(int) * 2 * (size_t)s->size);
    if (!cnt)
        return err_set(e, ERR_NOMEM, "out of memory for the MPI exchange");
    int *disp = cnt + s->size;
    for (int r = 0; r < s->size; r++) {
        shard one = {.rank = r, .size = s->size};
        long w0, w1;
        shard_range(&one, nw, &w0, &w1);
        cnt[r] = (int)(w1 - w0);
        disp[r] = (int)w0;
    }
    MPI_Datatype row;
    int rc = MPI_Type_contiguous((int)per, MPI_DOUBLE, &row);
    if (rc == MPI_SUCCESS && (rc = MPI_Type_commit(&row)) == MPI_SUCCESS) {
        rc = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, cnt, disp, row, MPI_COMM_WORLD);
        MPI_Type_free(&row);
    }
    free(cnt);
    return rc == MPI_SUCCESS ? 0 : err_set(e, ERR_IO, "MPI exchange of window results failed (%d)", rc);
}
#endif

/* Open MPI's launcher says how many processes it started. */
static int launched_size(void)
{
    const char *v = getenv("OMPI_COMM_WORLD_SIZE");
    return v ? atoi(v) : 1;
}

int cli_mpi_begin(const char *prog, shard *s)
{
    *s = (shard){.rank = 0, .size = 1};
    if (launched_size() <= 1)
        return 0;
#ifdef HAVE_MPI
    int provided;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "%s: MPI failed to start\n", prog);
        return -1;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &s->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &s->size);
    s->allgather = mpi_allgather;
    s->user = s;
    /* mpirun binds each process to its cores: OpenBLAS gets as many threads */
    openblas_set_num_threads(pool_cpus());
    return 0;
#else
    fprintf(stderr, "%s: started by mpirun as %d processes, but this build has no MPI "
            "(./configure --with-mpi)\n", prog, launched_size());
    return -1;
#endif
}

void cli_mpi_reduce(const shard *s, double v, double *sum, double *max)
{
    *sum = *max = v;
#ifdef HAVE_MPI
    if (s->size > 1) {
        MPI_Allreduce(&v, sum, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
        MPI_Allreduce(&v, max, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    }
#else
    (void)s;
#endif
}

void cli_mpi_end(const shard *s, int ok)
{
#ifdef HAVE_MPI
    if (s->size <= 1)
        return;
    if (ok)
        MPI_Finalize();
    else
        MPI_Abort(MPI_COMM_WORLD, 1);
#else
    (void)s;
    (void)ok;
#endif
}
