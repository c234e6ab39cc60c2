/* Reduction of an ilp_problem to units with candidate formats, shared by the
 * exact solver and the greedy baseline. */
#include "solver/ilp_units.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ilp_units_free(ilp_units *u)
{
    free(u->units);
    free(u->members);
    free(u->items);
    memset(u, 0, sizeof *u);
}

typedef struct gkey {
    int g, m;
} gkey;

static int gkey_cmp(const void *a, const void *b)
{
    const gkey *x = a, *y = b;
    if (x->g != y->g)
        return x->g < y->g ? -1 : 1;
    return x->m < y->m ? -1 : x->m > y->m;
}

static int item_cmp(const void *a, const void *b)
{
    const ilp_item *x = a, *y = b;
    if (x->w != y->w)
        return x->w < y->w ? -1 : 1;
    if (x->c != y->c)
        return x->c < y->c ? -1 : 1;
    return x->f < y->f ? -1 : x->f > y->f;
}

static int validate(const ilp_problem *p, int need_budget, mx_error *e)
{
    if (p->n_modules <= 0 || p->n_formats <= 0 || !p->params || !p->bits || !p->cost)
        return err_set(e, ERR_ARG, "empty problem: %d modules, %d formats", p->n_modules, p->n_formats);
    if (need_budget) {
        if (!isfinite(p->budget_bits) || p->budget_bits < 0)
            return err_set(e, ERR_ARG, "invalid budget %g bits per weight", p->budget_bits);
        if (isnan(p->max_bytes) || p->max_bytes == INFINITY)
            return err_set(e, ERR_ARG, "invalid byte limit %g", p->max_bytes);
        if (isnan(p->time_limit_s))
            return err_set(e, ERR_ARG, "invalid time limit");
    }
    int nf = p->n_formats;
    double total = 0;
    for (int m = 0; m < p->n_modules; m++) {
        if (!isfinite(p->params[m]) || p->params[m] < 0)
            return err_set(e, ERR_ARG, "module %d: invalid parameter count %g", m, p->params[m]);
        total += p->params[m];
        int any = 0;
        for (int f = 0; f < nf; f++) {
            if (p->allowed && !p->allowed[(size_t)m * nf + f])
                continue;
            any = 1;
            double b = p->bits[(size_t)m * nf + f], c = p->cost[(size_t)m * nf + f];
            if (!isfinite(b) || b < 0)
                return err_set(e, ERR_ARG, "module %d, format %d: invalid bits per weight %g", m, f, b);
            if (!isfinite(c))
                return err_set(e, ERR_ARG, "module %d, format %d: cost is %g (scores must be finite)",
                               m, f, c);
        }
        if (!any)
            return err_set(e, ERR_INFEASIBLE, "module %d has no allowed format", m);
        if (p->group && p->group[m] < -1)
            return err_set(e, ERR_ARG, "module %d: invalid group id %d", m, p->group[m]);
    }
    if (!(total > 0))
        return err_set(e, ERR_ARG, "the modules have no parameters");
    return 0;
}

int ilp_units_build(const ilp_problem *p, int need_budget, ilp_units *u, mx_error *e)
{
    memset(u, 0, sizeof *u);
    int rc = validate(p, need_budget, e);
    if (rc)
        return rc;
    int n = p->n_modules, nf = p->n_formats;
    gkey *keys = malloc((size_t)n * sizeof *keys);
    u->members = malloc((size_t)n * sizeof *u->members);
    u->units = malloc((size_t)n * sizeof *u->units);
    u->items = malloc((size_t)n * nf * sizeof *u->items);
    unsigned char *ok = malloc((size_t)nf);
    ilp_item *tmp = malloc((size_t)nf * sizeof *tmp);
    if (!keys || !u->members || !u->units || !u->items || !ok || !tmp) {
        free(keys);
        free(ok);
        free(tmp);
        ilp_units_free(u);
        return err_set(e, ERR_NOMEM, "out of memory building the integer program");
    }
    /* Ungrouped modules get distinct negative keys so they stay alone and
     * keep their order; groups sort by id. */
    for (int m = 0; m < n; m++) {
        int g = p->group ? p->group[m] : -1;
        keys[m] = (gkey){g >= 0 ? g : -1 - m, m};
    }
    if (p->group)
        qsort(keys, (size_t)n, sizeof *keys, gkey_cmp);
    int nu = 0, n_items = 0;
    for (int i = 0; i < n;) {
        int j = i;
        while (j < n && keys[j].g == keys[i].g)
            j++;
        ilp_unit *un = &u->units[nu];
        un->member0 = i;
        un->n_members = j - i;
        un->item0 = n_items;
        for (int k = i; k < j; k++)
            u->members[k] = keys[k].m;
        for (int f = 0; f < nf; f++) {
            ok[f] = 1;
            for (int k = i; k < j && ok[f]; k++)
                ok[f] = !p->allowed || p->allowed[(size_t)keys[k].m * nf + f];
        }
        for (int f = 0; f < nf; f++) {
            if (!ok[f])
                continue;
            double w = 0, c = 0;
            for (int k = i; k < j; k++) {
                size_t at = (size_t)keys[k].m * nf + f;
                w += p->params[keys[k].m] * p->bits[at];
                c += p->cost[at];
            }
            u->items[n_items++] = (ilp_item){f, w, c};
        }
        un->n_items = n_items - un->item0;
        if (un->n_items == 0) {
            int m0 = keys[i].m, g = keys[i].g;
            free(keys);
            free(ok);
            free(tmp);
            ilp_units_free(u);
            return err_set(e, ERR_INFEASIBLE, "group %d (module %d and %d others) has no format "
                           "allowed for all its members", g, m0, j - i - 1);
        }
        ilp_item *it = u->items + un->item0;
        qsort(it, (size_t)un->n_items, sizeof *it, item_cmp);
        /* Pareto front first: keep an item only when it is strictly cheaper
         * than every item with fewer or equal bits; the rest go behind. */
        int nfr = 0;
        double best = INFINITY;
        int ntmp = 0;
        for (int k = 0; k < un->n_items; k++) {
            if (it[k].c < best && (nfr == 0 || it[k].w > it[nfr - 1].w)) {
                best = it[k].c;
                it[nfr++] = it[k];
            } else {
                tmp[ntmp++] = it[k];
            }
        }
        memcpy(it + nfr, tmp, (size_t)ntmp * sizeof *tmp);
        un->n_front = nfr;
        u->w_min += it[0].w;
        nu++;
        i = j;
    }
    free(keys);
    free(ok);
    free(tmp);
    u->n_units = nu;
    double total = 0;
    for (int m = 0; m < n; m++)
        total += p->params[m];
    u->total_params = total;
    u->cap = p->budget_bits * total;
    if (p->max_bytes > 0 && 8 * p->max_bytes < u->cap) {
        u->cap = 8 * p->max_bytes;
        u->bytes_binding = 1;
    }
    return 0;
}

