/* The workbench: the model, the calibration text, the solver state, the
 * background job and the command executor. Both front ends use it: the
 * curses app (ui_app.c) and --script (ui_script.c). No curses here. */
#ifndef MXALLOC_UI_WB_H
#define MXALLOC_UI_WB_H

#include "solver/search.h"
#include "src/hw_table.h"
#include "src/model.h"
#include "src/prune.h"
#include "src/prune_score.h"
#include "src/score.h"
#include "src/tok.h"
#include "ui/ui_cmd.h"
#include "ui/ui_jobs.h"
#include "ui/ui_progress.h"
#include "ui/ui_search.h"
#include "ui/ui_state.h"

typedef struct ui_wb_opts {
    const char *model_path;
    const char *tokenizer_path;   /* NULL: tokenizer.bin / tokenizer.json beside the model */
    const char *text_path;        /* calibration / evaluation text (eval needs it) */
    const char *scores_path;      /* NULL: the cache entry for the model, when present */
    long eval_tokens;             /* 0: every full window of the text */
    int ctx;                      /* 0: the score table's context, else min(256, model max) */
    mx_target target;             /* what the bits count (alloc --target); `target` changes it */
    const char *hw_table_path;    /* latency cost table (mxalloc hwprofile), or NULL */
    double max_latency_ms;        /* its limit at the start; 0: none (`latency` changes it) */
    const char *gptq_text;        /* calibration text of scores made by GPTQ (score --gptq), or NULL */
} ui_wb_opts;

/* Where messages go: the status line (curses) or stdout/stderr (script). */
typedef enum ui_msg_level { UI_MSG_INFO = 0, UI_MSG_RESULT, UI_MSG_ERROR } ui_msg_level;
typedef void (*ui_msg_fn)(void *user, ui_msg_level level, const char *text);

typedef struct ui_eval_job {
    struct ui_wb *wb;
    mx_format *fmts;              /* snapshot of the allocation being measured */
    unsigned char **masks;        /* its pruning (prune on), [n_layers * PRUNE_NPARTS], or NULL */
    int *alloc;                   /* the same as ui_state holds it (int per module) */
    double avg_bits, proj_ppl;    /* of that snapshot */
    char mark;                    /* its plot mark (ui_state_alloc_mark) */
} ui_eval_job;

/* State of a scoring run (score_compute in a worker). */
typedef struct ui_score_job {
    unsigned methods;
    score_table out;              /* filled by the worker, taken by the UI on success */
    char path[4200];              /* where it is cached */
    double last_ms;               /* progress events are rate-limited */
    /* Previews while no scores are open (a first run): the worker copies the
     * fisher means of the windows so far into pv under pv_lock; the UI thread
     * shows them as a provisional table (ui_work_preview). */
    pthread_mutex_t pv_lock;
    int preview;                  /* set at the start when no scores are open */
    score_opts opts;              /* what the worker runs; its formats are pv's columns */
    double *pv;                   /* [n_modules][opts.n_formats] */
    long pv_done, pv_total;       /* windows behind pv */
    long pv_shown;                /* windows behind the table shown */
} ui_score_job;

/* State of a dMX / GAMMA run (search_run in a worker). */
typedef struct ui_anneal_job {
    int method;                   /* enum search_method */
    int *in, *tgt;                /* calibration windows */
    double *init_cost;            /* kl scores in candidate order, or NULL */
    int n_formats;
    mx_format formats[MX_NFORMATS];
    double budget;
    search_result res;
    int have_res;
    long steps, refine, seed;     /* `anneal ... --steps N --refine N --seed N`; -1: the defaults */
    search_prune sp;              /* prune on: GAMMA over (format, keep level), solver/search.h */
    int have_sp;
} ui_anneal_job;

/* State of a pruning-scores run (`prune on` without them: prune_plan_collect
 * + prune_scores_compute on the workbench's text in a worker). */
typedef struct ui_prune_job {
    prune_plan plan;
    prune_scores ps;              /* filled by the worker, taken by the UI on success */
} ui_prune_job;

/* State of a greedy sample (gen_text in a worker, ui_work.c). */
typedef struct ui_gen_job {
    int n;                        /* tokens asked for */
    char prompt[512];
    mx_format *fmts;              /* snapshot of the allocation, or NULL: fp32 */
    double avg_bits;
    tok *tk;                      /* opened for the sample when the workbench has none */
    char *text;                   /* the last sample's continuation (the UI shows it) */
    long len;
    int n_new;
    const char *stop;             /* gen_stop_name */
} ui_gen_job;

typedef struct ui_wb {
    ui_wb_opts opts;
    model m;
    int have_model;
    tok *tk;
    char *text;                   /* the --text bytes (hashed into score cache keys) */
    size_t text_len;
    int *tokens;                  /* text tokens without the leading BOS */
    long n_tokens;
    int ctx;
    ui_state st;
    hw_table hw;                  /* opts.hw_table_path read (st.hw points here); empty without one */
    char scores_hint[512];        /* why no scores were loaded */
    ui_queue q;
    ui_job job;
    ui_eval_job eval;
    ui_score_job score;
    ui_anneal_job anneal;
    ui_gen_job gen;
    ui_prune_job prune;
    ui_progress prog;             /* phase, count, rate of the running job */
    ui_search_hist search;
    int *meas_fmts;               /* the allocation last measured (NULL: none) ... */
    double meas_ppl;              /* ... and its perplexity: shown while it is current */
    int quit;
    int interactive;              /* the screen shows the numbers: no summary messages */
    ui_msg_fn msg;
    void *msg_user;
} ui_wb;

