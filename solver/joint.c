/* Joint (format, keep level) choice reduced to ilp_solve: see joint.h. */
#include "solver/joint.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define JOINT_MAX_FRONT (1 << 16)

/* A partial combination (f = the last member's format, prev = the node of
 * the members before it, 0 = none yet) or, in a unit's front, a candidate
 * (f = keep level, prev = the node of its last member). */
typedef struct jnode {
    double w, c; /* summed params * bits, summed cost */
    int prev, f;
} jnode;

typedef struct jbuf {
    jnode *a;
    size_t n, cap;
} jbuf;

typedef struct jsys {
    int n_units;
    int *members;      /* module indices grouped by unit */
    int *mem0, *cand0; /* [n_units + 1] offsets into members and cands */
    double *uparams;   /* [n_units] summed params */
    jbuf pool, cands;  /* pool[0] is the empty combination */
    double total, w_min;
} jsys;

typedef struct gkey {
    int g, m;
} gkey;

static int gkey_cmp(const void *x, const void *y)
{
    const gkey *a = x, *b = y;
    if (a->g != b->g)
        return a->g < b->g ? -1 : 1;
    return (a->m > b->m) - (a->m < b->m);
}

static int jbuf_push(jbuf *b, jnode x)
{
    if (b->n >= INT_MAX) /* node indices are ints */
        return -1;
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 64;
        jnode *a = realloc(b->a, cap * sizeof *a);
        if (!a)
            return -1;
        b->a = a;
        b->cap = cap;
    }
    b->a[b->n++] = x;
    return 0;
}

/* A total order (origin breaks ties), so the fronts do not depend on qsort. */
static int jnode_cmp(const void *x, const void *y)
{
    const jnode *a = x, *b = y;
    if (a->w != b->w)
        return a->w < b->w ? -1 : 1;
    if (a->c != b->c)
        return a->c < b->c ? -1 : 1;
    if (a->prev != b->prev)
        return a->prev < b->prev ? -1 : 1;
    return (a->f > b->f) - (a->f < b->f);
}

/* Sort and keep the Pareto front: in (w, c) order a pair is undominated iff
 * it is strictly cheaper than all before it (of exact ties the first stays). */
static void prune(jbuf *b)
{
    if (b->n == 0)
        return;
    qsort(b->a, b->n, sizeof *b->a, jnode_cmp);
    size_t n = 0;
    for (size_t i = 0; i < b->n; i++)
        if (n == 0 || b->a[i].c < b->a[n - 1].c)
            b->a[n++] = b->a[i];
    b->n = n;
}

static size_t at(const joint_problem *p, int m, int f, int k)
{
    return ((size_t)m * p->n_formats + f) * p->n_keeps + k;
}

static int ok(const joint_problem *p, size_t i)
{
    return !p->allowed || p->allowed[i];
}

static int validate(const joint_problem *p, mx_error *e)
{
    if (!p || p->n_modules <= 0 || p->n_formats <= 0 || p->n_keeps <= 0 || !p->params || !p->bits ||
        !p->cost)
        return err_set(e, ERR_ARG, "empty joint problem: %d modules, %d formats, %d keep levels",
                       p ? p->n_modules : 0, p ? p->n_formats : 0, p ? p->n_keeps : 0);
    if ((size_t)p->n_formats * (size_t)p->n_keeps > SIZE_MAX / sizeof(double) / (size_t)p->n_modules)
        return err_set(e, ERR_ARG, "joint problem too large");
    double total = 0;
    for (int m = 0; m < p->n_modules; m++) {
        if (!isfinite(p->params[m]) || p->params[m] < 0)
            return err_set(e, ERR_ARG, "module %d: invalid parameter count %g", m, p->params[m]);
        if (p->group && p->group[m] < -1)
            return err_set(e, ERR_ARG, "module %d: invalid group id %d", m, p->group[m]);
        total += p->params[m];
        for (int f = 0; f < p->n_formats; f++)
            for (int k = 0; k < p->n_keeps; k++) {
                size_t i = at(p, m, f, k);
                if (!ok(p, i))
                    continue;
                if (!isfinite(p->bits[i]) || p->bits[i] < 0)
                    return err_set(e, ERR_ARG, "module %d, format %d, keep level %d: invalid bits %g",
                                   m, f, k, p->bits[i]);
                if (!isfinite(p->cost[i]))
                    return err_set(e, ERR_ARG, "module %d, format %d, keep level %d: cost is %g "
                                   "(scores must be finite)", m, f, k, p->cost[i]);
            }
    }
    if (!(total > 0))
        return err_set(e, ERR_ARG, "the modules have no parameters");
    return 0;
}

