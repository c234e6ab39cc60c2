/* Timing the packed linears and the rest of the forward pass. */
#include "src/hwprofile.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/clock.h"
#include "src/packed.h"
#include "src/stats.h"

void hwprof_opts_init(hwprof_opts *o)
{
    o->batch = 512;
    o->samples = 9;
    o->sample_s = 0.004;
}

/* Deterministic values in [-scale, scale). */
static void fill(float *x, size_t n, uint64_t seed, float scale)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = scale * ((float)(s >> 40) / (float)(1u << 24) * 2.0f - 1.0f);
    }
}

typedef void (*hwprof_fn)(void *user);

/* Median over samples of the time of one call of fn, in seconds: each sample
 * repeats fn as often as the first (untimed-for-the-result) calibration says
 * fills sample_s. */
static double time_median(const hwprof_opts *o, hwprof_fn fn, void *user, double *buf)
{
    fn(user); /* warm caches and OpenBLAS's threads */
    double t0 = clock_now_s();
    fn(user);
    double one = clock_now_s() - t0;
    long reps = one > 0 ? (long)(o->sample_s / one) : 1000;
    if (reps < 1)
        reps = 1;
    if (reps > 100000)
        reps = 100000;
    for (int s = 0; s < o->samples; s++) {
        t0 = clock_now_s();
        for (long r = 0; r < reps; r++)
            fn(user);
        buf[s] = (clock_now_s() - t0) / (double)reps;
    }
    return stats_median(buf, o->samples);
}

typedef struct lin_job {
    const packed_linear *p;
    int n;
    const float *x;
    float *y, *scratch;
} lin_job;

static void lin_run(void *user)
{
    lin_job *j = user;
    packed_linear_apply(j->p, j->n, j->x, 0.0f, j->y, j->scratch);
}

static int check_opts(const hwprof_opts *o, mx_error *e)
{
    if (o->batch <= 0 || o->samples <= 0 || o->samples > 1000 || !(o->sample_s >= 0))
        return err_set(e, ERR_ARG, "hwprofile: bad batch %d, samples %d or sample time %g", o->batch, o->samples,
                       o->sample_s);
    return 0;
}

int hwprof_linear(const hwprof_opts *o, mx_format f, int rows, int cols, double *us_per_token,
                  double *bytes, mx_error *e)
{
    int rc = check_opts(o, e);
    if (rc)
        return rc;
    if (rows <= 0 || cols <= 0 || rows > HW_TABLE_MAX_DIM || cols > HW_TABLE_MAX_DIM)
        return err_set(e, ERR_ARG, "hwprofile: shape %dx%d outside 1..%d", rows, cols, HW_TABLE_MAX_DIM);
    size_t nw = (size_t)rows * cols, nx = (size_t)o->batch * cols, ny = (size_t)o->batch * rows;
    float *w = malloc(nw * sizeof *w), *x = malloc(nx * sizeof *x), *y = malloc(ny * sizeof *y);
    double *buf = malloc((size_t)o->samples * sizeof *buf);
    packed_linear p;
    memset(&p, 0, sizeof p);
    float *scratch = NULL;
    if (!w || !x || !y || !buf) {
        rc = err_set(e, ERR_NOMEM, "out of memory for a %dx%d linear at batch %d", rows, cols, o->batch);
        goto out;
    }
    fill(w, nw, (uint64_t)rows * 131 + (uint64_t)cols, 0.05f);
    fill(x, nx, 7, 1.0f);
    if ((rc = packed_linear_init(&p, f, w, rows, cols, e)))
        goto out;
    if (!(scratch = malloc(packed_linear_scratch(&p) * sizeof *scratch))) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    lin_job j = {&p, o->batch, x, y, scratch};
    double s = time_median(o, lin_run, &j, buf);
    *us_per_token = 1e6 * s / o->batch;
    *bytes = (double)packed_linear_bytes(&p) + 4.0 * (double)(nx + ny);
out:
    packed_linear_free(&p);
    free(scratch);
    free(w);
    free(x);
    free(y);
    free(buf);
    return rc;
}

typedef struct fwd_job {
    tf_ctx *t;
    const tf_weights *w;
    const int *in, *tgt;
    int n;
} fwd_job;

static void fwd_run(void *user)
{
    fwd_job *j = user;
    tf_forward(j->t, j->w, j->in, j->n, 0);
    (void)tf_nll(j->t, j->w, j->tgt, NULL);
}

