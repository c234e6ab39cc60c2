/* The exact solver: reduce, bound with the LP relaxation (solved greedily:
 * exact for a multiple-choice knapsack), then let GLPK's branch and bound
 * close the gap. */
#include "solver/ilp.h"

#include <glpk.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "solver/ilp_units.h"

/* ---- the LP relaxation and a rounded incumbent ---- */

typedef struct incr {
    int unit, from, to;   /* indices into the unit's front */
    double dw, dc, eff;   /* dc < 0, eff = -dc / dw */
} incr;

static int incr_cmp(const void *a, const void *b)
{
    const incr *x = a, *y = b;
    if (x->eff != y->eff)
        return x->eff > y->eff ? -1 : 1;
    if (x->unit != y->unit)
        return x->unit < y->unit ? -1 : 1;
    return x->from < y->from ? -1 : x->from > y->from;
}

/* Fills pick[u] (front index) with a feasible rounding of the LP optimum,
 * improved by single-unit moves, and returns the LP bound in *bound. The
 * problem must be feasible (w_min fits). */
static int lp_round(const ilp_units *u, int *pick, double *bound, double *lambda, double *inc_cost,
                    incr **incs, int *n_incs)
{
    int nincr = 0;
    for (int i = 0; i < u->n_units; i++)
        nincr += u->units[i].n_front - 1;
    incr *in = malloc((size_t)(nincr ? nincr : 1) * sizeof *in);
    int *hull = malloc((size_t)(nincr + u->n_units) * sizeof *hull);
    if (!in || !hull) {
        free(in);
        free(hull);
        return ERR_NOMEM;
    }
    int k = 0;
    double cost = 0;
    for (int i = 0; i < u->n_units; i++) {
        const ilp_unit *un = &u->units[i];
        const ilp_item *it = u->items + un->item0;
        /* Lower convex hull of the front (w ascending, c descending). */
        int nh = 0;
        int *h = hull;
        for (int j = 0; j < un->n_front; j++) {
            while (nh >= 2) {
                const ilp_item *a = &it[h[nh - 2]], *b = &it[h[nh - 1]];
                /* b is above the segment a..j: drop it. */
                double cross = (b->c - a->c) * (it[j].w - a->w) - (it[j].c - a->c) * (b->w - a->w);
                if (cross >= 0)
                    nh--;
                else
                    break;
            }
            h[nh++] = j;
        }
        for (int j = 0; j + 1 < nh; j++) {
            double dw = it[h[j + 1]].w - it[h[j]].w, dc = it[h[j + 1]].c - it[h[j]].c;
            in[k++] = (incr){i, h[j], h[j + 1], dw, dc, -dc / dw};
        }
        pick[i] = 0;
        cost += it[0].c;
    }
    free(hull);
    qsort(in, (size_t)k, sizeof *in, incr_cmp);
    double room = u->cap - u->w_min;
    int bounded = 0;
    *bound = -INFINITY;
    *lambda = 0;
    for (int j = 0; j < k; j++) {
        if (pick[in[j].unit] != in[j].from)
            continue;  /* an earlier step of this unit did not fit */
        if (in[j].dw <= room) {
            room -= in[j].dw;
            cost += in[j].dc;
            pick[in[j].unit] = in[j].to;
        } else if (!bounded) {
            *bound = cost + in[j].dc * (room > 0 ? room / in[j].dw : 0);
            *lambda = in[j].eff;  /* the capacity's dual price */
            bounded = 1;
        }
    }
    if (!bounded)
        *bound = cost;
    *incs = in;
    *n_incs = k;
    /* Single-unit improvements over the whole front (not only the hull). */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < u->n_units; i++) {
            const ilp_unit *un = &u->units[i];
            const ilp_item *it = u->items + un->item0;
            int best = pick[i];
            for (int j = pick[i] + 1; j < un->n_front; j++)
                if (it[j].w - it[pick[i]].w <= room)
                    best = j;
            if (best != pick[i]) {
                room -= it[best].w - it[pick[i]].w;
                cost += it[best].c - it[pick[i]].c;
                pick[i] = best;
            }
        }
    *inc_cost = cost;
    return 0;
}

