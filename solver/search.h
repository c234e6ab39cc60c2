/* Differentiable format search: the shared plumbing of dMX (solver/dmx.h) and
 * GAMMA (solver/gamma.h).
 *
 * Every quantizable linear m of the model (layer-major: m = layer * TF_NLIN +
 * kind, the order of model.modules) is replaced while searching by a soft
 * mixture of its fake-quantized copies,
 *     W_eff[m] = sum_k p[m][k] * Q_k(W[m]),
 * where Q_k is the (frozen, precomputed) fake quantization to candidate k and
 * p[m] comes from a relaxation of learnable parameters:
 *   dMX    one scalar theta[m] per module, p_k = softmax_k(-(theta - k)^2 / T),
 *          T annealed exponentially from t0 to tmin;
 *   GAMMA  logits alpha[m][k], p = softmax(alpha / T) (T annealed likewise,
 *          by default much less).
 * Candidates are ordered by bits per weight ASCENDING (ties keep the order
 * given), so for dMX a larger theta means more bits.
 *
 * Straight-through: the quantizers are not differentiated, the mixture weights
 * are. With G = dL/dW_eff from one forward + backward,
 *     dL/dp[m][k] = <G[m], Q_k(W[m])> + d(reg)/dp[m][k],
 * chained through the relaxation to theta / alpha and applied with Adam.
 *
 * Loss per step (one calibration window): task + regularizer, where task is
 * KL(p_fp32 || p_mixture) of the next-token distributions (distillation:
 * every position carries the full fp32 distribution, a richer, less noisy
 * signal than the one sampled target; GAMMA's default) or cross-entropy on
 * the targets (dMX's default: it measured 0.2-0.9% better held-out perplexity
 * on stories260K at every budget tried), in nats/token; E = expected average bits
 *     E = sum_m params[m] sum_k p[m][k] bits[m][k] / sum_m params[m]
 * (bits include the E8M0 scales) and c = E - budget:
 *   dMX    reg = lambda * c^2;
 *   GAMMA  reg = mu * c + rho/2 * c^2 (augmented Lagrangian, EQUALITY c = 0:
 *          more bits never hurt the task loss, so the inequality optimum sits on
 *          the boundary anyway and the equality keeps the multiplier updates
 *          two-sided); mu <- mu + rho * c every mu_every steps, rho doubles
 *          (up to 1e4) when |c| did not halve since the previous update and
 *          is still above 0.01 bits.
 *
 * The final assignment is the argmax of p, repaired by the integer program
 * (ilp_solve) with the learned preferences as costs when it exceeds the budget
 * (dMX: cost (theta - k)^2, GAMMA: -log p at T = 1); then the budget rounding
 * left unused is spent greedily on the upgrades (to a format with more bits)
 * of least cost increase under the same costs, while they fit. It never
 * exceeds the budget.
 *
 * Refinement (opts.refine > 0): a measured local search on the calibration
 * cross-entropy L over all windows, computed exactly with the forward pass.
 * Each round measures L for every single-module change of the current
 * assignment (in a fixed order, until the evaluation budget runs out), solves
 * the ILP with those measured changes as additive costs, evaluates its
 * solution and keeps it if L decreased; otherwise it takes the best measured
 * single change that fits the budget and lowers L, if any, else it stops.
 * L never increases and the budget still holds. Cancelling (the event callback returns non-zero) ends the run
 * cleanly with that same assignment built from the parameters reached.
 *
 * Deterministic for a given seed and thread count: the window order is a
 * seeded shuffle per epoch (local PRNG state). No global state: several
 * searches may run at once in different threads (each owns its buffers). */
#ifndef MXALLOC_SEARCH_H
#define MXALLOC_SEARCH_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/mx.h"
#include "kernels/tf.h"
#include "kernels/err.h"

typedef enum search_method { SEARCH_DMX = 0, SEARCH_GAMMA, SEARCH_NMETHODS } search_method;
typedef enum search_loss { SEARCH_LOSS_KL = 0, SEARCH_LOSS_CE, SEARCH_NLOSSES } search_loss;

const char *search_method_name(search_method m); /* "dmx", "gamma" */
int search_method_parse(const char *s, search_method *out); /* 0 or -1 */
const char *search_loss_name(search_loss l);     /* "kl", "ce" */
int search_loss_parse(const char *s, search_loss *out);

