/* The differentiable search over the joint choice of format and keep level
 * (search.h, "joint choice"): the pruning descriptor, the (format, level)
 * candidates, their pruned-and-quantized weights, the exact group-coupled
 * discretisation by joint_solve and the level-preserving fill, and the
 * measurement of a pruned assignment. */
#include "solver/search.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "solver/dmx.h"
#include "solver/gamma.h"
#include "solver/joint.h"
#include "solver/search_internal.h"
#include "src/model.h"
#include "src/prune.h"
#include "src/prune_score.h"

void search_prune_free(search_prune *sp)
{
    if (sp->mask)
        for (int i = 0; i < sp->n_groups * sp->n_levels; i++)
            free(sp->mask[i]);
    free(sp->mask);
    free(sp->group);
    free(sp->units);
    free(sp->kept);
    free(sp->bits);
    memset(sp, 0, sizeof *sp);
}

int search_prune_init(search_prune *sp, const model *m, const prune_plan *p, const double *levels,
                      int n_levels, const mx_format *formats, int n_formats, mx_error *e)
{
    memset(sp, 0, sizeof *sp);
    if (n_levels < 1 || n_levels > SEARCH_MAX_LEVELS || n_formats < 1 || n_formats > MX_NFORMATS)
        return err_set(e, ERR_ARG, "search: 1..%d keep levels and 1..%d formats", SEARCH_MAX_LEVELS,
                       MX_NFORMATS);
    for (int l = 0; l < n_levels; l++) {
        if (!(levels[l] >= 0.0 && levels[l] <= 1.0))
            return err_set(e, ERR_ARG, "search: keep level %g outside [0, 1]", levels[l]);
        for (int k = 0; k < l; k++)
            if (levels[k] == levels[l])
                return err_set(e, ERR_ARG, "search: keep level %g listed twice", levels[l]);
    }
    if (p->n_groups != m->cfg.n_layers * PRUNE_NPARTS)
        return err_set(e, ERR_ARG, "search: the prune plan is not this model's");
    int nm = m->n_modules, ng = p->n_groups, nl = n_levels, nf = n_formats;
    sp->model = m;
    sp->n_formats = nf;
    memcpy(sp->formats, formats, (size_t)nf * sizeof *formats);
    sp->n_levels = nl;
    memcpy(sp->levels, levels, (size_t)nl * sizeof *levels);
    sp->n_groups = ng;
    sp->group = malloc((size_t)nm * sizeof *sp->group);
    sp->units = malloc((size_t)ng * sizeof *sp->units);
    sp->kept = malloc((size_t)ng * nl * sizeof *sp->kept);
    sp->mask = calloc((size_t)ng * nl, sizeof *sp->mask);
    sp->bits = malloc((size_t)nm * nf * nl * sizeof *sp->bits);
    if (!sp->group || !sp->units || !sp->kept || !sp->mask || !sp->bits)
        goto nomem;
    for (int g = 0; g < ng; g++) {
        sp->units[g] = p->g[g].n_units;
        for (int l = 0; l < nl; l++) {
            int n = prune_count(&p->g[g], levels[l]);
            sp->kept[g * nl + l] = n;
            if (n == p->g[g].n_units)
                continue;
            if (!(sp->mask[g * nl + l] = malloc((size_t)p->g[g].n_units)))
                goto nomem;
            prune_mask(&p->g[g], n, sp->mask[g * nl + l]);
        }
    }
    for (int i = 0; i < nm; i++) {
        int g = sp->group[i] = prune_group_of(m, i);
        for (int f = 0; f < nf; f++)
            for (int l = 0; l < nl; l++)
                sp->bits[((size_t)i * nf + f) * nl + l] = prune_bits(m, i, sp->mask[g * nl + l], formats[f]);
    }
    return 0;
nomem:
    search_prune_free(sp);
    return err_set(e, ERR_NOMEM, "search: out of memory for the pruning descriptor");
}

