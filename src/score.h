/* Sensitivity scores: for every quantizable linear module m and candidate MX
 * format f, s[m][f] = the increase of the mean calibration loss (NLL,
 * nats/token) when m alone is fake-quantized to f and everything else stays
 * fp32. Two methods fill the same score_table (src/score_table.h):
 *
 *  kl (direct)   measured: the fp32 residual stream entering every block is
 *                cached per calibration window, so scoring a module of layer l
 *                re-runs only blocks l..L-1 (tf_forward from = l) with the
 *                module's fake-quantized weight swapped in by pointer. Also
 *                stores kld[f] = mean over tokens of KL(p_fp32 || p_quant) of
 *                the next-token distributions (nats/token).
 *  fisher        one forward + backward per Fisher sample; a second-order
 *                Taylor estimate with the empirical Fisher diagonal:
 *                    s = sum_i g_i d_i + 1/2 sum_i F_ii d_i^2,   d = Q_f(W) - W,
 *                g = gradient of the mean calibration loss L (nats/token), and
 *                    F_ii = (1/N) sum_c (dS_c/dW_i)^2
 *                where the calibration tokens (N of them) are cut into Fisher
 *                samples c of `fisher_chunk` consecutive targets of one window
 *                (default: the whole window) and S_c is the SUM of the NLL of
 *                sample c's targets. If the per-token gradients inside a sample
 *                are uncorrelated, (1/N) sum_c dS_c dS_c^T = (1/N) sum_t
 *                dl_t dl_t^T, the per-token empirical Fisher, which stands in
 *                for the Hessian of the mean loss L; so s is in nats/token like
 *                kl. Every sample sees the whole window as context.
 *
 * With fisher_chunk = SCORE_FISHER_POSITIONS the squares are taken per
 * position instead, still one backward per window: F_ii = (1/N) sum over
 * windows and positions t of (dS/dy_t x_t)^2 for W_i = W[r][c], y_t = W x_t
 * the linear's output at position t and S the window's summed NLL (the
 * per-position terms of the weight gradient, tf_grads.lin_sq).
 *
 * Both use the same calibration windows as eval_perplexity: consecutive ctx
 * tokens, each window fed after a BOS (eval_window_tokens). */
#ifndef MXALLOC_SCORE_H
#define MXALLOC_SCORE_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/mx.h"
#include "src/score_table.h"
#include "kernels/err.h"
#include "src/model.h"

/* Bumped whenever the numbers a score file holds would change for the same
 * inputs; part of the cache key. */
#define SCORE_ALGO_VERSION 2
/* fisher_chunk value: squared per-position gradient terms (see above). */
#define SCORE_FISHER_POSITIONS (-1)
/* Default budget for cached activations (block inputs, fp32 logits). */
#define SCORE_DEFAULT_MEM ((size_t)1 << 30)
/* The defaults of `mxalloc score`, shared with the workbench so that both
 * compute, and find, the same cache entry: windows of the model's maximum
 * context but at most SCORE_DEFAULT_CTX_CAP tokens, SCORE_DEFAULT_TOKENS
 * calibration tokens, the formats of score_opts_init. */
#define SCORE_DEFAULT_CTX_CAP 512
#define SCORE_DEFAULT_TOKENS 4096

/* Running mean and sum of squared deviations of per-window values (Welford),
 * fed in window order so that a rerun gives the same bits whatever the
 * thread count or window grouping. Zero-initialize. */
typedef struct score_wstat {
    long n;
    double mean, m2;
} score_wstat;

typedef struct score_progress {
    const char *phase;  /* "fp32", "kl", "fisher", "uniform" */
    int module;         /* module being scored (kl), or -1 */
    int n_modules;
    double done, total; /* work in block-forward units, for a bar and an ETA */
    long tokens;        /* window tokens pushed through a forward so far */
    /* fisher, after each window (else NULL): the running means of the
     * windows so far, [n_modules][n_formats] in score_opts.formats order, the
     * previews of the scores (the final score of a module and format is the
     * mean over all windows); windows_done of n_windows. Valid during the call. */
    const score_wstat *window_stats;
    long windows_done, n_windows;
} score_progress;

