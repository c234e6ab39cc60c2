/* Shared pieces of the score driver (src/score*.c); not a public header. */
#ifndef MXALLOC_SCORE_INTERNAL_H
#define MXALLOC_SCORE_INTERNAL_H

#include "kernels/tf.h"
#include "src/score.h"

#define SCORE_LOGIT_ROWS 64 /* rows of logits materialized at once */

/* One scoring run: the calibration windows, the table being filled, progress. */
typedef struct score_run {
    const model *m;
    const score_opts *o;
    score_table *t;
    mx_error *e;
    int ctx;
    long nw;           /* windows */
    long w0, w1;       /* this process's windows (src/shard.h): [w0, w1) */
    int *in, *tgt;     /* [nw][ctx] */
    double fp32_sum;   /* sum of fp32 NLL over all calibration tokens */
    int have_fp32;
    double window_s;   /* seconds in this process's window passes */
    float *bufq, *bufp; /* [SCORE_LOGIT_ROWS][vocab] */
    /* progress */
    score_progress p;
} score_run;

/* Reference (fp32) next-token distributions of one window, for KL. Either
 * stored logits + log-sum-exp per row, or a context whose last forward is
 * the fp32 one (then logits are recomputed chunk by chunk). */
typedef struct score_ref {
    const float *logits; /* [n][V] or NULL */
    const double *lse;   /* [n] */
    tf_ctx *ctx;
    const tf_weights *w;
} score_ref;

/* After a forward on t with weights w: *nll = sum of the window's NLL
 * against tgt; with ref, *kl = sum over rows of KL(ref || this). bufq, bufp:
 * [SCORE_LOGIT_ROWS][vocab] scratch (bufp used only to recompute ref logits). */
void score_window_stats(tf_ctx *t, const tf_weights *w, const int *tgt, const score_ref *ref,
                        float *bufq, float *bufp, double *nll, double *kl);
/* Logits [n][V] of the last forward on t, and each row's log-sum-exp. */
void score_ref_fill(score_run *r, tf_ctx *t, const tf_weights *w, float *logits, double *lse);

/* Cost of a forward from block `from` (incl. final norm + lm_head), in block units. */
double score_fwd_units(const tf_config *c, int from);
/* Advance progress by units (tokens: window tokens processed); returns
 * ERR_CANCELLED (message set) when the callback asks to stop. */
int score_tick(score_run *r, double units, long tokens);

/* Worker threads for the kl pass: o->threads, or one per online core. */
int score_threads(const score_opts *o);
/* Every pass keeps one row of doubles per window, rows[nw][per]: after its
 * own windows [w0, w1), score_gather fills the other processes' rows
 * (src/shard.h), and each total is then summed over the rows in window order,
 * so any number of processes gives the same bits. 0 or an error (in r->e). */
int score_gather(score_run *r, double *rows, size_t per);
/* Column col of rows summed over the windows in order; ws (may be NULL) gets
 * each window's mul * (row[col] - row[minus]) / div (minus < 0: no term). */
double score_column(const score_run *r, const double *rows, size_t per, size_t col, long minus,
                    double mul, double div, score_wstat *ws);
/* Adds the seconds since t0 to r->window_s: the part processes divide. */
void score_window_time(score_run *r, double t0);
/* The fp32 loss from column col of a pass's gathered rows (each window's
 * fp32 NLL sum), kept from the first pass that has it. */
void score_keep_fp32(score_run *r, const double *rows, size_t per, size_t col);
/* Module i is to be scored. */
int score_wanted(const score_run *r, int i);
/* out = module i quantized to f the way this run scores it: GPTQ with
 * o->gptq (src/gptq_set.h), else rounded to nearest. 0 or ERR_NOMEM (in r->e). */
int score_quant(const score_run *r, int i, mx_format f, float *out);

int score_run_kl(score_run *r);
int score_run_fisher(score_run *r);
int score_run_fisher_out(score_run *r);

/* Planned work of each pass, for the progress total. */
double score_kl_units(const score_run *r);
double score_fisher_units(const score_run *r);
double score_fisher_out_units(const score_run *r);

/* Keep every block's activations for the backward (TF_KEEP_ACTS) when they
 * fit in half the memory budget (0 = the default budget). */
int score_keep_acts(const tf_config *c, int n, size_t mem_limit);

#endif
