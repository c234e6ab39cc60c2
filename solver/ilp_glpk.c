/* GLPK's branch and bound on the units (one binary column per candidate item,
 * one row per unit, one row per limit): the fallback of the exact search and
 * the whole of the latency-limited solve. */
#include <glpk.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "solver/ilp_units.h"

static int glpk_silent(void *info, const char *s)
{
    (void)info;
    (void)s;
    return 1;  /* non-zero: GLPK prints nothing */
}

typedef struct heur_state {
    const double *x;   /* [1..ncols] the incumbent, 0/1 */
    int posted;
} heur_state;

/* Hand our incumbent to GLPK once, so branch and bound prunes against it
 * from the start. */
static void glpk_cb(glp_tree *t, void *info)
{
    heur_state *h = info;
    if (glp_ios_reason(t) == GLP_IHEUR && !h->posted) {
        h->posted = 1;
        glp_ios_heur_sol(t, h->x);
    }
}

static int ms_limit(double s)
{
    return s * 1000 < 1 ? 1 : s * 1000 > 2e9 ? 2000000000 : (int)(s * 1000);
}

/* Candidates of unit i: its front items where keep says so, or all its items. */
static int n_cand(const ilp_unit *un, const unsigned char *keep)
{
    return keep ? un->n_front : un->n_items;
}

static int is_cand(const ilp_unit *un, const unsigned char *keep, int j)
{
    return !keep || keep[un->item0 + j];
}