/* Called often (after every window pass); return non-zero to cancel. */
typedef int (*score_progress_fn)(void *user, const score_progress *p);

/* fmts[n_modules] for method meth's scores in t at budget bits per weight;
 * 0, or non-zero when there is none (infeasible budget). */
typedef int (*score_anchor_fn)(const score_table *t, score_method meth, double budget, mx_format *fmts);

/* The anchor budgets: 4.5, 5.0, ..., 8.0 bits, the range a projection is used
 * in (below 4.5 every module but a few is MXFP4: the uniform anchor covers it). */
#define SCORE_ANCHOR_FROM 4.5
#define SCORE_ANCHOR_STEP 0.5
#define SCORE_ANCHOR_BUDGETS 8

typedef struct score_opts {
    unsigned methods;          /* (1u << SCORE_KL) | (1u << SCORE_FISHER) */
    int n_formats;             /* candidate formats, table order */
    mx_format formats[MX_NFORMATS];
    int ctx;                   /* window length (<= model max_seq) */
    int bos;                   /* id fed before every window */
    long max_tokens;           /* calibration tokens at most (whole windows); 0 = all */
    int fisher_chunk;          /* targets per Fisher sample; 0 = the whole window;
                                * SCORE_FISHER_POSITIONS: see below */
    int uniform;               /* also measure the uniform-format losses */
    size_t mem_limit;          /* bytes for cached activations; 0 = SCORE_DEFAULT_MEM */
    const unsigned char *only; /* [n_modules]: score only where non-zero; NULL = all */
    int threads;               /* kl: formats scored in parallel; 0 = one per core.
                                * The results do not depend on it. */
    /* Non-NULL (and only NULL): measure the anchors of the projection
     * (solver/proj.h) after scoring: for each method scored but gamma and
     * each budget SCORE_ANCHOR_FROM + k * SCORE_ANCHOR_STEP, the loss on
     * these windows of the allocation anchor_alloc makes (solver/proj.h's
     * proj_anchor_alloc: the integer program's). */
    score_anchor_fn anchor_alloc;
    /* Non-NULL: every candidate is quantized by GPTQ with these calibration
     * second moments (src/gptq_set.h; mxalloc score --gptq), where it applies;
     * the table records it (score_table.gptq). NULL: rounded to nearest. */
    const struct gptq_set *gptq;
    /* Non-NULL: this process scores its share of the windows and gathers the
     * rest (src/shard.h; mpirun -np N mxalloc score): the table is the same,
     * bit for bit, as one process's. NULL: all windows here. */
    struct shard *shard;
    score_progress_fn progress;
    void *user;
} score_opts;

/* What method meth costs on m with options o (ctx, formats, mem_limit, only),
 * in forward passes of one window per calibration window (the progress
 * bar's units): kl ~140 on stories260K with the six MX formats at ctx 512,
 * ~530 on a SmolLM2-135M shape; fisher and fisher-out a few. */
double score_cost_forwards(const model *m, const score_opts *o, score_method meth);
/* `score` without --method: kl while it costs at most this many forwards per
 * window and candidate format (about half the module count: 23 on
 * stories260K, 12 on tinystories-656k, 88 on a SmolLM2-135M shape), else
 * fisher-out (make bench: kl cannot serve a 135M model). */
#define SCORE_KL_MAX_FORWARDS_PER_FORMAT 40.0

/* Defaults: method kl, the six MX formats, uniform losses on, ctx/bos unset (0). */
void score_opts_init(score_opts *o);
/* The default window length for m: min(max_seq, SCORE_DEFAULT_CTX_CAP). */
int score_default_ctx(const model *m);
/* score_opts_init plus the model-dependent defaults of `mxalloc score`:
 * ctx = score_default_ctx(m), max_tokens = SCORE_DEFAULT_TOKENS (bos unset). */