static void jsys_free(jsys *s)
{
    free(s->members);
    free(s->mem0);
    free(s->cand0);
    free(s->uparams);
    free(s->pool.a);
    free(s->cands.a);
    memset(s, 0, sizeof *s);
}

/* The front of unit u (members mem[0..cnt)) appended to s->cands. */
static int unit_front(const joint_problem *p, jsys *s, const int *mem, int cnt, jbuf *tmp,
                      jbuf *lvl, mx_error *e)
{
    lvl->n = 0;
    for (int k = 0; k < p->n_keeps; k++) {
        size_t lo = 0, hi = 1; /* the previous members' front: the empty combination */
        for (int j = 0; j < cnt && hi > lo; j++) {
            int m = mem[j];
            tmp->n = 0;
            for (size_t i = lo; i < hi; i++)
                for (int f = 0; f < p->n_formats; f++) {
                    size_t x = at(p, m, f, k);
                    if (!ok(p, x))
                        continue;
                    const jnode *q = &s->pool.a[i];
                    if (jbuf_push(tmp, (jnode){q->w + p->params[m] * p->bits[x], q->c + p->cost[x],
                                               (int)i, f}))
                        return err_set(e, ERR_NOMEM, "out of memory building joint candidates");
                }
            prune(tmp);
            if (tmp->n > JOINT_MAX_FRONT)
                return err_set(e, ERR_ARG, "module %d: more than %d undominated candidates for its "
                               "group (%d modules)", m, JOINT_MAX_FRONT, cnt);
            lo = s->pool.n;
            for (size_t i = 0; i < tmp->n; i++)
                if (jbuf_push(&s->pool, tmp->a[i]))
                    return err_set(e, ERR_NOMEM, "out of memory building joint candidates");
            hi = s->pool.n;
        }
        for (size_t i = lo; i < hi; i++) /* empty when some member has nothing at level k */
            if (jbuf_push(lvl, (jnode){s->pool.a[i].w, s->pool.a[i].c, (int)i, k}))
                return err_set(e, ERR_NOMEM, "out of memory building joint candidates");
    }
    if (lvl->n == 0 && cnt == 1)
        return err_set(e, ERR_ARG, "module %d has no allowed (format, keep level)", mem[0]);
    if (lvl->n == 0)
        return err_set(e, ERR_ARG, "group %d (module %d and %d others): no keep level with an "
                       "allowed format for every member", p->group[mem[0]], mem[0], cnt - 1);
    prune(lvl);
    if (lvl->n > JOINT_MAX_FRONT)
        return err_set(e, ERR_ARG, "module %d: more than %d undominated candidates for its group "
                       "(%d modules)", mem[0], JOINT_MAX_FRONT, cnt);
    for (size_t i = 0; i < lvl->n; i++)
        if (jbuf_push(&s->cands, lvl->a[i]))
            return err_set(e, ERR_NOMEM, "out of memory building joint candidates");
    return 0;
}

/* Validated p to units with their fronts; on error *s is left freed. */
static int jsys_build(const joint_problem *p, jsys *s, mx_error *e)
{
    memset(s, 0, sizeof *s);
    int rc = validate(p, e);
    if (rc)
        return rc;
    int n = p->n_modules;
    gkey *keys = malloc((size_t)n * sizeof *keys);
    jbuf tmp = {0}, lvl = {0};
    s->members = malloc((size_t)n * sizeof *s->members);
    s->mem0 = malloc(((size_t)n + 1) * sizeof *s->mem0);
    s->cand0 = malloc(((size_t)n + 1) * sizeof *s->cand0);
    s->uparams = malloc((size_t)n * sizeof *s->uparams);
    if (!keys || !s->members || !s->mem0 || !s->cand0 || !s->uparams ||
        jbuf_push(&s->pool, (jnode){0, 0, -1, -1}))
        rc = err_set(e, ERR_NOMEM, "out of memory building joint candidates");
    /* Ungrouped modules get distinct negative keys, so they stay alone. */
    for (int m = 0; !rc && m < n; m++)
        keys[m] = (gkey){p->group && p->group[m] >= 0 ? p->group[m] : -1 - m, m};
    if (!rc)
        qsort(keys, (size_t)n, sizeof *keys, gkey_cmp);
    for (int i = 0; !rc && i < n; i++)
        s->members[i] = keys[i].m;
    for (int i = 0, j; !rc && i < n; i = j) {
        int u = s->n_units++;
        double up = 0;
        for (j = i; j < n && keys[j].g == keys[i].g; j++)
            up += p->params[keys[j].m];
        s->mem0[u] = i;
        s->cand0[u] = (int)s->cands.n;
        s->uparams[u] = up;
        rc = unit_front(p, s, s->members + i, j - i, &tmp, &lvl, e);
        if (!rc) {
            s->w_min += s->cands.a[s->cand0[u]].w; /* sorted by bits first */
            s->total += up;
        }
    }
    if (!rc) {
        s->mem0[s->n_units] = n;
        s->cand0[s->n_units] = (int)s->cands.n;
    }
    free(keys);
    free(tmp.a);
    free(lvl.a);
    if (rc)
        jsys_free(s);
    return rc;
}

