/* Private to solver/search*.c: the state of the differentiable search and
 * the helpers its phases share. search_state.c builds the state and evaluates
 * one loss and gradient; search_step.c runs the Adam step loop and the
 * discretisation; search_refine.c the measured refinement. */
#ifndef MXALLOC_SEARCH_INTERNAL_H
#define MXALLOC_SEARCH_INTERNAL_H

#include <stddef.h>

#include "kernels/tf.h"
#include "kernels/tf_backward.h"
#include "solver/search.h"

struct search_state {
    search_data d;
    search_opts o;
    tf_config c;
    int M, K, V, n;
    mx_format fmt[SEARCH_MAX_CAND];  /* bits ascending */
    int data_index[SEARCH_MAX_CAND]; /* position of fmt[k] in d.formats */
    /* joint mode (d.prune): candidate k is (fmt[k], level clev[k]) of kept
     * fraction ckeep[k]; off[m][k] = 1 for the left-out repeats */
    int clev[SEARCH_MAX_CAND];
    double ckeep[SEARCH_MAX_CAND];
    unsigned char *off;
    /* joint dMX: rep[m][k] = the allowed candidate with k's weights and bits
     * (k itself unless off); the format axis (rank by bits ascending, fpos of
     * a data-order format) and the level axis (rank by kept fraction
     * ascending, lpos of a level); candidate k sits at (cf[k], cl[k]) of them;
     * pf [M][nfa] and pl [n_groups][nla] the two factors of p; gsize [groups] */
    int *rep;
    int nfa, nla, ng, cf[SEARCH_MAX_CAND], cl[SEARCH_MAX_CAND];
    double *pf, *pl;
    int *gsize;
    double *params, ptot;        /* [M] */
    double *bits;                /* [M][K] */
    size_t *len;                 /* [M] weights per module */
    float **q;                   /* [M][K] cached Q_k(W_m), NULL = quantize on demand */
    float *qscratch;
    float **weff;                /* [M] */
    float **grad;                /* [M] dL/dW_eff */
    const float **w0;            /* [M] fp32 weights */
    tf_layer_weights *lw;
    tf_weights wq;
    tf_ctx *t;
    tf_bwd *bwd;
    tf_layer_grads *glayers;     /* [n_layers] lin[k] = grad[l * TF_NLIN + k] */
    tf_grads g;                  /* the linears' gradients only, into grad */
    float *logits, *dlog;
    float **teacher;             /* [n_windows] cached fp32 log-probs or NULL */
    float *tscratch;
    size_t teacher_left;         /* bytes still allowed for the cache */
    double *param;               /* theta [M] or alpha [M][K] */
    int np;
    double *p, *h, *hw, *dldp;   /* [M][K], [M][K], [M], [M][K] */
    double *err2;                /* [M][K] ||Q_k(W_m) - W_m||^2 */
    double *curv;                /* [M] <G_m, W_eff - W> / ||W_eff - W||^2 of the last step */
    double temp, mu, rho;
    int quant_failed;            /* GPTQ ran out of memory somewhere (search_qk): the run fails */
};


/* out = Q_f(w) for module m of d: GPTQ with d->gptq, else rounded on pool p.
 * 0, or ERR_NOMEM with out rounded (still valid values). */
struct pool;
int search_quantize(const search_data *d, struct pool *p, int m, mx_format f, const float *w, float *out, int rows,
                    int cols, mx_error *e);
/* Q_k(W_m): the cached copy, or quantized into s->qscratch (valid until the
 * next call). */
const float *search_qk(search_state *s, int m, int k);
/* s->p = the mixture weights of every module at the current temperature. */
void search_all_probs(search_state *s);
/* Params-weighted expected bits of the current mixture. */
double search_expected_bits(const search_state *s);
/* Params-weighted average bits of (sorted) format k over all modules. */
double search_format_avg_bits(const search_state *s, int k);
/* Joint mode (search_prune.c): candidates, the exact group-coupled repair
 * and fill. search_joint_candidates sets K, fmt, data_index, clev, ckeep and
 * off (after params/ptot are known; off allocated here). */
int search_joint_candidates(search_state *s, mx_error *e);
/* Q_k(W_m) of joint candidate k into out (prune_apply). */
int search_joint_quantize(const search_state *s, int m, int k, float *out, mx_error *e);
int search_joint_finalize(search_state *s, search_result *r, mx_error *e);
/* Spend the budget left after rounding on upgrades (search_step.c; both modes). Returns their count. */
int search_fill(const search_state *s, const double *cost, int *choice);
/* Joint dMX (search.h): the factored mixture p[m][k] = pf[m][cf[k]] *
 * pl[group(m)][cl[k]] at s->temp; the chain rule from s->dldp to theta
 * (grad[0..M-1]) and phi (grad[M..M+groups-1]); the start (theta at the
 * budget's position on the format axis with everything kept, phi at the
 * top level); keeping the offsets on their axes. */
void search_joint_dmx_probs(search_state *s);
void search_joint_dmx_grad(search_state *s, double *grad);
void search_joint_dmx_init(search_state *s);
void search_joint_dmx_clamp(search_state *s);

/* The measured refinement (search_opts.refine evaluations) from r->choice;
 * updates r's assignment and refinement fields. */
int search_refine(search_state *s, search_result *r, mx_error *e);

#endif