void score_default_opts(const model *m, score_opts *o);

/* Score model m on the token stream (no leading BOS). Fills *out (allocated
 * here; free with score_table_free): model name/hash, formats, calib_tokens,
 * ctx, methods, fp32_loss, uniform_loss (when o->uniform), and per module
 * params, bits, score[method][f] (and kld[f] for kl). key is left empty.
 * Returns 0, ERR_ARG (bad options, fewer tokens than one window, token id
 * outside the vocabulary), ERR_NOMEM, or ERR_CANCELLED (progress said stop;
 * *out is then empty). */
/* The table score_compute fills, before any score: model name and hash,
 * o's methods and formats, per module name, layer, kind, shape and the
 * candidates' bits (scores NAN, calib_tokens and ctx 0). 0 or ERR_NOMEM. */
int score_table_for_model(const model *m, const score_opts *o, score_table *t);
int score_compute(const model *m, const int *tokens, long n_tokens, const score_opts *o,
                  score_table *out, mx_error *e);

/* ---- per-window statistics -------------------------------------------- */

void score_wstat_add(score_wstat *s, double x);
/* Standard error of the mean, sqrt(m2 / (n (n - 1))): the sample standard
 * deviation over sqrt(n). NAN below two values. */
double score_wstat_se(const score_wstat *s);

/* ---- the Fisher statistics, exposed for tests and tools ---------------- */

/* Per module i: g[i] and f[i], [rows*cols] each (see the formula above). */
typedef struct score_fisher_stats {
    int n;
    float **g, **f;
} score_fisher_stats;

/* Accumulate g and F over nw windows: in/tgt are [nw][ctx] as
 * eval_window_tokens makes them. only: as in score_opts (NULL = all).
 * progress may be NULL. Returns 0 or a negative ERR_*. */
int score_fisher_collect(const model *m, const int *in, const int *tgt, long nw, int ctx,
                         int chunk, const unsigned char *only, size_t mem_limit,
                         score_fisher_stats *st, mx_error *e);
void score_fisher_stats_free(score_fisher_stats *st);
/* s = sum_i g_i d_i + 1/2 sum_i F_ii d_i^2 for module i with d = q - w. */
double score_fisher_module(const score_fisher_stats *st, int i, const float *w, const float *q,
                           size_t len);

/* ---- cache key --------------------------------------------------------- */

typedef struct score_key_input {
    uint64_t model_hash;  /* model->content_hash */
    uint64_t text_hash;   /* xxh64 of the calibration text bytes */
    uint64_t tokens_hash; /* xxh64 of the calibration token ids (the tokenizer's effect) */
    long calib_tokens;    /* tokens scored (whole windows) */
    int ctx;
    unsigned methods;
    int fisher_chunk;
    int n_formats;
    const mx_format *formats;
    int gptq;             /* candidates quantized by GPTQ (score_opts.gptq) */
} score_key_input;

/* 16 lowercase hex digits of xxh64 over every field above and
 * SCORE_ALGO_VERSION; out must hold 17 bytes. */
void score_key(const score_key_input *k, char *out);
/* xxh64 of len bytes (seed 0), for text_hash / tokens_hash. */
uint64_t score_hash_bytes(const void *p, size_t len);
/* The key of scoring m with options o on a calibration text (text_len bytes)
 * and its token stream (n_tokens ids, without a leading BOS): the windows
 * score_compute would use (eval_window_count of o->ctx, o->max_tokens).
 * Returns that window count; 0 (key untouched) when not even one fits. */
long score_key_for_text(const model *m, const char *text, size_t text_len, const int *tokens,
                        long n_tokens, const score_opts *o, char *key);

/* Does the table t (read from a cache file) hold what these options would
 * compute for model m under key? 0 if so; else ERR_FORMAT with a one-line
 * reason (another key or model, missing method/format/module, non-finite
 * score). */
int score_table_check(const score_table *t, const model *m, const char *key,
                      const score_opts *o, mx_error *e);

#endif