typedef struct move {
    double dw, dc;
    int unit, item;
} move;

static int move_cmp(const void *a, const void *b)
{
    const move *x = a, *y = b;  /* by freed bits (-dw) ascending */
    if (x->dw != y->dw)
        return x->dw > y->dw ? -1 : 1;
    return x->unit < y->unit ? -1 : x->unit > y->unit;
}

/* Improve a feasible pick by single moves and pairs (one unit wider, another
 * narrower to pay for it), best improvement first, until none helps. */
/* Suffix minima of the narrower moves' cost: the best and the best of
 * another unit than the best's, with their positions (-1: none). */
typedef struct suffix {
    double c1, c2;
    int at1, at2;
} suffix;

static int local_search(const ilp_units *u, int *pick, double *cost_io)
{
    int n_items = 0;
    for (int i = 0; i < u->n_units; i++)
        n_items += u->units[i].n_front;
    move *down = malloc((size_t)n_items * sizeof *down);
    suffix *suf = malloc((size_t)(n_items + 1) * sizeof *suf);
    if (!down || !suf) {
        free(down);
        free(suf);
        return ERR_NOMEM;
    }
    double w = 0, cost = 0;
    for (int i = 0; i < u->n_units; i++) {
        w += u->items[u->units[i].item0 + pick[i]].w;
        cost += u->items[u->units[i].item0 + pick[i]].c;
    }
    double eps = 1e-13 * (fabs(cost) + 1e-300);
    for (int iter = 0; iter < 4 * u->n_units + 16; iter++) {
        double room = u->cap - w;
        /* collect narrower moves, sorted by freed bits */
        int nd = 0;
        double best = -eps;
        int ba = -1, bj = -1, bb = -1, bk = -1;
        for (int i = 0; i < u->n_units; i++) {
            const ilp_unit *un = &u->units[i];
            const ilp_item *it = u->items + un->item0, *cur = it + pick[i];
            for (int j = 0; j < un->n_front; j++) {
                double dw = it[j].w - cur->w, dc = it[j].c - cur->c;
                if (dw < 0)
                    down[nd++] = (move){dw, dc, i, j};
                else if (dw > 0 && dw <= room && dc < best) {
                    best = dc;
                    ba = i, bj = j, bb = -1;
                }
            }
        }
        qsort(down, (size_t)nd, sizeof *down, move_cmp);
        /* suffix minima of dc over down[k..], best and best of another unit */
        suf[nd] = (suffix){INFINITY, INFINITY, -1, -1};
        for (int k = nd - 1; k >= 0; k--) {
            suf[k] = suf[k + 1];
            double dc = down[k].dc;
            if (dc < suf[k].c1) {
                if (suf[k].at1 >= 0 && down[suf[k].at1].unit != down[k].unit)
                    suf[k].c2 = suf[k].c1, suf[k].at2 = suf[k].at1;
                suf[k].c1 = dc, suf[k].at1 = k;
            } else if (dc < suf[k].c2 && down[k].unit != down[suf[k].at1].unit) {
                suf[k].c2 = dc, suf[k].at2 = k;
            }
        }
        for (int i = 0; i < u->n_units; i++) {
            const ilp_unit *un = &u->units[i];
            const ilp_item *it = u->items + un->item0, *cur = it + pick[i];
            for (int j = pick[i] + 1; j < un->n_front; j++) {
                double dw = it[j].w - cur->w, dc = it[j].c - cur->c;
                double need = dw - room;  /* bits another unit must free */
                if (need <= 0 || dc >= best)
                    continue;
                int lo = 0, hi = nd;  /* first k with -dw >= need */
                while (lo < hi) {
                    int mid = (lo + hi) / 2;
                    if (-down[mid].dw >= need)
                        hi = mid;
                    else
                        lo = mid + 1;
                }
                if (lo >= nd)
                    continue;
                int k = suf[lo].at1 >= 0 && down[suf[lo].at1].unit != i ? suf[lo].at1 : suf[lo].at2;
                if (k < 0 || down[k].unit == i)
                    continue;
                if (dc + down[k].dc < best) {
                    best = dc + down[k].dc;
                    ba = i, bj = j, bb = down[k].unit, bk = down[k].item;
                }
            }
        }
        if (ba < 0)
            break;
        const ilp_item *ia = u->items + u->units[ba].item0;
        w += ia[bj].w - ia[pick[ba]].w;
        cost += ia[bj].c - ia[pick[ba]].c;
        pick[ba] = bj;
        if (bb >= 0) {
            const ilp_item *ib = u->items + u->units[bb].item0;
            w += ib[bk].w - ib[pick[bb]].w;
            cost += ib[bk].c - ib[pick[bb]].c;
            pick[bb] = bk;
        }
    }
    free(down);
    free(suf);
    *cost_io = cost;
    return 0;
}

