/* The joint search: prune_scores -> joint_problem -> config. */
#include "solver/prune_alloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "solver/joint.h"
#include "src/eval.h"

static const char *const mode_names[] = {"joint", "prune", "quant"};

int prune_mode_parse(const char *s, prune_mode *out)
{
    for (int i = 0; i < 3; i++)
        if (!strcmp(s, mode_names[i])) {
            *out = (prune_mode)i;
            return 0;
        }
    return -1;
}

const char *prune_mode_name(prune_mode m) { return (unsigned)m < 3 ? mode_names[m] : "?"; }

/* The joint problem of the options; *jp points into the arrays it allocates
 * (free with problem_free). 0 or ERR_*. */
typedef struct problem {
    joint_problem jp;
    double *cost, *params;
    unsigned char *allowed;
    int *group;
} problem;

static void problem_free(problem *pb)
{
    free(pb->cost);
    free(pb->params);
    free(pb->allowed);
    free(pb->group);
}

static int problem_build(const prune_scores *s, const model *m, const prune_alloc_opts *o, problem *pb,
                         mx_error *e)
{
    int nm = s->n_modules, nf = s->n_formats, nl = s->n_levels;
    size_t cells = (size_t)nm * nf * nl;
    double *cost = malloc(cells * sizeof *cost), *params = malloc((size_t)nm * sizeof *params);
    unsigned char *allowed = malloc(cells);
    int *group = malloc((size_t)nm * sizeof *group);
    *pb = (problem){.cost = cost, .params = params, .allowed = allowed, .group = group};
    if (!cost || !params || !allowed || !group) {
        problem_free(pb);
        return err_set(e, ERR_NOMEM, "out of memory for the joint problem");
    }
    if (o->mode == PRUNE_MODE_PRUNE && (o->prune_format < 0 || o->prune_format >= nf)) {
        problem_free(pb);
        return err_set(e, ERR_ARG, "pruning only: the format is not a candidate");
    }
    prune_scores_cost(s, m, o->prune_weight > 0 ? o->prune_weight : 1.0, cost);
    for (int i = 0; i < nm; i++) {
        params[i] = (double)m->modules[i].params;
        group[i] = prune_group_of(m, i);
        for (int f = 0; f < nf; f++)
            for (int k = 0; k < nl; k++) {
                int whole = s->kept[group[i] * nl + k] == prune_units(&m->cfg, group[i] % PRUNE_NPARTS);
                int ok = 1;
                if (o->mode == PRUNE_MODE_PRUNE)
                    ok = f == o->prune_format;
                if (o->mode == PRUNE_MODE_QUANT || (o->keep_all && o->keep_all[i]))
                    ok &= whole;
                if (o->fmt_ok)
                    ok &= o->fmt_ok[(size_t)i * nf + f];
                allowed[((size_t)i * nf + f) * nl + k] = (unsigned char)ok;
            }
    }
    pb->jp = (joint_problem){.n_modules = nm, .n_formats = nf, .n_keeps = nl, .params = params, .bits = s->bits,
                             .cost = cost, .allowed = allowed, .group = group, .budget_bits = o->budget_bits};
    return 0;
}

int prune_alloc_solve(const prune_scores *s, const model *m, const prune_alloc_opts *o, int *fmt,
                      int *level, ilp_result *res, mx_error *e)
{
    problem pb;
    int rc = problem_build(s, m, o, &pb, e);
    if (!rc)
        rc = joint_solve(&pb.jp, fmt, level, res, e);
    problem_free(&pb);
    return rc;
}

double prune_alloc_min_budget(const prune_scores *s, const model *m, const prune_alloc_opts *o)
{
    problem pb;
    if (problem_build(s, m, o, &pb, NULL))
        return NAN;
    double b = joint_min_budget(&pb.jp);
    problem_free(&pb);
    return b;
}

int prune_alloc_config(const prune_scores *s, const prune_plan *p, const model *m, const int *fmt,
                       const int *level, mx_cfg *c, mx_error *e)
{
    int rc = 0;
    for (int i = 0; i < m->n_modules && !rc; i++)
        rc = cfg_set_format(c, m->modules[i].name, s->formats[fmt[i]], e);
    if (rc)
        return rc;
    unsigned char **masks = prune_alloc_masks(s, p, m, level);
    if (!masks)
        return err_set(e, ERR_NOMEM, "out of memory");
    rc = cfg_set_prune_masks(c, m, masks, e);
    cfg_prune_masks_free(masks, p->n_groups);
    return rc;
}

unsigned char **prune_alloc_masks(const prune_scores *s, const prune_plan *p, const model *m, const int *level)
{
    unsigned char **masks = calloc((size_t)p->n_groups, sizeof *masks);
    for (int i = 0; masks && i < m->n_modules; i++) {
        int g = prune_group_of(m, i), n = s->kept[g * s->n_levels + level[i]];
        if (masks[g] || n == p->g[g].n_units)
            continue;
        if (!(masks[g] = malloc((size_t)p->g[g].n_units))) {
            for (int k = 0; k < p->n_groups; k++)
                free(masks[k]);
            free(masks);
            return NULL;
        }
        prune_mask(&p->g[g], n, masks[g]);
    }
    return masks;
}

