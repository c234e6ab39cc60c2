/* Background work of the workbench besides eval: scoring (score_compute, the
 * call `mxalloc score` makes), the differentiable searches (search_run, as
 * `mxalloc anneal`) and greedy samples (gen_text, as `mxalloc generate`).
 * Workers post events; only the UI thread touches the workbench state, in
 * ui_work_finish. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/clock.h"
#include "solver/alloc_setup.h"
#include "solver/gamma.h"
#include "solver/ilp.h"
#include "src/cache.h"
#include "src/gptq_set.h"
#include "src/eval.h"
#include "src/generate.h"
#include "src/prune.h"
#include "src/prune_score.h"
#include "src/score.h"
#include "src/score_lookup.h"
#include "ui/ui_wb.h"

/* The key `mxalloc score` computes for the same model, text and defaults. */
static void key_for(const ui_wb *wb, const score_opts *so, char key[17])
{
    score_key_for_text(&wb->m, wb->text, wb->text_len, wb->tokens, wb->n_tokens, so, key);
}

/* `mxalloc score`'s defaults (score_default_opts), so that the workbench and
 * the CLI compute, and find, the same cache entry. */
static void default_opts(const ui_wb *wb, score_opts *so, unsigned methods)
{
    score_default_opts(&wb->m, so);
    so->methods = methods;
    so->bos = tok_window_bos(wb->tk); /* as `mxalloc score` */
}

int ui_work_default_scores(ui_wb *wb, char *path, size_t len)
{
    if (!wb->tokens || !wb->text)
        return -1;
    return score_lookup_default(&wb->m, wb->text, wb->text_len, wb->tokens, wb->n_tokens, tok_window_bos(wb->tk),
                                path, len);
}

/* ---- scoring ---- */

static int score_progress_cb(void *user, const score_progress *p)
{
    ui_wb *wb = user;
    ui_score_job *sj = &wb->score;
    if (p->window_stats && sj->pv) { /* worker thread: copy the previews out */
        size_t cells = (size_t)wb->m.n_modules * (size_t)sj->opts.n_formats;
        pthread_mutex_lock(&sj->pv_lock);
        for (size_t c = 0; c < cells; c++)
            sj->pv[c] = p->window_stats[c].mean;
        sj->pv_done = p->windows_done;
        sj->pv_total = p->n_windows;
        pthread_mutex_unlock(&sj->pv_lock);
        sj->last_ms = 0; /* post this tick: the UI wakes and shows it */
    }
    double t = 1e3 * clock_now_s();
    if (t - wb->score.last_ms > 50 || p->done >= p->total) {
        wb->score.last_ms = t;
        if (p->module >= 0) /* kl: one module after another */
            ui_job_progress(&wb->job, p->module, p->n_modules, p->phase, "modules");
        else
            ui_job_progress(&wb->job, p->done, p->total, p->phase, NULL);
    }
    return ui_job_cancelled(&wb->job);
}

static void *score_main(void *arg)
{
    ui_wb *wb = arg;
    mx_error e = {0};
    score_opts so;
    default_opts(wb, &so, wb->score.methods);
    so.progress = score_progress_cb;
    so.user = wb;
    so.anchor_alloc = alloc_setup_anchor; /* the projection's mixed anchors (solver/proj.h) */
    char key[17];
    key_for(wb, &so, key);
    int rc = cache_path_for_key(key, wb->score.path, sizeof wb->score.path, &e);
    if (!rc)
        rc = score_compute(&wb->m, wb->tokens, wb->n_tokens, &so, &wb->score.out, &e);
    if (!rc) {
        snprintf(wb->score.out.key, sizeof wb->score.out.key, "%s", key);
        rc = cache_write(wb->score.path, &wb->score.out, &e);
        if (rc)
            score_table_free(&wb->score.out);
    }
    ui_job_end(&wb->job, rc, NAN, NAN, "score cancelled; no score file written", "score", e.msg,
               "scores written to %.500s", wb->score.path);
    return NULL;
}

