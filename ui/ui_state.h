/* The workbench's solver-facing state: a score table, the constraints the user
 * set (budget, pins, allowed formats, shared-format groups, score method) and
 * the current solution with its projection. No curses, no threads; every
 * number comes from the library (solver/ilp.h, solver/proj.h), the same calls
 * `mxalloc alloc` makes. */
#ifndef MXALLOC_UI_STATE_H
#define MXALLOC_UI_STATE_H

#include "solver/ilp.h"
#include "solver/proj.h"
#include "src/score_table.h"
#include "kernels/err.h"

#define UI_CURVE_MAX 48
#define UI_MEAS_MAX 64
#define UI_CAND_MAX 16
#define UI_CAND_NAME 32

#define UI_UNDO_MAX 100

/* The constraints the user sets, as undo/redo keeps them. */
typedef struct ui_snap {
    double budget;
    int *pin;                      /* [n_modules] */
    unsigned char fmt_ok[MX_NFORMATS];
    int group_qkv, group_gateup;
    score_method method;
    mx_target target;
} ui_snap;

/* A named allocation kept to compare and switch to ("ilp@5.00", "dmx@5.00"). */
typedef struct ui_cand {
    char name[UI_CAND_NAME];
    int *fmts;                     /* [n_modules] mx_format */
    double avg_bits, proj_ppl;
    double meas_ppl;               /* NAN until this exact allocation is measured */
} ui_cand;

typedef struct ui_state {
    score_table t;                 /* owned; t.n_modules == 0 when no scores are loaded */
    char scores_path[4096];        /* where the table came from ("" when none) */
    score_method method;           /* scores that drive the solver */
    unsigned char fmt_ok[MX_NFORMATS]; /* by mx_format: allowed by `formats` */
    int group_qkv, group_gateup;
    mx_target target;              /* what the bits count (alloc --target) */
    const struct hw_table *hw;     /* latency cost table (tui --hw-table; owned by the caller) or NULL */
    double max_latency_ms;         /* limit on its predicted latency of the block linears; <= 0: none */
    int *pin;                      /* [n_modules] pinned mx_format or -1 */
    double budget;                 /* average bits per weight */
    double time_limit_s;           /* per solve (ilp_problem.time_limit_s); <= 0: exact. The
                                      interactive workbench sets one so a key never waits long */

    int solved;                    /* choice/res/proj valid for the current constraints */
    char alloc_name[UI_CAND_NAME]; /* what made choice: "ilp" (the solver) or a candidate's name */
    int n_cand;
    ui_cand cand[UI_CAND_MAX];
    int *choice;                   /* [n_modules] mx_format */
    ilp_result res;
    double solve_ms;               /* wall time of the last ilp_solve + projection */
    double proj_ppl;               /* projected perplexity of choice (NAN when unknown) */
    double fp32_ppl;               /* exp(fp32_loss) */
    proj_fit proj;                 /* the projection (proj_default_fit for the method) */
    double proj_band;              /* its relative band: the fit's largest residual on the
                                      measured uniform formats (proj_fit_residual), NAN if none */
    int near_fmt;                  /* nearest uniform format by bits, -1 when none */
    double near_ppl;               /* its perplexity (measured when the table has it, else projected) */
    int near_measured;
    char err[512];                 /* why the last solve failed ("" when solved) */

    int n_curve;                   /* Pareto curve: projected ppl vs avg bits */
    double curve_bits[UI_CURVE_MAX], curve_ppl[UI_CURVE_MAX];
    double curve_obj[UI_CURVE_MAX];/* the solver's objective (sum of scores, nats) at each point */
    int curve_stale;
    double view_hi;                /* upper end of the interesting budget range (where the
                                      objective stops improving), for the bar and the plot */
    double range_lo, range_hi;     /* ui_state_budget_range, cached with the curve */
    int n_meas;                    /* measured points (eval) */
    double meas_bits[UI_MEAS_MAX], meas_ppl[UI_MEAS_MAX];
    char meas_mark[UI_MEAS_MAX];   /* ui_state_alloc_mark of each, when measured */

    /* Joint pruning (`prune on`): the scores of src/prune_score.h and the plan
     * they were made with (owned), for the model pm (the workbench's). While
     * prune_on the solver chooses a format and a keep level per module
     * (solver/prune_alloc.h at weight prune_weight of the pruning losses);
     * level[i] is choice[i]'s level (index in ps->levels). A pin fixes the
     * format and keeps its group whole. */
    struct prune_scores *ps;
    struct prune_plan *plan;
    const struct model *pm;
    int prune_on;
    double prune_weight;
    int *level;                    /* [n_modules] */
    int *tmp_choice;               /* [n_modules] scratch */
    int n_undo, n_redo;            /* constraint history (budget, pins, formats, groups, method, target) */
    ui_snap undo[UI_UNDO_MAX], redo[UI_UNDO_MAX];
} ui_state;