/* Reduced-cost fixing: for a price lambda >= 0 on the capacity,
 *   L = sum_u min_j (c_j + lambda w_j) - lambda cap
 * bounds every feasible objective from below, and forcing item j of unit u
 * raises the bound by its reduced cost c_j + lambda w_j - min. An item whose
 * bound exceeds the incumbent's cost cannot be in a better solution: drop it.
 * The incumbent's own items always survive. keep[] is per item index.
 * Returns the number of units left with more than one item. */
static int reduce(const ilp_units *u, double lambda, double inc, const int *pick,
                  unsigned char *keep)
{
    double L = -lambda * u->cap, scale = fabs(inc) + lambda * fabs(u->cap) + 1;
    for (int i = 0; i < u->n_units; i++) {
        const ilp_unit *un = &u->units[i];
        const ilp_item *it = u->items + un->item0;
        double mn = INFINITY;
        for (int j = 0; j < un->n_front; j++)
            mn = fmin(mn, it[j].c + lambda * it[j].w);
        L += mn;
    }
    int open = 0;
    for (int i = 0; i < u->n_units; i++) {
        const ilp_unit *un = &u->units[i];
        const ilp_item *it = u->items + un->item0;
        double mn = INFINITY;
        for (int j = 0; j < un->n_front; j++)
            mn = fmin(mn, it[j].c + lambda * it[j].w);
        int kept = 0;
        for (int j = 0; j < un->n_front; j++) {
            double rc = it[j].c + lambda * it[j].w - mn;
            /* generous slack: a wrong drop loses optimality, a wrong keep only time */
            keep[un->item0 + j] = j == pick[i] || L + rc <= inc + 1e-9 * scale;
            kept += keep[un->item0 + j];
        }
        open += kept > 1;
    }
    return open;
}

/* Stronger fixing with the LP itself: forcing item j of unit u leaves the
 * other units an LP over the same sorted increments (u's removed) with the
 * capacity that remains; its value plus c_j bounds every solution using j.
 * The LP value at a capacity is found by binary search on prefix sums. */