int ui_work_start_score(ui_wb *wb, unsigned methods)
{
    if (!wb->tokens)
        return -1;
    score_opts so;
    default_opts(wb, &so, methods);
    if (eval_window_count(wb->n_tokens, so.ctx, so.max_tokens) == 0)
        return -2;
    score_table_init(&wb->score.out);
    wb->score.methods = methods;
    wb->score.last_ms = 0;
    /* previews only while nothing is open: they replace the open table */
    free(wb->score.pv);
    wb->score.pv = NULL;
    wb->score.pv_done = wb->score.pv_shown = 0;
    wb->score.preview = !ui_state_has_scores(&wb->st) && (methods & (1u << SCORE_FISHER));
    wb->score.opts = so;
    if (wb->score.preview &&
        !(wb->score.pv = calloc((size_t)wb->m.n_modules * (size_t)so.n_formats, sizeof *wb->score.pv)))
        wb->score.preview = 0; /* out of memory: no previews, the scores still come */
    ui_progress_reset(&wb->prog);
    return ui_job_start(&wb->job, &wb->q, UI_JOB_SCORE, score_main, wb) ? -3 : 0;
}

int ui_work_preview(ui_wb *wb)
{
    ui_score_job *sj = &wb->score;
    if (!sj->preview || wb->job.kind != UI_JOB_SCORE)
        return 0;
    /* the table score_compute will return, with the means so far as fisher scores */
    score_opts po = sj->opts;
    po.methods = 1u << SCORE_FISHER;
    score_table t;
    if (score_table_for_model(&wb->m, &po, &t))
        return 0;
    int nf = po.n_formats;
    pthread_mutex_lock(&sj->pv_lock);
    long done = sj->pv_done, total = sj->pv_total;
    if (done > sj->pv_shown)
        for (int i = 0; i < t.n_modules; i++)
            for (int fi = 0; fi < nf; fi++)
                t.modules[i].score[SCORE_FISHER][po.formats[fi]] = sj->pv[(size_t)i * nf + fi];
    pthread_mutex_unlock(&sj->pv_lock);
    if (done <= sj->pv_shown) {
        score_table_free(&t);
        return 0;
    }
    t.ctx = sj->opts.ctx;
    t.fp32_loss = NAN;
    double budget = wb->st.budget;
    int first = !ui_state_has_scores(&wb->st);
    mx_error e = {0};
    if (ui_state_set_table(&wb->st, &t, NULL, &e)) {
        score_table_free(&t);
        return 0;
    }
    sj->pv_shown = done;
    double lo, hi;
    ui_state_budget_range(&wb->st, &lo, &hi);
    wb->st.budget = !first ? budget : lo < 6.0 && hi > 6.0 ? 6.0 : (lo + hi) / 2;
    ui_state_solve(&wb->st, NULL);
    snprintf(wb->scores_hint, sizeof wb->scores_hint,
             "preview: fisher scores of %ld of %ld calibration windows (the file is written when all are in)",
             done, total);
    return 1;
}

/* ---- search ---- */

static int search_cb(void *user, const search_event *sev)
{
    ui_wb *wb = user;
    ui_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = UI_EV_SEARCH;
    ev.job = UI_JOB_SEARCH;
    ev.search.step = sev->step;
    /* the panel's second curve: dMX temperature, GAMMA multiplier */
    ev.search.temperature = sev->method == SEARCH_GAMMA ? sev->mu : sev->temperature;
    ev.search.task_loss = sev->task_loss;
    ev.search.regularizer = sev->reg;
    ev.search.expected_bits = sev->exp_bits;
    ev.search.n_modules = sev->n_modules;
    ev.search.likely = malloc((size_t)sev->n_modules * sizeof(int));
    if (ev.search.likely)
        for (int m = 0; m < sev->n_modules; m++)
            ev.search.likely[m] = (int)sev->formats[sev->argmax[m]];
    ui_queue_push(&wb->q, &ev);
    if (sev->refine_max > 0) /* after the last step: exact evaluations of nearby assignments */
        ui_job_progress(&wb->job, sev->refine_evals, sev->refine_max, "refining", "evals");
    else
        ui_job_progress(&wb->job, sev->step, sev->n_steps, "annealing", "steps");
    return ui_job_cancelled(&wb->job);
}