/* One optimisation step, as reported to the callback. Pointers are valid only
 * during the call. */
typedef struct search_event {
    search_method method;
    int step, n_steps;       /* step is 1-based: steps done so far */
    double temperature;      /* T of the relaxation at this step */
    double mu, rho;          /* GAMMA multiplier and penalty (dMX: 0, lambda) */
    double task_loss;        /* nats/token on this step's window (KL or CE) */
    double reg;              /* regularizer value */
    double exp_bits;         /* E[avg bits] of the mixture */
    double argmax_bits;      /* avg bits of the per-module argmax assignment */
    int n_modules, n_formats;
    const mx_format *formats; /* [n_formats] candidate order (bits ascending) */
    const int *argmax;       /* [n_modules] index into formats of the most likely format */
    long window;             /* calibration window used by this step */
    /* Refinement phase (after the last step; 0 while annealing): exact
     * calibration evaluations done / allowed; task_loss is then the best
     * calibration cross-entropy so far and argmax the current assignment. */
    int refine_evals, refine_max;
    /* Joint mode (data.prune): formats[n_formats] are the candidates'
     * formats and keep[n_formats] their kept fractions (argmax indexes
     * both; during annealing a group's modules may still differ in level);
     * NULL otherwise. */
    const double *keep;
} search_event;

/* Called after every step, from the thread running the search; return
 * non-zero to stop (the run then ends cleanly with the best assignment). */
typedef int (*search_event_fn)(void *user, const search_event *ev);

/* What to search over. The weights are read only (w is the fp32 view; module
 * m is w->layers[m / TF_NLIN].lin[m % TF_NLIN]). Windows: in/tgt are
 * [n_windows][ctx] as eval_window_tokens makes them. */
typedef struct search_data {
    const tf_config *cfg;
    const tf_weights *w;
    int n_formats;
    mx_format formats[MX_NFORMATS]; /* candidates, any order (sorted internally) */
    double budget;                  /* average bits per weight, scales included */
    const int *in, *tgt;
    long n_windows;
    int ctx;
    /* Non-NULL: the MX candidates quantized by GPTQ with this calibration
     * data (src/gptq_set.h; module m = layer * TF_NLIN + kind), else rounded. */
    const struct gptq_set *gptq;
    /* Non-NULL: the joint search over formats and structured-pruning keep
     * levels (search_prune below; dMX or GAMMA, not with gptq or init_cost). */
    const struct search_prune *prune;
} search_data;

/* ---- joint choice: formats x keep levels (issue 15) ----
 * With d->prune set, module m's candidates are the pairs (format f, level l)
 * of d->formats x levels; candidate weights are prune_apply(model, m, W,
 * mask[group(m)][l], f) (src/prune.h: zeros outside the kept submatrix,
 * which is quantized as its own matrix) and their bits are bits[m][f][l],
 * per ORIGINAL weight (prune_bits), so E[bits] and the budget count the
 * unpruned model's weights. Candidates that would repeat another's weights
 * (a level keeping as many units as an earlier level of the list; every
 * format but the first at a level keeping nothing) are left out (p = 0).
 * GAMMA's logits alpha[m][c] span the remaining pairs with the same
 * augmented Lagrangian; during annealing every module's level is free (the
 * relaxation). The final assignment respects that the modules of a pruning
 * group (q,k,v,o of a layer; gate,up,down of a layer) share one level: it is
 * joint_solve's exact optimum (solver/joint.h) of the costs -log p at T = 1
 * per (module, format, level) under the budget, then the greedy fill spends
 * the unused budget on FORMAT upgrades at the module's level only (levels,
 * and so the coupling, stay as solved). The measured refinement is off in
 * this mode (opts.refine is ignored), GAMMA's score export too (r->score
 * NULL: the score table is per format). Candidates are ordered by their
 * params-weighted average bits b_c ascending (ties: level-major in the given
 * order, formats as given); the start is a bump in bits around the budget,
 * alpha[m][c] = -(b_c - budget)^2 / 4 (the index bump of the format list
 * spans ~2 bits per step; over 20-30 joint candidates it stranded the
 * search on one level). result.repaired: joint_solve's answer differs from
 * some module's argmax (the coupling or the budget moved it).
 * dMX: one offset per module over the pairs sorted by bits would need
 * neighbouring candidates to be alike, and they are not (mxfp8 at 25% sits
 * next to mxfp4 at 50%), so its relaxation is 2-D: theta[m] per module over
 * the module's formats by bits ascending (the format-only ordering) and
 * phi[g] per PRUNING GROUP over the levels by kept fraction ascending,
 *     p[m][(f, l)] = softmax_f(-(theta_m - f)^2 / T) * softmax_l(-(phi_g - l)^2 / T),
 * g = group(m): the group's modules share one level distribution, so the
 * relaxation itself respects the coupling. A left-out repeat keeps its
 * share of the product and contributes its representative's weights (the
 * same weights and bits), so nothing is renormalised. Same loss, penalty
 * lambda * (E - budget)^2 and annealing as format-only dMX; dL/dtheta_m
 * from the module's candidates, dL/dphi_g summed over the group's modules.
 * Parameters: theta [n_modules] then phi [n_groups] (n_param = n_modules +
 * n_groups; offsets kept in [-0.5, axis length - 0.5]). Start: theta at the
 * budget's position on the format axis with everything kept (interpolated
 * as format-only dMX does; the smallest format when the budget is below
 * it), phi at the top level. Final assignment as GAMMA's, with the costs
 * (theta_m - f)^2 + (phi_g - l)^2 / |group| per (module, format, level)
 * (the group's level cost summed over its modules is (phi_g - l)^2). */