static int reduce_lp(const ilp_units *u, const incr *in, int k, double inc, const int *pick,
                     unsigned char *keep)
{
    int nu = u->n_units;
    double *pw = malloc((size_t)(k + 1) * sizeof *pw), *pc = malloc((size_t)(k + 1) * sizeof *pc);
    int *start = calloc((size_t)nu + 1, sizeof *start), *pos = malloc((size_t)(k ? k : 1) * sizeof *pos);
    if (!pw || !pc || !start || !pos) {
        free(pw);
        free(pc);
        free(start);
        free(pos);
        return -1;
    }
    pw[0] = pc[0] = 0;
    for (int j = 0; j < k; j++) {
        pw[j + 1] = pw[j] + in[j].dw;
        pc[j + 1] = pc[j] + in[j].dc;
        start[in[j].unit + 1]++;
    }
    for (int i = 0; i < nu; i++)
        start[i + 1] += start[i];
    {
        int *fill = malloc((size_t)nu * sizeof *fill);
        if (!fill) {
            free(pw);
            free(pc);
            free(start);
            free(pos);
            return -1;
        }
        memcpy(fill, start, (size_t)nu * sizeof *fill);
        for (int j = 0; j < k; j++)
            pos[fill[in[j].unit]++] = j;  /* ascending positions per unit */
        free(fill);
    }
    double w0 = u->w_min, c0 = 0;
    for (int i = 0; i < nu; i++)
        c0 += u->items[u->units[i].item0].c;
    double tol = 1e-9 * (fabs(inc) + fabs(c0) + 1);
    int open = 0;
    for (int i = 0; i < nu; i++) {
        const ilp_unit *un = &u->units[i];
        const ilp_item *it = u->items + un->item0;
        const int *mine = pos + start[i];
        int nm = start[i + 1] - start[i];
        int kept = 0;
        for (int j = 0; j < un->n_front; j++) {
            if (!keep[un->item0 + j])
                continue;
            if (j == pick[i]) {
                kept++;
                continue;
            }
            double room = u->cap - (w0 - it[0].w) - it[j].w;
            double base = c0 - it[0].c + it[j].c;
            int drop;
            if (room < -1e-12 * fabs(u->cap)) {
                drop = 1;
            } else {
                /* largest q with (prefix weight of others over [0,q)) <= room */
                int lo = 0, hi = k;
                while (lo < hi) {
                    int mid = (lo + hi + 1) / 2;
                    double w = pw[mid];
                    for (int t = 0; t < nm && mine[t] < mid; t++)
                        w -= in[mine[t]].dw;
                    if (w <= room)
                        lo = mid;
                    else
                        hi = mid - 1;
                }
                double w = pw[lo], c = pc[lo];
                for (int t = 0; t < nm && mine[t] < lo; t++) {
                    w -= in[mine[t]].dw;
                    c -= in[mine[t]].dc;
                }
                /* the next increment of another unit, taken fractionally */
                int q = lo;
                for (int t = 0; t < nm && q < k && mine[t] <= q; t++)
                    if (mine[t] == q)
                        q++;
                double lp = base + c;
                if (q < k && in[q].dw > 0)
                    lp += in[q].dc * fmin(1, fmax(0, room - w) / in[q].dw);
                drop = lp > inc + tol;
            }
            if (drop)
                keep[un->item0 + j] = 0;
            else
                kept++;
        }
        open += kept > 1;
    }
    free(pw);
    free(pc);
    free(start);
    free(pos);
    return open;
}

/* A better incumbent from a DP over the units reduce() left open, with their
 * extra bits rounded up to a grid of DP_CELLS cells over the free room: every
 * DP answer is feasible, and near-optimal when the room is well resolved. */