static void *anneal_main(void *arg)
{
    ui_wb *wb = arg;
    ui_anneal_job *a = &wb->anneal;
    mx_error e = {0};
    int ctx = wb->ctx;
    long nw = eval_window_count(wb->n_tokens, ctx, SCORE_DEFAULT_TOKENS);
    search_data d;
    memset(&d, 0, sizeof d);
    d.cfg = &wb->m.cfg;
    d.w = &wb->m.weights;
    d.n_formats = a->n_formats;
    memcpy(d.formats, a->formats, sizeof d.formats);
    d.budget = a->budget;
    d.in = a->in;
    d.tgt = a->tgt;
    d.n_windows = nw;
    d.ctx = ctx;
    search_opts o;
    search_opts_init(&o, (search_method)a->method);
    o.init_cost = a->init_cost;
    if (a->steps > 0)
        o.steps = (int)a->steps;
    if (a->refine >= 0)
        o.refine = (int)a->refine;
    if (a->seed >= 0)
        o.seed = (uint64_t)a->seed;
    o.on_event = search_cb;
    o.user = wb;
    d.prune = a->have_sp ? &a->sp : NULL;
    /* with scores made by GPTQ, the search quantizes as they did (not the joint search) */
    gptq_set gs;
    int have_g = 0;
    int rc = d.prune ? 0 : ui_wb_gptq(wb, &gs, &have_g, &e);
    d.gptq = have_g ? &gs : NULL;
    if (!rc)
        rc = search_run(&d, &o, &a->res, &e);
    if (have_g)
        gptq_set_free(&gs);
    a->have_res = rc == 0;
    char msg[600];
    if (rc)
        snprintf(msg, sizeof msg, "anneal: %s", e.msg);
    else
        snprintf(msg, sizeof msg, "anneal %s%s: avg_bits %.3f (budget %.2f) after %d steps%s",
                 search_method_name((search_method)a->method), a->res.cancelled ? " (cancelled)" : "",
                 a->res.avg_bits, a->res.budget, a->res.steps_done, a->res.repaired ? ", repaired by the ILP" : "");
    /* the search's ILP repair ran GLPK in this thread: its environment is
     * per thread and would leak when the thread ends */
    ilp_thread_done();
    ui_job_done(&wb->job, rc, a->have_res ? a->res.avg_bits : NAN, NAN, msg);
    return NULL;
}

int ui_work_start_anneal(ui_wb *wb, int method)
{
    ui_anneal_job *a = &wb->anneal;
    if (!wb->tokens)
        return -1;
    int ctx = wb->ctx;
    long nw = eval_window_count(wb->n_tokens, ctx, SCORE_DEFAULT_TOKENS);
    if (nw == 0)
        return -2;
    ui_work_free(wb);
    a->method = method;
    a->budget = wb->st.budget;
    const score_table *t = &wb->st.t;
    /* `mxalloc anneal`'s formats and order (the table's formats when there is one) */
    unsigned char in_table[MX_NFORMATS] = {0};
    for (int j = 0; j < t->n_formats; j++)
        in_table[t->formats[j]] = 1;
    a->n_formats = search_default_formats(a->formats, ui_state_has_scores(&wb->st) ? in_table : NULL);
    a->in = malloc((size_t)nw * ctx * sizeof(int));
    a->tgt = malloc((size_t)nw * ctx * sizeof(int));
    if (!a->in || !a->tgt) {
        ui_work_free(wb);
        return -4;
    }
    for (long k = 0; k < nw; k++)
        eval_window_tokens(wb->tokens, k, ctx, tok_window_bos(wb->tk), a->in + k * ctx, a->tgt + k * ctx);
    if (wb->st.prune_on) { /* the joint search: the workbench's plan and keep levels */
        mx_error e = {0};
        if (search_prune_init(&a->sp, &wb->m, wb->st.plan, wb->st.ps->levels, wb->st.ps->n_levels, a->formats,
                              a->n_formats, &e)) {
            ui_wb_say(wb, UI_MSG_ERROR, "anneal: %s", e.msg);
            ui_work_free(wb);
            return -6;
        }
        a->have_sp = 1;
    }
    /* start from the kl solution when the table has kl scores (not the joint search) */
    if (!a->have_sp && ui_state_has_scores(&wb->st) && score_table_has(t, SCORE_KL) &&
        t->n_modules == wb->m.n_modules) {
        a->init_cost = malloc((size_t)t->n_modules * a->n_formats * sizeof(double));
        if (a->init_cost)
            for (int m = 0; m < t->n_modules; m++)
                for (int j = 0; j < a->n_formats; j++) {
                    double c = score_cost(&t->modules[m], SCORE_KL, a->formats[j]);
                    a->init_cost[m * a->n_formats + j] = isnan(c) ? 0 : c;
                }
    }
    ui_search_hist_reset(&wb->search);
    ui_progress_reset(&wb->prog);
    if (ui_job_start(&wb->job, &wb->q, UI_JOB_SEARCH, anneal_main, wb)) {
        ui_work_free(wb);
        return -3;
    }
    return 0;
}