/* Open the model (and tokenizer/text when given) and the scores. A missing
 * score file is not an error: scores_hint says what to do. 0 or ERR_*. */
int ui_wb_open(ui_wb *wb, const ui_wb_opts *o, ui_msg_fn msg, void *msg_user, mx_error *e);
void ui_wb_close(ui_wb *wb);

/* Execute one parsed command. Results and errors go through wb->msg; returns 0,
 * or a negative ERR_* (the message was already sent). Long work (eval) starts
 * a job and returns at once; ui_wb_wait_job blocks until it ends (script). */
int ui_wb_exec(ui_wb *wb, const ui_cmd *c);
/* A message to wb's sink (status line or script output), printf-style. */
void ui_wb_say(ui_wb *wb, ui_msg_level lv, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Parse + execute; blank and comment lines are 0. */
int ui_wb_exec_line(ui_wb *wb, const char *line);

/* Apply one event from the queue (progress, search step, job end). Returns
 * the job's code for UI_EV_DONE (0 or ERR_*), else 0. */
int ui_wb_handle_event(ui_wb *wb, ui_event *ev);
/* Block until the running job ends, handling its events; returns its code. */
int ui_wb_wait_job(ui_wb *wb);

/* Re-solve and report (the "budget" result line). */
int ui_wb_resolve(ui_wb *wb, int report);

/* One-line summary of the solution ("avg 4.98 b  1.23 MB  ppl 5.12 ..."). */
void ui_wb_summary(const ui_wb *wb, char *out, size_t len);

/* Export the current allocation, atomically: json as cfg_save writes it,
 * llama-cpp as `mxalloc export --to llama-cpp` prints it (export_llama_cpp). */
int ui_wb_export(ui_wb *wb, const char *path, int llama, mx_error *e);

/* Workers (ui_work.c): start scoring / a search; their UI_EV_DONE is taken
 * by ui_wb_handle_event through ui_work_finish. */
int ui_work_start_score(ui_wb *wb, unsigned methods);
int ui_work_start_anneal(ui_wb *wb, int method);
/* ui_work_start_anneal's codes besides 0: -1 no text, -2 too short, -3 no
 * thread, -4 out of memory, -6 the joint search's set-up failed (already said). */
/* `prune on` without pruning scores: compute them (0, or -1 no text, -2 too
 * short, -3 no thread); prune mode goes on when they arrive. */
int ui_work_start_prune(ui_wb *wb);
void ui_work_finish(ui_wb *wb, const ui_event *ev);
/* A first run's scoring: show the worker's newest fisher previews (if any
 * are newer than those shown) as the open table, re-solved. 1 when shown. */
int ui_work_preview(ui_wb *wb);
/* `generate [N] [PROMPT]`: start a greedy sample with the current allocation
 * (fp32 without one); messages go through wb->msg. 0 or a negative ERR_*. */
int ui_work_generate(ui_wb *wb, const ui_cmd *c);
void ui_work_free(ui_wb *wb);
/* The score file `mxalloc score MODEL --text TEXT` (defaults) would write for
 * this model and text; 0 and the path, or -1. */
int ui_work_default_scores(ui_wb *wb, char *path, size_t len);

/* "allocation ilp  method kl (of kl,fisher)  formats all  groups none  target mx
 * text FILE (N tokens, ctx C)  scores FILE": what drives the numbers shown. */
void ui_wb_status_line(const ui_wb *wb, char *out, size_t len);

/* Where the workbench keeps NAME ("history", "sessions/KEY"):
 * $XDG_DATA_HOME/mxalloc/NAME, else ~/.local/share/mxalloc/NAME; its
 * directories are created. 0 or -1. */
int ui_data_path(const char *name, char *out, size_t len);

/* The session of the open scores (budget, target, method, formats, groups,
 * pins) as workbench commands in sessions/KEY, KEY the score table's key:
 * saved when the workbench quits, replayed when it opens the same scores.
 * Save: 0 or ERR_*; restore: the lines applied, or -1 when there is none. */
int ui_wb_session_save(ui_wb *wb, mx_error *e);
int ui_wb_session_restore(ui_wb *wb);

/* Names for completion: i-th module name / format name, NULL past the end. */
const char *ui_wb_module_name(const ui_wb *wb, int i);

/* For a worker: GPTQ's calibration data when the open scores were made by
 * GPTQ (opts.gptq_text; *have = 1: gptq_set_free it), else nothing. 0 or
 * ERR_* with e set (no --gptq-text, another text). */
struct gptq_set;
int ui_wb_gptq(const ui_wb *wb, struct gptq_set *gs, int *have, mx_error *e);

#endif
