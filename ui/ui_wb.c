/* The workbench core: opening things, running commands, background eval. */
#include "ui/ui_wb.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernels/clock.h"
#include "kernels/mx.h"
#include "src/cache.h"
#include "src/cfg.h"
#include "src/eval.h"
#include "src/export.h"
#include "src/file_map.h"
#include "src/file_write.h"
#include "src/gptq_set.h"
#include "src/prune.h"
#include "src/score_lookup.h"

void ui_wb_say(ui_wb *wb, ui_msg_level lv, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (wb->msg)
        wb->msg(wb->msg_user, lv, buf);
}

static int fail(ui_wb *wb, int code, const char *msg)
{
    ui_wb_say(wb, UI_MSG_ERROR, "%s", msg);
    return code < 0 ? code : ERR_ARG;
}

/* ---- opening ---- */

static int open_tokens(ui_wb *wb, mx_error *e)
{
    const ui_wb_opts *o = &wb->opts;
    /* --tokenizer, else the model's own (tok_open's one discovery rule) */
    wb->tk = tok_open(o->tokenizer_path, wb->m.path, wb->m.cfg.vocab_size, e);
    if (!wb->tk)
        return e ? e->code : ERR_IO;
    char *text = NULL;
    size_t len = 0;
    int rc = fm_read_all(o->text_path, &text, &len, e);
    if (rc)
        return rc;
    int *ids = NULL;
    long n = tok_encode(wb->tk, text, len, &ids, e);
    wb->text = text; /* kept: its hash is part of the score cache key */
    wb->text_len = len;
    if (n < 0)
        return err_prefix(e, "%s: ", o->text_path);
    long skip = (n > 0 && ids[0] == tok_bos(wb->tk)) ? 1 : 0;
    memmove(ids, ids + skip, (size_t)(n - skip) * sizeof *ids);
    wb->tokens = ids;
    wb->n_tokens = n - skip;
    return 0;
}

static int load_scores(ui_wb *wb, const char *path, mx_error *e)
{
    score_table t;
    int rc = cache_read(path, &t, e);
    if (rc)
        return rc;
    if (wb->have_model) {
        /* Same modules in the same order, or the table is for another model. */
        int ok = t.n_modules == wb->m.n_modules;
        for (int i = 0; ok && i < t.n_modules; i++)
            ok = !strcmp(t.modules[i].name, wb->m.modules[i].name);
        if (!ok) {
            score_table_free(&t);
            return err_set(e, ERR_FORMAT, "%s: scores for another model (modules differ from %s)", path,
                           wb->m.path);
        }
    }
    rc = ui_state_set_table(&wb->st, &t, path, e);
    score_table_free(&t);
    if (rc)
        return rc;
    ui_search_hist_free(&wb->search);
    if (ui_search_hist_init(&wb->search, wb->st.t.n_modules))
        return err_set(e, ERR_NOMEM, "out of memory");
    wb->scores_hint[0] = '\0';
    return 0;
}

int ui_wb_open(ui_wb *wb, const ui_wb_opts *o, ui_msg_fn msg, void *msg_user, mx_error *e)
{
    memset(wb, 0, sizeof *wb);
    pthread_mutex_init(&wb->score.pv_lock, NULL);
    hw_table_init(&wb->hw);
    wb->opts = *o;
    wb->msg = msg;
    wb->msg_user = msg_user;
    wb->meas_ppl = NAN;
    ui_state_init(&wb->st);
    if (ui_queue_init(&wb->q))
        return err_set(e, ERR_IO, "cannot create the event pipe: %s", strerror(errno));
    int rc = model_load(o->model_path, &wb->m, e);
    if (rc)
        return rc;
    wb->have_model = 1;
    if (o->text_path && (rc = open_tokens(wb, e)))
        return rc;
    char found[4096];
    const char *sp = o->scores_path;
    /* the entry `mxalloc score MODEL --text TEXT` makes, else any for these weights */
    if (!sp && (ui_work_default_scores(wb, found, sizeof found) == 0 ||
                score_lookup_newest(wb->m.content_hash, wb->m.n_modules, found, sizeof found) == 0))
        sp = found;
    if (sp) {
        rc = load_scores(wb, sp, e);
        if (rc)
            return rc;
    } else {
        snprintf(wb->scores_hint, sizeof wb->scores_hint,
                 "no scores: run `mxalloc score ...` or :load-scores FILE%s",
                 wb->tokens ? " (or :score to compute them now)" : "");
    }
    wb->st.target = o->target;
    if (o->hw_table_path) {
        if ((rc = hw_table_read(o->hw_table_path, &wb->hw, e)))
            return rc;
        wb->st.hw = &wb->hw;
        wb->st.max_latency_ms = o->max_latency_ms;
    }
    if (o->ctx > 0)
        wb->ctx = o->ctx;
    else if (wb->st.t.ctx > 0)
        wb->ctx = wb->st.t.ctx;
    else
        wb->ctx = wb->m.cfg.max_seq < 256 ? wb->m.cfg.max_seq : 256;
    if (ui_state_has_scores(&wb->st)) {
        /* Start at a budget in the middle of the feasible range. */
        double lo, hi;
        ui_state_budget_range(&wb->st, &lo, &hi);
        if (isfinite(lo) && isfinite(hi)) {
            double b = lo < 6.0 && hi > 6.0 ? 6.0 : (lo + hi) / 2;
            wb->st.budget = b;
        }
        ui_state_solve(&wb->st, NULL);
    }
    return 0;
}

