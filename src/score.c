/* The score driver: calibration windows, the table, the fp32 and uniform
 * losses, the shared loss/KL statistics and progress. */
#include "src/score_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/clock.h"
#include "kernels/pool.h"
#include "src/eval.h"
#include "src/gptq_set.h"
#include "src/shard.h"

void score_opts_init(score_opts *o)
{
    memset(o, 0, sizeof *o);
    o->methods = 1u << SCORE_KL;
    static const mx_format mx6[] = {MX_FP8_E4M3, MX_FP8_E5M2, MX_INT8,
                                    MX_FP6_E3M2, MX_FP6_E2M3, MX_FP4_E2M1};
    o->n_formats = (int)(sizeof mx6 / sizeof mx6[0]);
    memcpy(o->formats, mx6, sizeof mx6);
    o->uniform = 1;
}

int score_default_ctx(const model *m)
{
    return m->cfg.max_seq < SCORE_DEFAULT_CTX_CAP ? m->cfg.max_seq : SCORE_DEFAULT_CTX_CAP;
}

void score_default_opts(const model *m, score_opts *o)
{
    score_opts_init(o);
    o->ctx = score_default_ctx(m);
    o->max_tokens = SCORE_DEFAULT_TOKENS;
}

int score_quant(const score_run *r, int i, mx_format f, float *out)
{
    return gptq_set_quant(r->o->gptq, r->m, i, f, out, r->e);
}

int score_threads(const score_opts *o)
{
    if (o->threads > 0)
        return o->threads;
    int n = pool_cpus();
    return n < 64 ? n : 64;
}

int score_wanted(const score_run *r, int i) { return !r->o->only || r->o->only[i]; }

int score_gather(score_run *r, double *rows, size_t per)
{
    return shard_gather(r->o->shard, rows, r->nw, per, r->e);
}

void score_window_time(score_run *r, double t0) { r->window_s += clock_now_s() - t0; }

double score_column(const score_run *r, const double *rows, size_t per, size_t col, long minus,
                    double mul, double div, score_wstat *ws)
{
    double s = 0.0;
    for (long k = 0; k < r->nw; k++) {
        const double *row = rows + (size_t)k * per;
        s += row[col];
        if (ws)
            score_wstat_add(ws, mul * (row[col] - (minus >= 0 ? row[minus] : 0.0)) / div);
    }
    return s;
}

void score_keep_fp32(score_run *r, const double *rows, size_t per, size_t col)
{
    if (!r->have_fp32) {
        r->fp32_sum = score_column(r, rows, per, col, -1, 1, 1, NULL);
        r->have_fp32 = 1;
    }
}

double score_fwd_units(const tf_config *c, int from)
{
    double d = c->dim, qd = (double)c->n_heads * c->head_dim, kd = (double)c->n_kv_heads * c->head_dim;
    double block = d * (qd + 2 * kd) + qd * d + 3 * d * c->hidden_dim;
    return (c->n_layers - from) + (double)c->vocab_size * d / (block > 0 ? block : 1);
}

void score_wstat_add(score_wstat *s, double x)
{
    s->n++;
    double d = x - s->mean;
    s->mean += d / (double)s->n;
    s->m2 += d * (x - s->mean);
}

double score_wstat_se(const score_wstat *s)
{
    if (s->n < 2)
        return NAN;
    return sqrt(s->m2 / ((double)s->n * (double)(s->n - 1)));
}

int score_tick(score_run *r, double units, long tokens)
{
    r->p.done += units;
    r->p.tokens += tokens;
    if (r->o->progress && r->o->progress(r->o->user, &r->p))
        return err_set(r->e, ERR_CANCELLED, "cancelled");
    return 0;
}

/* log-sum-exp of one row, stable, in double (as tf_nll does). */
static double row_lse(const float *z, int V)
{
    float mx = z[0];
    for (int k = 1; k < V; k++)
        if (z[k] > mx)
            mx = z[k];
    double s = 0.0;
    for (int k = 0; k < V; k++)
        s += exp((double)z[k] - mx);
    return mx + log(s);
}