double ilp_units_room(const ilp_units *u, double w)
{
    return u->cap + 1e-12 * fabs(u->cap) - w;
}

int ilp_units_fits(const ilp_units *u, double w)
{
    return ilp_units_room(u, w) >= 0;
}

static int units_infeasible(const ilp_problem *p, const ilp_units *u, ilp_result *res, mx_error *e)
{
    double need = u->w_min / u->total_params;
    if (res)
        res->min_feasible_budget = need;
    /* Round the suggestion up so that it is itself feasible. */
    double shown = ceil(need * 1e4 - 1e-6) / 1e4;
    if (!ilp_units_fits(&(ilp_units){.cap = p->budget_bits * u->total_params}, u->w_min))
        return err_set(e, ERR_INFEASIBLE, "budget %g bits is infeasible: the smallest feasible "
                       "budget is %g bits", p->budget_bits, shown);
    return err_set(e, ERR_INFEASIBLE, "size limit %.0f bytes is infeasible: the smallest feasible "
                   "size is %.0f bytes", p->max_bytes, ceil(u->w_min / 8));
}

int ilp_units_prepare(const ilp_problem *p, ilp_units *u, ilp_result *res, mx_error *e)
{
    *res = (ilp_result){.gap = NAN, .bound = NAN, .min_feasible_budget = NAN, .latency = NAN};
    int rc = ilp_units_build(p, 1, u, e);
    if (rc)
        return rc;
    res->min_feasible_budget = u->w_min / u->total_params;
    if (!ilp_units_fits(u, u->w_min)) {
        rc = units_infeasible(p, u, res, e);
        ilp_units_free(u);
    }
    return rc;
}

void ilp_units_start(const ilp_problem *p, const ilp_units *u, const int *start, int *pick)
{
    for (int i = 0; i < u->n_units; i++) {
        const ilp_unit *un = &u->units[i];
        const ilp_item *it = u->items + un->item0;
        pick[i] = -1;
        if (!start)
            continue;
        int f = start[u->members[un->member0]], k = 0;
        for (int j = 1; j < un->n_members; j++)
            if (start[u->members[un->member0 + j]] != f)
                f = -1;
        while (k < un->n_items && it[k].f != f)
            k++;
        if (f < 0 || f >= p->n_formats || k == un->n_items)
            continue;
        /* behind the front: the widest front item no wider is no costlier */
        int j = k < un->n_front ? k : 0;
        for (int t = 0; k >= un->n_front && t < un->n_front; t++)
            if (it[t].w <= it[k].w)
                j = t;
        pick[i] = j;
    }
}

int ilp_units_run(const ilp_problem *p, ilp_pick_fn pick_fn, const int *start, int *choice,
                  ilp_result *res, mx_error *e)
{
    ilp_result r;
    ilp_units u;
    int rc = ilp_units_prepare(p, &u, &r, e);
    if (!rc) {
        int *pick = malloc((size_t)u.n_units * sizeof *pick);
        if (!pick)
            rc = err_set(e, ERR_NOMEM, "out of memory");
        if (!rc)
            ilp_units_start(p, &u, start, pick);
        if (!rc)
            rc = pick_fn(p, &u, pick, &r, e);
        if (!rc) {
            ilp_units_expand(p, &u, pick, choice, &r);
            if (r.optimal)
                r.bound = r.objective;
        }
        free(pick);
        ilp_units_free(&u);
    }
    if (res)
        *res = r;
    return rc;
}

void ilp_units_expand(const ilp_problem *p, const ilp_units *u, const int *unit_item, int *choice,
                      ilp_result *res)
{
    for (int i = 0; i < u->n_units; i++) {
        const ilp_unit *un = &u->units[i];
        int f = u->items[un->item0 + unit_item[i]].f;
        for (int k = 0; k < un->n_members; k++)
            choice[u->members[un->member0 + k]] = f;
    }
    ilp_result_of(p, choice, res);
}

void ilp_result_of(const ilp_problem *p, const int *choice, ilp_result *res)
{
    double w = 0, c = 0, params = 0;
    for (int m = 0; m < p->n_modules; m++) {
        size_t at = (size_t)m * p->n_formats + choice[m];
        w += p->params[m] * p->bits[at];
        c += p->cost[at];
        params += p->params[m];
    }
    res->objective = c;
    res->avg_bits = w / params;
    res->bytes = w / 8;
    res->latency = NAN;
    if (p->latency) {
        double l = 0;
        for (int m = 0; m < p->n_modules; m++)
            l += p->latency[(size_t)m * p->n_formats + choice[m]];
        res->latency = l;
    }
}