/* One GLPK solve at capacities cap (bits) and lcap (the second limit). */
static int glpk_once(const ilp_units *u, const ilp_glpk_in *in, double cap, double lcap, int *pick)
{
    int nu = u->n_units, ncols = 0, nrows = 0, nlim = in->lim1 ? 2 : 1;
    double fixed_w = 0, fixed_l = 0, cspan = 0, lmax = 0;
    for (int i = 0; i < nu; i++) {
        const ilp_unit *un = &u->units[i];
        int kept = 0, last = in->start ? in->start[i] : 0;
        double cmin = INFINITY, cmax = -INFINITY;
        for (int j = 0; j < n_cand(un, in->keep); j++)
            if (is_cand(un, in->keep, j)) {
                kept++, last = j;
                cmin = fmin(cmin, u->items[un->item0 + j].c);
                cmax = fmax(cmax, u->items[un->item0 + j].c);
                if (in->lim1)
                    lmax = fmax(lmax, in->lim1[un->item0 + j]);
            }
        if (kept > 1) {
            ncols += kept;
            nrows++;
            cspan = fmax(cspan, cmax - cmin);
        } else {
            pick[i] = last;
            fixed_w += u->items[un->item0 + last].w;
            fixed_l += in->lim1 ? in->lim1[un->item0 + last] : 0;
        }
    }
    if (ncols == 0)
        return fixed_w <= cap && fixed_l <= lcap ? 1 : -1;
    /* Rows and objective scaled to about 1: GLPK's tolerances are absolute. */
    double ws = 1.0 / u->total_params, ls = lmax > 0 ? 1.0 / lmax : 1.0, cs = cspan > 0 ? 1.0 / cspan : 1.0;
    int nz = (1 + nlim) * ncols;
    int *ia = malloc((size_t)(nz + 1) * sizeof *ia), *ja = malloc((size_t)(nz + 1) * sizeof *ja);
    double *ar = malloc((size_t)(nz + 1) * sizeof *ar), *x0 = malloc((size_t)(ncols + 1) * sizeof *x0);
    int *col_unit = malloc((size_t)(ncols + 1) * sizeof *col_unit), *col_j = malloc((size_t)(ncols + 1) * sizeof *col_j);
    if (!ia || !ja || !ar || !x0 || !col_unit || !col_j) {
        free(ia), free(ja), free(ar), free(x0), free(col_unit), free(col_j);
        return -2;
    }
    glp_term_out(GLP_OFF);
    glp_term_hook(glpk_silent, NULL);
    glp_prob *lp = glp_create_prob();
    glp_set_obj_dir(lp, GLP_MIN);
    glp_add_rows(lp, nrows + nlim);
    glp_add_cols(lp, ncols);
    int row = 0, col = 0, at = 0;
    for (int i = 0; i < nu; i++) {
        const ilp_unit *un = &u->units[i];
        int kept = 0;
        double cmin = INFINITY;
        for (int j = 0; j < n_cand(un, in->keep); j++)
            if (is_cand(un, in->keep, j)) {
                kept++;
                cmin = fmin(cmin, u->items[un->item0 + j].c);
            }
        if (kept <= 1)
            continue;
        row++;
        glp_set_row_bnds(lp, row, GLP_FX, 1, 1);
        for (int j = 0; j < n_cand(un, in->keep); j++) {
            if (!is_cand(un, in->keep, j))
                continue;
            const ilp_item *it = &u->items[un->item0 + j];
            col++;
            col_unit[col] = i;
            col_j[col] = j;
            x0[col] = in->start && j == in->start[i];
            glp_set_col_kind(lp, col, GLP_BV);
            /* each unit's cheapest candidate costs 0: the same argmin */
            glp_set_obj_coef(lp, col, (it->c - cmin) * cs);
            at++, ia[at] = row, ja[at] = col, ar[at] = 1;
            at++, ia[at] = nrows + 1, ja[at] = col, ar[at] = it->w * ws;
            if (in->lim1)
                at++, ia[at] = nrows + 2, ja[at] = col, ar[at] = in->lim1[un->item0 + j] * ls;
        }
    }
    glp_set_row_bnds(lp, nrows + 1, GLP_UP, 0, (cap - fixed_w) * ws);
    if (in->lim1)
        glp_set_row_bnds(lp, nrows + 2, GLP_UP, 0, (lcap - fixed_l) * ls);
    glp_load_matrix(lp, at, ia, ja, ar);
    free(ia), free(ja), free(ar);
    glp_smcp sp;
    glp_init_smcp(&sp);
    sp.msg_lev = GLP_MSG_OFF;
    if (in->time_limit_s > 0)
        sp.tm_lim = ms_limit(in->time_limit_s);
    int out = -1, lp_ret = glp_simplex(lp, &sp);
    if (lp_ret == 0 && glp_get_status(lp) == GLP_OPT) {
        glp_iocp parm;
        glp_init_iocp(&parm);
        parm.msg_lev = GLP_MSG_OFF;
        parm.presolve = GLP_OFF;
        heur_state hs = {x0, 0};
        if (in->start) {
            parm.cb_func = glpk_cb;
            parm.cb_info = &hs;
        }
        parm.tol_int = 1e-9;
        parm.tol_obj = 1e-12; /* prune only what cannot beat the incumbent */
        parm.mip_gap = 0.0;
        if (in->time_limit_s > 0)
            parm.tm_lim = ms_limit(in->time_limit_s);
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
            for (int c = 1; c <= ncols && count && out >= 0; c++)
                if (count[col_unit[c]] != 1)
                    out = -1;
            free(count);
        }
    }
    free(x0), free(col_unit), free(col_j);
    glp_delete_prob(lp);
    /* GLPK's environment is per thread and never freed at thread exit: drop
     * it after each solve (re-creating it costs microseconds) so worker
     * threads do not leak it. */
    glp_free_env();
    return out;
}

int ilp_glpk_pick(const ilp_units *u, const ilp_glpk_in *in, int *pick)
{
    int nu = u->n_units;
    double cap = u->cap, lcap = in->lcap, lslack = 1e-12 * fabs(in->lcap);
    int st = -1;
    /* GLPK accepts answers within its feasibility tolerance: re-check both
     * limits exactly and tighten the one overshot. */
    for (int tries = 0; tries < 4; tries++) {
        st = glpk_once(u, in, cap, lcap, pick);
        if (st < 0)
            break;
        double w = 0, l = 0;
        for (int i = 0; i < nu; i++) {
            w += u->items[u->units[i].item0 + pick[i]].w;
            l += in->lim1 ? in->lim1[u->units[i].item0 + pick[i]] : 0;
        }
        int ok_w = ilp_units_fits(u, w), ok_l = !in->lim1 || l <= in->lcap + lslack;
        if (ok_w && ok_l)
            break;
        if (!ok_w)
            cap -= (w - u->cap) + 1e-9 * fabs(u->cap);
        if (!ok_l)
            lcap -= (l - in->lcap) + 1e-9 * fabs(in->lcap);
        st = -1;
    }
    return st;
}