void score_ref_fill(score_run *r, tf_ctx *t, const tf_weights *w, float *logits, double *lse)
{
    int n = tf_ctx_n(t), V = r->m->cfg.vocab_size;
    for (int r0 = 0; r0 < n; r0 += SCORE_LOGIT_ROWS) {
        int nr = n - r0 < SCORE_LOGIT_ROWS ? n - r0 : SCORE_LOGIT_ROWS;
        float *z = logits + (size_t)r0 * V;
        tf_logits(t, w, r0, nr, z);
        for (int i = 0; i < nr; i++)
            lse[r0 + i] = row_lse(z + (size_t)i * V, V);
    }
}

void score_window_stats(tf_ctx *t, const tf_weights *w, const int *tgt, const score_ref *ref,
                        float *bufq, float *bufp, double *nll, double *kl)
{
    int n = tf_ctx_n(t), V = tf_ctx_config(t)->vocab_size;
    double s_nll = 0.0, s_kl = 0.0;
    for (int r0 = 0; r0 < n; r0 += SCORE_LOGIT_ROWS) {
        int nr = n - r0 < SCORE_LOGIT_ROWS ? n - r0 : SCORE_LOGIT_ROWS;
        tf_logits(t, w, r0, nr, bufq);
        const float *P = NULL;
        if (ref && ref->logits) {
            P = ref->logits + (size_t)r0 * V;
        } else if (ref) {
            tf_logits(ref->ctx, ref->w, r0, nr, bufp);
            P = bufp;
        }
        for (int i = 0; i < nr; i++) {
            const float *y = bufq + (size_t)i * V;
            double lq = row_lse(y, V);
            if (tgt[r0 + i] >= 0)
                s_nll += lq - y[tgt[r0 + i]];
            if (!P)
                continue;
            /* KL(p || q) = sum_v p_v (z_v - y_v) - lse_p + lse_q */
            const float *z = P + (size_t)i * V;
            double lp = ref->logits ? ref->lse[r0 + i] : row_lse(z, V), acc = 0.0;
            for (int v = 0; v < V; v++)
                acc += exp((double)z[v] - lp) * ((double)z[v] - y[v]);
            s_kl += acc - lp + lq;
        }
    }
    *nll = s_nll;
    if (kl)
        *kl = s_kl;
}

/* The summed NLL over every calibration window with the modules in formats
 * fm (NULL: fp32), windows in order; rows: [nw] scratch. */
static int window_loss(score_run *r, tf_ctx *t, const mx_format *fm, double *rows, double *sum)
{
    const model *m = r->m;
    int n = r->ctx, rc = 0;
    eval_qweights q = {0};
    const tf_weights *w = &m->weights;
    if (fm) {
        if ((rc = eval_qweights_init(&q, m, fm, r->o->gptq, r->e)))
            return rc;
        w = &q.w;
    }
    double t0 = clock_now_s();
    for (long k = r->w0; k < r->w1 && !rc; k++) {
        tf_forward(t, w, r->in + k * n, n, 0);
        score_window_stats(t, w, r->tgt + k * n, NULL, r->bufq, r->bufp, &rows[k], NULL);
        rc = score_tick(r, score_fwd_units(&m->cfg, 0), n);
    }
    score_window_time(r, t0);
    if (fm)
        eval_qweights_free(&q);
    if (!rc && !(rc = score_gather(r, rows, 1)))
        *sum = score_column(r, rows, 1, 0, -1, 1, 1, NULL);
    return rc;
}