/* ---- generate ---- */

#define UI_GEN_DEFAULT_TOKENS 32
#define UI_GEN_DEFAULT_PROMPT "Once upon a time"

static int gen_token_cb(void *user, int id, int n_new)
{
    ui_wb *wb = user;
    (void)id;
    ui_job_progress(&wb->job, n_new, wb->gen.n, "sampling", "tokens");
    return ui_job_cancelled(&wb->job);
}

static void *generate_main(void *arg)
{
    ui_wb *wb = arg;
    ui_gen_job *g = &wb->gen;
    mx_error e = {0};
    const tf_weights *w = &wb->m.weights;
    eval_qweights q;
    int have_q = 0;
    long len = 0;
    /* the same fake-quantized view eval measures and `mxalloc generate --config` uses */
    if (g->fmts) {
        gptq_set gs;
        int have_g = 0;
        len = ui_wb_gptq(wb, &gs, &have_g, &e);
        if (len == 0)
            len = eval_qweights_init(&q, &wb->m, g->fmts, have_g ? &gs : NULL, &e);
        if (have_g)
            gptq_set_free(&gs);
        have_q = len == 0;
        w = &q.w;
    }
    gen_result r = {0};
    if (len == 0)
        len = gen_text(&wb->m.cfg, w, wb->tk ? wb->tk : g->tk, g->prompt, g->n, 0, gen_token_cb, wb, &r,
                       &g->text, &e);
    if (have_q)
        eval_qweights_free(&q);
    int rc = len < 0 ? (int)len : 0;
    if (rc == 0 && r.stop == GEN_STOP_CANCELLED) {
        rc = ERR_CANCELLED;
        free(g->text);
        g->text = NULL;
    } else if (!rc) {
        g->len = len;
        g->n_new = r.n_new;
        g->stop = gen_stop_name(r.stop);
    }
    ui_job_end(&wb->job, rc, NAN, g->avg_bits, "generate cancelled", "generate", e.msg, "%d tokens",
               r.n_new);
    gen_result_free(&r);
    return NULL;
}

int ui_work_generate(ui_wb *wb, const ui_cmd *c)
{
    ui_gen_job *g = &wb->gen;
    if (wb->job.kind != UI_JOB_NONE) {
        ui_wb_say(wb, UI_MSG_ERROR, "a job is already running (cancel it first)");
        return ERR_ARG;
    }
    if (!wb->tk && !g->tk) {
        mx_error e = {0};
        g->tk = tok_open(wb->opts.tokenizer_path, wb->m.path, wb->m.cfg.vocab_size, &e);
        if (!g->tk) {
            ui_wb_say(wb, UI_MSG_ERROR, "generate: %s", e.msg);
            return e.code ? e.code : ERR_IO;
        }
    }
    if (wb->st.prune_on) {
        ui_wb_say(wb, UI_MSG_ERROR, "generate: prune is on; export FILE, then `mxalloc generate --config FILE`");
        return ERR_ARG;
    }
    free(g->fmts);
    free(g->text);
    g->fmts = NULL;
    g->text = NULL;
    g->len = 0;
    g->n = c->number > 0 ? (int)c->number : UI_GEN_DEFAULT_TOKENS;
    snprintf(g->prompt, sizeof g->prompt, "%s", c->argc ? c->argv[0] : UI_GEN_DEFAULT_PROMPT);
    g->avg_bits = 32;
    const ui_state *s = &wb->st;
    if (s->solved && s->t.n_modules == wb->m.n_modules) {
        g->fmts = malloc((size_t)wb->m.n_modules * sizeof *g->fmts);
        if (!g->fmts) {
            ui_wb_say(wb, UI_MSG_ERROR, "out of memory");
            return ERR_NOMEM;
        }
        for (int i = 0; i < wb->m.n_modules; i++)
            g->fmts[i] = (mx_format)s->choice[i];
        g->avg_bits = s->res.avg_bits;
    }
    ui_progress_reset(&wb->prog);
    if (ui_job_start(&wb->job, &wb->q, UI_JOB_GENERATE, generate_main, wb)) {
        ui_wb_say(wb, UI_MSG_ERROR, "generate: cannot start a worker thread");
        return ERR_INTERNAL;
    }
    if (g->fmts)
        ui_wb_say(wb, UI_MSG_INFO, "generate: %d tokens at %.3f bits/weight...", g->n, g->avg_bits);
    else
        ui_wb_say(wb, UI_MSG_INFO, "generate: %d tokens in fp32 (no allocation)...", g->n);
    return 0;
}