void ui_wb_close(ui_wb *wb)
{
    if (wb->job.kind != UI_JOB_NONE) {
        ui_job_cancel(&wb->job);
        ui_job_join(&wb->job);
    }
    free(wb->eval.fmts);
    free(wb->eval.alloc);
    cfg_prune_masks_free(wb->eval.masks, wb->m.cfg.n_layers * PRUNE_NPARTS);
    wb->eval.masks = NULL;
    free(wb->meas_fmts);
    ui_work_free(wb);
    free(wb->text);
    ui_queue_destroy(&wb->q);
    pthread_mutex_destroy(&wb->score.pv_lock);
    hw_table_free(&wb->hw);
    ui_search_hist_free(&wb->search);
    ui_state_free(&wb->st);
    free(wb->tokens);
    if (wb->tk)
        tok_free(wb->tk);
    if (wb->have_model)
        model_free(&wb->m);
    memset(wb, 0, sizeof *wb);
}

const char *ui_wb_module_name(const ui_wb *wb, int i)
{
    if (wb->have_model)
        return i >= 0 && i < wb->m.n_modules ? wb->m.modules[i].name : NULL;
    return i >= 0 && i < wb->st.t.n_modules ? wb->st.t.modules[i].name : NULL;
}

/* ---- results ---- */

void ui_wb_summary(const ui_wb *wb, char *out, size_t len)
{
    const ui_state *s = &wb->st;
    if (!s->solved) {
        snprintf(out, len, "%s", s->err[0] ? s->err : "no solution");
        return;
    }
    char near[96] = "";
    if (s->near_fmt >= 0 && isfinite(s->near_ppl) && isfinite(s->proj_ppl))
        snprintf(near, sizeof near, " vs_%s %+.2f%%", mx_format_name((mx_format)s->near_fmt),
                 100 * (s->proj_ppl / s->near_ppl - 1));
    char lat[96] = "";
    if (s->hw && isfinite(s->res.latency))
        snprintf(lat, sizeof lat, " latency_ms %.6g%s", s->res.latency, s->max_latency_ms > 0 ? "" : " (no limit)");
    snprintf(out, len, "budget %.2f: avg_bits %.3f bytes %.0f projected_ppl %.4f vs_fp32 %+.2f%%%s%s solve_ms %.1f",
             s->budget, s->res.avg_bits, s->res.bytes, s->proj_ppl, 100 * (s->proj_ppl / s->fp32_ppl - 1), near, lat,
             s->solve_ms);
}

/* The summary line in script mode (the screen shows the numbers itself). */
static void say_summary(ui_wb *wb)
{
    if (wb->interactive)
        return;
    char buf[512];
    ui_wb_summary(wb, buf, sizeof buf);
    ui_wb_say(wb, UI_MSG_RESULT, "%s", buf);
}

int ui_wb_resolve(ui_wb *wb, int report)
{
    mx_error e = {0};
    int rc = ui_state_solve(&wb->st, &e);
    if (rc)
        return fail(wb, rc, e.msg);
    if (report)
        say_summary(wb);
    return 0;
}

/* ---- eval job ---- */

static int eval_progress(void *user, long done, long total)
{
    ui_wb *wb = user;
    ui_job_progress(&wb->job, (double)done, (double)total, "measuring", "windows");
    return ui_job_cancelled(&wb->job);
}

/* The quantizer of the open scores for a worker: GPTQ with the calibration
 * text they were made on (built per job: one forward pass over it), else
 * rounding (*have = 0). */
int ui_wb_gptq(const ui_wb *wb, gptq_set *gs, int *have, mx_error *e)
{
    const score_table *t = &wb->st.t;
    *have = 0;
    if (!t->gptq)
        return 0;
    if (!wb->opts.gptq_text)
        return err_set(e, ERR_ARG, "the scores were made by GPTQ: start the workbench with --gptq-text FILE "
                       "(their calibration text)");
    int rc = gptq_set_from_text(gs, &wb->m, wb->opts.tokenizer_path, wb->opts.gptq_text, t->ctx, t->calib_tokens,
                                t->text_hash, e);
    *have = rc == 0;
    return rc;
}

static void *eval_main(void *arg)
{
    ui_wb *wb = arg;
    mx_error e = {0};
    const model *m = &wb->m;
    eval_qweights q;
    eval_result r = {0};
    /* the same fake-quantized view `mxalloc ppl --config` measures */
    gptq_set gs;
    int have_g = 0;
    int rc = ui_wb_gptq(wb, &gs, &have_g, &e);
    if (!rc)
        rc = eval_qweights_init_pruned(&q, m, wb->eval.fmts, have_g ? &gs : NULL, wb->eval.masks, &e);
    if (have_g)
        gptq_set_free(&gs);
    if (!rc) {
        if (ui_job_cancelled(&wb->job))
            rc = ERR_CANCELLED;
        else
            rc = eval_perplexity(&m->cfg, &q.w, wb->tokens, wb->n_tokens, tok_window_bos(wb->tk), wb->ctx,
                                 wb->opts.eval_tokens, eval_progress, wb, &r, &e);
        eval_qweights_free(&q);
    }
    ui_job_end(&wb->job, rc, r.ppl, wb->eval.avg_bits, "eval cancelled", "eval", e.msg, "%ld tokens",
               r.tokens);
    return NULL;
}