#define SEARCH_MAX_LEVELS 8
#define SEARCH_MAX_CAND (MX_NFORMATS * SEARCH_MAX_LEVELS)
struct model;
struct prune_plan;
typedef struct search_prune {
    const struct model *model;  /* its modules' shapes and config (prune_apply) */
    int n_formats;              /* the formats bits was made for: must equal d->formats */
    mx_format formats[MX_NFORMATS];
    int n_levels;
    double levels[SEARCH_MAX_LEVELS]; /* kept fractions, as given */
    int n_groups;               /* pruning groups: layer * PRUNE_NPARTS + part */
    int *group;                 /* [n_modules] group of module m */
    int *units;                 /* [n_groups] units of the unpruned group */
    int *kept;                  /* [n_groups][n_levels] units kept (prune_count) */
    unsigned char **mask;       /* [n_groups][n_levels] unit masks (prune_mask); NULL = whole */
    double *bits;               /* [n_modules][n_formats][n_levels] bits per original weight */
} search_prune;

/* The descriptor of plan p (prune_plan_collect on the calibration windows)
 * at kept fractions levels[n_levels] (each in [0, 1], distinct, at most
 * SEARCH_MAX_LEVELS) for the candidate formats (MX formats, data order).
 * 0, ERR_ARG or ERR_NOMEM; free with search_prune_free. */
int search_prune_init(search_prune *sp, const struct model *m, const struct prune_plan *p,
                      const double *levels, int n_levels, const mx_format *formats, int n_formats,
                      mx_error *e);
void search_prune_free(search_prune *sp);
/* search_eval_assignment with module m also pruned to level[m] of d->prune
 * (level NULL or d->prune NULL: search_eval_assignment). */
int search_eval_pruned(const search_data *d, const mx_format *assign, const int *level, int threads,
                       double *nll, mx_error *e);

typedef struct search_opts {
    search_method method;
    search_loss loss;
    int steps;              /* optimisation steps (one window each) */
    double lr;              /* Adam learning rate */
    double t0, tmin;        /* temperature schedule, exponential t0 -> tmin */
    double lambda;          /* dMX budget penalty weight */
    double rho;             /* GAMMA initial penalty */
    int mu_every;           /* GAMMA multiplier update period (steps) */
    uint64_t seed;
    int threads;            /* attention-softmax threads (0 = default) */
    size_t mem_limit;       /* bytes for cached Q_k(W) and fp32 teacher log-probs */
    /* Optional [n_modules][n_formats in data order] sensitivity (nats/token,
     * e.g. kl scores): the start is the ILP solution of these at the budget
     * instead of the uniform mixture matching the budget. */
    const double *init_cost;
    /* Discrete refinement after annealing: at most this many exact
     * evaluations of the calibration cross-entropy (all windows) of
     * single-module changes, combined by the ILP; 0 = off. See search_run. */
    int refine;
    search_event_fn on_event;
    void *user;
} search_opts;

/* Defaults for a method: dMX cross-entropy loss, GAMMA KL; dMX 200 steps, lr 0.1, T 3 -> 0.05,
 * lambda 20; GAMMA 200 steps, lr 0.1, T 1 -> 0.3, rho 10, mu_every 10; seed 1;
 * refine 400 evaluations. */
