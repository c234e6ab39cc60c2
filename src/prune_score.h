/* Scores of the joint search (solver/joint.h): for every pruning group g and
 * keep level k, and every module m and candidate format f,
 *   group_loss[g][k]  measured: the increase of the mean calibration NLL
 *                     when g alone is pruned to level k (fp32 weights);
 *   quant[m][f][k]    quantizing m's kept part to f, by method
 *                     PRUNE_QUANT_FISHER: the Fisher estimate (src/score.h)
 *                     s = sum g d + 1/2 sum F d^2 with d = prune_apply(f) -
 *                     prune_apply(fp32), zero on the removed weights (their
 *                     removal is in group_loss); PRUNE_QUANT_KL: measured,
 *                     the loss with g pruned at k and m quantized minus the
 *                     loss with g pruned at k (one pass of blocks l.. per
 *                     module, format and level: small models);
 *                     PRUNE_QUANT_FISHER_OUT: the output-space Fisher of
 *                     score fisher-out, 1/(2N) sum (dS/dy)^2 (X dW^T)^2 with
 *                     dW that same error (one forward + backward per
 *                     window, a GEMM per module, format and level);
 *   bits[m][f][k]     bits per original weight (prune_bits).
 * A configuration's projected loss is fp32_loss + the sum of its groups'
 * losses and its modules' quant terms: additive across groups and modules,
 * which the measurement in make bench (bench/prune_real.sh) checks. */
#ifndef MXALLOC_PRUNE_SCORE_H
#define MXALLOC_PRUNE_SCORE_H

#include "kernels/err.h"
#include "kernels/mx.h"
#include "src/model.h"
#include "src/prune.h"

#define PRUNE_MAX_LEVELS 8
enum { PRUNE_QUANT_FISHER = 0, PRUNE_QUANT_KL, PRUNE_QUANT_FISHER_OUT };
/* "fisher", "kl" or "fisher-out". */
const char *prune_method_name(int method);

typedef struct prune_scores {
    int n_modules, n_groups, n_formats, n_levels;
    mx_format formats[MX_NFORMATS];
    double levels[PRUNE_MAX_LEVELS]; /* kept fractions, as given */
    int method;                      /* PRUNE_QUANT_FISHER or PRUNE_QUANT_KL */
    double fp32_loss;                /* mean calibration NLL (nats/token) */
    long calib_tokens;
    double *group_loss;              /* [n_groups][n_levels] */
    int *kept;                       /* [n_groups][n_levels] units kept */
    double *quant;                   /* [n_modules][n_formats][n_levels] */
    double *bits;                    /* [n_modules][n_formats][n_levels] */
} prune_scores;

/* Index of module m's group in p (layer * PRUNE_NPARTS + part). */
int prune_group_of(const model *m, int i);

/* Score m on the windows of ctx tokens of tokens[0..n) (bos first, at most
 * max_tokens; the windows of eval_perplexity). formats: the MX candidates (not
 * fp32); levels: kept fractions in [0, 1]; method: PRUNE_QUANT_*. Group
 * losses and kl terms re-run blocks l.. from cached fp32 block inputs
 * (windows x layers x ctx x dim floats, at most 2 GiB). 0 or ERR_*; on error
 * *s holds nothing to free. */
/* progress(user, done, total) after each measured group level and each
 * module (may be NULL); non-zero stops the run (ERR_CANCELLED). */
typedef int (*prune_progress_fn)(void *user, double done, double total);
int prune_scores_compute(const model *m, const prune_plan *p, const int *tokens, long n_tokens, int bos,
                         int ctx, long max_tokens, const mx_format *formats, int n_formats,
                         const double *levels, int n_levels, int method, prune_progress_fn progress, void *user,
                         prune_scores *s, mx_error *e);
void prune_scores_free(prune_scores *s);

/* The cost the solver minimizes, [n_modules][n_formats][n_levels]: quant plus
 * the group's loss times prune_weight (1: as measured), shared equally by its
 * modules (they take one level, so the group pays it once). */
void prune_scores_cost(const prune_scores *s, const model *m, double prune_weight, double *cost);

#endif
