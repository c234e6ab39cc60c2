/* The differentiable search's step loop: initial parameters, Adam over
 * seeded shuffles of the calibration windows with the temperature schedule
 * and the budget penalty, then the discretisation (argmax, integer program,
 * fill); search_run also calls the refinement (search_refine.c). */
#include "solver/search.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "solver/dmx.h"
#include "solver/gamma.h"
#include "solver/ilp.h"
#include "solver/search_internal.h"

static uint64_t splitmix(uint64_t *st)
{
    uint64_t z = (*st += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Continuous index where the params-weighted average bits of the (sorted)
 * formats equals the budget, interpolating linearly. */
static double budget_position(const search_state *s)
{
    double B = s->d.budget;
    if (B <= search_format_avg_bits(s, 0))
        return 0.0;
    for (int k = 0; k + 1 < s->K; k++) {
        double a = search_format_avg_bits(s, k), b = search_format_avg_bits(s, k + 1);
        if (B >= a && B <= b && b > a)
            return k + (B - a) / (b - a);
    }
    return s->K - 1;
}

static int argmax_row(const double *p, int k)
{
    int best = 0;
    for (int i = 1; i < k; i++)
        if (p[i] > p[best])
            best = i;
    return best;
}

/* Joint mode's start: a bump in BITS around the budget, -(b_k - B)^2 / 4
 * (b_k the candidate's params-weighted average bits). The index bump below
 * suits the format list, whose neighbours sit ~2 bits apart; over the
 * (format, level) pairs, 20-30 candidates with neighbours a fraction of a
 * bit apart, it left every candidate a few positions away out of reach
 * (alpha -10 .. -700): on stories260K at 3 bits it stayed on the level the
 * budget position sat on (held-out ppl 69 vs 31 with this start). */
static double joint_init(const search_state *s, int k)
{
    double db = search_format_avg_bits(s, k) - s->d.budget;
    return -db * db / 4.0;
}

static int init_params(search_state *s, mx_error *e)
{
    int M = s->M, K = s->K;
    double pos = budget_position(s);
    int *choice = NULL;
    if (s->o.init_cost) {
        double *cost = malloc((size_t)M * K * sizeof *cost);
        choice = malloc((size_t)M * sizeof *choice);
        if (!cost || !choice) {
            free(cost);
            free(choice);
            return err_set(e, ERR_NOMEM, "search: out of memory");
        }
        for (int m = 0; m < M; m++)
            for (int k = 0; k < K; k++)
                cost[(size_t)m * K + k] = s->o.init_cost[(size_t)m * K + s->data_index[k]];
        ilp_problem P = {M, K, s->params, s->bits, cost, NULL, NULL, s->d.budget, 0, 0, NULL, 0};
        ilp_result res;
        int rc = ilp_solve(&P, choice, &res, e);
        free(cost);
        if (rc) {
            free(choice);
            return rc;
        }
    }
    if (s->d.prune && s->o.method == SEARCH_DMX) {
        search_joint_dmx_init(s);
        return 0;
    }
    for (int m = 0; m < M; m++) {
        double c = choice ? choice[m] : pos;
        if (s->o.method == SEARCH_DMX)
            s->param[m] = c;
        else
            for (int k = 0; k < K; k++)
                /* joint mode's left-out repeats: p = 0 (and so zero gradient) for good */
                s->param[(size_t)m * K + k] = s->off && s->off[(size_t)m * K + k] ? -1e30
                                              : s->off ? joint_init(s, k)
                                                       : -(k - c) * (k - c);
    }
    free(choice);
    return 0;
}

void search_result_free(search_result *r)
{
    free(r->assign);
    free(r->choice);
    free(r->param);
    free(r->score);
    free(r->level);
    free(r->cand_format);
    free(r->cand_level);
    free(r->disabled);
    memset(r, 0, sizeof *r);
}

/* argmax of the relaxation, then the ILP with the learned preferences as
 * costs (it returns the argmax itself whenever that fits the budget). */
/* The budget the rounding left: upgrades to more bits of least cost increase
 * first, while they fit. In joint mode (s->off set) only to a candidate that
 * is not a repeat and at the module's own level, so the group coupling holds. */
int search_fill(const search_state *s, const double *cost, int *choice)
{
    int M = s->M, K = s->K, filled = 0;
    double used = 0.0, cap = s->d.budget * s->ptot;
    for (int m = 0; m < M; m++)
        used += s->params[m] * s->bits[(size_t)m * K + choice[m]];
    for (;;) {
        int bm = -1, bk = -1;
        double bd = INFINITY;
        for (int m = 0; m < M; m++) {
            size_t i0 = (size_t)m * K + choice[m];
            for (int k = 0; k < K; k++) {
                size_t i = (size_t)m * K + k;
                double extra = s->params[m] * (s->bits[i] - s->bits[i0]);
                if ((s->off && (s->off[i] || s->clev[k] != s->clev[choice[m]])) || s->bits[i] <= s->bits[i0] ||
                    used + extra > cap * (1 + 1e-12))
                    continue;
                if (cost[i] - cost[i0] < bd) {
                    bd = cost[i] - cost[i0];
                    bm = m;
                    bk = k;
                }
            }
        }
        if (bm < 0)
            return filled;
        used += s->params[bm] * (s->bits[(size_t)bm * K + bk] - s->bits[(size_t)bm * K + choice[bm]]);
        choice[bm] = bk;
        filled++;
    }
}

static int finalize(search_state *s, search_result *r, mx_error *e)
{
    int M = s->M, K = s->K;
    double *cost = malloc((size_t)M * K * sizeof *cost);
    double *pr = malloc((size_t)K * sizeof *pr);
    int *am = malloc((size_t)M * sizeof *am);
    if (!cost || !pr || !am) {
        free(cost);
        free(pr);
        free(am);
        return err_set(e, ERR_NOMEM, "search: out of memory");
    }
    for (int m = 0; m < M; m++) {
        if (s->o.method == SEARCH_DMX) {
            for (int k = 0; k < K; k++)
                cost[(size_t)m * K + k] = (s->param[m] - k) * (s->param[m] - k);
        } else {
            gamma_probs(s->param + (size_t)m * K, 1.0, K, pr);
            for (int k = 0; k < K; k++)
                cost[(size_t)m * K + k] = -log(pr[k] > 1e-300 ? pr[k] : 1e-300);
        }
        int best = 0;
        for (int k = 1; k < K; k++)
            if (cost[(size_t)m * K + k] < cost[(size_t)m * K + best])
                best = k;
        am[m] = best;
    }
    ilp_problem P = {M, K, s->params, s->bits, cost, NULL, NULL, s->d.budget, 0, 0, NULL, 0};
    ilp_result res;
    int rc = ilp_solve(&P, r->choice, &res, e);
    free(pr);
    if (rc) {
        free(cost);
        free(am);
        return rc;
    }
    /* Fill: rounding usually leaves part of the budget unused; spend it on
     * the upgrades the learned preferences object to least (lowest cost
     * increase to a format with more bits), one at a time, while they fit. */
    r->filled = search_fill(s, cost, r->choice);
    free(cost);
    double b = 0.0;
    r->repaired = 0;
    for (int m = 0; m < M; m++) {
        r->assign[m] = s->fmt[r->choice[m]];
        b += s->params[m] * s->bits[(size_t)m * K + r->choice[m]];
        r->repaired |= r->choice[m] < am[m]; /* moved down to fit */
    }
    r->avg_bits = b / s->ptot;
    free(am);
    return 0;
}

int search_run_as(const search_data *d, const search_opts *o, search_method m, search_result *r,
                  mx_error *e)
{
    search_opts oo;
    if (o)
        oo = *o;
    else
        search_opts_init(&oo, m);
    oo.method = m;
    return search_run(d, &oo, r, e);
}

int search_run(const search_data *d, const search_opts *o, search_result *r, mx_error *e)
{
    memset(r, 0, sizeof *r);
    search_state *s;
    int rc = search_state_create(d, o, &s, e);
    if (rc)
        return rc;
    int M = s->M, K = s->K, np = s->np, S = o->steps;
    double minb = search_format_avg_bits(s, 0);
    if (d->budget < minb - 1e-9) {
        if (d->prune)
            err_set(e, ERR_INFEASIBLE, "budget %.4g bits is below the smallest reachable %.4g (all %s, keep %g)",
                    d->budget, minb, mx_format_name(s->fmt[0]), s->ckeep[0]);
        else
            err_set(e, ERR_INFEASIBLE, "budget %.4g bits is below the smallest reachable %.4g (all %s)",
                    d->budget, minb, mx_format_name(s->fmt[0]));
        search_state_free(s);
        return ERR_INFEASIBLE;
    }
    double *grad = calloc((size_t)np, sizeof *grad), *am1 = calloc((size_t)np, sizeof *am1),
           *am2 = calloc((size_t)np, sizeof *am2);
    double *sacc = o->method == SEARCH_GAMMA ? calloc((size_t)M, sizeof *sacc) : NULL;
    long *order = malloc((size_t)d->n_windows * sizeof *order);
    int *amax = malloc((size_t)M * sizeof *amax);
    r->assign = malloc((size_t)M * sizeof *r->assign);
    r->choice = malloc((size_t)M * sizeof *r->choice);
    r->param = malloc((size_t)np * sizeof *r->param);
    if (!grad || !am1 || !am2 || (o->method == SEARCH_GAMMA && !sacc) || !order || !amax ||
        !r->assign || !r->choice || !r->param) {
        rc = err_set(e, ERR_NOMEM, "search: out of memory");
        goto out;
    }
    if ((rc = init_params(s, e)))
        goto out;

    uint64_t rng = o->seed ^ 0x6D786D61ull;
    double mu = 0.0, rho = o->method == SEARCH_DMX ? o->lambda : o->rho, prev_c = INFINITY;
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    double b1t = 1.0, b2t = 1.0, c = 0.0, task = 0.0;
    long nacc = 0;
    int step;
    for (step = 0; step < S; step++) {
        long pos = step % d->n_windows;
        if (pos == 0) { /* a fresh seeded shuffle every epoch */
            for (long i = 0; i < d->n_windows; i++)
                order[i] = i;
            for (long i = d->n_windows - 1; i > 0; i--) {
                long j = (long)(splitmix(&rng) % (uint64_t)(i + 1));
                long tmp = order[i];
                order[i] = order[j];
                order[j] = tmp;
            }
        }
        double T = S > 1 ? o->t0 * pow(o->tmin / o->t0, (double)step / (S - 1)) : o->tmin;
        search_state_set(s, T, mu, rho);
        double reg, E;
        if ((rc = search_state_loss_grad(s, order[pos], &task, &reg, &E, grad, e)))
            goto out;
        /* A non-finite value anywhere ends the search with an error: an
         * assignment trained on NaN is no result. */
        int finite = isfinite(task) && isfinite(reg) && isfinite(E);
        for (int i = 0; i < np && finite; i++)
            finite = isfinite(grad[i]);
        if (!finite) {
            rc = err_set(e, ERR_INTERNAL, "search: non-finite loss or gradient at step %d "
                         "(lower --lr, --lambda or --rho)", step + 1);
            goto out;
        }
        c = E - d->budget;
        if (sacc) { /* scores: mean over the second half (restart at the midpoint) */
            if (step == S / 2 && nacc > 0) {
                memset(sacc, 0, (size_t)M * sizeof *sacc);
                nacc = 0;
            }
            for (int m = 0; m < M; m++)
                sacc[m] += s->curv[m];
            nacc++;
        }
        /* Adam */
        b1t *= b1;
        b2t *= b2;
        for (int i = 0; i < np; i++) {
            am1[i] = b1 * am1[i] + (1 - b1) * grad[i];
            am2[i] = b2 * am2[i] + (1 - b2) * grad[i] * grad[i];
            double mh = am1[i] / (1 - b1t), vh = am2[i] / (1 - b2t);
            s->param[i] -= o->lr * mh / (sqrt(vh) + eps);
        }
        for (int i = 0; i < np; i++)
            if (!isfinite(s->param[i])) {
                rc = err_set(e, ERR_INTERNAL, "search: non-finite parameter at step %d "
                             "(lower --lr)", step + 1);
                goto out;
            }
        if (o->method == SEARCH_DMX && d->prune)
            search_joint_dmx_clamp(s);
        else if (o->method == SEARCH_DMX)
            for (int m = 0; m < M; m++) /* keep theta on the format axis */
                s->param[m] = fmin(fmax(s->param[m], -0.5), K - 0.5);
        if (o->method == SEARCH_GAMMA && (step + 1) % o->mu_every == 0) {
            mu += rho * c;
            /* grow the penalty only while the constraint is still visibly off */
            if (fabs(c) > 0.5 * prev_c && fabs(c) > 0.01)
                rho = fmin(2.0 * rho, 1e4);
            prev_c = fabs(c);
        }
        /* the event: argmax of the mixture after this step's update */
        search_all_probs(s);
        double ab = 0.0;
        for (int m = 0; m < M; m++) {
            amax[m] = argmax_row(s->p + (size_t)m * K, K);
            if (s->off && s->off[(size_t)m * K + amax[m]]) /* joint dMX: a repeat shows as its representative */
                amax[m] = s->rep[(size_t)m * K + amax[m]];
            ab += s->params[m] * s->bits[(size_t)m * K + amax[m]];
        }
        if (o->on_event) {
            search_event ev = {o->method, step + 1, S, T, mu, rho, task, reg, E, ab / s->ptot,
                               M, K, s->fmt, amax, order[pos], 0, 0, NULL};
            ev.keep = d->prune ? s->ckeep : NULL;
            if (o->on_event(o->user, &ev)) {
                r->cancelled = 1;
                step++;
                break;
            }
        }
    }
    r->steps_done = step;
    r->n_modules = M;
    if (d->prune) { /* d's formats as given; the candidates are listed apart */
        r->n_formats = d->n_formats;
        for (int k = 0; k < d->n_formats; k++)
            r->formats[k] = d->formats[k];
    } else {
        r->n_formats = K;
        for (int k = 0; k < K; k++)
            r->formats[k] = s->fmt[k];
    }
    r->budget = d->budget;
    r->task_loss = task;
    r->mu = mu;
    r->rho = rho;
    search_all_probs(s);
    r->exp_bits = search_expected_bits(s);
    memcpy(r->param, s->param, (size_t)np * sizeof *r->param);
    r->n_param = np;
    if (sacc && nacc > 0 && !d->prune && (r->score = malloc((size_t)M * K * sizeof *r->score))) {
        for (int m = 0; m < M; m++) {
            double cm = fmax(sacc[m] / (double)nacc, 0.0);
            for (int k = 0; k < K; k++)
                r->score[(size_t)m * K + k] = 0.5 * cm * s->err2[(size_t)m * K + k];
        }
    }
    rc = d->prune ? search_joint_finalize(s, r, e) : finalize(s, r, e);
    if (!rc && o->refine > 0 && !r->cancelled && !d->prune)
        rc = search_refine(s, r, e);
    if (!rc && s->quant_failed)
        rc = err_set(e, ERR_NOMEM, "search: out of memory quantizing by GPTQ");
out:
    free(grad);
    free(am1);
    free(am2);
    free(sacc);
    free(order);
    free(amax);
    search_state_free(s);
    if (rc)
        search_result_free(r);
    return rc;
}

