/* The exact solver: reduce, bound with the LP relaxation (solved greedily:
 * exact for a multiple-choice knapsack), fix what the bound rules out, then
 * a dynamic program over the units left open proves the optimum; GLPK's
 * branch and bound only when that program outgrows its memory. */
#include "solver/ilp.h"

#include <glpk.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/clock.h"
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

/* The LP relaxation (Sinha-Zoltners): every unit's lower convex hull as
 * increments, taken most efficient first until one does not fit. base[u]
 * gets the LP's integral part (the fractional unit at its lower item),
 * *bound the LP optimum, *lambda the capacity's dual price; incs and n_incs
 * the sorted increments (the caller frees *incs). The problem must be
 * feasible (w_min fits). */
static int lp_solve(const ilp_units *u, int *base, double *bound, double *lambda, incr **incs,
                    int *n_incs)
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
        base[i] = 0;
        cost += it[0].c;
    }
    free(hull);
    qsort(in, (size_t)k, sizeof *in, incr_cmp);
    double room = u->cap - u->w_min;
    *bound = cost;
    *lambda = 0;
    for (int j = 0; j < k; j++) {
        if (base[in[j].unit] != in[j].from)
            continue;  /* out of its unit's order by rounding: an equal efficiency */
        if (in[j].dw > room) {
            *bound = cost + in[j].dc * (room > 0 ? room / in[j].dw : 0);
            *lambda = in[j].eff;
            break;
        }
        room -= in[j].dw;
        cost += in[j].dc;
        base[in[j].unit] = in[j].to;
    }
    *incs = in;
    *n_incs = k;
    return 0;
}

static double pick_w(const ilp_units *u, const int *pick)
{
    double w = 0;
    for (int i = 0; i < u->n_units; i++)
        w += u->items[u->units[i].item0 + pick[i]].w;
    return w;
}

/* Spend what room a feasible pick leaves: each unit in turn moves to the
 * widest front item that still fits (twice over). */
static void widen(const ilp_units *u, int *pick)
{
    double room = u->cap - pick_w(u, pick);
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < u->n_units; i++) {
            const ilp_unit *un = &u->units[i];
            const ilp_item *it = u->items + un->item0;
            int best = pick[i];
            for (int j = pick[i] + 1; j < un->n_front; j++)
                if (it[j].w - it[pick[i]].w <= room)
                    best = j;
            room -= it[best].w - it[pick[i]].w;
            pick[i] = best;
        }
}

/* Round the LP up to a feasible pick (pick starts as base): the increments
 * after the fractional one that still fit, then widen. */
static void lp_fill(const ilp_units *u, const incr *in, int k, int *pick)
{
    double room = u->cap - pick_w(u, pick);
    for (int j = 0; j < k; j++)
        if (pick[in[j].unit] == in[j].from && in[j].dw <= room) {
            room -= in[j].dw;
            pick[in[j].unit] = in[j].to;
        }
    widen(u, pick);
}

/* A start (ilp_units_start: -1 where it names nothing) made feasible: units
 * without one take their base item, then while over the capacity the unit
 * that frees bits for the least cost per bit moves one front item narrower;
 * under it, widen. No local search: at 882 modules it costs more than the
 * better incumbent saves the exact search. */
