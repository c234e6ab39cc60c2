/* The integer program with a second limit (latency): GLPK's branch and bound
 * (solver/ilp_glpk.c) with both rows over every allowed format of each unit. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "solver/ilp_units.h"

double ilp_units_latency(const ilp_problem *p, const ilp_units *u, int i, int f)
{
    const ilp_unit *un = &u->units[i];
    double l = 0;
    for (int k = 0; k < un->n_members; k++)
        l += p->latency[(size_t)u->members[un->member0 + k] * p->n_formats + f];
    return l;
}

int ilp_lat_pick(const ilp_problem *p, const ilp_units *u, int *pick, ilp_result *r, mx_error *e)
{
    int nu = u->n_units, n_items = u->units[nu - 1].item0 + u->units[nu - 1].n_items;
    double *lat = malloc((size_t)n_items * sizeof *lat);
    if (!lat)
        return err_set(e, ERR_NOMEM, "out of memory");
    double lmin = 0;
    for (int i = 0; i < nu; i++) {
        const ilp_unit *un = &u->units[i];
        double best = INFINITY;
        for (int j = 0; j < un->n_items; j++) {
            double l = ilp_units_latency(p, u, i, u->items[un->item0 + j].f);
            if (!isfinite(l) || l < 0) {
                free(lat);
                return err_set(e, ERR_ARG, "module %d, format %d: invalid latency %g",
                               u->members[un->member0], u->items[un->item0 + j].f, l);
            }
            lat[un->item0 + j] = l;
            best = fmin(best, l);
        }
        lmin += best;
    }
    double slack = 1e-12 * fabs(p->max_latency);
    if (lmin > p->max_latency + slack) {
        free(lat);
        return err_set(e, ERR_INFEASIBLE, "latency limit %.6g is infeasible: the fastest allowed assignment takes %.6g",
                       p->max_latency, lmin);
    }
    ilp_glpk_in in = {.lim1 = lat, .lcap = p->max_latency, .time_limit_s = p->time_limit_s};
    int st = ilp_glpk_pick(u, &in, pick);
    free(lat);
    if (st == -2)
        return err_set(e, ERR_NOMEM, "out of memory");
    if (st < 0)
        return err_set(e, ERR_INFEASIBLE, "no assignment meets both the bit budget %g and the latency limit %.6g",
                       p->budget_bits, p->max_latency);
    r->optimal = st == 1;
    r->gap = st == 1 ? 0 : NAN;
    r->bound = NAN;
    return 0;
}
