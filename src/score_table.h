/* The score table: per module, per format, the estimated increase in mean
 * calibration loss (nats/token) when that module alone is quantized, plus the
 * measurements a projection is calibrated and checked against. Pure data. */
#ifndef MXALLOC_SCORE_TABLE_H
#define MXALLOC_SCORE_TABLE_H

#include <stdint.h>

#include "kernels/mx.h"

#define SCORE_NAME_MAX 96

typedef enum score_method {
    SCORE_KL = 0,     /* measured: module alone quantized, loss increase */
    SCORE_FISHER,     /* one pass: empirical-Fisher second-order estimate */
    SCORE_GAMMA,      /* exported from GAMMA's learned preferences */
    SCORE_FISHER_OUT, /* one pass: output-space Fisher (AutoQuantize's estimate) */
    SCORE_NMETHODS
} score_method;

const char *score_method_name(score_method m);
int score_method_parse(const char *s, score_method *out); /* 0 or -1 */

/* Every per-format array below (bits, score[method], se[method], kld,
 * kld_se, uniform_loss) is indexed by the mx_format value, not by position in
 * formats[]; entries of formats that are not candidates are NAN. A score is
 * the mean over the calibration windows of that window's value; se is the
 * standard error of that mean across the windows (score_wstat_se in
 * src/score.h), NAN when
 * unknown (one window, gamma scores). */
typedef struct score_module {
    char name[SCORE_NAME_MAX];
    int layer, kind;                 /* block index, enum tf_linear */
    int rows, cols;
    int64_t params;
    double bits[MX_NFORMATS];        /* bits per weight incl. scales */
    double score[SCORE_NMETHODS][MX_NFORMATS]; /* NAN where not computed */
    double se[SCORE_NMETHODS][MX_NFORMATS];    /* standard error of score; NAN if unknown */
    double kld[MX_NFORMATS];         /* mean KL(fp32 || quantized), kl method; NAN if absent */
    double kld_se[MX_NFORMATS];      /* standard error of kld; NAN if unknown */
} score_module;

/* A measured mixed allocation: the calibration loss of the integer program's
 * allocation at one budget under one method's scores, measured by `score`
 * on its own windows; the projection is fitted to these beside the uniform
 * formats (solver/proj.h). */
typedef struct score_anchor {
    int method;          /* score_method whose allocation it is */
    double bits;         /* its average bits per weight */
    double score_sum;    /* sum of score_cost under method when measured */
    double loss;         /* measured calibration loss, nats/token */
} score_anchor;
#define SCORE_ANCHORS_MAX 48

typedef struct score_table {
    char model[256];                 /* model path or name, for display */
    uint64_t model_hash;             /* identifies the weights (model->content_hash) */
    char key[40];                    /* cache key (hex) */
    unsigned methods;                /* bit (1u << score_method) per method present */
    int n_formats;
    mx_format formats[MX_NFORMATS];  /* candidate formats, in table order */
    long calib_tokens;
    int ctx;
    double fp32_loss;                /* measured calibration loss, nats/token */
    double uniform_loss[MX_NFORMATS];/* measured loss with every module in f; NAN if absent */
    int n_modules;
    score_module *modules;
    int n_anchors;
    score_anchor anchors[SCORE_ANCHORS_MAX];
    /* 1: the candidates were quantized by GPTQ with the second moments of the
     * calibration windows (ctx, calib_tokens) of the text whose xxh64 is
     * text_hash (score --gptq); alloc's configs then say rounding "gptq". */
    int gptq;
    uint64_t text_hash;
} score_table;

/* An empty table: zeros, NAN losses (no allocation). */
void score_table_init(score_table *t);
/* score_table_init, then n_modules modules with every score/se/kld/bits NAN. 0 or ERR_NOMEM. */
int score_table_alloc(score_table *t, int n_modules);
void score_table_free(score_table *t);
/* Position of f in t->formats, or -1 when it is not a candidate. */
int score_table_format_index(const score_table *t, mx_format f);
/* Index of a module by name, or -1. */
int score_table_find(const score_table *t, const char *name);
/* 1 when method m is present (bit set in t->methods). */
int score_table_has(const score_table *t, score_method m);

/* What the solver and the projection add up for module m in format f under
 * method s: a sensitivity that cannot be negative, so that noise never makes
 * fewer bits look better. kl: the mean KL divergence of the quantized model
 * from fp32 (non-negative by definition; the loss difference score[KL] of
 * the same pass is its noisy estimate, often below zero for precise
 * formats), or max(score, 0) in a table without it; fisher and gamma:
 * max(score, 0). Measured on stories260K (bench/alloc_real.sh, held-out
 * half, budgets 4.5-8): the KL basis allocates as well as the loss deltas on
 * average and better from 6.5 bits, where the deltas' noise kept modules in
 * MXFP4; fisher without its first-order term allocated worse (+10.1% vs
 * +7.6% at 5 bits), so fisher keeps it and is only clamped. The loss deltas
 * shrunk toward zero by their standard error (max(0, delta - z se), z = 1
 * or 2, or James-Stein) did not beat the KL basis on both real models
 * (bench/basis_real.sh: stories260K worse at every budget of 4.5-7;
 * tinystories-656k mixed, within the held-out noise), so kl stays on the
 * KL divergence. NAN when the score is missing; 0 for fp32. */
double score_cost(const score_module *m, score_method s, mx_format f);

#endif
