/* The joint search over prune_scores (src/prune_score.h): which format and
 * keep level every module gets at a bit budget, solved exactly by
 * joint_solve (solver/joint.h), and the config that records the answer. */
#ifndef MXALLOC_PRUNE_ALLOC_H
#define MXALLOC_PRUNE_ALLOC_H

#include "solver/ilp.h"
#include "src/prune.h"
#include "src/cfg.h"
#include "src/prune_score.h"

typedef enum prune_mode {
    PRUNE_MODE_JOINT = 0, /* every format at every keep level */
    PRUNE_MODE_PRUNE,     /* one format everywhere, keep levels chosen: pruning only */
    PRUNE_MODE_QUANT      /* keep everything, formats chosen: quantization only */
} prune_mode;

/* "joint", "prune", "quant"; 0 or -1. */
int prune_mode_parse(const char *s, prune_mode *out);
const char *prune_mode_name(prune_mode m);

typedef struct prune_alloc_opts {
    prune_mode mode;
    int prune_format;            /* PRUNE_MODE_PRUNE: index in s->formats */
    double budget_bits;          /* average over the unpruned weights, scales included */
    const unsigned char *keep_all; /* [n_modules] or NULL: 1 = its group is never pruned */
    double prune_weight;         /* the groups' losses count this many times (0: 1) */
    const unsigned char *fmt_ok; /* [n_modules][n_formats] or NULL: formats module m may take (pins) */
} prune_alloc_opts;

/* fmt[m] (index in s->formats) and level[m] (index in s->levels) at the
 * optimum; res as joint_solve fills it (objective: the summed costs, so the
 * projected loss is s->fp32_loss + res->objective). 0 or ERR_*
 * (ERR_INFEASIBLE names the smallest budget the mode reaches). */
int prune_alloc_solve(const prune_scores *s, const model *m, const prune_alloc_opts *o, int *fmt,
                      int *level, ilp_result *res, mx_error *e);

/* The calibration windows a search measures its candidates on (those of
 * prune_scores_compute). */
typedef struct prune_calib {
    const int *tokens;
    long n_tokens;
    int bos, ctx;
    long max_tokens;
} prune_calib;

typedef struct prune_answer {
    ilp_result res;          /* the winner's solve (objective: summed costs at its weight) */
    double additive_loss;    /* fp32_loss + the winner's scores summed at weight 1 */
    double measured_loss;    /* mean NLL of the calibration windows with the winner applied */
    char from[24];           /* which candidate won: "joint x1", "joint x4", "quant", "prune" */
    int candidates;          /* distinct answers measured */
} prune_answer;

/* The search `mxalloc prune` runs. The scores are additive estimates: groups'
 * losses measured one at a time (pruning several compounds) beside Fisher
 * terms (second order, at the unpruned point), so their relative scale is
 * the weak spot. Mode joint therefore solves at several weights of the
 * pruning losses (PRUNE_WEIGHTS) and adds the two single-axis optima (quant,
 * prune) where feasible: every such answer meets the budget, each is
 * measured on the calibration windows, and the least measured loss wins.
 * Modes prune and quant solve once (weight 1) and measure that answer. So
 * joint is never worse than the single-axis answers on the calibration
 * text. 0 or ERR_* (ERR_INFEASIBLE when no candidate meets the budget). */
#define PRUNE_WEIGHTS {0.25, 0.5, 1.0, 2.0, 4.0, 8.0}
int prune_alloc_search(const prune_scores *s, const prune_plan *p, const model *m, const prune_alloc_opts *o,
                       const prune_calib *cal, int *fmt, int *level, prune_answer *a, mx_error *e);

/* The scores of an answer summed at weight 1: the projected loss increase. */
double prune_alloc_additive(const prune_scores *s, const model *m, const int *fmt, const int *level);
/* The smallest budget the options reach; NAN when none. */
double prune_alloc_min_budget(const prune_scores *s, const model *m, const prune_alloc_opts *o);
/* Unit masks per group of an answer (NULL where a group is kept whole), [p->n_groups];
 * NULL when out of memory. Free with cfg_prune_masks_free(masks, p->n_groups). */
unsigned char **prune_alloc_masks(const prune_scores *s, const prune_plan *p, const model *m, const int *level);

/* The mean NLL of the calibration windows with an answer applied. */
int prune_alloc_measure(const prune_scores *s, const prune_plan *p, const model *m, const int *fmt,
                        const int *level, const prune_calib *cal, double *loss, mx_error *e);

/* c's formats, and "prune" for every group not kept whole, from an answer
 * (masks from p, the plan the scores were made with). 0 or ERR_*. */
int prune_alloc_config(const prune_scores *s, const prune_plan *p, const model *m, const int *fmt,
                       const int *level, mx_cfg *c, mx_error *e);

#endif