int hwprof_model_shapes(const model *m, int *rows, int *cols)
{
    int n = 0;
    for (int i = 0; i < m->n_modules; i++) {
        int k = 0;
        while (k < n && !(rows[k] == m->modules[i].rows && cols[k] == m->modules[i].cols))
            k++;
        if (k == n) {
            rows[n] = m->modules[i].rows;
            cols[n] = m->modules[i].cols;
            n++;
        }
    }
    return n;
}

int hwprof_model(const hwprof_opts *o, const model *m, const mx_format *fmts, int n_fmts, hw_table *t,
                 mx_error *e)
{
    int rc = check_opts(o, e);
    if (rc)
        return rc;
    int nm = m->n_modules, ns = o->samples;
    tf_ctx *ctx = tf_ctx_create(&m->cfg, o->batch, 0);
    int *tok = malloc(2 * sizeof *tok * (size_t)o->batch);
    int *srows = malloc(sizeof(int) * (size_t)(nm ? nm : 1)), *scols = malloc(sizeof(int) * (size_t)(nm ? nm : 1));
    mx_format *mf = malloc(sizeof *mf * (size_t)(nm ? nm : 1));
    double *per = malloc(sizeof *per * (size_t)(nm ? nm : 1) * ns); /* [module][sample] */
    double *rest = malloc(sizeof *rest * (size_t)ns * (n_fmts ? n_fmts : 1)), *buf = malloc(sizeof *buf * (size_t)ns);
    packed_model pm = {0};
    if (!ctx || !tok || !srows || !scols || !mf || !per || !rest || !buf) {
        rc = err_set(e, ERR_NOMEM, "out of memory for a %d-token forward pass", o->batch);
        goto out;
    }
    uint64_t s = 12345;
    for (int i = 0; i < 2 * o->batch; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        tok[i] = (int)((s >> 33) % (uint64_t)m->cfg.vocab_size);
    }
    int n_shapes = hwprof_model_shapes(m, srows, scols), n_rest = 0;
    fwd_job j = {ctx, &m->weights, tok, tok + o->batch, o->batch};
    for (int fi = 0; fi < n_fmts; fi++) {
        for (int i = 0; i < nm; i++)
            mf[i] = fmts[fi];
        if ((rc = packed_model_init(&pm, m, mf, e)))
            goto out;
        packed_model_attach(&pm, ctx);
        fwd_run(&j); /* warm-up */
        for (int k = 0; k < ns; k++) {
            packed_model_reset_time(&pm);
            double t0 = clock_now_s();
            fwd_run(&j);
            rest[n_rest++] = clock_now_s() - t0 - pm.lin_seconds;
            for (int i = 0; i < nm; i++)
                per[(size_t)i * ns + k] =
                    pm.mod_seconds[(size_t)m->modules[i].layer * TF_NLIN + m->modules[i].kind];
        }
        for (int sh = 0; sh < n_shapes; sh++) {
            double sum = 0;
            int cnt = 0;
            for (int i = 0; i < nm; i++)
                if (m->modules[i].rows == srows[sh] && m->modules[i].cols == scols[sh]) {
                    memcpy(buf, per + (size_t)i * ns, sizeof *buf * (size_t)ns);
                    sum += stats_median(buf, ns);
                    cnt++;
                }
            const packed_linear *pl = NULL;
            for (int i = 0; i < nm && !pl; i++)
                if (m->modules[i].rows == srows[sh] && m->modules[i].cols == scols[sh])
                    pl = &pm.lin[(size_t)m->modules[i].layer * TF_NLIN + m->modules[i].kind];
            double bytes = (double)packed_linear_bytes(pl) +
                           4.0 * (double)o->batch * (double)(srows[sh] + scols[sh]);
            if ((rc = hw_table_add(t, fmts[fi], srows[sh], scols[sh], o->batch, 1e6 * sum / cnt / o->batch, bytes,
                                   e)))
                goto out;
        }
        tf_ctx_set_linear(ctx, NULL, NULL);
        packed_model_free(&pm);
    }
    if (n_rest)
        t->overhead_us = 1e6 * stats_median(rest, n_rest) / o->batch;
out:
    tf_ctx_free(ctx);
    packed_model_free(&pm);
    free(tok);
    free(srows);
    free(scols);
    free(mf);
    free(per);
    free(rest);
    free(buf);
    return rc;
}