#define DP_CELLS 2048
static int dp_improve(const ilp_units *u, const unsigned char *keep, int *pick, double *inc)
{
    int nu = u->n_units, n_open = 0;
    double base_w = 0, base_c = 0;
    for (int i = 0; i < nu; i++) {
        const ilp_unit *un = &u->units[i];
        const ilp_item *it = u->items + un->item0;
        int kept = 0;
        double wmin = INFINITY;
        for (int j = 0; j < un->n_front; j++)
            if (keep[un->item0 + j]) {
                kept++;
                wmin = fmin(wmin, it[j].w);
            }
        if (kept > 1) {
            n_open++;
            base_w += wmin;
        } else {
            base_w += it[pick[i]].w;
            base_c += it[pick[i]].c;
        }
    }
    double room = u->cap - base_w;
    if (n_open == 0 || !(room > 0))
        return 0;
    double g = room / DP_CELLS;
    int *open = malloc((size_t)n_open * sizeof *open);
    double *dp = malloc((DP_CELLS + 1) * sizeof *dp), *nx = malloc((DP_CELLS + 1) * sizeof *nx);
    short *from = malloc((size_t)n_open * (DP_CELLS + 1) * sizeof *from);
    if (!open || !dp || !nx || !from) {
        free(open);
        free(dp);
        free(nx);
        free(from);
        return ERR_NOMEM;
    }
    int k = 0;
    for (int i = 0; i < nu; i++) {
        const ilp_unit *un = &u->units[i];
        int kept = 0;
        for (int j = 0; j < un->n_front; j++)
            kept += keep[un->item0 + j];
        if (kept > 1)
            open[k++] = i;
    }
    for (int c = 0; c <= DP_CELLS; c++)
        dp[c] = 0;
    for (k = 0; k < n_open; k++) {
        const ilp_unit *un = &u->units[open[k]];
        const ilp_item *it = u->items + un->item0;
        short *fr = from + (size_t)k * (DP_CELLS + 1);
        double wmin = INFINITY;
        for (int j = 0; j < un->n_front; j++)
            if (keep[un->item0 + j])
                wmin = fmin(wmin, it[j].w);
        for (int c = 0; c <= DP_CELLS; c++) {
            nx[c] = INFINITY;
            fr[c] = -1;
        }
        for (int j = 0; j < un->n_front; j++) {
            if (!keep[un->item0 + j])
                continue;
            double cells = ceil((it[j].w - wmin) / g);
            if (cells > DP_CELLS)
                continue;
            int d = (int)cells;
            for (int c = d; c <= DP_CELLS; c++)
                if (dp[c - d] + it[j].c < nx[c]) {
                    nx[c] = dp[c - d] + it[j].c;
                    fr[c] = (short)j;
                }
        }
        double *t = dp;
        dp = nx;
        nx = t;
    }
    /* dp[c] is the best cost using at most c cells (dp starts at 0 everywhere) */
    int c = DP_CELLS;
    double best = base_c + dp[c];
    if (best < *inc) {
        for (k = n_open - 1; k >= 0; k--) {
            const ilp_unit *un = &u->units[open[k]];
            const ilp_item *it = u->items + un->item0;
            double wmin = INFINITY;
            for (int j = 0; j < un->n_front; j++)
                if (keep[un->item0 + j])
                    wmin = fmin(wmin, it[j].w);
            int j = from[(size_t)k * (DP_CELLS + 1) + c];
            pick[open[k]] = j;
            c -= (int)ceil((it[j].w - wmin) / g);
        }
        *inc = best;
    }
    free(open);
    free(dp);
    free(nx);
    free(from);
    return 0;
}

/* ---- GLPK ---- */

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

/* Solve the reduced problem with GLPK; on success pick[] holds the MIP answer.
 * Returns 1 proven optimal, 0 feasible (time limit), -1 no answer. */
