/* Structured pruning: importances, keep masks, pruned-and-quantized weights. */
#include "src/prune.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gemm.h"
#include "src/eval.h"

int prune_part_of(int kind) { return kind <= TF_O ? PRUNE_ATTN : PRUNE_MLP; }

void prune_group_name(int layer, int part, char *out, size_t cap)
{
    snprintf(out, cap, "model.layers.%d.%s", layer, part == PRUNE_ATTN ? "self_attn" : "mlp");
}

int prune_units(const tf_config *c, int part) { return part == PRUNE_ATTN ? c->n_kv_heads : c->hidden_dim; }

/* Sums of squares of the o and down inputs, per column, over all tokens. */
typedef struct sq_acc {
    double **sq; /* [n_layers * TF_NLIN], at TF_O and TF_DOWN only */
} sq_acc;

static void on_linear(void *user, int layer, int which, int n, int rows, int cols, const float *x,
                      const float *w, float beta, float *y)
{
    sq_acc *a = user;
    double *sq = a->sq[layer * TF_NLIN + which];
    if (sq)
        for (int t = 0; t < n; t++)
            for (int j = 0; j < cols; j++)
                sq[j] += (double)x[(size_t)t * cols + j] * x[(size_t)t * cols + j];
    gemm_linear(n, rows, cols, x, w, beta, y);
}

typedef struct ranked {
    double imp;
    int idx;
} ranked;

/* Most important first, ties by lower index: a total order, so the result
 * does not depend on qsort's algorithm. */
static int by_importance(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->imp != y->imp)
        return x->imp > y->imp ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

static int order_units(prune_group *g)
{
    ranked *r = malloc((size_t)g->n_units * sizeof *r);
    if (!r)
        return -1;
    for (int u = 0; u < g->n_units; u++)
        r[u] = (ranked){g->importance[u], u};
    qsort(r, (size_t)g->n_units, sizeof *r, by_importance);
    for (int u = 0; u < g->n_units; u++)
        g->order[u] = r[u].idx;
    free(r);
    return 0;
}

void prune_plan_free(prune_plan *p)
{
    for (int k = 0; p->g && k < p->n_groups; k++) {
        free(p->g[k].importance);
        free(p->g[k].order);
    }
    free(p->g);
    p->g = NULL;
    p->n_groups = 0;
}

int prune_plan_collect(prune_plan *p, const model *m, const int *tokens, long n_tokens, int bos,
                       int ctx, long max_tokens, mx_error *e)
{
    memset(p, 0, sizeof *p);
    const tf_config *c = &m->cfg;
    long nw = eval_window_count(n_tokens, ctx, max_tokens);
    if (nw < 1)
        return err_set(e, ERR_ARG, "prune: the calibration text holds no window of %d tokens", ctx);
    int nl = c->n_layers * TF_NLIN, rc = 0;
    sq_acc a = {calloc((size_t)nl, sizeof *a.sq)};
    tf_ctx *t = tf_ctx_create(c, ctx, 0);
    int *in = malloc(2 * (size_t)ctx * sizeof *in);
    p->n_groups = c->n_layers * PRUNE_NPARTS;
    p->g = calloc((size_t)p->n_groups, sizeof *p->g);
    if (!a.sq || !t || !in || !p->g)
        goto nomem;
    for (int l = 0; l < c->n_layers; l++) {
        int ro, co, rd, cd;
        tf_linear_shape(c, TF_O, &ro, &co);
        tf_linear_shape(c, TF_DOWN, &rd, &cd);
        if (!(a.sq[l * TF_NLIN + TF_O] = calloc((size_t)co, sizeof(double))) ||
            !(a.sq[l * TF_NLIN + TF_DOWN] = calloc((size_t)cd, sizeof(double))))
            goto nomem;
    }
    tf_ctx_set_linear(t, on_linear, &a);
    for (long k = 0; k < nw; k++) {
        eval_window_tokens(tokens, k, ctx, bos, in, in + ctx);
        if (tf_forward(t, &m->weights, in, ctx, 0)) {
            rc = err_set(e, ERR_ARG, "prune: a calibration token is outside the vocabulary");
            goto done;
        }
    }
    int hd = c->head_dim, rep = c->n_heads / c->n_kv_heads;
    for (int l = 0; l < c->n_layers; l++)
        for (int part = 0; part < PRUNE_NPARTS; part++) {
            prune_group *g = &p->g[l * PRUNE_NPARTS + part];
            int kind = part == PRUNE_ATTN ? TF_O : TF_DOWN, rows, cols;
            tf_linear_shape(c, kind, &rows, &cols);
            const float *w = m->weights.layers[l].lin[kind];
            const double *sq = a.sq[l * TF_NLIN + kind];
            g->layer = l;
            g->part = part;
            g->n_units = prune_units(c, part);
            int per = part == PRUNE_ATTN ? rep * hd : 1; /* columns a unit owns */
            if (!(g->importance = calloc((size_t)g->n_units, sizeof(double))) ||
                !(g->order = malloc((size_t)g->n_units * sizeof(int))))
                goto nomem;
            for (int j = 0; j < cols; j++) {
                double wn = 0.0;
                for (int r = 0; r < rows; r++)
                    wn += (double)w[(size_t)r * cols + j] * w[(size_t)r * cols + j];
                g->importance[j / per] += sqrt(sq[j]) * sqrt(wn);
            }
            if (order_units(g))
                goto nomem;
        }
    goto done;
nomem:
    rc = err_set(e, ERR_NOMEM, "prune: out of memory for the calibration statistics");
done:
    if (rc)
        prune_plan_free(p);
    for (int k = 0; a.sq && k < nl; k++)
        free(a.sq[k]);
    free(a.sq);
    free(in);
    tf_ctx_free(t);
    return rc;
}