double joint_min_budget(const joint_problem *p)
{
    jsys s;
    if (jsys_build(p, &s, NULL))
        return NAN;
    double b = s.w_min / s.total;
    jsys_free(&s);
    return b;
}

int joint_solve(const joint_problem *p, int *fmt, int *keep, ilp_result *res, mx_error *e)
{
    ilp_result r = {.gap = NAN, .bound = NAN, .min_feasible_budget = NAN, .latency = NAN};
    jsys s;
    int rc = !fmt || !keep ? err_set(e, ERR_ARG, "no output arrays") : jsys_build(p, &s, e);
    if (rc) {
        if (res)
            *res = r;
        return rc;
    }
    int nu = s.n_units, nc = 0;
    for (int u = 0; u < nu; u++)
        if (s.cand0[u + 1] - s.cand0[u] > nc)
            nc = s.cand0[u + 1] - s.cand0[u];
    size_t cells = (size_t)nu * nc;
    double *ub = calloc(cells, sizeof *ub), *uc = calloc(cells, sizeof *uc);
    unsigned char *ua = calloc(cells, 1);
    int *pick = malloc((size_t)nu * sizeof *pick);
    if (!ub || !uc || !ua || !pick) {
        rc = err_set(e, ERR_NOMEM, "out of memory for the joint integer program");
    } else {
        for (int u = 0; u < nu; u++)
            for (int j = 0; j < s.cand0[u + 1] - s.cand0[u]; j++) {
                const jnode *c = &s.cands.a[s.cand0[u] + j];
                size_t x = (size_t)u * nc + j;
                /* a weightless unit costs no bits whatever it picks */
                ub[x] = s.uparams[u] > 0 ? c->w / s.uparams[u] : 0;
                uc[x] = c->c;
                ua[x] = 1;
            }
        ilp_problem q = {.n_modules = nu, .n_formats = nc, .params = s.uparams, .bits = ub,
                         .cost = uc, .allowed = ua, .budget_bits = p->budget_bits,
                         .time_limit_s = p->time_limit_s};
        rc = ilp_solve(&q, pick, &r, e);
    }
    if (!rc) {
        for (int u = 0; u < nu; u++) {
            const jnode *c = &s.cands.a[s.cand0[u] + pick[u]];
            int node = c->prev;
            for (int j = s.mem0[u + 1] - 1; j >= s.mem0[u]; j--) {
                fmt[s.members[j]] = s.pool.a[node].f;
                keep[s.members[j]] = c->f;
                node = s.pool.a[node].prev;
            }
        }
        /* report from the original data, in module order, not the unit sums */
        double w = 0, cost = 0;
        for (int m = 0; m < p->n_modules; m++) {
            size_t x = at(p, m, fmt[m], keep[m]);
            w += p->params[m] * p->bits[x];
            cost += p->cost[x];
        }
        r.objective = cost;
        r.avg_bits = w / s.total;
        r.bytes = w / 8;
        if (r.optimal)
            r.bound = cost;
    }
    if (!rc || rc == ERR_INFEASIBLE)
        r.min_feasible_budget = s.w_min / s.total;
    free(ub);
    free(uc);
    free(ua);
    free(pick);
    jsys_free(&s);
    if (res)
        *res = r;
    return rc;
}
