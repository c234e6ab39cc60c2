/* The integer program with a second limit (latency): GLPK's branch and bound
 * with both rows over every allowed format of each unit. */
#include <glpk.h>
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

static int lat_silent(void *info, const char *s)
{
    (void)info;
    (void)s;
    return 1;
}

static int ms_limit(double s)
{
    return s * 1000 < 1 ? 1 : s * 1000 > 2e9 ? 2000000000 : (int)(s * 1000);
}

/* One GLPK solve with capacities cap (bits) and lcap (latency); pick gets
 * the answer. 1 proven optimal, 0 feasible at the time limit, -1 no answer
 * (infeasible or failed), -2 out of memory. */
static int lat_glpk(const ilp_problem *p, const ilp_units *u, const double *lat, double cap, double lcap,
                    int *pick)
{
    int nu = u->n_units, ncols = 0, nrows = 0;
    double fixed_w = 0, fixed_l = 0, cspan = 0;
    for (int i = 0; i < nu; i++) {
        const ilp_unit *un = &u->units[i];
        if (un->n_items > 1) {
            ncols += un->n_items;
            nrows++;
            double cmin = INFINITY;
            for (int j = 0; j < un->n_items; j++)
                cmin = fmin(cmin, u->items[un->item0 + j].c);
            for (int j = 0; j < un->n_items; j++)
                cspan = fmax(cspan, u->items[un->item0 + j].c - cmin);
        } else {
            fixed_w += u->items[un->item0].w;
            fixed_l += lat[un->item0];
            pick[i] = 0;
        }
    }
    if (ncols == 0)
        return fixed_w <= cap && fixed_l <= lcap ? 1 : -1;
    double ws = 1.0 / u->total_params, lmax = 0;
    for (int k = 0; k < u->units[nu - 1].item0 + u->units[nu - 1].n_items; k++)
        lmax = fmax(lmax, lat[k]);
    double ls = lmax > 0 ? 1.0 / lmax : 1.0, cs = cspan > 0 ? 1.0 / cspan : 1.0;
    int nz = 3 * ncols;
    int *ia = malloc((size_t)(nz + 1) * sizeof *ia), *ja = malloc((size_t)(nz + 1) * sizeof *ja);
    double *ar = malloc((size_t)(nz + 1) * sizeof *ar);
    int *col_unit = malloc((size_t)(ncols + 1) * sizeof *col_unit), *col_j = malloc((size_t)(ncols + 1) * sizeof *col_j);
    if (!ia || !ja || !ar || !col_unit || !col_j) {
        free(ia), free(ja), free(ar), free(col_unit), free(col_j);
        return -2;
    }
    glp_term_out(GLP_OFF);
    glp_term_hook(lat_silent, NULL);
    glp_prob *lp = glp_create_prob();
    glp_set_obj_dir(lp, GLP_MIN);
    glp_add_rows(lp, nrows + 2);
    glp_add_cols(lp, ncols);
    int row = 0, col = 0, at = 0;
    for (int i = 0; i < nu; i++) {
        const ilp_unit *un = &u->units[i];
        if (un->n_items <= 1)
            continue;
        row++;
        glp_set_row_bnds(lp, row, GLP_FX, 1, 1);
        double cmin = INFINITY;
        for (int j = 0; j < un->n_items; j++)
            cmin = fmin(cmin, u->items[un->item0 + j].c);
        for (int j = 0; j < un->n_items; j++) {
            const ilp_item *it = &u->items[un->item0 + j];
            col++;
            col_unit[col] = i;
            col_j[col] = j;
            glp_set_col_kind(lp, col, GLP_BV);
            glp_set_obj_coef(lp, col, (it->c - cmin) * cs);
            at++, ia[at] = row, ja[at] = col, ar[at] = 1;
            at++, ia[at] = nrows + 1, ja[at] = col, ar[at] = it->w * ws;
            at++, ia[at] = nrows + 2, ja[at] = col, ar[at] = lat[un->item0 + j] * ls;
        }
    }
    glp_set_row_bnds(lp, nrows + 1, GLP_UP, 0, (cap - fixed_w) * ws);
    glp_set_row_bnds(lp, nrows + 2, GLP_UP, 0, (lcap - fixed_l) * ls);
    glp_load_matrix(lp, at, ia, ja, ar);
    free(ia), free(ja), free(ar);
    glp_smcp sp;
    glp_init_smcp(&sp);
    sp.msg_lev = GLP_MSG_OFF;
    if (p->time_limit_s > 0)
        sp.tm_lim = ms_limit(p->time_limit_s);
    int out = -1, lp_ret = glp_simplex(lp, &sp);
    if (lp_ret == 0 && glp_get_status(lp) == GLP_OPT) {
        glp_iocp parm;
        glp_init_iocp(&parm);
        parm.msg_lev = GLP_MSG_OFF;
        parm.presolve = GLP_OFF;
        parm.tol_int = 1e-9;
        parm.tol_obj = 1e-12; /* prune only what cannot beat the incumbent */
        parm.mip_gap = 0.0;
        if (p->time_limit_s > 0)
            parm.tm_lim = ms_limit(p->time_limit_s);
        int ret = glp_intopt(lp, &parm), status = glp_mip_status(lp);
        if ((ret == 0 || ret == GLP_ETMLIM) && (status == GLP_OPT || status == GLP_FEAS)) {
            out = status == GLP_OPT && ret == 0 ? 1 : 0;
            int *count = calloc((size_t)nu, sizeof *count);
            if (!count)
                out = -2;
            for (int c = 1; c <= ncols && count; c++)
                if (glp_mip_col_val(lp, c) > 0.5) {
                    pick[col_unit[c]] = col_j[c];
                    count[col_unit[c]]++;
                }
            for (int i = 0; i < nu && count && out >= 0; i++)
                if (u->units[i].n_items > 1 && count[i] != 1)
                    out = -1;
            free(count);
        }
    }
    free(col_unit);
    free(col_j);
    glp_delete_prob(lp);
    glp_free_env();
    return out;
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
    double cap = u->cap, lcap = p->max_latency;
    int st = -1;
    /* GLPK accepts answers within its feasibility tolerance: re-check both
     * limits exactly and tighten the one overshot. */
    for (int tries = 0; tries < 4; tries++) {
        st = lat_glpk(p, u, lat, cap, lcap, pick);
        if (st < 0)
            break;
        double w = 0, l = 0;
        for (int i = 0; i < nu; i++) {
            w += u->items[u->units[i].item0 + pick[i]].w;
            l += lat[u->units[i].item0 + pick[i]];
        }
        int ok_w = ilp_units_fits(u, w), ok_l = l <= p->max_latency + slack;
        if (ok_w && ok_l)
            break;
        if (!ok_w)
            cap -= (w - u->cap) + 1e-9 * fabs(u->cap);
        if (!ok_l)
            lcap -= (l - p->max_latency) + 1e-9 * fabs(p->max_latency);
        st = -1;
    }
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
