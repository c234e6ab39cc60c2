/* The published baseline (see ilp.h): narrowest format everywhere, then the
 * most sensitive units take the widest format the remaining budget pays for. */
#include <math.h>
#include <stdlib.h>

#include "solver/ilp.h"
#include "solver/ilp_units.h"

typedef struct rank {
    double sens;
    int unit;
} rank;

static int rank_cmp(const void *a, const void *b)
{
    const rank *x = a, *y = b;
    if (x->sens != y->sens)
        return x->sens > y->sens ? -1 : 1;
    return x->unit < y->unit ? -1 : x->unit > y->unit;
}

static int greedy_pick(const ilp_problem *p, const ilp_units *u, int *pick, ilp_result *r,
                       mx_error *e)
{
    (void)p;
    (void)r; /* never proven optimal: no gap, no bound */
    int nu = u->n_units;
    rank *rk = malloc((size_t)nu * sizeof *rk);
    if (!rk)
        return err_set(e, ERR_NOMEM, "out of memory");
    /* Items are sorted by (bits, cost): item 0 is the narrowest, cheapest
     * among equals. Dominated items count too: the baseline does not prune. */
    for (int i = 0; i < nu; i++)
        rk[i] = (rank){u->items[u->units[i].item0].c, i};
    qsort(rk, (size_t)nu, sizeof *rk, rank_cmp);
    double room = u->cap - u->w_min;
    for (int k = 0; k < nu; k++) {
        const ilp_unit *un = &u->units[rk[k].unit];
        const ilp_item *it = u->items + un->item0;
        int best = 0;
        for (int j = 1; j < un->n_items; j++) {
            double dw = it[j].w - it[0].w;
            if (dw > room)
                continue;
            /* widest; among equal bits the cheaper */
            if (it[j].w > it[best].w || (it[j].w == it[best].w && it[j].c < it[best].c))
                best = j;
        }
        room -= it[best].w - it[0].w;
        pick[rk[k].unit] = best;
    }
    free(rk);
    return 0;
}

int ilp_greedy(const ilp_problem *p, int *choice, ilp_result *res, mx_error *e)
{
    return ilp_units_run(p, greedy_pick, NULL, choice, res, e);
}