void ui_work_free(ui_wb *wb)
{
    free(wb->score.pv);
    wb->score.pv = NULL;
    free(wb->gen.fmts);
    free(wb->gen.text);
    if (wb->gen.tk)
        tok_free(wb->gen.tk);
    wb->gen.fmts = NULL;
    wb->gen.text = NULL;
    wb->gen.tk = NULL;
    ui_anneal_job *a = &wb->anneal;
    free(a->in);
    free(a->tgt);
    free(a->init_cost);
    a->in = a->tgt = NULL;
    a->init_cost = NULL;
    if (a->have_res)
        search_result_free(&a->res);
    a->have_res = 0;
    if (a->have_sp)
        search_prune_free(&a->sp);
    a->have_sp = 0;
    score_table_free(&wb->score.out);
}

/* ---- pruning scores ---- */

/* The candidate formats of the open table (MX only) and prune's default levels. */
static void prune_candidates(const ui_wb *wb, mx_format *fm, int *nf)
{
    *nf = 0;
    for (int j = 0; j < wb->st.t.n_formats; j++)
        if (wb->st.t.formats[j] != MX_FP32 && wb->st.t.formats[j] != MX_BF16)
            fm[(*nf)++] = wb->st.t.formats[j];
}

static int prune_progress(void *user, double done, double total)
{
    ui_wb *wb = user;
    ui_job_progress(&wb->job, done, total, "prune", NULL);
    return ui_job_cancelled(&wb->job);
}

static void *prune_main(void *arg)
{
    ui_wb *wb = arg;
    mx_error e = {0};
    static const double levels[] = {1.0, 0.75, 0.5, 0.25, 0.0};
    mx_format fm[MX_NFORMATS];
    int nf, bos = tok_window_bos(wb->tk);
    prune_candidates(wb, fm, &nf);
    ui_job_progress(&wb->job, 0, 1, "importance", NULL);
    int rc = prune_plan_collect(&wb->prune.plan, &wb->m, wb->tokens, wb->n_tokens, bos, wb->ctx,
                                SCORE_DEFAULT_TOKENS, &e);
    if (!rc) {
        rc = prune_scores_compute(&wb->m, &wb->prune.plan, wb->tokens, wb->n_tokens, bos, wb->ctx,
                                  SCORE_DEFAULT_TOKENS, fm, nf, levels, 5, PRUNE_QUANT_FISHER, prune_progress, wb,
                                  &wb->prune.ps, &e);
        if (rc)
            prune_plan_free(&wb->prune.plan);
    }
    ui_job_end(&wb->job, rc, NAN, NAN, "prune cancelled", "prune", e.msg, "pruning scores of %d groups",
               wb->prune.plan.n_groups);
    return NULL;
}

int ui_work_start_prune(ui_wb *wb)
{
    if (!wb->tokens)
        return -1;
    if (eval_window_count(wb->n_tokens, wb->ctx, SCORE_DEFAULT_TOKENS) == 0)
        return -2;
    memset(&wb->prune, 0, sizeof wb->prune);
    ui_progress_reset(&wb->prog);
    return ui_job_start(&wb->job, &wb->q, UI_JOB_PRUNE, prune_main, wb) ? -3 : 0;
}

/* GAMMA's exported scores become the table's "gamma" method. */
static void merge_gamma(ui_wb *wb)
{
    score_table g;
    mx_error e = {0};
    score_table *t = &wb->st.t;
    if (!ui_state_has_scores(&wb->st) || gamma_export(&wb->anneal.res, &wb->m.cfg, &g, &e))
        return;
    if (g.n_modules == t->n_modules) {
        for (int m = 0; m < t->n_modules; m++)
            for (int f = 0; f < MX_NFORMATS; f++)
                t->modules[m].score[SCORE_GAMMA][f] = g.modules[m].score[SCORE_GAMMA][f];
        t->methods |= 1u << SCORE_GAMMA;
    }
    score_table_free(&g);
}

