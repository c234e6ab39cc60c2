/* Event queue (mutex + self-pipe) and the single background job. */
#include "ui/ui_jobs.h"

#include "kernels/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int ui_queue_init(ui_queue *q)
{
    memset(q, 0, sizeof *q);
    if (pipe(q->fds))
        return -1;
    for (int i = 0; i < 2; i++) {
        fcntl(q->fds[i], F_SETFL, fcntl(q->fds[i], F_GETFL) | O_NONBLOCK);
        fcntl(q->fds[i], F_SETFD, FD_CLOEXEC);
    }
    pthread_mutex_init(&q->lock, NULL);
    return 0;
}

void ui_event_clear(ui_event *ev)
{
    free(ev->search.likely);
    ev->search.likely = NULL;
}

void ui_queue_destroy(ui_queue *q)
{
    ui_event *e = q->head;
    while (e) {
        ui_event *n = e->next;
        ui_event_clear(e);
        free(e);
        e = n;
    }
    q->head = q->tail = NULL;
    close(q->fds[0]);
    close(q->fds[1]);
    pthread_mutex_destroy(&q->lock);
}

int ui_queue_fd(const ui_queue *q)
{
    return q->fds[0];
}

int ui_queue_push(ui_queue *q, const ui_event *ev)
{
    ui_event *c = malloc(sizeof *c);
    if (!c) {
        free(ev->search.likely);
        return -1;
    }
    *c = *ev;
    c->next = NULL;
    pthread_mutex_lock(&q->lock);
    if (q->tail)
        q->tail->next = c;
    else
        q->head = c;
    q->tail = c;
    q->pushed++;
    pthread_mutex_unlock(&q->lock);
    /* A full pipe already means "wake up": EAGAIN is fine. */
    ssize_t r = write(q->fds[1], "e", 1);
    (void)r;
    return 0;
}

int ui_queue_pop(ui_queue *q, ui_event *ev)
{
    char buf[256];
    while (read(q->fds[0], buf, sizeof buf) > 0)
        ;
    pthread_mutex_lock(&q->lock);
    ui_event *c = q->head;
    if (c) {
        q->head = c->next;
        if (!q->head)
            q->tail = NULL;
    }
    pthread_mutex_unlock(&q->lock);
    if (!c)
        return 0;
    *ev = *c;
    ev->next = NULL;
    free(c);
    return 1;
}

static const char *const job_names[] = {"none", "eval", "score", "search", "generate", "prune"};

const char *ui_job_name(ui_job_kind k)
{
    return (unsigned)k <= UI_JOB_GENERATE ? job_names[k] : "?";
}

int ui_job_start(ui_job *j, ui_queue *q, ui_job_kind kind, void *(*fn)(void *), void *arg)
{
    if (j->kind != UI_JOB_NONE)
        return -1;
    atomic_store(&j->cancel, 0);
    j->q = q;
    j->fn = fn;
    j->arg = arg;
    j->kind = kind;
    if (pthread_create(&j->thread, NULL, fn, arg)) {
        j->kind = UI_JOB_NONE;
        return -1;
    }
    return 0;
}

void ui_job_cancel(ui_job *j)
{
    atomic_store(&j->cancel, 1);
}

void ui_job_join(ui_job *j)
{
    if (j->kind == UI_JOB_NONE)
        return;
    pthread_join(j->thread, NULL);
    j->kind = UI_JOB_NONE;
}

int ui_job_cancelled(ui_job *j)
{
    return atomic_load(&j->cancel) != 0;
}

void ui_job_progress(ui_job *j, double done, double total, const char *phase, const char *unit)
{
    ui_event ev = {.kind = UI_EV_PROGRESS, .job = j->kind, .done = done, .total = total};
    snprintf(ev.phase, sizeof ev.phase, "%s", phase ? phase : "");
    snprintf(ev.unit, sizeof ev.unit, "%s", unit ? unit : "");
    ui_queue_push(j->q, &ev);
}


void ui_job_done(ui_job *j, int code, double value, double value2, const char *msg)
{
    ui_event ev = {.kind = UI_EV_DONE, .job = j->kind, .code = code, .value = value, .value2 = value2};
    if (msg)
        snprintf(ev.msg, sizeof ev.msg, "%s", msg);
    ui_queue_push(j->q, &ev);
}

void ui_job_end(ui_job *j, int code, double value, double value2, const char *cancelled,
                const char *what, const char *err, const char *ok_fmt, ...)
{
    char msg[sizeof ((ui_event *)0)->msg];
    if (code == ERR_CANCELLED)
        snprintf(msg, sizeof msg, "%s", cancelled);
    else if (code)
        snprintf(msg, sizeof msg, "%s: %s", what, err);
    else {
        va_list ap;
        va_start(ap, ok_fmt);
        vsnprintf(msg, sizeof msg, ok_fmt, ap);
        va_end(ap);
    }
    ui_job_done(j, code, value, value2, msg);
}