static int glpk_solve(const ilp_units *u, const unsigned char *keep, const int *inc_pick,
                      double time_limit_s, double cap, int *pick)
{
    glp_term_out(GLP_OFF);
    glp_term_hook(glpk_silent, NULL);
    int nu = u->n_units;
    double scale = 1.0 / u->total_params;
    int ncols = 0, nrows = 0;
    double fixed_w = 0;
    for (int i = 0; i < nu; i++) {
        const ilp_unit *un = &u->units[i];
        int kept = 0;
        for (int j = 0; j < un->n_front; j++)
            kept += keep[un->item0 + j];
        if (kept > 1) {
            ncols += kept;
            nrows++;
        } else {
            fixed_w += u->items[un->item0 + inc_pick[i]].w;
        }
    }
    int nz = 2 * ncols;
    int *ia = malloc((size_t)(nz + 1) * sizeof *ia), *ja = malloc((size_t)(nz + 1) * sizeof *ja);
    double *ar = malloc((size_t)(nz + 1) * sizeof *ar);
    int *col_item = malloc((size_t)(ncols + 1) * sizeof *col_item);
    double *x0 = malloc((size_t)(ncols + 1) * sizeof *x0);
    if (!ia || !ja || !ar || !col_item || !x0) {
        free(ia);
        free(ja);
        free(ar);
        free(col_item);
        free(x0);
        return -2;
    }
    glp_prob *lp = glp_create_prob();
    glp_set_obj_dir(lp, GLP_MIN);
    glp_add_rows(lp, nrows + 1);
    glp_add_cols(lp, ncols);
    int row = 0, col = 0, at = 0;
    for (int i = 0; i < nu; i++) {
        const ilp_unit *un = &u->units[i];
        int kept = 0;
        for (int j = 0; j < un->n_front; j++)
            kept += keep[un->item0 + j];
        if (kept <= 1)
            continue;
        row++;
        glp_set_row_bnds(lp, row, GLP_FX, 1, 1);
        const ilp_item *it = u->items + un->item0;
        /* Shift costs so each unit's cheapest format is 0: the same argmin,
         * a better-scaled objective. */
        double cmin = INFINITY;
        for (int j = 0; j < un->n_front; j++)
            if (keep[un->item0 + j])
                cmin = fmin(cmin, it[j].c);
        for (int j = 0; j < un->n_front; j++) {
            if (!keep[un->item0 + j])
                continue;
            col++;
            col_item[col] = un->item0 + j;
            x0[col] = j == inc_pick[i];
            glp_set_col_kind(lp, col, GLP_BV);
            glp_set_obj_coef(lp, col, it[j].c - cmin);
            at++;
            ia[at] = row, ja[at] = col, ar[at] = 1;
            at++;
            ia[at] = nrows + 1, ja[at] = col, ar[at] = it[j].w * scale;
        }
    }
    glp_set_row_bnds(lp, nrows + 1, GLP_UP, 0, (cap - fixed_w) * scale);
    if (at)
        glp_load_matrix(lp, at, ia, ja, ar);
    free(ia);
    free(ja);
    free(ar);
    int out = -1;
    if (ncols == 0) {
        memcpy(pick, inc_pick, (size_t)nu * sizeof *pick);
        out = 1;
    } else {
        glp_smcp sp;
        glp_init_smcp(&sp);
        sp.msg_lev = GLP_MSG_OFF;
        if (time_limit_s > 0)
            sp.tm_lim = time_limit_s * 1000 < 1 ? 1
                        : (time_limit_s * 1000 > 2e9 ? 2000000000 : (int)(time_limit_s * 1000));
        int lp_ret = glp_simplex(lp, &sp);
        glp_iocp parm;
        glp_init_iocp(&parm);
        parm.msg_lev = GLP_MSG_OFF;
        parm.presolve = GLP_OFF;
        heur_state hs = {x0, 0};
        parm.cb_func = glpk_cb;
        parm.cb_info = &hs;
        parm.tol_int = 1e-9;
        if (time_limit_s > 0)
            parm.tm_lim = time_limit_s * 1000 < 1 ? 1
                          : (time_limit_s * 1000 > 2e9 ? 2000000000 : (int)(time_limit_s * 1000));
        int ret = lp_ret == 0 && glp_get_status(lp) == GLP_OPT ? glp_intopt(lp, &parm) : GLP_EFAIL;
        int status = glp_mip_status(lp);
        if ((ret == 0 || ret == GLP_ETMLIM) && (status == GLP_OPT || status == GLP_FEAS)) {
            out = status == GLP_OPT ? 1 : 0;
            memcpy(pick, inc_pick, (size_t)nu * sizeof *pick);
            int *count = calloc((size_t)nu, sizeof *count);
            if (!count)
                out = -2;
            for (int c = 1; c <= ncols && count; c++) {
                if (glp_mip_col_val(lp, c) > 0.5) {
                    int item = col_item[c];
                    /* find the unit: items are contiguous per unit */
                    int lo = 0, hi = nu - 1;
                    while (lo < hi) {
                        int mid = (lo + hi + 1) / 2;
                        if (u->units[mid].item0 <= item)
                            lo = mid;
                        else
                            hi = mid - 1;
                    }
                    pick[lo] = item - u->units[lo].item0;
                    count[lo]++;
                }
            }
            for (int i = 0; i < nu && count && out >= 0; i++) {
                const ilp_unit *un = &u->units[i];
                int kept = 0;
                for (int j = 0; j < un->n_front; j++)
                    kept += keep[un->item0 + j];
                if (kept > 1 && count[i] != 1)
                    out = -1;
            }
            free(count);
        }
    }
    free(col_item);
    free(x0);
    glp_delete_prob(lp);
    /* GLPK's environment is per thread and never freed at thread exit: drop
     * it after each solve (re-creating it costs microseconds) so worker
     * threads do not leak it. */
    glp_free_env();
    return out;
}