void ui_state_init(ui_state *s);
void ui_state_free(ui_state *s);
/* Take ownership of *t (left empty) and reset pins; the method becomes the
 * first present of kl, fisher, gamma. 0 or ERR_* (a table without modules or
 * candidate formats is ERR_FORMAT). */
int ui_state_set_table(ui_state *s, score_table *t, const char *path, mx_error *e);
int ui_state_has_scores(const ui_state *s);
/* The latency limit (ms per token of the block linears by s->hw), <= 0: none;
 * marks the solution stale. ERR_ARG without a table. */
int ui_state_set_max_latency(ui_state *s, double ms, mx_error *e);

/* Constraint edits; each marks the solution and curve stale. */
int ui_state_set_method(ui_state *s, score_method m, mx_error *e);
/* Pin module i to f (must be a candidate format allowed by `formats`). */
int ui_state_pin(ui_state *s, int module, mx_format f, mx_error *e);
void ui_state_unpin(ui_state *s, int module);  /* module -1: all */
/* LIST: comma-separated format names, or "all". */
int ui_state_set_formats(ui_state *s, const char *list, mx_error *e);
void ui_state_set_group(ui_state *s, int gateup, int on);
void ui_state_set_target(ui_state *s, mx_target t);

/* Module index for NAME: an exact module name, or LAYER.KIND ("3.down",
 * "0.q"); -1 and a message when there is none. */
int ui_state_find_module(const ui_state *s, const char *name, mx_error *e);

/* Solve for s->budget (ilp_solve over the current constraints), then project.
 * On ERR_INFEASIBLE s->err names the smallest feasible budget. Returns 0 or ERR_*. */
int ui_state_solve(ui_state *s, mx_error *e);
/* Budget limits of the bar: [min feasible, widest allowed] in bits per weight. */
void ui_state_budget_range(ui_state *s, double *lo, double *hi);
/* Recompute the Pareto curve (n points) over [min budget, view_hi]: a first
 * pass over the whole range finds where the objective stops improving. */
int ui_state_sweep(ui_state *s, int n, mx_error *e);
/* What the workbench's panes show besides the solution, recomputed only when
 * the constraints changed (curve_stale): the budget range (range_lo/hi) and
 * the Pareto curve of n points. Drawing reads these and never solves. */
void ui_state_update_view(ui_state *s, int n);
/* Projected perplexity of an arbitrary assignment (fmts[i] per module). */
double ui_state_project(const ui_state *s, const int *fmts);
/* The current allocation becomes fmts (mx_format per module), kept as
 * candidate NAME (replacing one of that name): what a search found, or a
 * candidate switched to. Bits, size and projection are computed for it; it
 * stays current until a constraint changes (then the solver's again).
 * 0, ERR_ARG (a format the scores lack) or ERR_NOMEM. */
int ui_state_apply(ui_state *s, const int *fmts, const char *name, mx_error *e);
/* Keep the current allocation as candidate NAME (NULL: "<alloc_name>@<budget>");
 * the name used goes to kept (may be NULL). */