static int start_eval(ui_wb *wb)
{
    if (!wb->st.solved)
        return fail(wb, ERR_ARG, wb->st.err[0] ? wb->st.err : "eval: no allocation to measure");
    if (!wb->tokens)
        return fail(wb, ERR_ARG, "eval: no text to measure on (start with --text FILE)");
    if (wb->n_tokens < wb->ctx)
        return fail(wb, ERR_ARG, "eval: the text is shorter than one window");
    if (wb->job.kind != UI_JOB_NONE)
        return fail(wb, ERR_ARG, "a job is already running (cancel it first)");
    free(wb->eval.fmts);
    free(wb->eval.alloc);
    cfg_prune_masks_free(wb->eval.masks, wb->m.cfg.n_layers * PRUNE_NPARTS);
    int nomem;
    wb->eval.masks = ui_state_prune_masks(&wb->st, &nomem);
    if (nomem)
        return fail(wb, ERR_NOMEM, "out of memory");
    wb->eval.fmts = malloc((size_t)wb->m.n_modules * sizeof *wb->eval.fmts);
    wb->eval.alloc = malloc((size_t)wb->m.n_modules * sizeof *wb->eval.alloc);
    if (!wb->eval.fmts || !wb->eval.alloc)
        return fail(wb, ERR_NOMEM, "out of memory");
    for (int i = 0; i < wb->m.n_modules; i++)
        wb->eval.fmts[i] = (mx_format)(wb->eval.alloc[i] = wb->st.choice[i]);
    wb->eval.avg_bits = wb->st.res.avg_bits;
    wb->eval.proj_ppl = wb->st.proj_ppl;
    wb->eval.mark = ui_state_alloc_mark(&wb->st);
    ui_progress_reset(&wb->prog);
    if (ui_job_start(&wb->job, &wb->q, UI_JOB_EVAL, eval_main, wb))
        return fail(wb, ERR_INTERNAL, "eval: cannot start a worker thread");
    ui_wb_say(wb, UI_MSG_INFO, "eval: measuring perplexity of %.3f bits/weight...", wb->eval.avg_bits);
    return 0;
}

int ui_wb_handle_event(ui_wb *wb, ui_event *ev)
{
    int code = 0;
    switch (ev->kind) {
    case UI_EV_PROGRESS:
        ui_progress_update(&wb->prog, ev->job, ev->phase, ev->unit, ev->done, ev->total, clock_now_s());
        if (ev->job == UI_JOB_SCORE)
            ui_work_preview(wb);
        break;
    case UI_EV_SEARCH:
        ui_search_hist_add(&wb->search, &ev->search);
        break;
    case UI_EV_DONE:
        ui_job_join(&wb->job);
        code = ev->code;
        ui_work_finish(wb, ev);
        if (code) {
            ui_wb_say(wb, UI_MSG_ERROR, "%s", ev->msg);
        } else if (ev->job == UI_JOB_SCORE || ev->job == UI_JOB_SEARCH) {
            ui_wb_say(wb, UI_MSG_RESULT, "%s", ev->msg);
            if (ev->job == UI_JOB_SCORE && wb->st.solved)
                ui_wb_resolve(wb, 1);
        } else if (ev->job == UI_JOB_EVAL) {
            /* the measurement belongs to the allocation measured, whatever is current now */
            free(wb->meas_fmts);
            wb->meas_fmts = wb->eval.alloc;
            wb->eval.alloc = NULL;
            wb->meas_ppl = ev->value;
            ui_state_add_measured(&wb->st, ev->value2, ev->value, wb->eval.mark);
            int k = ui_state_cand_of(&wb->st, wb->meas_fmts);
            if (k >= 0)
                wb->st.cand[k].meas_ppl = ev->value;
            ui_wb_say(wb, UI_MSG_RESULT, "eval: avg_bits %.3f measured_ppl %.4f projected_ppl %.4f (%s)%s", ev->value2,
                ev->value, wb->eval.proj_ppl, ev->msg,
                ui_state_is_current(&wb->st, wb->meas_fmts) ? "" : "; the allocation has changed since");
        }
        break;
    }
    ui_event_clear(ev);
    return code;
}

int ui_wb_wait_job(ui_wb *wb)
{
    int code = 0;
    while (wb->job.kind != UI_JOB_NONE) {
        struct pollfd p = {ui_queue_fd(&wb->q), POLLIN, 0};
        if (poll(&p, 1, 1000) < 0 && errno != EINTR)
            break;
        ui_event ev;
        while (ui_queue_pop(&wb->q, &ev)) {
            int kind = ev.kind;
            int c = ui_wb_handle_event(wb, &ev);
            if (kind == UI_EV_DONE)
                code = c;
        }
    }
    return code;
}