static double pick_cost(const ilp_units *u, const int *pick, double *w)
{
    double c = 0, ww = 0;
    for (int i = 0; i < u->n_units; i++) {
        const ilp_item *it = &u->items[u->units[i].item0 + pick[i]];
        c += it->c;
        ww += it->w;
    }
    *w = ww;
    return c;
}

/* The exact pick: LP bound and rounding, local search, reductions and DP,
 * then GLPK's branch and bound on what is left. */
static int ilp_pick(const ilp_problem *p, const ilp_units *u, int *pick, ilp_result *r, mx_error *e)
{
    int nu = u->n_units, rc = 0;
    int *mip = malloc((size_t)nu * sizeof *mip);
    if (!mip)
        return err_set(e, ERR_NOMEM, "out of memory");
    /* The cheapest format of every unit: the last of its front. */
    double w_best = 0;
    for (int i = 0; i < nu; i++) {
        pick[i] = u->units[i].n_front - 1;
        w_best += u->items[u->units[i].item0 + pick[i]].w;
    }
    double bound, inc, lambda;
    unsigned char *keep = NULL;
    incr *incs = NULL;
    int n_incs = 0;
    if (ilp_units_fits(u, w_best)) {
        r->optimal = 1;
        r->gap = 0;
    } else if (lp_round(u, pick, &bound, &lambda, &inc, &incs, &n_incs) != 0 ||
               local_search(u, pick, &inc) != 0 ||
               !(keep = malloc((size_t)u->units[nu - 1].item0 + u->units[nu - 1].n_items))) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
    } else if (inc - bound <= 1e-12 * fmax(1, fabs(bound)) ||
               reduce(u, lambda, inc, pick, keep) == 0 ||
               dp_improve(u, keep, pick, &inc) != 0 ||
               reduce(u, lambda, inc, pick, keep) == 0 ||
               reduce_lp(u, incs, n_incs, inc, pick, keep) == 0) {
        r->optimal = 1;
        r->gap = 0;
    } else {
        double cap = u->cap, w;
        int st = -1;
        /* GLPK accepts a solution within its feasibility tolerance; if the
         * rounded answer exceeds the capacity, tighten and solve again. */
        for (int tries = 0; tries < 4; tries++) {
            st = glpk_solve(u, keep, pick, p->time_limit_s, cap, mip);
            if (st == -2) {
                rc = err_set(e, ERR_NOMEM, "out of memory");
                break;
            }
            if (st < 0)
                break;
            pick_cost(u, mip, &w);
            if (ilp_units_fits(u, w))
                break;
            cap -= (w - u->cap) + 1e-9 * fabs(u->cap);
            st = -1;
        }
        if (!rc) {
            double w_mip, c_mip = st >= 0 ? pick_cost(u, mip, &w_mip) : INFINITY;
            /* GLPK proves optimality up to its tolerances; the incumbent
             * may tie it up to rounding: keep whichever is cheaper. */
            if (st >= 0 && c_mip <= inc)
                memcpy(pick, mip, (size_t)nu * sizeof *pick);
            r->optimal = st == 1;
            if (r->optimal) {
                r->gap = 0;
            } else {
                /* GLPK's relative gap, measured against the LP bound. */
                double c_use = fmin(c_mip, inc);
                r->gap = fabs(c_use - bound) / (fabs(c_use) + 1e-300);
            }
            r->bound = bound;
        }
    }
    free(keep);
    free(incs);
    free(mip);
    return rc;
}

int ilp_solve(const ilp_problem *p, int *choice, ilp_result *res, mx_error *e)
{
    return ilp_units_run(p, ilp_pick, choice, res, e);
}

double ilp_min_budget(const ilp_problem *p)
{
    ilp_units u;
    if (ilp_units_build(p, 0, &u, NULL))
        return NAN;
    double b = u.w_min / u.total_params;
    ilp_units_free(&u);
    return b;
}

void ilp_thread_done(void)
{
    glp_free_env();
}