int ui_state_keep(ui_state *s, const char *name, char kept[UI_CAND_NAME], mx_error *e);
/* Make candidate NAME current; "ilp" re-solves. */
int ui_state_use(ui_state *s, const char *name, mx_error *e);
/* The allowed formats as `formats` takes them: "all", or labels joined by ",". */
void ui_state_formats_text(const ui_state *s, char *out, size_t len);
/* 1 when name contains text, ignoring case, or text is its LAYER.KIND name
 * ("0.q", as the module list shows it): the workbench's find. */
int ui_state_name_matches(const char *name, const char *text);
/* Index of the candidate equal to fmts, or -1. */
int ui_state_cand_of(const ui_state *s, const int *fmts);
/* 1 when the current allocation is exactly fmts. */
int ui_state_is_current(const ui_state *s, const int *fmts);
/* Undo/redo: take the constraints before an edit, then record them; an edit
 * that changed nothing is not recorded, a recorded one clears the redo list.
 * ui_state_undo (redo = 0) or redo (1) restores them and marks the solution
 * stale: the solver's answer for them becomes current. 0, or ERR_ARG with
 * "nothing to undo" / "nothing to redo", or ERR_NOMEM. */
int ui_state_snap(const ui_state *s, ui_snap *out);
void ui_state_record(ui_state *s, ui_snap *before);
int ui_state_undo(ui_state *s, int redo, mx_error *e);
void ui_snap_free(ui_snap *p);
void ui_state_clear_history(ui_state *s);
/* The plot's mark for an allocation measured now: what made it, 'd' (dMX) or
 * 'g' (GAMMA) for a search's candidate, else the score method the solver
 * used: 'k' kl, 'f' fisher, 'F' fisher-out, 'g' gamma scores. */
char ui_state_alloc_mark(const ui_state *s);
/* Add a measured point to the plot, drawn as mark. */
void ui_state_add_measured(ui_state *s, double bits, double ppl, char mark);

/* Take ownership of *ps and *plan (left empty), made for m (whose modules
 * must be the table's, in order); prune_on is unchanged. 0 or ERR_*. */
int ui_state_set_prune(ui_state *s, struct prune_scores *ps, struct prune_plan *plan, const struct model *m,
                       mx_error *e);
/* `prune on|off`: ERR_ARG without prune scores or with target llama-cpp (the
 * joint bits are counted for packed MX). Marks the solution stale. */
int ui_state_set_prune_on(ui_state *s, int on, mx_error *e);
/* Prune mode's ui_state_apply: fmts (mx_format) and level (index in
 * ps->levels, shared by each pruning group) per module become the current
 * allocation named name (a joint search's answer). 0 or ERR_ARG (prune off,
 * a format the pruning scores lack). */
int ui_state_apply_pruned(ui_state *s, const int *fmts, const int *level, const char *name, mx_error *e);
/* The pruning losses' weight (> 0); marks the solution stale. */
void ui_state_set_prune_weight(ui_state *s, double w);
/* Fraction of module i's group the current allocation keeps (1 when nothing is pruned). */
double ui_state_keep_frac(const ui_state *s, int i);
/* The current allocation's unit masks per pruning group (solver/prune_alloc.h's
 * prune_alloc_masks), or NULL (not pruning, or out of memory: *nomem = 1). */
unsigned char **ui_state_prune_masks(const ui_state *s, int *nomem);
/* The solver, range and curve of prune mode (ui_prune.c; ui_state.c calls them). */
int ui_prune_solve(ui_state *s, mx_error *e);
void ui_prune_range(ui_state *s, double *lo, double *hi);
int ui_prune_sweep(ui_state *s, int n, mx_error *e);
void ui_prune_free(ui_state *s);
/* The lowest budget the bar offers in prune mode (everything skipped would be 0). */
#define UI_PRUNE_MIN_BUDGET 2.0

/* Column label of a format for the heatmap ("e2m1", "int8", "bf16", ...):
 * mx_format_label, accepted by the `:` commands and the CLI. */
const char *ui_format_short(mx_format f);

#endif