void ui_wb_status_line(const ui_wb *wb, char *out, size_t len)
{
    const ui_state *s = &wb->st;
    char methods[64] = "", formats[160];
    size_t n = 0;
    for (int m = 0; m < SCORE_NMETHODS; m++)
        if (score_table_has(&s->t, (score_method)m))
            n += (size_t)snprintf(methods + n, n < sizeof methods ? sizeof methods - n : 0, "%s%s", n ? "," : "",
                                  score_method_name((score_method)m));
    ui_state_formats_text(s, formats, sizeof formats);
    const char *groups = s->group_qkv && s->group_gateup ? "qkv,gateup" : s->group_qkv ? "qkv"
                         : s->group_gateup                 ? "gateup"
                                                           : "none";
    /* the short settings first: the status line shows as much as fits */
    char prune[64] = "";
    if (s->prune_on)
        snprintf(prune, sizeof prune, "  prune on (weight %g)", s->prune_weight);
    snprintf(out, len, "allocation %s  method %s (of %s)  formats %s  groups %s  target %s%s%s  text %.300s (%ld tokens, "
             "ctx %d)  scores %.300s",
             s->alloc_name, score_method_name(s->method), methods[0] ? methods : "-", formats, groups,
             mx_target_name(s->target), s->t.gptq ? "  rounding gptq" : "", prune,
             wb->opts.text_path ? wb->opts.text_path : "none", wb->n_tokens, wb->ctx,
             s->scores_path[0] ? s->scores_path : "none");
}

static int mkdirs(char *path)
{
    for (char *p = path + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            int r = mkdir(path, 0700);
            *p = '/';
            if (r && errno != EEXIST)
                return -1;
        }
    return mkdir(path, 0700) && errno != EEXIST ? -1 : 0;
}

int ui_data_path(const char *name, char *out, size_t len)
{
    const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    char dir[4000];
    if (xdg && xdg[0] == '/')
        snprintf(dir, sizeof dir, "%s/mxalloc", xdg);
    else if (home && home[0])
        snprintf(dir, sizeof dir, "%s/.local/share/mxalloc", home);
    else
        return -1;
    if ((size_t)snprintf(out, len, "%s/%s", dir, name) >= len)
        return -1;
    char *slash = strrchr(out, '/'); /* name may have a folder of its own ("sessions/K") */
    *slash = '\0';
    int rc = mkdirs(out);
    *slash = '/';
    return rc;
}

static int session_path(const ui_wb *wb, char *out, size_t len)
{
    const char *key = wb->st.t.key;
    size_t n = strlen(key);
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)key[i]))
            return -1; /* a key that cannot be a file name: no session */
    if (!n)
        return -1; /* no key (a hand-made table): nothing to find it by */
    char name[64];
    snprintf(name, sizeof name, "sessions/%.40s", key);
    return ui_data_path(name, out, len);
}

/* How eval measures now (context, token count, text): a candidate's
 * measurement is restored only where this is what it was measured with. */
static void measured_how(const ui_wb *wb, char *out, size_t len)
{
    snprintf(out, len, "%d %ld %s", wb->ctx, wb->opts.eval_tokens, wb->opts.text_path ? wb->opts.text_path : "");
}

int ui_wb_session_save(ui_wb *wb, mx_error *e)
{
    const ui_state *s = &wb->st;
    char path[4096];
    if (!ui_state_has_scores(s) || session_path(wb, path, sizeof path))
        return 0;
    size_t cap = 4096 + (size_t)s->t.n_modules * 160, n = 0;
    char *buf = malloc(cap);
    if (!buf)
        return err_set(e, ERR_NOMEM, "out of memory");
#define PUT(...) (n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, __VA_ARGS__))
    PUT("# mxalloc workbench session of %s: replayed when these scores open again\n", s->t.key);
    PUT("target %s\nmethod %s\n", mx_target_name(s->target), score_method_name(s->method));
    char formats[160];
    ui_state_formats_text(s, formats, sizeof formats);
    PUT("formats %s\ngroup qkv %s\ngroup gateup %s\nunpin all\n", formats, s->group_qkv ? "on" : "off",
        s->group_gateup ? "on" : "off");
    for (int i = 0; i < s->t.n_modules; i++)
        if (s->pin[i] >= 0)
            PUT("pin %s %s\n", s->t.modules[i].name, mx_format_name((mx_format)s->pin[i]));
    if (s->prune_on) /* below the formats-only range: the next session starts without prune scores */
        PUT("# prune was on at budget %.3f (P or :prune on computes its scores again)\n", s->budget);
    else
        PUT("budget %.3f\n", s->budget);
    /* Candidates: not commands (a search's answer cannot be re-derived), read
     * back by ui_wb_session_restore itself: name, measured ppl on the text
     * named before them (NAN: none), one label per module in table order. */
    if (s->n_cand) {
        cap += (size_t)s->n_cand * ((size_t)s->t.n_modules * 7 + 64 + 4096);
        char *grown = realloc(buf, cap);
        if (!grown) {
            free(buf);
            return err_set(e, ERR_NOMEM, "out of memory");
        }
        buf = grown;
        char how[4200];
        measured_how(wb, how, sizeof how);
        PUT("#candidate-text %s\n", how);
    }
    for (int c = 0; c < s->n_cand; c++) {
        PUT("#candidate %s %.17g ", s->cand[c].name, s->cand[c].meas_ppl);
        for (int i = 0; i < s->t.n_modules; i++)
            PUT("%s%s", i ? "," : "", mx_format_label((mx_format)s->cand[c].fmts[i]));
        PUT("\n");
    }
    if (s->n_cand && strcmp(s->alloc_name, "ilp"))
        PUT("#current %s\n", s->alloc_name);
#undef PUT
    int rc = n < cap ? fw_write_atomic(path, buf, n, e) : err_set(e, ERR_INTERNAL, "session too long");
    free(buf);
    return rc;
}

