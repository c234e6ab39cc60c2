/* Structured pruning of a model's blocks, the second axis of the joint search
 * (solver/joint.h). Per block there are two pruning groups:
 *   attention  units are the GQA groups: one k/v head and the q heads that
 *              read it; pruning a unit removes those rows of q, k and v and
 *              the matching columns of o;
 *   MLP        units are intermediate channels: a row of gate and of up and
 *              the matching column of down.
 * Keeping no unit skips the sublayer (the residual passes through).
 *
 * Which units go first: Wanda's activation-weighted magnitude (Sun et al.
 * 2023, "A Simple and Effective Pruning Approach for LLMs") in its structured
 * form (as in FLAP, An et al. 2024): a unit's importance is the sum over the
 * input columns j it owns in o (attention) or down (MLP) of
 *     ||X_j||_2 * ||W[:, j]||_2,
 * X_j the calibration inputs of that column. The least important go first.
 *
 * Applying a keep set: the kept rows/columns form a smaller matrix, which is
 * what a pruned model stores; it is fake-quantized as such (its own MX
 * blocks of 32 along the kept columns) and scattered back into a full-size
 * matrix with zeros elsewhere. The zeros give the pruned model's math
 * exactly: a zero q and k row pair makes every score of that head 0, the
 * zero v rows then give it a zero output, and o's zero columns add nothing
 * (RMS-normed q/k of Qwen3 stay zero too); a zero gate row gives
 * silu(0) * up = 0 and down's column adds nothing. */
#ifndef MXALLOC_PRUNE_H
#define MXALLOC_PRUNE_H

#include "kernels/err.h"
#include "kernels/mx.h"
#include "src/model.h"

enum prune_part { PRUNE_ATTN = 0, PRUNE_MLP, PRUNE_NPARTS };

typedef struct prune_group {
    int layer, part;        /* block and enum prune_part */
    int n_units;            /* GQA groups (n_kv_heads) or channels (hidden_dim) */
    double *importance;     /* [n_units] */
    int *order;             /* [n_units] unit indices, most important first */
} prune_group;

/* Group (layer * PRUNE_NPARTS + part) for every block. */
typedef struct prune_plan {
    int n_groups;
    prune_group *g;
} prune_plan;

/* The pruning group of a module kind (enum tf_linear). */
int prune_part_of(int kind);
/* The group name used in configs: "model.layers.L.self_attn" / "model.layers.L.mlp". */
void prune_group_name(int layer, int part, char *out, size_t cap);
/* Units of a group kind in model config c. */
int prune_units(const tf_config *c, int part);

/* The importances from fp32 forward passes over the windows of ctx tokens of
 * tokens (bos first, at most max_tokens; as eval_window_tokens cuts them).
 * 0 or ERR_*; on error *p holds nothing to free. */
int prune_plan_collect(prune_plan *p, const model *m, const int *tokens, long n_tokens, int bos,
                       int ctx, long max_tokens, mx_error *e);
void prune_plan_free(prune_plan *p);

/* Units kept at fraction keep (rounded to nearest, 0..n_units). */
int prune_count(const prune_group *g, double keep);
/* keep[n_units] = 1 for the n most important units of g, else 0. */
void prune_mask(const prune_group *g, int n, unsigned char *keep);

/* Kept rows and columns of module i under unit mask keep (NULL: all):
 * *rows, *cols (counts); row_on/col_on (optional, [rows]/[cols] of the full
 * matrix) get 1 where kept. */
void prune_shape(const model *m, int i, const unsigned char *keep, int *rows, int *cols,
                 unsigned char *row_on, unsigned char *col_on);

/* The kept submatrix of w (rows x cols of module i; NULL: its weights) under
 * keep into sub (room for rows * cols floats; sub == w works: in place),
 * row-major; *rows, *cols its shape. 0 or ERR_NOMEM. */
int prune_gather(const model *m, int i, const float *w, const unsigned char *keep, float *sub, int *rows,
                 int *cols, mx_error *e);

/* out (full rows x cols of module i) = the kept submatrix of w (NULL:
 * module i's weights) in format f (MX_FP32: as is), zeros elsewhere. keep
 * NULL: no pruning. 0 or ERR_NOMEM. */
int prune_apply(const model *m, int i, const float *w, const unsigned char *keep, mx_format f,
                float *out, mx_error *e);

/* Bits per original weight of module i kept under keep in format f (scales
 * of the smaller matrix's blocks included; 0 when nothing is kept). */
double prune_bits(const model *m, int i, const unsigned char *keep, mx_format f);

#endif
