/* Background work for the workbench: a thread-safe event queue whose wake-up
 * is a pipe the UI loop poll()s beside stdin, and one worker job at a time
 * with a cancel flag. Workers never touch curses: they post events. */
#ifndef MXALLOC_UI_JOBS_H
#define MXALLOC_UI_JOBS_H

#include <pthread.h>
#include <stdatomic.h>

typedef enum ui_event_kind {
    UI_EV_PROGRESS = 0, /* done / total of the running job */
    UI_EV_SEARCH,       /* one step of a dMX / GAMMA search (search field) */
    UI_EV_DONE,         /* the job finished: code 0, ERR_CANCELLED or an error */
} ui_event_kind;

/* One step of a differentiable search, as its producer reports it. */
typedef struct ui_search_step {
    long step;
    double temperature;    /* dMX temperature or GAMMA multiplier */
    double task_loss;
    double regularizer;
    double expected_bits;  /* expected average bits per weight */
    int n_modules;
    int *likely;           /* [n_modules] most likely mx_format per module (owned by the event) */
} ui_search_step;

typedef struct ui_event {
    ui_event_kind kind;
    int job;               /* enum ui_job_kind */
    int code;              /* UI_EV_DONE: 0 or a negative ERR_* */
    double done, total;    /* UI_EV_PROGRESS: count of total */
    char phase[24];        /* UI_EV_PROGRESS: "kl", "annealing" ... or "" */
    char unit[16];         /* UI_EV_PROGRESS: what done counts ("modules"), "": a fraction */
    double value;          /* UI_EV_DONE: the result (eval: ppl) */
    double value2;         /* UI_EV_DONE: secondary result (eval: avg bits evaluated) */
    char msg[512];         /* UI_EV_DONE: error message or summary */
    ui_search_step search; /* UI_EV_SEARCH */
    struct ui_event *next;
} ui_event;

typedef struct ui_queue {
    pthread_mutex_t lock;
    ui_event *head, *tail;
    int fds[2];            /* [0] read end for poll(), [1] written once per push */
    long pushed;
} ui_queue;

int ui_queue_init(ui_queue *q);          /* 0 or -1 (errno) */
void ui_queue_destroy(ui_queue *q);      /* frees pending events */
/* Copy *ev into the queue (the queue takes ownership of ev->search.likely)
 * and wake the reader. Returns 0 or -1 when out of memory (likely is freed). */
int ui_queue_push(ui_queue *q, const ui_event *ev);
/* The fd to poll for POLLIN. */
int ui_queue_fd(const ui_queue *q);
/* Pop the oldest event into *ev (caller frees with ui_event_clear). Drains the
 * wake-up pipe. Returns 1 when an event was popped, 0 when empty. */
int ui_queue_pop(ui_queue *q, ui_event *ev);
void ui_event_clear(ui_event *ev);

typedef enum ui_job_kind { UI_JOB_NONE = 0, UI_JOB_EVAL, UI_JOB_SCORE, UI_JOB_SEARCH, UI_JOB_GENERATE, UI_JOB_PRUNE } ui_job_kind;

typedef struct ui_job {
    ui_job_kind kind;      /* UI_JOB_NONE when idle */
    pthread_t thread;
    atomic_int cancel;     /* set by the UI, polled by the worker */
    ui_queue *q;
    void *(*fn)(void *);
    void *arg;
} ui_job;

/* Start fn(arg) on a thread (fn posts a UI_EV_DONE at the end). Returns 0, or
 * -1 when a job is already running or the thread cannot start. */
int ui_job_start(ui_job *j, ui_queue *q, ui_job_kind kind, void *(*fn)(void *), void *arg);
void ui_job_cancel(ui_job *j);
/* Join a finished (or cancelled) job; call after its UI_EV_DONE arrived. */
void ui_job_join(ui_job *j);
const char *ui_job_name(ui_job_kind k);

/* Worker side helpers. */
int ui_job_cancelled(ui_job *j);
/* done of total in the phase ("kl"), counting unit ("modules"); phase and unit may be NULL. */
void ui_job_progress(ui_job *j, double done, double total, const char *phase, const char *unit);
void ui_job_done(ui_job *j, int code, double value, double value2, const char *msg);
/* ui_job_done with the outcome's message: `cancelled` for ERR_CANCELLED,
 * "WHAT: ERR" for another error, else ok_fmt's text. */
void ui_job_end(ui_job *j, int code, double value, double value2, const char *cancelled,
                const char *what, const char *err, const char *ok_fmt, ...)
    __attribute__((format(printf, 8, 9)));

#endif