/* "NAME MEAS LABEL,LABEL,...": a kept candidate, its measurement only when
 * made as the workbench measures now (same text, context, tokens). 0, or -1 for a line these scores cannot take. */
static int restore_cand(ui_wb *wb, char *line, int same_text)
{
    ui_state *s = &wb->st;
    char *sp, *name = strtok_r(line, " ", &sp), *meas = strtok_r(NULL, " ", &sp), *labels = strtok_r(NULL, " ", &sp);
    if (!name || !meas || !labels || strlen(name) >= UI_CAND_NAME || !s->t.n_modules)
        return -1;
    int *fmts = malloc((size_t)s->t.n_modules * sizeof *fmts), i = 0;
    if (!fmts)
        return -1;
    char *sl = NULL, *l = strtok_r(labels, ",", &sl);
    for (; l && i < s->t.n_modules; l = strtok_r(NULL, ",", &sl), i++) {
        mx_format f;
        if (mx_format_parse(l, &f))
            break;
        fmts[i] = (int)f;
    }
    mx_error e = {0};
    int rc = i == s->t.n_modules && !l ? ui_state_apply(s, fmts, name, &e) : -1;
    double v = strtod(meas, NULL);
    int k = rc ? -1 : ui_state_cand_of(s, fmts);
    if (k >= 0 && same_text && v > 0 && isfinite(v))
        s->cand[k].meas_ppl = v;
    free(fmts);
    return rc ? -1 : 0;
}

int ui_wb_session_restore(ui_wb *wb)
{
    char path[4096], *text = NULL;
    size_t len;
    mx_error e = {0};
    if (!ui_state_has_scores(&wb->st) || session_path(wb, path, sizeof path) ||
        fm_read_all(path, &text, &len, &e))
        return -1;
    /* its lines through the command parser, quietly: a bad line is skipped */
    ui_msg_fn msg = wb->msg;
    wb->msg = NULL;
    int n = 0, same_text = 0;
    char current[UI_CAND_NAME] = "";
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (!strncmp(line, "#candidate-text ", 16)) {
            char here[4200];
            measured_how(wb, here, sizeof here);
            same_text = wb->opts.text_path && !strcmp(line + 16, here);
        } else if (!strncmp(line, "#candidate ", 11))
            n += restore_cand(wb, line + 11, same_text) == 0;
        else if (!strncmp(line, "#current ", 9))
            snprintf(current, sizeof current, "%s", line + 9);
        else
            n += ui_wb_exec_line(wb, line) == 0 && line[0] && line[0] != '#';
    }
    /* restoring made the last candidate current: back to what was */
    if (wb->st.n_cand && (!current[0] || ui_state_use(&wb->st, current, &e)))
        ui_state_use(&wb->st, "ilp", &e);
    wb->msg = msg;
    free(text);
    ui_state_clear_history(&wb->st); /* the replay is where this run starts, not edits to undo */
    return n;
}

/* ---- export ---- */

int ui_wb_export(ui_wb *wb, const char *path, int llama, mx_error *e)
{
    ui_state *s = &wb->st;
    if (!s->solved)
        return err_set(e, ERR_ARG, "export: %s", s->err[0] ? s->err : "no allocation to export");
    mx_cfg c;
    cfg_init(&c);
    snprintf(c.model, sizeof c.model, "%.255s", wb->have_model ? wb->m.path : s->t.model);
    c.budget_bits = s->budget;
    c.avg_bits = s->res.avg_bits;
    c.projected_ppl = s->proj_ppl;
    cfg_set_scores(&c, &s->t, s->method);
    c.target = s->target;
    int rc = 0;
    for (int i = 0; !rc && i < s->t.n_modules; i++)
        if (!(rc = cfg_set_format(&c, s->t.modules[i].name, (mx_format)s->choice[i], e)) && s->t.modules[i].rows > 0)
            rc = cfg_set_shape(&c, s->t.modules[i].name, s->t.modules[i].rows, s->t.modules[i].cols, e);
    for (int i = 0; !rc && i < s->t.n_modules; i++)
        if (s->pin[i] >= 0)
            rc = cfg_set_pin(&c, s->t.modules[i].name, (mx_format)s->pin[i], e);
    int nomem;
    unsigned char **masks = ui_state_prune_masks(s, &nomem);
    if (!rc && nomem)
        rc = err_set(e, ERR_NOMEM, "out of memory");
    if (!rc && masks)
        rc = cfg_set_prune_masks(&c, s->pm, masks, e);
    if (masks)
        cfg_prune_masks_free(masks, s->plan->n_groups);
    if (!rc && llama && c.n_prune)
        rc = cfg_refuse_prune(&c, path, "export --to llama-cpp", e);
    /* the texts `mxalloc export --to json|llama-cpp` give for this config */
    if (!rc)
        rc = llama ? export_llama_cpp_file(path, &c, 1, NULL, e) : cfg_save(path, &c, e);
    cfg_free(&c);
    return rc;
}