/* fp32 loss (when no pass measured it yet) and each uniform-format loss. */
static int run_uniform(score_run *r)
{
    const model *m = r->m;
    int n = r->ctx, rc = 0;
    tf_ctx *t = tf_ctx_create(&m->cfg, n, 0);
    mx_format *fm = malloc(sizeof *fm * (size_t)(m->n_modules ? m->n_modules : 1));
    double *rows = malloc(sizeof *rows * (size_t)r->nw);
    if (!t || !fm || !rows) {
        tf_ctx_free(t);
        free(fm);
        free(rows);
        return err_set(r->e, ERR_NOMEM, "out of memory for the uniform-format pass");
    }
    double N = (double)r->nw * n;
    r->p.phase = "uniform";
    r->p.module = -1;
    for (int fi = -1; fi < r->o->n_formats && !rc; fi++) {
        mx_format f = fi < 0 ? MX_FP32 : r->o->formats[fi];
        if (f == MX_FP32 && r->have_fp32)
            continue;
        for (int i = 0; i < m->n_modules; i++)
            fm[i] = f;
        double sum;
        if ((rc = window_loss(r, t, f == MX_FP32 ? NULL : fm, rows, &sum)))
            break;
        if (f == MX_FP32) {
            r->fp32_sum = sum;
            r->have_fp32 = 1;
        } else {
            r->t->uniform_loss[f] = sum / N;
        }
    }
    if (!rc && r->o->uniform && score_table_format_index(r->t, MX_FP32) >= 0)
        r->t->uniform_loss[MX_FP32] = r->fp32_sum / N;
    tf_ctx_free(t);
    free(fm);
    free(rows);
    return rc;
}

/* The methods whose allocations are measured as anchors (not gamma: its
 * scores come from a search, not from this pass). */
static int anchored(const score_opts *o, int s)
{
    return o->anchor_alloc && s != SCORE_GAMMA && (o->methods & (1u << s));
}

/* The anchors: for each scored method and budget, the loss of the
 * allocation o->anchor_alloc makes from this table, on the same windows. */
static int run_anchors(score_run *r)
{
    const model *m = r->m;
    int rc = 0;
    tf_ctx *t = tf_ctx_create(&m->cfg, r->ctx, 0);
    mx_format *fm = malloc(sizeof *fm * (size_t)(m->n_modules ? m->n_modules : 1));
    double *rows = malloc(sizeof *rows * (size_t)r->nw);
    if (!t || !fm || !rows) {
        tf_ctx_free(t);
        free(fm);
        free(rows);
        return err_set(r->e, ERR_NOMEM, "out of memory for the anchor pass");
    }
    r->p.phase = "anchors";
    r->p.module = -1;
    score_table *tb = r->t;
    for (int s = 0; s < SCORE_NMETHODS && !rc; s++)
        for (int b = 0; anchored(r->o, s) && b < SCORE_ANCHOR_BUDGETS && !rc; b++) {
            double budget = SCORE_ANCHOR_FROM + SCORE_ANCHOR_STEP * b, sum;
            if (r->o->anchor_alloc(tb, (score_method)s, budget, fm)) {
                /* infeasible: its forward passes are not run */
                rc = score_tick(r, (double)(r->w1 - r->w0) * score_fwd_units(&m->cfg, 0), 0);
                continue;
            }
            if (tb->n_anchors == SCORE_ANCHORS_MAX || (rc = window_loss(r, t, fm, rows, &sum)))
                break;
            score_anchor *a = &tb->anchors[tb->n_anchors++];
            a->method = s;
            a->score_sum = 0;
            double bits = 0, params = 0;
            for (int i = 0; i < m->n_modules; i++) {
                a->score_sum += score_cost(&tb->modules[i], (score_method)s, fm[i]);
                bits += tb->modules[i].bits[fm[i]] * (double)tb->modules[i].params;
                params += (double)tb->modules[i].params;
            }
            a->bits = params > 0 ? bits / params : NAN;
            a->loss = sum / ((double)r->nw * r->ctx);
        }
    tf_ctx_free(t);
    free(fm);
    free(rows);
    return rc;
}