int search_joint_candidates(search_state *s, mx_error *e)
{
    const search_prune *sp = s->d.prune;
    int M = s->M, K = s->K, nf = sp->n_formats, nl = sp->n_levels;
    double avg[SEARCH_MAX_CAND];
    int order[SEARCH_MAX_CAND];
    /* listed level-major, formats as given; then by average bits (stable) */
    for (int c = 0; c < K; c++) {
        int l = c / nf, f = c % nf;
        double b = 0.0;
        for (int m = 0; m < M; m++)
            b += s->params[m] * sp->bits[((size_t)m * nf + f) * nl + l];
        avg[c] = b / s->ptot;
        order[c] = c;
    }
    for (int i = 1; i < K; i++)
        for (int j = i; j > 0 && avg[order[j]] < avg[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    if (!(s->off = calloc((size_t)M * K, 1)))
        return err_set(e, ERR_NOMEM, "search: out of memory");
    for (int k = 0; k < K; k++) {
        int l = order[k] / nf, f = order[k] % nf;
        s->fmt[k] = sp->formats[f];
        s->data_index[k] = f;
        s->clev[k] = l;
        s->ckeep[k] = sp->levels[l];
        for (int m = 0; m < M; m++) {
            int g = sp->group[m], n = sp->kept[g * nl + l], rep = n == 0 && f != 0;
            for (int l2 = 0; l2 < l && !rep; l2++)
                rep = sp->kept[g * nl + l2] == n;
            s->off[(size_t)m * K + k] = (unsigned char)rep;
            s->bits[(size_t)m * K + k] = sp->bits[((size_t)m * nf + f) * nl + l];
        }
    }
    /* the representatives of the repeats: the first level keeping as many
     * units, at a level keeping nothing the first format */
    int cand_of[SEARCH_MAX_CAND];
    for (int k = 0; k < K; k++)
        cand_of[s->data_index[k] * nl + s->clev[k]] = k;
    if (!(s->rep = malloc((size_t)M * K * sizeof *s->rep)))
        return err_set(e, ERR_NOMEM, "search: out of memory");
    for (int m = 0; m < M; m++) {
        int g = sp->group[m];
        for (int k = 0; k < K; k++) {
            int l = s->clev[k], f = s->data_index[k], n = sp->kept[g * nl + l], l0 = l;
            for (int l2 = 0; l2 < l; l2++)
                if (sp->kept[g * nl + l2] == n) {
                    l0 = l2;
                    break;
                }
            s->rep[(size_t)m * K + k] = cand_of[(n == 0 ? 0 : f) * nl + l0];
        }
    }
    if (s->o.method != SEARCH_DMX)
        return 0;
    /* joint dMX's two axes: formats by bits ascending (stable, as the
     * format-only search sorts them), levels by kept fraction ascending */
    int rows0, cols0, ford[MX_NFORMATS], lord[SEARCH_MAX_LEVELS], fpos[MX_NFORMATS], lpos[SEARCH_MAX_LEVELS];
    tf_linear_shape(&s->c, 0, &rows0, &cols0);
    for (int f = 0; f < nf; f++)
        ford[f] = f;
    for (int i = 1; i < nf; i++)
        for (int j = i; j > 0 && mx_bits_per_weight(sp->formats[ford[j]], 1, (size_t)cols0) <
                                     mx_bits_per_weight(sp->formats[ford[j - 1]], 1, (size_t)cols0);
             j--) {
            int t = ford[j];
            ford[j] = ford[j - 1];
            ford[j - 1] = t;
        }
    for (int l = 0; l < nl; l++)
        lord[l] = l;
    for (int i = 1; i < nl; i++)
        for (int j = i; j > 0 && sp->levels[lord[j]] < sp->levels[lord[j - 1]]; j--) {
            int t = lord[j];
            lord[j] = lord[j - 1];
            lord[j - 1] = t;
        }
    for (int i = 0; i < nf; i++)
        fpos[ford[i]] = i;
    for (int i = 0; i < nl; i++)
        lpos[lord[i]] = i;
    s->nfa = nf;
    s->nla = nl;
    s->ng = sp->n_groups;
    for (int k = 0; k < K; k++) {
        s->cf[k] = fpos[s->data_index[k]];
        s->cl[k] = lpos[s->clev[k]];
    }
    s->pf = malloc((size_t)M * nf * sizeof *s->pf);
    s->pl = malloc((size_t)s->ng * nl * sizeof *s->pl);
    s->gsize = calloc((size_t)s->ng, sizeof *s->gsize);
    if (!s->pf || !s->pl || !s->gsize)
        return err_set(e, ERR_NOMEM, "search: out of memory");
    for (int m = 0; m < M; m++)
        s->gsize[sp->group[m]]++;
    return 0;
}

void search_joint_dmx_probs(search_state *s)
{
    const search_prune *sp = s->d.prune;
    int M = s->M, K = s->K;
    for (int m = 0; m < M; m++)
        dmx_probs(s->param[m], s->temp, s->nfa, s->pf + (size_t)m * s->nfa);
    for (int g = 0; g < s->ng; g++)
        dmx_probs(s->param[M + g], s->temp, s->nla, s->pl + (size_t)g * s->nla);
    for (int m = 0; m < M; m++) {
        const double *pf = s->pf + (size_t)m * s->nfa, *pl = s->pl + (size_t)sp->group[m] * s->nla;
        for (int k = 0; k < K; k++)
            s->p[(size_t)m * K + k] = pf[s->cf[k]] * pl[s->cl[k]];
    }
}

void search_joint_dmx_grad(search_state *s, double *grad)
{
    const search_prune *sp = s->d.prune;
    int M = s->M, K = s->K, nfa = s->nfa, nla = s->nla;
    /* dL/dphi_g sums its modules' chains (dmx_grad is linear in dl_dp) */
    for (int g = 0; g < s->ng; g++)
        grad[M + g] = 0.0;
    for (int m = 0; m < M; m++) {
        int g = sp->group[m];
        const double *pf = s->pf + (size_t)m * nfa, *pl = s->pl + (size_t)g * nla, *dl = s->dldp + (size_t)m * K;
        double dpf[MX_NFORMATS] = {0}, dpl[SEARCH_MAX_LEVELS] = {0};
        for (int k = 0; k < K; k++) {
            dpf[s->cf[k]] += pl[s->cl[k]] * dl[k];
            dpl[s->cl[k]] += pf[s->cf[k]] * dl[k];
        }
        grad[m] = dmx_grad(s->param[m], s->temp, nfa, pf, dpf);
        grad[M + g] += dmx_grad(s->param[M + g], s->temp, nla, pl, dpl);
    }
}

/* theta at the budget's position on the format axis with everything kept
 * (interpolated between the formats' params-weighted bits at the top
 * level), phi at the top level */
void search_joint_dmx_init(search_state *s)
{
    const search_prune *sp = s->d.prune;
    int M = s->M, nf = sp->n_formats, nl = sp->n_levels, top = 0;
    for (int l = 1; l < nl; l++)
        if (sp->levels[l] > sp->levels[top])
            top = l;
    double fb[MX_NFORMATS];
    for (int k = 0; k < s->K; k++)
        if (s->clev[k] == top) {
            double b = 0.0;
            for (int m = 0; m < M; m++)
                b += s->params[m] * s->bits[(size_t)m * s->K + k];
            fb[s->cf[k]] = b / s->ptot;
        }
    double B = s->d.budget, pos = nf - 1;
    if (B <= fb[0])
        pos = 0.0;
    else
        for (int j = 0; j + 1 < nf; j++)
            if (B >= fb[j] && B <= fb[j + 1] && fb[j + 1] > fb[j]) {
                pos = j + (B - fb[j]) / (fb[j + 1] - fb[j]);
                break;
            }
    for (int m = 0; m < M; m++)
        s->param[m] = pos;
    for (int g = 0; g < s->ng; g++)
        s->param[M + g] = nl - 1;
}

void search_joint_dmx_clamp(search_state *s)
{
    for (int m = 0; m < s->M; m++)
        s->param[m] = fmin(fmax(s->param[m], -0.5), s->nfa - 0.5);
    for (int g = 0; g < s->ng; g++)
        s->param[s->M + g] = fmin(fmax(s->param[s->M + g], -0.5), s->nla - 0.5);
}

int search_joint_quantize(const search_state *s, int m, int k, float *out, mx_error *e)
{
    const search_prune *sp = s->d.prune;
    const unsigned char *mask = sp->mask[sp->group[m] * sp->n_levels + s->clev[k]];
    return prune_apply(sp->model, m, s->w0[m], mask, s->fmt[k], out, e);
}

int search_joint_finalize(search_state *s, search_result *r, mx_error *e)
{
    const search_prune *sp = s->d.prune;
    int M = s->M, K = s->K, nf = sp->n_formats, nl = sp->n_levels, rc = 0;
    size_t cells = (size_t)M * nf * nl;
    double *cost = calloc(cells, sizeof *cost), *ck = malloc((size_t)M * K * sizeof *ck);
    double *pr = malloc((size_t)K * sizeof *pr);
    unsigned char *allowed = calloc(cells, 1);
    int *fmt = malloc((size_t)M * sizeof *fmt), *keep = malloc((size_t)M * sizeof *keep);
    int *am = malloc((size_t)M * sizeof *am), cand_of[SEARCH_MAX_CAND];
    r->level = malloc((size_t)M * sizeof *r->level);
    r->cand_format = malloc((size_t)K * sizeof *r->cand_format);
    r->cand_level = malloc((size_t)K * sizeof *r->cand_level);
    r->disabled = malloc((size_t)M * K);
    if (!cost || !ck || !pr || !allowed || !fmt || !keep || !am || !r->level || !r->cand_format ||
        !r->cand_level || !r->disabled) {
        rc = err_set(e, ERR_NOMEM, "search: out of memory");
        goto out;
    }
    r->n_cand = K;
    for (int k = 0; k < K; k++) {
        r->cand_format[k] = s->fmt[k];
        r->cand_level[k] = s->clev[k];
        cand_of[s->data_index[k] * nl + s->clev[k]] = k;
    }
    memcpy(r->disabled, s->off, (size_t)M * K);
    /* the learned preferences as costs (GAMMA: -log p at T = 1; dMX: the
     * squared distances to the offsets, the level's shared by the group's
     * modules); the repeats not allowed */
    int dmx = s->o.method == SEARCH_DMX;
    for (int m = 0; m < M; m++) {
        if (!dmx)
            gamma_probs(s->param + (size_t)m * K, 1.0, K, pr);
        am[m] = -1;
        for (int k = 0; k < K; k++) {
            size_t i = (size_t)m * K + k, c = ((size_t)m * nf + s->data_index[k]) * nl + s->clev[k];
            if (dmx) {
                int g = sp->group[m];
                double df = s->param[m] - s->cf[k], dl = s->param[M + g] - s->cl[k];
                ck[i] = df * df + dl * dl / s->gsize[g];
            } else {
                ck[i] = -log(pr[k] > 1e-300 ? pr[k] : 1e-300);
            }
            if (s->off[i])
                continue;
            cost[c] = ck[i];
            allowed[c] = 1;
            if (am[m] < 0 || ck[i] < ck[(size_t)m * K + am[m]])
                am[m] = k;
        }
    }
    joint_problem jp = {.n_modules = M, .n_formats = nf, .n_keeps = nl, .params = s->params, .bits = sp->bits,
                        .cost = cost, .allowed = allowed, .group = sp->group, .budget_bits = s->d.budget};
    ilp_result res;
    if ((rc = joint_solve(&jp, fmt, keep, &res, e)))
        goto out;
    r->repaired = 0;
    r->objective = 0.0;
    for (int m = 0; m < M; m++) {
        r->choice[m] = cand_of[fmt[m] * nl + keep[m]];
        r->objective += ck[(size_t)m * K + r->choice[m]];
        r->repaired |= r->choice[m] != am[m]; /* coupling or budget moved it off its argmax */
    }
    r->filled = search_fill(s, ck, r->choice); /* format upgrades at the solved levels */
    double b = 0.0;
    for (int m = 0; m < M; m++) {
        r->assign[m] = s->fmt[r->choice[m]];
        r->level[m] = s->clev[r->choice[m]];
        b += s->params[m] * s->bits[(size_t)m * K + r->choice[m]];
    }
    r->avg_bits = b / s->ptot;
out:
    free(cost);
    free(ck);
    free(pr);
    free(allowed);
    free(fmt);
    free(keep);
    free(am);
    return rc;
}