int prune_count(const prune_group *g, double keep)
{
    long n = lround(keep * g->n_units);
    return n < 0 ? 0 : n > g->n_units ? g->n_units : (int)n;
}

void prune_mask(const prune_group *g, int n, unsigned char *keep)
{
    memset(keep, 0, (size_t)g->n_units);
    for (int u = 0; u < n && u < g->n_units; u++)
        keep[g->order[u]] = 1;
}

/* Is row r (rows side) or column j (cols side) of module i kept? The side a
 * unit removes: q/k/v and gate/up lose rows, o and down columns. */
static int line_kept(const tf_config *c, int kind, int idx, const unsigned char *keep)
{
    int hd = c->head_dim, rep = c->n_heads / c->n_kv_heads;
    switch (kind) {
    case TF_Q:
    case TF_O: return keep[idx / (rep * hd)];
    case TF_K:
    case TF_V: return keep[idx / hd];
    default: return keep[idx];
    }
}

static int prunes_rows(int kind) { return kind != TF_O && kind != TF_DOWN; }

void prune_shape(const model *m, int i, const unsigned char *keep, int *rows, int *cols,
                 unsigned char *row_on, unsigned char *col_on)
{
    const model_module *mm = &m->modules[i];
    int byrow = prunes_rows(mm->kind), nr = mm->rows, nc = mm->cols;
    if (row_on)
        memset(row_on, 1, (size_t)mm->rows);
    if (col_on)
        memset(col_on, 1, (size_t)mm->cols);
    if (keep) {
        int n = byrow ? mm->rows : mm->cols, kept = 0;
        unsigned char *on = byrow ? row_on : col_on;
        for (int x = 0; x < n; x++) {
            int k = line_kept(&m->cfg, mm->kind, x, keep);
            kept += k;
            if (on)
                on[x] = (unsigned char)k;
        }
        if (byrow)
            nr = kept;
        else
            nc = kept;
    }
    *rows = nr;
    *cols = nc;
}

double prune_bits(const model *m, int i, const unsigned char *keep, mx_format f)
{
    const model_module *mm = &m->modules[i];
    int r, c;
    prune_shape(m, i, keep, &r, &c, NULL, NULL);
    if (r == 0 || c == 0)
        return 0.0;
    return mx_bits_per_weight(f, (size_t)r, (size_t)c) * ((double)r * c) / ((double)mm->rows * mm->cols);
}

/* The kept rows/columns of module i; row_on, col_on [rows], [cols] (malloc'ed). */
static int kept_lines(const model *m, int i, const unsigned char *keep, int *r, int *c, unsigned char **row_on,
                      unsigned char **col_on, mx_error *e)
{
    const model_module *mm = &m->modules[i];
    *row_on = malloc((size_t)mm->rows);
    *col_on = malloc((size_t)mm->cols);
    if (!*row_on || !*col_on) {
        free(*row_on);
        free(*col_on);
        return err_set(e, ERR_NOMEM, "out of memory pruning %s", mm->name);
    }
    prune_shape(m, i, keep, r, c, *row_on, *col_on);
    return 0;
}

/* Between a full R x C matrix and its kept submatrix (row-major): gather
 * full -> sub, or scatter sub -> full (the other entries untouched). */
static void copy_kept(size_t R, size_t C, const unsigned char *row_on, const unsigned char *col_on, float *full,
                      float *sub, int scatter)
{
    size_t k = 0;
    for (size_t y = 0; y < R; y++)
        for (size_t x = 0; row_on[y] && x < C; x++)
            if (col_on[x]) {
                if (scatter)
                    full[y * C + x] = sub[k++];
                else
                    sub[k++] = full[y * C + x];
            }
}

int prune_gather(const model *m, int i, const float *w, const unsigned char *keep, float *sub, int *rows,
                 int *cols, mx_error *e)
{
    const model_module *mm = &m->modules[i];
    unsigned char *row_on, *col_on;
    int rc = kept_lines(m, i, keep, rows, cols, &row_on, &col_on, e);
    if (rc)
        return rc;
    copy_kept((size_t)mm->rows, (size_t)mm->cols, row_on, col_on, (float *)(w ? w : mm->w), sub, 0);
    free(row_on);
    free(col_on);
    return 0;
}

int prune_apply(const model *m, int i, const float *w, const unsigned char *keep, mx_format f,
                float *out, mx_error *e)
{
    const model_module *mm = &m->modules[i];
    size_t R = (size_t)mm->rows, C = (size_t)mm->cols;
    if (!w)
        w = mm->w;
    if (!keep) {
        if (f == MX_FP32)
            memcpy(out, w, R * C * sizeof *out);
        else
            mx_fake_quant(f, w, out, R, C);
        return 0;
    }
    float *sub = malloc(R * C * sizeof *sub + 1), *q = malloc(R * C * sizeof *q + 1);
    unsigned char *row_on = NULL, *col_on = NULL;
    int r, c, rc = 0;
    if (!sub || !q)
        rc = err_set(e, ERR_NOMEM, "out of memory pruning %s", mm->name);
    if (!rc && !(rc = kept_lines(m, i, keep, &r, &c, &row_on, &col_on, e))) {
        copy_kept(R, C, row_on, col_on, (float *)w, sub, 0);
        if (f == MX_FP32 || !r || !c)
            memcpy(q, sub, (size_t)r * c * sizeof *q);
        else
            mx_fake_quant(f, sub, q, (size_t)r, (size_t)c);
        memset(out, 0, R * C * sizeof *out);
        copy_kept(R, C, row_on, col_on, out, q, 1);
    }
    free(sub);
    free(q);
    free(row_on);
    free(col_on);
    return rc;
}