void ui_work_finish(ui_wb *wb, const ui_event *ev)
{
    if (ev->job == UI_JOB_SCORE) {
        int shown = wb->score.pv_shown > 0;
        free(wb->score.pv);
        wb->score.pv = NULL;
        wb->score.preview = 0;
        wb->score.pv_shown = 0;
        if (shown && ev->code) { /* cancelled or failed: the preview goes, as nothing was written */
            ui_state keep = wb->st; /* what the options set, not the scores */
            ui_state_free(&wb->st);
            ui_state_init(&wb->st);
            wb->st.target = keep.target;
            wb->st.hw = keep.hw;
            wb->st.max_latency_ms = keep.max_latency_ms;
            snprintf(wb->scores_hint, sizeof wb->scores_hint, "no scores: scoring stopped (:score starts it again)");
        }
    }
    if (ev->job == UI_JOB_SCORE && ev->code == 0) {
        mx_error e = {0};
        if (ui_state_set_table(&wb->st, &wb->score.out, wb->score.path, &e) == 0) {
            wb->scores_hint[0] = '\0';
            if (wb->opts.ctx <= 0 && wb->st.t.ctx > 0)
                wb->ctx = wb->st.t.ctx;
            ui_search_hist_free(&wb->search);
            ui_search_hist_init(&wb->search, wb->st.t.n_modules);
            double lo, hi;
            ui_state_budget_range(&wb->st, &lo, &hi);
            if (isfinite(lo) && (wb->st.budget < lo || wb->st.budget > hi))
                wb->st.budget = lo < 6.0 && hi > 6.0 ? 6.0 : (lo + hi) / 2;
            ui_state_solve(&wb->st, NULL);
        }
        score_table_free(&wb->score.out);
    }
    if (ev->job == UI_JOB_PRUNE && ev->code == 0) {
        mx_error e = {0};
        if (ui_state_set_prune(&wb->st, &wb->prune.ps, &wb->prune.plan, &wb->m, &e) ||
            ui_state_set_prune_on(&wb->st, 1, &e))
            ui_wb_say(wb, UI_MSG_ERROR, "prune: %s", e.msg);
        else {
            double lo, hi;
            ui_state_budget_range(&wb->st, &lo, &hi);
            if (isfinite(lo) && (wb->st.budget < lo || wb->st.budget > hi))
                wb->st.budget = lo + 0.5 * (hi - lo);
            ui_state_solve(&wb->st, NULL);
        }
        prune_scores_free(&wb->prune.ps);
        prune_plan_free(&wb->prune.plan);
    }
    if (ev->job == UI_JOB_GENERATE && ev->code == 0 && wb->gen.text) {
        /* the prompt, then its continuation; the curses app shows the whole
         * text in its sample box and this line on the status line */
        char bits[32];
        if (wb->gen.fmts)
            snprintf(bits, sizeof bits, "avg_bits %.3f", wb->gen.avg_bits);
        else
            snprintf(bits, sizeof bits, "fp32");
        ui_wb_say(wb, UI_MSG_RESULT, "generate: %s, %d tokens (stop %s): %s%s", bits, wb->gen.n_new, wb->gen.stop,
             wb->gen.prompt, wb->gen.text);
    }
    if (ev->job == UI_JOB_SEARCH && ev->code == 0 && wb->anneal.have_res) {
        if (wb->anneal.method == SEARCH_GAMMA)
            merge_gamma(wb);
        /* the search's answer becomes the current allocation, kept as "dmx@5.00" */
        const search_result *r = &wb->anneal.res;
        int *f = malloc((size_t)(r->n_modules > 0 ? r->n_modules : 1) * sizeof *f);
        char name[UI_CAND_NAME];
        snprintf(name, sizeof name, "%s@%.2f%s", search_method_name((search_method)wb->anneal.method), r->budget,
                 r->cancelled ? "~" : "");
        mx_error e = {0};
        if (f && r->n_modules == wb->st.t.n_modules) {
            for (int m = 0; m < r->n_modules; m++)
                f[m] = (int)r->assign[m];
            if (r->level ? ui_state_apply_pruned(&wb->st, f, r->level, name, &e) : ui_state_apply(&wb->st, f, name, &e))
                ui_wb_say(wb, UI_MSG_ERROR, "anneal: %s", e.msg);
        }
        free(f);
    }
}