static int check_opts(const model *m, const score_opts *o, mx_error *e)
{
    if (!o->methods || (o->methods & ~((1u << SCORE_KL) | (1u << SCORE_FISHER) | (1u << SCORE_FISHER_OUT))))
        return err_set(e, ERR_ARG, "methods must be kl, fisher and/or fisher-out");
    if (o->n_formats <= 0 || o->n_formats > MX_NFORMATS)
        return err_set(e, ERR_ARG, "no candidate formats");
    for (int i = 0; i < o->n_formats; i++) {
        if ((unsigned)o->formats[i] >= MX_NFORMATS)
            return err_set(e, ERR_ARG, "format %d out of range", (int)o->formats[i]);
        for (int j = 0; j < i; j++)
            if (o->formats[j] == o->formats[i])
                return err_set(e, ERR_ARG, "format %s listed twice",
                               mx_format_name(o->formats[i]));
    }
    if (o->ctx <= 0 || o->ctx > m->cfg.max_seq)
        return err_set(e, ERR_ARG, "context %d outside [1, %d] (the model's maximum context)",
                       o->ctx, m->cfg.max_seq);
    if (o->bos < 0 || o->bos >= m->cfg.vocab_size)
        return err_set(e, ERR_ARG, "BOS id %d outside the vocabulary (%d)", o->bos,
                       m->cfg.vocab_size);
    if ((o->fisher_chunk < 0 && o->fisher_chunk != SCORE_FISHER_POSITIONS) || o->max_tokens < 0)
        return err_set(e, ERR_ARG, "negative fisher chunk or token limit");
    if (m->n_modules <= 0)
        return err_set(e, ERR_ARG, "the model has no quantizable modules");
    return 0;
}