int prune_alloc_measure(const prune_scores *s, const prune_plan *p, const model *m, const int *fmt,
                        const int *level, const prune_calib *cal, double *loss, mx_error *e)
{
    mx_format *fm = malloc((size_t)m->n_modules * sizeof *fm);
    unsigned char **masks = prune_alloc_masks(s, p, m, level);
    tf_ctx *t = tf_ctx_create(&m->cfg, cal->ctx, 0);
    eval_qweights q = {0};
    eval_result r;
    int rc = 0;
    if (!fm || !masks || !t)
        rc = err_set(e, ERR_NOMEM, "out of memory measuring an answer");
    for (int i = 0; !rc && i < m->n_modules; i++)
        fm[i] = s->formats[fmt[i]];
    if (!rc && !(rc = eval_qweights_init_pruned(&q, m, fm, NULL, masks, e))) {
        if (!(rc = eval_perplexity_ctx(t, &q.w, cal->tokens, cal->n_tokens, cal->bos, cal->ctx, cal->max_tokens,
                                       NULL, NULL, &r, e)))
            *loss = r.nll;
        eval_qweights_free(&q);
    }
    for (int g = 0; masks && g < p->n_groups; g++)
        free(masks[g]);
    free(masks);
    free(fm);
    tf_ctx_free(t);
    return rc;
}

double prune_alloc_additive(const prune_scores *s, const model *m, const int *fmt, const int *level)
{
    double sum = 0.0;
    for (int i = 0; i < m->n_modules; i++) {
        size_t c = ((size_t)i * s->n_formats + fmt[i]) * s->n_levels + level[i];
        int g = prune_group_of(m, i);
        sum += s->quant[c];
        /* the group's loss once, at its first module */
        int first = 1;
        for (int j = 0; j < i && first; j++)
            first = prune_group_of(m, j) != g;
        if (first)
            sum += s->group_loss[g * s->n_levels + level[i]];
    }
    return sum;
}

int prune_alloc_search(const prune_scores *s, const prune_plan *p, const model *m, const prune_alloc_opts *o,
                       const prune_calib *cal, int *fmt, int *level, prune_answer *a, mx_error *e)
{
    static const double weights[] = PRUNE_WEIGHTS;
    int nw = (int)(sizeof weights / sizeof *weights), nm = m->n_modules, rc = 0, have = 0;
    int *cf = malloc((size_t)nm * sizeof *cf), *cl = malloc((size_t)nm * sizeof *cl);
    int *seen = malloc((size_t)(nw + 2) * 2 * nm * sizeof *seen);
    memset(a, 0, sizeof *a);
    if (!cf || !cl || !seen) {
        rc = err_set(e, ERR_NOMEM, "out of memory for the search");
        goto out;
    }
    mx_error last = {0}, first = {0}; /* first: the mode's own (joint's widest) infeasibility */
    int n_try = o->mode == PRUNE_MODE_JOINT ? nw + 2 : 1;
    for (int c = 0; c < n_try; c++) {
        prune_alloc_opts co = *o;
        char from[24];
        if (o->mode != PRUNE_MODE_JOINT) {
            co.prune_weight = 1.0;
            snprintf(from, sizeof from, "%s", prune_mode_name(o->mode));
        } else if (c < nw) {
            co.prune_weight = weights[c];
            snprintf(from, sizeof from, "joint x%g", weights[c]);
        } else {
            co.mode = c == nw ? PRUNE_MODE_QUANT : PRUNE_MODE_PRUNE;
            co.prune_weight = 1.0;
            snprintf(from, sizeof from, "%s", prune_mode_name(co.mode));
        }
        ilp_result r;
        int src = prune_alloc_solve(s, m, &co, cf, cl, &r, &last);
        if (src && !first.code)
            first = last;
        if (src == ERR_INFEASIBLE || (src == ERR_ARG && co.mode == PRUNE_MODE_PRUNE && o->mode == PRUNE_MODE_JOINT))
            continue; /* this candidate cannot meet the budget; others may */
        if (src) {
            rc = err_set(e, src, "%s", last.msg);
            goto out;
        }
        /* the same answer from another weight: measured once */
        int dup = 0;
        for (int k = 0; k < a->candidates && !dup; k++)
            dup = !memcmp(seen + (size_t)k * 2 * nm, cf, (size_t)nm * sizeof *cf) &&
                  !memcmp(seen + (size_t)k * 2 * nm + nm, cl, (size_t)nm * sizeof *cl);
        if (dup)
            continue;
        memcpy(seen + (size_t)a->candidates * 2 * nm, cf, (size_t)nm * sizeof *cf);
        memcpy(seen + (size_t)a->candidates * 2 * nm + nm, cl, (size_t)nm * sizeof *cl);
        a->candidates++;
        double loss;
        if ((rc = prune_alloc_measure(s, p, m, cf, cl, cal, &loss, e)))
            goto out;
        if (!have || loss < a->measured_loss) {
            have = 1;
            a->measured_loss = loss;
            a->res = r;
            a->additive_loss = s->fp32_loss + prune_alloc_additive(s, m, cf, cl);
            snprintf(a->from, sizeof a->from, "%s", from);
            memcpy(fmt, cf, (size_t)nm * sizeof *cf);
            memcpy(level, cl, (size_t)nm * sizeof *cl);
        }
    }
    if (!have)
        rc = err_set(e, first.code ? first.code : ERR_INFEASIBLE, "%s",
                     first.msg[0] ? first.msg : "no answer meets the budget");
out:
    free(cf);
    free(cl);
    free(seen);
    return rc;
}
