/* Window ranges and the gather call of a shard (src/shard.h). */
#include "src/shard.h"

void shard_range(const shard *s, long nw, long *w0, long *w1)
{
    if (!s || s->size <= 1) {
        *w0 = 0;
        *w1 = nw;
        return;
    }
    long q = nw / s->size, rem = nw % s->size, r = s->rank;
    *w0 = r * q + (r < rem ? r : rem);
    *w1 = *w0 + q + (r < rem);
}

int shard_gather(const shard *s, double *buf, long nw, size_t per, mx_error *e)
{
    if (!s || s->size <= 1)
        return 0;
    return s->allgather(s->user, buf, nw, per, e);
}