/* ---- commands ---- */

static int need_scores(ui_wb *wb)
{
    if (ui_state_has_scores(&wb->st))
        return 0;
    return fail(wb, ERR_ARG, wb->scores_hint[0] ? wb->scores_hint : "no scores loaded");
}

static int exec_cmd(ui_wb *wb, const ui_cmd *c)
{
    mx_error e = {0};
    ui_state *s = &wb->st;
    int rc;
    switch (c->id) {
    case UI_CMD_LATENCY:
        if (ui_state_set_max_latency(s, c->number, &e))
            return fail(wb, ERR_ARG, e.msg);
        if (c->number > 0)
            ui_wb_say(wb, UI_MSG_INFO, "latency limit %.6g ms per token", c->number);
        else
            ui_wb_say(wb, UI_MSG_INFO, "latency limit off");
        return ui_state_has_scores(s) ? ui_wb_resolve(wb, 1) : 0;
    case UI_CMD_BUDGET:
        if (need_scores(wb))
            return ERR_ARG;
        s->budget = c->number;
        s->solved = 0;
        return ui_wb_resolve(wb, 1);
    case UI_CMD_PIN: {
        if (need_scores(wb))
            return ERR_ARG;
        int m = ui_state_find_module(s, c->argv[0], &e);
        mx_format f;
        if (m < 0)
            return fail(wb, ERR_ARG, e.msg);
        if (mx_format_parse(c->argv[1], &f)) {
            ui_wb_say(wb, UI_MSG_ERROR, "pin: unknown format '%s' (%s)", c->argv[1], mx_format_valid_names(c->argv[1]));
            return ERR_ARG;
        }
        if ((rc = ui_state_pin(s, m, f, &e)))
            return fail(wb, rc, e.msg);
        ui_wb_say(wb, UI_MSG_INFO, "pinned %s to %s", s->t.modules[m].name, mx_format_name(f));
        return ui_wb_resolve(wb, 1);
    }
    case UI_CMD_UNPIN: {
        if (need_scores(wb))
            return ERR_ARG;
        int m = -1;
        if (strcmp(c->argv[0], "all") && (m = ui_state_find_module(s, c->argv[0], &e)) < 0)
            return fail(wb, ERR_ARG, e.msg);
        if (m >= 0 && s->pin[m] < 0) {
            ui_wb_say(wb, UI_MSG_INFO, "%s is not pinned", s->t.modules[m].name);
            return 0;
        }
        ui_state_unpin(s, m);
        ui_wb_say(wb, UI_MSG_INFO, "unpinned %s", m < 0 ? "all modules" : s->t.modules[m].name);
        return ui_wb_resolve(wb, 1);
    }
    case UI_CMD_FORMATS:
        if (need_scores(wb))
            return ERR_ARG;
        if ((rc = ui_state_set_formats(s, c->argv[0], &e)))
            return fail(wb, rc, e.msg);
        return ui_wb_resolve(wb, 1);
    case UI_CMD_TARGET:
        ui_state_set_target(s, (mx_target)c->flag);
        ui_wb_say(wb, UI_MSG_INFO, "target %s", mx_target_name(s->target));
        return ui_state_has_scores(s) ? ui_wb_resolve(wb, 1) : 0;
    case UI_CMD_GROUP:
        if (need_scores(wb))
            return ERR_ARG;
        ui_state_set_group(s, !strcmp(c->argv[0], "gateup"), c->flag);
        ui_wb_say(wb, UI_MSG_INFO, "group %s %s", c->argv[0], c->flag ? "on" : "off");
        return ui_wb_resolve(wb, 1);
    case UI_CMD_METHOD: {
        score_method m;
        if (need_scores(wb))
            return ERR_ARG;
        score_method_parse(c->argv[0], &m);
        if ((rc = ui_state_set_method(s, m, &e)))
            return fail(wb, rc, e.msg);
        return ui_wb_resolve(wb, 1);
    }
    case UI_CMD_SCORE: {
        unsigned methods = 1u << SCORE_KL;
        if (c->argc == 2 && !strcmp(c->argv[1], "fisher"))
            methods = 1u << SCORE_FISHER;
        else if (c->argc == 2 && !strcmp(c->argv[1], "fisher-out"))
            methods = 1u << SCORE_FISHER_OUT;
        else if (c->argc == 2 && !strcmp(c->argv[1], "both"))
            methods = (1u << SCORE_KL) | (1u << SCORE_FISHER);
        if (wb->job.kind != UI_JOB_NONE)
            return fail(wb, ERR_ARG, "a job is already running (cancel it first)");
        rc = ui_work_start_score(wb, methods);
        if (rc == -1)
            return fail(wb, ERR_ARG, "score: no calibration text (start with --text FILE)");
        if (rc == -2)
            return fail(wb, ERR_ARG, "score: the text is shorter than one window");
        if (rc)
            return fail(wb, ERR_INTERNAL, "score: cannot start a worker thread");
        ui_wb_say(wb, UI_MSG_INFO, "score: computing %s scores...", c->argc == 2 ? c->argv[1] : "kl");
        return 0;
    }
    case UI_CMD_ANNEAL: {
        search_method sm;
        search_method_parse(c->argv[0], &sm);
        if (wb->job.kind != UI_JOB_NONE)
            return fail(wb, ERR_ARG, "a job is already running (cancel it first)");
        wb->anneal.steps = c->steps;
        wb->anneal.refine = c->refine;
        wb->anneal.seed = c->seed;
        rc = ui_work_start_anneal(wb, (int)sm);
        if (rc == -1)
            return fail(wb, ERR_ARG, "anneal: no calibration text (start with --text FILE)");
        if (rc == -2)
            return fail(wb, ERR_ARG, "anneal: the text is shorter than one window");
        if (rc == -6)
            return ERR_ARG; /* said */
        if (rc)
            return fail(wb, ERR_INTERNAL, "anneal: cannot start the search");
        ui_wb_say(wb, UI_MSG_INFO, "anneal %s: searching at budget %.2f...", c->argv[0], wb->st.budget);
        return 0;
    }
    case UI_CMD_PRUNE:
        if (need_scores(wb))
            return ERR_ARG;
        if (!strcmp(c->argv[0], "weight")) {
            ui_state_set_prune_weight(s, c->number);
            ui_wb_say(wb, UI_MSG_INFO, "prune weight %g (the pruning losses count %g times)", c->number, c->number);
            return s->prune_on ? ui_wb_resolve(wb, 1) : 0;
        }
        if (c->flag && !s->ps) {
            if (wb->job.kind != UI_JOB_NONE)
                return fail(wb, ERR_ARG, "a job is already running (cancel it first)");
            if (s->target != MX_TARGET_MX)
                return fail(wb, ERR_ARG, "prune: the joint budget counts packed MX bits (target mx first)");
            rc = ui_work_start_prune(wb);
            if (rc == -1)
                return fail(wb, ERR_ARG, "prune: no calibration text (start with --text FILE)");
            if (rc == -2)
                return fail(wb, ERR_ARG, "prune: the text is shorter than one window");
            if (rc)
                return fail(wb, ERR_INTERNAL, "prune: cannot start a worker thread");
            ui_wb_say(wb, UI_MSG_INFO, "prune: measuring the pruning groups and scoring the kept parts...");
            return 0;
        }
        if ((rc = ui_state_set_prune_on(s, c->flag, &e)))
            return fail(wb, rc, e.msg);
        if (c->flag) {
            double lo, hi;
            ui_state_budget_range(s, &lo, &hi);
            if (isfinite(lo) && (s->budget < lo || s->budget > hi))
                s->budget = lo + 0.5 * (hi - lo);
        } else {
            double lo, hi;
            ui_state_budget_range(s, &lo, &hi);
            if (isfinite(lo) && s->budget < lo)
                s->budget = lo;
        }
        ui_wb_say(wb, UI_MSG_INFO, "prune %s", c->flag ? "on" : "off");
        return ui_wb_resolve(wb, 1);
    case UI_CMD_EVAL:
        return start_eval(wb);
    case UI_CMD_GENERATE:
        return ui_work_generate(wb, c);
    case UI_CMD_CANCEL:
        if (wb->job.kind == UI_JOB_NONE)
            return fail(wb, ERR_ARG, "cancel: no job is running");
        ui_job_cancel(&wb->job);
        ui_wb_say(wb, UI_MSG_INFO, "cancelling %s...", ui_job_name(wb->job.kind));
        return 0;
    case UI_CMD_EXPORT:
        if ((rc = ui_wb_export(wb, c->argv[0], c->to_llama, &e)))
            return fail(wb, rc, e.msg);
        ui_wb_say(wb, UI_MSG_RESULT, "exported %s (%s, avg_bits %.3f)", c->argv[0], c->to_llama ? "llama-cpp" : "json",
            s->res.avg_bits);
        return 0;
    case UI_CMD_LOAD_SCORES:
        if (wb->job.kind != UI_JOB_NONE)
            return fail(wb, ERR_ARG, "load-scores: a job is running (cancel it first)");
        if ((rc = load_scores(wb, c->argv[0], &e)))
            return fail(wb, rc, e.msg);
        ui_wb_say(wb, UI_MSG_INFO, "loaded %s (%d modules, %d formats, method %s)", c->argv[0], s->t.n_modules,
            s->t.n_formats, score_method_name(s->method));
        {
            double lo, hi;
            ui_state_budget_range(s, &lo, &hi);
            if (isfinite(lo) && (s->budget < lo || s->budget > hi))
                s->budget = lo < 6.0 && hi > 6.0 ? 6.0 : (lo + hi) / 2;
        }
        return ui_wb_resolve(wb, 0);
    case UI_CMD_SHOW: {
        if (need_scores(wb))
            return ERR_ARG;
        if (!s->solved)
            return fail(wb, ERR_ARG, s->err[0] ? s->err : "no solution");
        int only = -1;
        if (c->argc == 1 && (only = ui_state_find_module(s, c->argv[0], &e)) < 0)
            return fail(wb, ERR_ARG, e.msg);
        for (int i = 0; i < s->t.n_modules; i++) {
            if (only >= 0 && i != only)
                continue;
            const score_module *m = &s->t.modules[i];
            double keep = ui_state_keep_frac(s, i);
            if (s->prune_on)
                ui_wb_say(wb, UI_MSG_RESULT, "%s %s keep %.0f%%%s", m->name,
                    keep > 0 ? mx_format_name((mx_format)s->choice[i]) : "-", 100.0 * keep,
                    s->pin[i] >= 0 ? " (pinned)" : "");
            else
                ui_wb_say(wb, UI_MSG_RESULT, "%s %s%s score %.6g", m->name, mx_format_name((mx_format)s->choice[i]),
                    s->pin[i] >= 0 ? " (pinned)" : "", m->score[s->method][s->choice[i]]);
        }
        return 0;
    }
    case UI_CMD_KEEP:
    case UI_CMD_USE: {
        if (need_scores(wb))
            return ERR_ARG;
        char kept[UI_CAND_NAME];
        rc = c->id == UI_CMD_KEEP ? ui_state_keep(s, c->argc ? c->argv[0] : NULL, kept, &e) : ui_state_use(s, c->argv[0], &e);
        if (rc)
            return fail(wb, rc, e.msg);
        if (c->id == UI_CMD_USE) {
            ui_wb_say(wb, UI_MSG_INFO, "current allocation: %s", s->alloc_name);
            say_summary(wb);
        } else {
            ui_wb_say(wb, UI_MSG_RESULT, "kept %s (avg_bits %.3f)", kept, s->res.avg_bits);
        }
        return 0;
    }
    case UI_CMD_CANDS:
        if (!s->n_cand)
            ui_wb_say(wb, UI_MSG_RESULT, "no candidates (keep NAME stores the current allocation; searches add theirs)");
        for (int i = 0; i < s->n_cand; i++) {
            const ui_cand *k = &s->cand[i];
            char meas[32] = "-";
            if (isfinite(k->meas_ppl))
                snprintf(meas, sizeof meas, "%.4f", k->meas_ppl);
            ui_wb_say(wb, UI_MSG_RESULT, "%s%s avg_bits %.3f projected_ppl %.4f measured_ppl %s", k->name,
                      ui_state_is_current(s, k->fmts) ? " (current)" : "", k->avg_bits, k->proj_ppl, meas);
        }
        return 0;
    case UI_CMD_FIND: {
        int hits = 0;
        for (int i = 0; i < wb->m.n_modules; i++)
            if (ui_state_name_matches(wb->m.modules[i].name, c->argv[0])) {
                ui_wb_say(wb, UI_MSG_RESULT, "%s", wb->m.modules[i].name);
                hits++;
            }
        return hits ? 0 : fail(wb, ERR_ARG, "find: no module name contains the text");
    }
    case UI_CMD_STATUS: {
        char buf[1024];
        ui_wb_status_line(wb, buf, sizeof buf);
        ui_wb_say(wb, UI_MSG_RESULT, "%s", buf);
        return 0;
    }
    case UI_CMD_UNDO:
    case UI_CMD_REDO:
        if (need_scores(wb))
            return ERR_ARG;
        if ((rc = ui_state_undo(s, c->id == UI_CMD_REDO, &e)))
            return fail(wb, rc, e.msg);
        ui_wb_say(wb, UI_MSG_INFO, "%s: budget %.2f (%d more to undo, %d to redo)", c->id == UI_CMD_REDO ? "redo" : "undo",
                  s->budget, s->n_undo, s->n_redo);
        return ui_wb_resolve(wb, 1);
    case UI_CMD_HELP:
        for (int i = 0; i < UI_CMD_COUNT; i++)
            ui_wb_say(wb, UI_MSG_RESULT, "%s", ui_cmd_usage((ui_cmd_id)i));
        return 0;
    case UI_CMD_QUIT:
        wb->quit = 1;
        return 0;
    case UI_CMD_COUNT:
        break;
    }
    return fail(wb, ERR_INTERNAL, "unhandled command");
}

int ui_wb_exec(ui_wb *wb, const ui_cmd *c)
{
    /* constraint edits are recorded for undo (when they changed something) */
    ui_snap before = {0};
    int edit = ui_state_has_scores(&wb->st) &&
               (c->id == UI_CMD_BUDGET || c->id == UI_CMD_PIN || c->id == UI_CMD_UNPIN || c->id == UI_CMD_FORMATS ||
                c->id == UI_CMD_GROUP || c->id == UI_CMD_TARGET || c->id == UI_CMD_METHOD);
    if (edit)
        ui_state_snap(&wb->st, &before);
    int rc = exec_cmd(wb, c);
    if (edit)
        ui_state_record(&wb->st, &before);
    return rc;
}

int ui_wb_exec_line(ui_wb *wb, const char *line)
{
    ui_cmd c;
    char err[600];
    int rc = ui_cmd_parse(line, &c, err, sizeof err);
    if (rc == 1)
        return 0;
    if (rc < 0)
        return fail(wb, ERR_ARG, err);
    return ui_wb_exec(wb, &c);
}