static void start_repair(const ilp_units *u, const int *base, int *pick)
{
    for (int i = 0; i < u->n_units; i++)
        if (pick[i] < 0)
            pick[i] = base[i];
    double w = pick_w(u, pick);
    while (!ilp_units_fits(u, w)) {
        int at = -1;
        double best = INFINITY;
        for (int i = 0; i < u->n_units; i++) {
            if (pick[i] == 0)
                continue;
            const ilp_item *it = u->items + u->units[i].item0 + pick[i];
            double r = (it[-1].c - it[0].c) / (it[0].w - it[-1].w);
            if (r < best)
                best = r, at = i;
        }
        if (at < 0)
            break;  /* cannot happen: w_min fits */
        const ilp_item *it = u->items + u->units[at].item0 + pick[at];
        w -= it[0].w - it[-1].w;
        pick[at]--;
    }
    widen(u, pick);
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
/* min_j (c_j + lambda w_j) over a unit's front items */
static double unit_min(const ilp_unit *un, const ilp_item *it, double lambda)
{
    double mn = INFINITY;
    for (int j = 0; j < un->n_front; j++)
        mn = fmin(mn, it[j].c + lambda * it[j].w);
    return mn;
}

static int reduce(const ilp_units *u, double lambda, double inc, const int *pick,
                  unsigned char *keep)
{
    double L = -lambda * u->cap, scale = fabs(inc) + lambda * fabs(u->cap) + 1;
    for (int i = 0; i < u->n_units; i++)
        L += unit_min(&u->units[i], u->items + u->units[i].item0, lambda);
    int open = 0;
    for (int i = 0; i < u->n_units; i++) {
        const ilp_unit *un = &u->units[i];
        const ilp_item *it = u->items + un->item0;
        double mn = unit_min(un, it, lambda);
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

/* ---- the exact search: a dynamic program over the open units ---- */

/* Over all stages; beyond this many states GLPK takes over (16 MiB).
 * tests/test_ilp_glpk builds with a tiny cap to check that path. */
#ifndef DP_MAX_STATES
#define DP_MAX_STATES (1 << 21)
#endif

/* A move along one unit's hull away from its base item: w bits (> 0) more
 * (up) or fewer (down), for c more cost; eff = c / w. */
typedef struct seg {
    double w, c, eff;
    int unit;
} seg;

static int seg_cmp(const void *a, const void *b)
{
    const seg *x = a, *y = b;
    if (x->eff != y->eff)
        return x->eff < y->eff ? -1 : 1;
    return x->unit < y->unit ? -1 : x->unit > y->unit;
}

/* The hull of unit i's kept items from its base b towards wider (dir 1) or
 * narrower (dir -1) items, appended to out; h is scratch of n_front ints. */
static int hull_segs(const ilp_units *u, const unsigned char *keep, int i, int b, int dir, int *h,
                     seg *out)
{
    const ilp_unit *un = &u->units[i];
    const ilp_item *it = u->items + un->item0;
    int nh = 0, n = 0;
    h[nh++] = b;
    for (int j = b + dir; j >= 0 && j < un->n_front; j += dir) {
        if (!keep[un->item0 + j])
            continue;
        while (nh >= 2) {
            const ilp_item *a = &it[h[nh - 2]], *m = &it[h[nh - 1]];
            /* m on or above the chord a..j (the sign flips with the direction) */
            double cross = (m->c - a->c) * (it[j].w - a->w) - (it[j].c - a->c) * (m->w - a->w);
            if (dir * cross >= 0)
                nh--;
            else
                break;
        }
        h[nh++] = j;
    }
    for (int t = 0; t + 1 < nh; t++) {
        double w = dir * (it[h[t + 1]].w - it[h[t]].w), dc = it[h[t + 1]].c - it[h[t]].c;
        out[n++] = (seg){w, dc, dc / w, i};
    }
    return n;
}

/* The LP of the units the search has not reached yet, as a function of the
 * room the others leave (< 0: bits these must free): prefix sums over their
 * hull moves, best first. For room >= 0 only wider moves pay (their eff is
 * at most the dual price, every narrower move's at least), else only
 * narrower ones. */
typedef struct lp_rest {
    int n_up, n_down;
    seg *up, *down;             /* the unreached units' moves, in order */
    double *uw, *uc, *dw, *dc;  /* prefix sums [n + 1] */
} lp_rest;

/* The moves of units not reached, in order, with prefix sums of bits and cost. */
static int lp_rest_side(const seg *in, int n, const unsigned char *reached, seg *out, double *pw,
                        double *pc)
{
    int k = 0;
    pw[0] = pc[0] = 0;
    for (int t = 0; t < n; t++)
        if (!reached[in[t].unit]) {
            out[k] = in[t];
            pw[k + 1] = pw[k] + in[t].w;
            pc[k + 1] = pc[k] + in[t].c;
            k++;
        }
    return k;
}

static void lp_rest_build(lp_rest *r, const seg *up, int n_up, const seg *down, int n_down,
                          const unsigned char *reached)
{
    r->n_up = lp_rest_side(up, n_up, reached, r->up, r->uw, r->uc);
    r->n_down = lp_rest_side(down, n_down, reached, r->down, r->dw, r->dc);
}

/* The LP's cost change at this room; INFINITY when the bits cannot be freed. */
static double lp_rest_at(const lp_rest *r, double room)
{
    int up = room >= 0, n = up ? r->n_up : r->n_down;
    const double *pw = up ? r->uw : r->dw, *pc = up ? r->uc : r->dc;
    const seg *s = up ? r->up : r->down;
    double need = up ? room : -room;
    if (!up && need > pw[n])
        return INFINITY;
    int lo = 0, hi = n;  /* the last prefix that fits: pw[lo] <= need */
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (pw[mid] <= need)
            lo = mid;
        else
            hi = mid - 1;
    }
    double c = pc[lo];
    if (lo < n)
        c += s[lo].c * (need - pw[lo]) / s[lo].w;
    return c;
}

typedef struct dp_step {
    int par, item;  /* the state of the previous stage it extends, the item it adds */
} dp_step;

typedef struct dp_state {
    double w, c;    /* bits and cost over the base */
    int par, item;  /* as dp_step */
} dp_state;

typedef struct dp_list {
    dp_state *s;    /* w ascending, c strictly descending */
    int n, cap;
} dp_list;

static int dp_list_grow(dp_list *l)
{
    int cap = l->cap ? 2 * l->cap : 1024;
    dp_state *s = realloc(l->s, (size_t)cap * sizeof *s);
    if (!s)
        return ERR_NOMEM;
    l->s = s;
    l->cap = cap;
    return 0;
}

typedef struct dp_out {
    int status;     /* 1 proven optimal, 0 out of time, 2 too many states */
    double lb;      /* on status 0: a lower bound on the objective */
} dp_out;

/* The open units (more than one kept item) one at a time, each stage the
 * Pareto set of (bits, cost) of the reached units' choices, the rest at
 * base. A state is dropped when dominated, when it cannot be made feasible,
 * or when its cost plus the LP of the unreached units cannot beat the
 * incumbent: what survives the last stage holds every better solution, so
 * its best feasible state is the optimum (the incumbent's own state always
 * survives, whatever incumbent it started from). pick and inc: the incumbent in,
 * the best found out. deadline 0: none. */
static int dp_search(const ilp_units *u, const unsigned char *keep, const int *base,
                     double deadline, int *pick, double *inc, dp_out *out)
{
    int nu = u->n_units, n_seg = 0, n_open = 0, max_front = 1;
    double base_w = 0, base_c = 0, scale = 0;
    for (int i = 0; i < nu; i++) {
        const ilp_unit *un = &u->units[i];
        const ilp_item *it = u->items + un->item0;
        base_w += it[base[i]].w;
        base_c += it[base[i]].c;
        scale += fmax(fabs(it[0].c), fabs(it[un->n_front - 1].c));
        max_front = un->n_front > max_front ? un->n_front : max_front;
        n_seg += un->n_front;
    }
    /* fathoming slack: rounding in sums of costs, never a real difference */
    double tol = 1e-10 * scale;
    int *open = malloc((size_t)nu * sizeof *open), *h = malloc(2 * (size_t)max_front * sizeof *h);
    double *dw = malloc(2 * (size_t)max_front * sizeof *dw);
    unsigned char *reached = calloc((size_t)nu, 1);
    seg *segs = malloc(4 * (size_t)n_seg * sizeof *segs);
    double *sums = malloc(4 * ((size_t)n_seg + 1) * sizeof *sums);
    int *stage0 = malloc(((size_t)nu + 2) * sizeof *stage0);
    dp_step *hist = NULL;
    dp_list cur = {0}, nx = {0};
    int rc = !open || !h || !dw || !reached || !segs || !sums || !stage0 || dp_list_grow(&cur) ||
             dp_list_grow(&nx) ? ERR_NOMEM : 0;
    int n_up = 0, n_down = 0;
    seg *up = segs, *down = segs + n_seg;
    for (int i = 0; !rc && i < nu; i++) {
        const ilp_unit *un = &u->units[i];
        int kept = 0;
        for (int j = 0; j < un->n_front; j++)
            kept += keep[un->item0 + j];
        if (kept < 2 && keep[un->item0 + base[i]])
            continue;  /* fixed at base (a lone kept item other than base is searched) */
        open[n_open++] = i;
        n_up += hull_segs(u, keep, i, base[i], 1, h, up + n_up);
        n_down += hull_segs(u, keep, i, base[i], -1, h, down + n_down);
    }
    lp_rest rest = {.up = segs + 2 * n_seg, .down = segs + 3 * n_seg, .uw = sums, .uc = sums + n_seg + 1,
                    .dw = sums + 2 * (n_seg + 1), .dc = sums + 3 * (n_seg + 1)};
    if (!rc) {
        qsort(up, (size_t)n_up, sizeof *up, seg_cmp);
        qsort(down, (size_t)n_down, sizeof *down, seg_cmp);
    }
    int used = 1, hist_cap = 0, best_at = -1;  /* states, at most DP_MAX_STATES */
    double best = *inc - base_c, lb = -INFINITY;  /* over the base */
    out->status = 1;
    if (!rc) {
        /* stage 0: everything at base */
        cur.n = 1;
        cur.s[0] = (dp_state){0, 0, -1, -1};
        stage0[0] = 0;
        stage0[1] = 1;
        hist_cap = 1;
        hist = malloc(sizeof *hist);
        rc = hist ? 0 : ERR_NOMEM;
        if (hist)
            hist[0] = (dp_step){-1, -1};
    }
    for (int s = 0; !rc && s < n_open; s++) {
        int i = open[s];
        reached[i] = 1;
        lp_rest_build(&rest, up, n_up, down, n_down, reached);
        const ilp_unit *un = &u->units[i];
        const ilp_item *it = u->items + un->item0;
        /* kept items of unit i, their bits and cost over base, merge heads */
        int nj = 0, *js = h, *pos = h + max_front;
        double *dc = dw + max_front;
        for (int j = 0; j < un->n_front; j++)
            if (keep[un->item0 + j]) {
                dw[nj] = it[j].w - it[base[i]].w;
                dc[nj] = it[j].c - it[base[i]].c;
                pos[nj] = 0;
                js[nj++] = j;
            }
        /* merge the shifted copies of cur by bits; keep the Pareto set */
        double run_c = INFINITY, stage_lb = INFINITY, limit = best;
        nx.n = 0;
        for (;;) {
            int bt = -1;
            double bw = INFINITY, bc = INFINITY;
            for (int t = 0; t < nj; t++) {
                if (pos[t] >= cur.n)
                    continue;
                double w = cur.s[pos[t]].w + dw[t], c = cur.s[pos[t]].c + dc[t];
                if (w < bw || (w == bw && c < bc))
                    bw = w, bc = c, bt = t;
            }
            if (bt < 0)
                break;
            int from = pos[bt]++;
            if (bc >= run_c)
                continue;  /* dominated */
            run_c = bc;
            double room = ilp_units_room(u, base_w + bw);
            double lp = lp_rest_at(&rest, room);
            if (lp == INFINITY)
                break;  /* neither this nor any wider state can be made feasible */
            if (bc + lp > limit + tol)
                continue;  /* what it dominates is no better */
            if (room >= 0 && bc < limit)
                limit = bc;  /* a solution: the rest at base */
            if (nx.n == nx.cap && dp_list_grow(&nx)) {
                rc = ERR_NOMEM;
                break;
            }
            nx.s[nx.n++] = (dp_state){bw, bc, from, js[bt]};
            stage_lb = fmin(stage_lb, bc + lp);
            if (deadline > 0 && (nx.n & 0xffff) == 0 && clock_now_s() > deadline)
                break;
        }
        if (rc)
            break;
        if (used + nx.n > DP_MAX_STATES) {
            out->status = 2;
            break;
        }
        if (deadline > 0 && clock_now_s() > deadline) {
            out->status = 0;
            break;
        }
        if (used + nx.n > hist_cap) {
            int cap = 2 * (used + nx.n) < DP_MAX_STATES ? 2 * (used + nx.n) : DP_MAX_STATES;
            dp_step *t = realloc(hist, (size_t)cap * sizeof *t);
            if (!t) {
                rc = ERR_NOMEM;
                break;
            }
            hist = t;
            hist_cap = cap;
        }
        /* commit the stage; its last feasible state is its cheapest */
        int feasible = -1;
        for (int t = 0; t < nx.n; t++) {
            hist[used + t] = (dp_step){nx.s[t].par, nx.s[t].item};
            if (ilp_units_room(u, base_w + nx.s[t].w) >= 0)
                feasible = used + t;
        }
        if (feasible >= 0 && (s == n_open - 1 || nx.s[feasible - used].c < best)) {
            best = nx.s[feasible - used].c;
            best_at = feasible;
        }
        stage0[s + 2] = stage0[s + 1] + nx.n;
        used += nx.n;
        lb = stage_lb;
        dp_list t = cur;
        cur = nx;
        nx = t;
    }
    if (!rc && best_at >= 0) {
        /* walk back from the best state to stage 0 */
        int s = 0;
        while (stage0[s + 2] <= best_at)
            s++;
        for (int i = 0; i < nu; i++)
            pick[i] = base[i];
        for (int at = best_at; s >= 0; s--) {
            pick[open[s]] = hist[at].item;
            at = stage0[s] + hist[at].par;
        }
        *inc = base_c + best;
    }
    out->lb = base_c + fmin(best, lb);
    free(open);
    free(h);
    free(dw);
    free(reached);
    free(segs);
    free(sums);
    free(stage0);
    free(hist);
    free(cur.s);
    free(nx.s);
    return rc;
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

/* GLPK's branch and bound on the reduced problem, for a search too large to
 * keep (dp_search's status 2): pick holds the incumbent (cost *inc) and gets
 * GLPK's answer when cheaper. Returns 1 proven, 0 not, or ERR_NOMEM. */
static int glpk_finish(const ilp_units *u, const unsigned char *keep, double time_limit_s,
                       int *pick, double *inc)
{
    int nu = u->n_units;
    int *mip = malloc((size_t)nu * sizeof *mip);
    if (!mip)
        return ERR_NOMEM;
    ilp_glpk_in in = {.keep = keep, .start = pick, .lcap = INFINITY, .time_limit_s = time_limit_s};
    double w;
    int st = ilp_glpk_pick(u, &in, mip);
    /* GLPK proves optimality up to its tolerances; the incumbent may tie it
     * up to rounding: keep whichever is cheaper. */
    double c_mip = st >= 0 ? pick_cost(u, mip, &w) : INFINITY;
    if (c_mip <= *inc) {
        memcpy(pick, mip, (size_t)nu * sizeof *pick);
        *inc = c_mip;
    }
    free(mip);
    return st == -2 ? ERR_NOMEM : st == 1;
}

/* The exact pick: the LP bound; an incumbent from the rounded LP and from
 * the start (the caller's previous answer, repaired), each improved by local
 * search; reduced-cost fixing; then the exact search over what is left. */
static int ilp_pick(const ilp_problem *p, const ilp_units *u, int *pick, ilp_result *r, mx_error *e)
{
    double t0 = clock_now_s(), deadline = p->time_limit_s > 0 ? t0 + p->time_limit_s : 0;
    int nu = u->n_units, rc = 0, has_start = 0;
    /* The cheapest format of every unit (the last of its front) may fit. */
    double w_best = 0;
    for (int i = 0; i < nu; i++) {
        w_best += u->items[u->units[i].item0 + u->units[i].n_front - 1].w;
        has_start |= pick[i] >= 0;
    }
    r->optimal = 1;
    r->gap = 0;
    if (ilp_units_fits(u, w_best)) {
        for (int i = 0; i < nu; i++)
            pick[i] = u->units[i].n_front - 1;
        return 0;
    }
    int *base = malloc((size_t)nu * sizeof *base), *cand = malloc((size_t)nu * sizeof *cand);
    unsigned char *keep = malloc((size_t)u->units[nu - 1].item0 + u->units[nu - 1].n_items);
    incr *incs = NULL;
    int n_incs = 0;
    double bound, lambda, inc, inc_start = INFINITY;
    if (!base || !cand || !keep || lp_solve(u, base, &bound, &lambda, &incs, &n_incs))
        rc = ERR_NOMEM;
    if (!rc) {
        memcpy(cand, base, (size_t)nu * sizeof *cand);
        lp_fill(u, incs, n_incs, cand);
        rc = local_search(u, cand, &inc);
    }
    if (!rc && has_start) {
        double w;
        start_repair(u, base, pick);
        inc_start = pick_cost(u, pick, &w);
    }
    if (!rc && !(inc_start < inc))
        memcpy(pick, cand, (size_t)nu * sizeof *pick);
    inc = fmin(inc, inc_start);
    if (rc || inc <= bound || reduce(u, lambda, inc, pick, keep) == 0 ||
        reduce_lp(u, incs, n_incs, inc, pick, keep) == 0) {
        /* proven: nothing else can beat the incumbent */
    } else {
        dp_out o;
        double inc_dp = inc, w;
        memcpy(cand, pick, (size_t)nu * sizeof *cand);
        rc = dp_search(u, keep, base, deadline, pick, &inc_dp, &o);
        /* the search's sums and a fresh one may differ by rounding */
        if (!rc && (pick_cost(u, pick, &w) > inc || !ilp_units_fits(u, w)))
            memcpy(pick, cand, (size_t)nu * sizeof *pick);
        inc = pick_cost(u, pick, &w);
        if (!rc && o.status == 2) {
            double left = deadline > 0 ? deadline - clock_now_s() : 0;
            o.status = deadline > 0 && left <= 0 ? 0 : glpk_finish(u, keep, left, pick, &inc);
            if (o.status < 0)
                rc = o.status;
            o.lb = -INFINITY;
        }
        if (!rc && o.status != 1) {
            r->optimal = 0;
            r->bound = fmax(bound, o.lb);
            r->gap = fabs(inc - r->bound) / (fabs(inc) + 1e-300);
        }
    }
    free(base);
    free(cand);
    free(keep);
    free(incs);
    return rc ? err_set(e, rc, "out of memory") : 0;
}

int ilp_solve_from(const ilp_problem *p, const int *start, int *choice, ilp_result *res,
                   mx_error *e)
{
    if (p->latency && p->max_latency > 0)
        return ilp_units_run(p, ilp_lat_pick, start, choice, res, e);
    return ilp_units_run(p, ilp_pick, start, choice, res, e);
}

int ilp_solve(const ilp_problem *p, int *choice, ilp_result *res, mx_error *e)
{
    return ilp_solve_from(p, NULL, choice, res, e);
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

double ilp_min_latency(const ilp_problem *p)
{
    ilp_units u;
    if (!p->latency || ilp_units_build(p, 0, &u, NULL))
        return NAN;
    double l = 0;
    for (int i = 0; i < u.n_units; i++) {
        double best = INFINITY;
        for (int j = 0; j < u.units[i].n_items; j++)
            best = fmin(best, ilp_units_latency(p, &u, i, u.items[u.units[i].item0 + j].f));
        l += best;
    }
    ilp_units_free(&u);
    return l;
}

void ilp_thread_done(void)
{
    glp_free_env();
}