/* Copy into a fixed field; an over-long string keeps its tail (the file name). */
static void copy_tail(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        src += n - (cap - 1), n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

int score_table_for_model(const model *m, const score_opts *o, score_table *t)
{
    if (score_table_alloc(t, m->n_modules))
        return ERR_NOMEM;
    copy_tail(t->model, sizeof t->model, m->path);
    t->model_hash = m->content_hash;
    t->methods = o->methods;
    t->n_formats = o->n_formats;
    memcpy(t->formats, o->formats, sizeof t->formats[0] * (size_t)o->n_formats);
    for (int i = 0; i < m->n_modules; i++) {
        const model_module *mm = &m->modules[i];
        score_module *sm = &t->modules[i];
        copy_tail(sm->name, sizeof sm->name, mm->name);
        sm->layer = mm->layer;
        sm->kind = mm->kind;
        sm->rows = mm->rows;
        sm->cols = mm->cols;
        sm->params = mm->params;
        for (int fi = 0; fi < o->n_formats; fi++) {
            mx_format f = o->formats[fi];
            sm->bits[f] = mx_bits_per_weight(f, (size_t)mm->rows, (size_t)mm->cols);
        }
    }
    return 0;
}

static int table_setup(score_run *r)
{
    if (score_table_for_model(r->m, r->o, r->t))
        return err_set(r->e, ERR_NOMEM, "out of memory");
    r->t->calib_tokens = r->nw * r->ctx;
    r->t->ctx = r->ctx;
    return 0;
}

double score_cost_forwards(const model *m, const score_opts *o, score_method meth)
{
    score_run r = {.m = m, .o = o, .ctx = o->ctx, .nw = 1, .w1 = 1};
    double u = meth == SCORE_KL ? score_kl_units(&r) : meth == SCORE_FISHER ? score_fisher_units(&r)
             : meth == SCORE_FISHER_OUT                  ? score_fisher_out_units(&r)
                                                          : 0.0;
    return u / score_fwd_units(&m->cfg, 0);
}

int score_compute(const model *m, const int *tokens, long n_tokens, const score_opts *o,
                  score_table *out, mx_error *e)
{
    score_table_init(out);
    int rc = check_opts(m, o, e);
    if (rc)
        return rc;
    long nw = eval_window_count(n_tokens, o->ctx, o->max_tokens);
    if (nw <= 0)
        return err_set(e, ERR_ARG, "%ld calibration tokens: fewer than one window of %d",
                       n_tokens < 0 ? 0 : n_tokens, o->ctx);
    int V = m->cfg.vocab_size;
    for (long i = 0; i < nw * o->ctx; i++)
        if (tokens[i] < 0 || tokens[i] >= V)
            return err_set(e, ERR_ARG, "calibration token %ld has id %d outside the vocabulary (%d)",
                           i, tokens[i], V);
    score_run r = {.m = m, .o = o, .t = out, .e = e, .ctx = o->ctx, .nw = nw};
    shard_range(o->shard, nw, &r.w0, &r.w1);
    size_t cells = (size_t)nw * o->ctx;
    r.in = malloc(sizeof(int) * cells);
    r.tgt = malloc(sizeof(int) * cells);
    r.bufq = malloc(sizeof(float) * SCORE_LOGIT_ROWS * (size_t)V);
    r.bufp = malloc(sizeof(float) * SCORE_LOGIT_ROWS * (size_t)V);
    if (!r.in || !r.tgt || !r.bufq || !r.bufp) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    for (long k = 0; k < nw; k++)
        eval_window_tokens(tokens, k, o->ctx, o->bos, r.in + k * o->ctx, r.tgt + k * o->ctx);
    if ((rc = table_setup(&r)))
        goto done;

    r.p.n_modules = m->n_modules;
    r.p.module = -1;
    if (o->methods & (1u << SCORE_KL))
        r.p.total += score_kl_units(&r);
    if (o->methods & (1u << SCORE_FISHER))
        r.p.total += score_fisher_units(&r);
    if (o->methods & (1u << SCORE_FISHER_OUT))
        r.p.total += score_fisher_out_units(&r);
    long own = r.w1 - r.w0;
    for (int fi = 0; o->uniform && fi < o->n_formats; fi++)
        if (o->formats[fi] != MX_FP32)
            r.p.total += (double)own * score_fwd_units(&m->cfg, 0);
    for (int s = 0; s < SCORE_NMETHODS; s++)
        if (anchored(o, s))
            r.p.total += (double)SCORE_ANCHOR_BUDGETS * own * score_fwd_units(&m->cfg, 0);

    if ((o->methods & (1u << SCORE_KL)) && (rc = score_run_kl(&r)))
        goto done;
    if ((o->methods & (1u << SCORE_FISHER)) && (rc = score_run_fisher(&r)))
        goto done;
    if ((o->methods & (1u << SCORE_FISHER_OUT)) && (rc = score_run_fisher_out(&r)))
        goto done;
    if (o->uniform) {
        if ((rc = run_uniform(&r)))
            goto done;
    } else if (!r.have_fp32) {
        score_opts o2 = *o;
        o2.n_formats = 0;
        r.o = &o2;
        rc = run_uniform(&r);
        r.o = o;
        if (rc)
            goto done;
    }
    out->fp32_loss = r.fp32_sum / (double)cells;
    /* fp32 as a candidate: quantizing to it changes nothing. */
    for (int i = 0; i < m->n_modules; i++)
        if (score_wanted(&r, i) && score_table_format_index(out, MX_FP32) >= 0) {
            score_module *sm = &out->modules[i];
            for (int s = 0; s < SCORE_NMETHODS; s++)
                if (o->methods & (1u << s))
                    sm->score[s][MX_FP32] = sm->se[s][MX_FP32] = 0.0;
            if (o->methods & (1u << SCORE_KL))
                sm->kld[MX_FP32] = sm->kld_se[MX_FP32] = 0.0;
        }
    /* last: the allocations are made from the finished scores */
    if (o->anchor_alloc && !o->only)
        rc = run_anchors(&r);
done:
    if (o->shard)
        o->shard->window_s = r.window_s;
    free(r.in);
    free(r.tgt);
    free(r.bufq);
    free(r.bufp);
    if (rc)
        score_table_free(out);
    return rc;
}
