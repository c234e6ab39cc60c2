/* GAMMA: budget-aware per-module format preferences (see solver/search.h).
 * Module m has logits alpha[m][k] over the candidates (bits ascending);
 * p = softmax(alpha / T). Trained on the task loss with an augmented
 * Lagrangian on the expected average bits (equality at the budget).
 *
 * Exported scores (gamma_export): for other budgets the integer program needs
 * costs that do NOT contain the bit price of the trained budget, so the
 * learned logits themselves (-log p mixes task and price at the trained mu)
 * are not exported. Instead every step measures, for every module and format,
 *     s[m][k] = <dL/dW_eff[m], Q_k(W[m]) - W[m]>,
 * the first-order change of the task loss (nats/token) when module m alone
 * moves from fp32 to format k, at the jointly quantized point the search is
 * at (so interactions with the other modules' quantization are included,
 * which single-module kl/fisher scores miss). The exported score is its mean
 * over the second half of the run, when the mixture has settled near the
 * budget; ILP re-solves at nearby budgets then trade these against bits. */
#ifndef MXALLOC_GAMMA_H
#define MXALLOC_GAMMA_H

#include "solver/score_table.h"
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
