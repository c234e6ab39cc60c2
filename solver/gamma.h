/* GAMMA: budget-aware per-module format preferences (see solver/search.h).
 * Module m has logits alpha[m][k] over the candidates (bits ascending);
 * p = softmax(alpha / T). Trained on the task loss with an augmented
 * Lagrangian on the expected average bits (equality at the budget).
 *
 * Exported scores (gamma_export): for other budgets the integer program needs
 * costs that do NOT contain the bit price of the trained budget, so the
 * learned logits themselves (-log p mixes task and price at the trained mu)
 * are not exported. Nor is the first-order term <G, Q_k - W> alone: with the
 * KL-to-fp32 loss the gradient at fp32 is zero, so what matters is curvature.
 * Every step measures, per module, the curvature of the task loss along the
 * module's current deviation from fp32 in the JOINTLY quantized network,
 *     c[m] = <dL/dW_eff[m], W_eff[m] - W[m]> / ||W_eff[m] - W[m]||^2
 * (for a quadratic loss with minimum at fp32 this is d^T (H d)_m / |d_m|^2,
 * the interactions with the other modules' quantization included, which
 * single-module kl/fisher scores miss); the exported score is
 *     s[m][k] = 1/2 * max(mean c[m], 0) * ||Q_k(W[m]) - W[m]||^2,
 * nats/token, the mean taken over the second half of the run. It depends on
 * the budget only through where c was measured, so ILP re-solves at other
 * budgets trade these against bits like kl scores. */
#ifndef MXALLOC_GAMMA_H
#define MXALLOC_GAMMA_H

#include "src/score_table.h"
#include "solver/search.h"

/* p = softmax(alpha / t) over k entries. */
void gamma_probs(const double *alpha, double t, int k, double *p);
/* dl_dalpha[j] = p_j (dl_dp[j] - sum_k p_k dl_dp[k]) / t. */
void gamma_grad(const double *p, double t, int k, const double *dl_dp, double *dl_dalpha);

/* search_run with method GAMMA; o NULL = search_opts_init defaults. */
int gamma_search(const search_data *d, const search_opts *o, search_result *r, mx_error *e);

/* Fill a score table from a GAMMA result: methods = SCORE_GAMMA, the
 * candidate formats (bits ascending), per module layer/kind/rows/cols/params
 * (from cfg, layer-major order), bits and score[SCORE_GAMMA][f]. Names, model,
 * hash, key, calib_tokens, ctx and fp32_loss are left for the caller. t is
 * allocated here (score_table_free). ERR_ARG when r has no scores. */
int gamma_export(const search_result *r, const tf_config *cfg, score_table *t, mx_error *e);

#endif