void search_opts_init(search_opts *o, search_method method);
/* The candidate formats a search uses by default, in search order: every MX
 * format, and where two have the same bits the usually more accurate one for
 * weights first, so a dMX offset meets it before its same-size sibling. With
 * only != NULL, just those formats of it (by mx_format, 0/1). Returns the count. */
int search_default_formats(mx_format out[MX_NFORMATS], const unsigned char *only);

typedef struct search_result {
    int n_modules, n_formats;
    mx_format formats[MX_NFORMATS]; /* candidate order used (bits ascending) */
    mx_format *assign;       /* [n_modules] final format per module */
    int *choice;             /* [n_modules] index into formats */
    double avg_bits;         /* of assign; <= budget */
    double exp_bits;         /* E[avg bits] of the mixture at the end */
    double budget;
    double task_loss;        /* last step's task loss */
    int steps_done, cancelled;
    int repaired;            /* the ILP moved some module below its argmax to fit */
    int filled;              /* upgrades made afterwards with the unused budget */
    /* Learned parameters: dMX theta [n_modules] (joint mode: then phi
     * [n_groups], n_param = n_modules + n_groups); GAMMA alpha
     * [n_modules][n_formats] (joint mode: [n_modules][n_cand]). */
    double *param;
    int n_param;
    double mu, rho;
    /* Refinement: evaluations used, rounds whose result was accepted, and the
     * calibration cross-entropy before and after (0 when refine is off). */
    int refine_evals, refine_moves;
    double refine_nll0, refine_nll;
    /* GAMMA only (else NULL): [n_modules][n_formats] estimated loss increase
     * (nats/token) of module m in format k relative to fp32, see gamma.h. */
    double *score;
    /* Joint mode only (else NULL / 0): formats/n_formats are then d's
     * formats in d's order; level[m] is module m's keep level (index into
     * d->prune->levels, equal across a pruning group); the candidates (GAMMA:
     * the columns of param, alpha [n_modules][n_cand]; choice's range) are
     * (cand_format[c], cand_level[c]); disabled[n_modules][n_cand] marks the
     * candidates left out (repeats). objective: the summed learned costs
     * (GAMMA -log p at T = 1, dMX the squared offset distances, see the
     * joint choice above) of joint_solve's answer (before the fill). */
    int *level;
    int n_cand;
    mx_format *cand_format;
    int *cand_level;
    unsigned char *disabled;
    double objective;
} search_result;

/* Run a search. Returns 0 (also when cancelled: r->cancelled = 1), ERR_ARG
 * (bad sizes or options, budget below the smallest reachable, or a token
 * outside the vocabulary), ERR_NOMEM, ERR_INFEASIBLE. r is filled on success
 * and must be released with search_result_free; on error it is empty. */
int search_run(const search_data *d, const search_opts *o, search_result *r, mx_error *e);
/* search_run with o's method replaced (o NULL: that method's defaults). */
int search_run_as(const search_data *d, const search_opts *o, search_method m, search_result *r,
                  mx_error *e);
void search_result_free(search_result *r);

/* Mean cross-entropy (nats/token) over the data's windows with module m
 * fake-quantized to assign[m] (MX_FP32 = untouched; assign NULL = all fp32).
 * Used to report the calibration loss of an assignment. */
int search_eval_assignment(const search_data *d, const mx_format *assign, int threads,
                           double *nll, mx_error *e);

/* ---- lower level: one loss/gradient evaluation, for tests and tools ---- */

typedef struct search_state search_state;

int search_state_create(const search_data *d, const search_opts *o, search_state **out,
                        mx_error *e);
void search_state_free(search_state *s);
/* Parameters (theta or alpha, see search_result.param), writable. */
double *search_state_param(search_state *s, int *n_param);
int search_state_n_formats(const search_state *s);
/* Set the relaxation temperature and the multiplier state used by the next
 * evaluation. */
void search_state_set(search_state *s, double temperature, double mu, double rho);
/* Full loss task + reg at the current parameters on window `window`, and its
 * gradient wrt the parameters (grad may be NULL). exp_bits may be NULL. */
int search_state_loss_grad(search_state *s, long window, double *task, double *reg,
                           double *exp_bits, double *grad, mx_error *e);

#endif
