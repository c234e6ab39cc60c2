/* Structured pruning on tiny generated models: a pruned model (zero-filled
 * rows/columns, kept submatrix quantized as such) computes exactly what the
 * physically smaller model compacted by hand computes; keeping no unit skips
 * the sublayer; prune_bits by hand; prune_count's rounding and prune_mask's
 * choice; importances against a recomputation from the kept activations (and
 * Wanda's linearity in a column's norm); the config's "prune" section round
 * trip and its refusals; eval_qweights_init_pruned against prune_apply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/cfg.h"
#include "src/eval.h"
#include "src/prune.h"
#include "src/prune_score.h"
#include "src/score.h"
#include "tests/testmodel.h"

#define NT 12 /* tokens of a forward */
#define CTX 16
#define BOS 1
#define NM 3

/* |a - b| <= tol, with the numbers printed on failure (this cmocka has no double compare) */
#define assert_near(a, b, tol) near_at((a), (b), (tol), __FILE__, __LINE__)
static void near_at(double a, double b, double tol, const char *file, int line)
{
    if (!(fabs(a - b) <= tol)) {
        print_error("%.17g != %.17g (tolerance %g)\n", a, b, tol);
        _fail(file, line);
    }
}

static char g_tmp[4096];
static model g_m[NM]; /* TM_SMOLLM, TM_QWEN3, TM_LLAMA2C */
static int g_tokens[3 * CTX + 5];

static int setup(void **state)
{
    (void)state;
    mx_error e = {0};
    char path[4200];
    if (tm_tmpdir(g_tmp, sizeof g_tmp))
        return -1;
    static const tm_preset ps[NM] = {TM_SMOLLM, TM_QWEN3, TM_LLAMA2C};
    for (int k = 0; k < NM; k++) {
        tm_model t;
        snprintf(path, sizeof path, "%s/m%d%s", g_tmp, k, ps[k] == TM_LLAMA2C ? ".bin" : "");
        if (tm_make(&t, ps[k], 17 + k))
            return -1;
        int rc = ps[k] == TM_LLAMA2C ? tm_write_llama2c(&t, path, 0, &e) : tm_write_hf(&t, path, TM_F32, 1, &e);
        tm_free(&t);
        if (rc || model_load(path, &g_m[k], &e))
            return -1;
    }
    uint64_t s = 99;
    for (size_t i = 0; i < sizeof g_tokens / sizeof g_tokens[0]; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        g_tokens[i] = (int)((s >> 33) % 96);
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int k = 0; k < NM; k++)
        model_free(&g_m[k]);
    tm_rmtree(g_tmp);
    return 0;
}

/* The test's own kept lines: q rows of kv group g are heads g*rep..(g+1)*rep-1. */
static void lines(const tf_config *c, int kind, const unsigned char *am, const unsigned char *mm,
                  unsigned char *row_on, unsigned char *col_on)
{
    int R, C, hd = c->head_dim, rep = c->n_heads / c->n_kv_heads;
    tf_linear_shape(c, kind, &R, &C);
    memset(row_on, 1, (size_t)R);
    memset(col_on, 1, (size_t)C);
    for (int r = 0; r < R; r++)
        if (kind == TF_Q)
            row_on[r] = am[(r / hd) / rep];
        else if (kind == TF_K || kind == TF_V)
            row_on[r] = am[r / hd];
        else if (kind == TF_GATE || kind == TF_UP)
            row_on[r] = mm[r];
    for (int j = 0; j < C; j++)
        if (kind == TF_O)
            col_on[j] = am[(j / hd) / rep];
        else if (kind == TF_DOWN)
            col_on[j] = mm[j];
}

static int count(const unsigned char *k, int n)
{
    int s = 0;
    for (int i = 0; i < n; i++)
        s += k[i] != 0;
    return s;
}

/* A fixed MLP mask, not a multiple of 32 kept (partial blocks in down). */
static void mlp_mask(unsigned char *mm, int n)
{
    for (int j = 0; j < n; j++)
        mm[j] = j % 5 != 1 && j % 7 != 3;
}

typedef struct small {
    tf_config c;
    tf_weights w;
    float *buf[2][TF_NLIN];
} small;

/* The physically smaller model: every layer keeps groups am and channels mm;
 * compact matrices gathered by hand, then quantized as their own matrices. */
static void small_make(small *s, const model *m, const unsigned char *am, const unsigned char *mm, mx_format f)
{
    const tf_config *c = &m->cfg;
    assert_true(c->n_layers <= 2);
    int rep = c->n_heads / c->n_kv_heads;
    s->c = *c;
    s->c.n_kv_heads = count(am, c->n_kv_heads);
    s->c.n_heads = s->c.n_kv_heads * rep;
    s->c.hidden_dim = count(mm, c->hidden_dim);
    s->w = m->weights;
    s->w.layers = malloc((size_t)c->n_layers * sizeof *s->w.layers);
    assert_non_null(s->w.layers);
    for (int l = 0; l < c->n_layers; l++) {
        s->w.layers[l] = m->weights.layers[l];
        for (int k = 0; k < TF_NLIN; k++) {
            int R, C, er, ec;
            tf_linear_shape(c, k, &R, &C);
            tf_linear_shape(&s->c, k, &er, &ec);
            unsigned char *ro = malloc((size_t)R), *co = malloc((size_t)C);
            float *b = malloc((size_t)R * C * sizeof *b);
            assert_true(ro && co && b);
            lines(c, k, am, mm, ro, co);
            const float *w = m->weights.layers[l].lin[k];
            size_t n = 0;
            for (int y = 0; y < R; y++)
                for (int x = 0; ro[y] && x < C; x++)
                    if (co[x])
                        b[n++] = w[(size_t)y * C + x];
            assert_true(count(ro, R) == er && count(co, C) == ec);
            if (f != MX_FP32)
                mx_fake_quant(f, b, b, (size_t)er, (size_t)ec);
            s->buf[l][k] = b;
            s->w.layers[l].lin[k] = b;
            free(ro), free(co);
        }
    }
}

static void small_free(small *s)
{
    for (int l = 0; l < s->c.n_layers; l++)
        for (int k = 0; k < TF_NLIN; k++)
            free(s->buf[l][k]);
    free(s->w.layers);
}

/* Full-size weights: every module through prune_apply with masks[group] (NULL: none). */
static float **full_make(const model *m, tf_weights *w, unsigned char *const *masks, mx_format f)
{
    mx_error e = {0};
    float **cp = calloc((size_t)m->n_modules, sizeof *cp);
    assert_non_null(cp);
    assert_int_equal(model_weights_copy(m, w, &e), 0);
    for (int i = 0; i < m->n_modules; i++) {
        const model_module *mo = &m->modules[i];
        cp[i] = malloc((size_t)mo->rows * mo->cols * sizeof(float));
        assert_non_null(cp[i]);
        memset(cp[i], 0x7f, (size_t)mo->rows * mo->cols * sizeof(float)); /* garbage to overwrite */
        assert_int_equal(prune_apply(m, i, NULL, masks[mo->layer * PRUNE_NPARTS + prune_part_of(mo->kind)], f,
                                     cp[i], &e), 0);
        w->layers[mo->layer].lin[mo->kind] = cp[i];
    }
    return cp;
}

static void full_free(const model *m, tf_weights *w, float **cp)
{
    for (int i = 0; i < m->n_modules; i++)
        free(cp[i]);
    free(cp);
    model_weights_free(w);
}

static float *logits(const tf_config *c, const tf_weights *w)
{
    tf_ctx *t = tf_ctx_create(c, NT, 0);
    float *z = malloc((size_t)NT * c->vocab_size * sizeof *z);
    assert_true(t && z);
    assert_int_equal(tf_forward(t, w, g_tokens, NT, 0), 0);
    tf_logits(t, w, 0, NT, z);
    tf_ctx_free(t);
    return z;
}

/* max |a - b| / max |b| (infinite when either holds a non-finite value) */
static double rel_diff(const float *a, const float *b, size_t n)
{
    double d = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i]) || !isfinite(b[i]))
            return INFINITY;
        d = fmax(d, fabs((double)a[i] - b[i]));
        s = fmax(s, fabs((double)b[i]));
    }
    return d / s;
}

static void check_exact(const model *m, mx_format f)
{
    const tf_config *c = &m->cfg;
    unsigned char am[8] = {0}, mm[256];
    assert_true(c->n_kv_heads == 2 && c->hidden_dim <= 256);
    am[1] = 1; /* keep kv group 1 only */
    mlp_mask(mm, c->hidden_dim);
    unsigned char *masks[4] = {am, mm, am, mm};
    small s;
    small_make(&s, m, am, mm, f);
    tf_weights fw;
    float **cp = full_make(m, &fw, masks, f);
    float *zs = logits(&s.c, &s.w), *zf = logits(c, &fw), *z0 = logits(c, &m->weights);
    size_t n = (size_t)NT * c->vocab_size;
    double d = rel_diff(zf, zs, n);
    assert_true(d < 1e-5);
    assert_true(rel_diff(z0, zs, n) > 1e-2); /* pruning did change the model */
    free(zs), free(zf), free(z0);
    full_free(m, &fw, cp);
    small_free(&s);
}

static void test_exact(void **state)
{
    (void)state;
    static const mx_format fs[] = {MX_FP32, MX_FP4_E2M1, MX_FP8_E4M3};
    for (int k = 0; k < NM; k++)
        for (int q = 0; q < 3; q++)
            check_exact(&g_m[k], fs[q]);
}

/* Layer 0 keeps no MLP channel, layer 1 no attention group: the residual passes. */
static void test_skip(void **state)
{
    (void)state;
    for (int k = 0; k < NM; k++) {
        const model *m = &g_m[k];
        const tf_config *c = &m->cfg;
        unsigned char none[256] = {0};
        unsigned char *masks[4] = {NULL, none, none, NULL};
        tf_weights fw, zw;
        float **cp = full_make(m, &fw, masks, MX_FP4_E2M1);
        /* the same with the pruned modules zeroed by hand, others quantized whole */
        mx_error e = {0};
        assert_int_equal(model_weights_copy(m, &zw, &e), 0);
        float *zq[TF_NLIN * 2] = {0};
        for (int i = 0; i < m->n_modules; i++) {
            const model_module *mo = &m->modules[i];
            size_t sz = (size_t)mo->rows * mo->cols;
            zq[i] = malloc(sz * sizeof(float));
            assert_non_null(zq[i]);
            int pruned = mo->layer == 0 ? mo->kind >= TF_GATE : mo->kind <= TF_O;
            if (pruned)
                memset(zq[i], 0, sz * sizeof(float));
            else
                mx_fake_quant(MX_FP4_E2M1, mo->w, zq[i], (size_t)mo->rows, (size_t)mo->cols);
            zw.layers[mo->layer].lin[mo->kind] = zq[i];
            assert_memory_equal(zq[i], cp[i], sz * sizeof(float));
            if (pruned) {
                assert_true(prune_bits(m, i, masks[mo->layer * 2 + prune_part_of(mo->kind)], MX_FP4_E2M1) == 0.0);
                assert_true(prune_bits(m, i, none, MX_FP32) == 0.0);
            }
        }
        float *a = logits(c, &fw), *b = logits(c, &zw);
        assert_memory_equal(a, b, (size_t)NT * c->vocab_size * sizeof(float));
        free(a), free(b);
        /* block outputs: MLP skipped -> out == h; attention skipped -> h == x */
        tf_ctx *t = tf_ctx_create(c, NT, TF_KEEP_ACTS);
        assert_non_null(t);
        assert_int_equal(tf_forward(t, &fw, g_tokens, NT, 0), 0);
        size_t rowb = (size_t)NT * c->dim * sizeof(float);
        assert_memory_equal(tf_block_input(t, 1), tf_acts(t, 0)->h, rowb);
        assert_memory_equal(tf_acts(t, 1)->h, tf_block_input(t, 1), rowb);
        assert_true(memcmp(tf_block_input(t, 2), tf_acts(t, 1)->h, rowb) != 0);
        tf_ctx_free(t);
        for (int i = 0; i < m->n_modules; i++)
            free(zq[i]);
        model_weights_free(&zw);
        full_free(m, &fw, cp);
    }
}

static void test_bits(void **state)
{
    (void)state;
    static const mx_format fs[] = {MX_FP32, MX_FP8_E4M3, MX_INT8, MX_FP6_E2M3, MX_FP4_E2M1, MX_NVFP4};
    int partial = 0;
    for (int k = 0; k < NM; k++) {
        const model *m = &g_m[k];
        unsigned char am[2] = {0, 1}, mm[256];
        mlp_mask(mm, m->cfg.hidden_dim);
        int nmk = count(mm, m->cfg.hidden_dim), hd = m->cfg.head_dim, rep = m->cfg.n_heads / m->cfg.n_kv_heads;
        for (int i = 0; i < m->n_modules; i++) {
            const model_module *mo = &m->modules[i];
            int R = mo->rows, C = mo->cols, r = R, c = C, kd = mo->kind;
            if (kd == TF_Q)
                r = rep * hd;
            else if (kd == TF_K || kd == TF_V)
                r = hd;
            else if (kd == TF_O)
                c = rep * hd;
            else if (kd == TF_DOWN)
                c = nmk;
            else
                r = nmk;
            const unsigned char *keep = prune_part_of(kd) == PRUNE_ATTN ? am : mm;
            partial += c % 32 != 0;
            for (size_t q = 0; q < sizeof fs / sizeof fs[0]; q++) {
                double got = prune_bits(m, i, keep, fs[q]);
                double want = mx_bits_per_weight(fs[q], (size_t)r, (size_t)c) * r * c / ((double)R * C);
                assert_near(got, want, 1e-12);
                if (fs[q] != MX_NVFP4) { /* by hand: element bits + an 8-bit scale per 32-block */
                    int eb = mx_element_bits(fs[q]), nb = fs[q] == MX_FP32 ? 0 : (c + 31) / 32;
                    double hand = ((double)r * c * eb + 8.0 * r * nb) / ((double)R * C);
                    assert_near(got, hand, 1e-12);
                }
                assert_near(prune_bits(m, i, NULL, fs[q]), mx_bits_per_weight(fs[q], R, C), 1e-12);
            }
        }
    }
    assert_true(partial >= 2 * NM); /* kept o and down rows of partial 32-blocks did occur */
}

static void test_count_mask(void **state)
{
    (void)state;
    double imp[5] = {0.3, 0.1, 0.9, 0.5, 0.2};
    int order[5] = {2, 3, 0, 4, 1};
    prune_group g = {.layer = 0, .part = PRUNE_MLP, .n_units = 4, .importance = imp, .order = order};
    int o4[4] = {2, 3, 0, 1};
    g.order = o4;
    assert_int_equal(prune_count(&g, 0.75), 3);
    assert_int_equal(prune_count(&g, 0.0), 0);
    assert_int_equal(prune_count(&g, 1.0), 4);
    assert_int_equal(prune_count(&g, 0.1), 0);
    assert_int_equal(prune_count(&g, 0.4), 2); /* 1.6 */
    assert_int_equal(prune_count(&g, -0.5), 0);
    assert_int_equal(prune_count(&g, 1.5), 4);
    unsigned char keep[5];
    prune_mask(&g, 3, keep);
    assert_memory_equal(keep, ((unsigned char[4]){1, 0, 1, 1}), 4);
    g.n_units = 5;
    g.order = order;
    assert_int_equal(prune_count(&g, 0.75), 4); /* 3.75 */
    assert_int_equal(prune_count(&g, 1.0), 5);
    prune_mask(&g, 2, keep);
    assert_memory_equal(keep, ((unsigned char[5]){0, 0, 1, 1, 0}), 5);
    prune_mask(&g, 0, keep);
    assert_memory_equal(keep, ((unsigned char[5]){0}), 5);
    prune_mask(&g, 5, keep);
    assert_memory_equal(keep, ((unsigned char[5]){1, 1, 1, 1, 1}), 5);
}

/* Importance of unit u of layer l by hand from TF_KEEP_ACTS activations. */
static void hand_imp(const model *m, int l, int part, double *imp)
{
    const tf_config *c = &m->cfg;
    int kind = part == PRUNE_ATTN ? TF_O : TF_DOWN, R, C, in[CTX], tgt[CTX];
    tf_linear_shape(c, kind, &R, &C);
    int per = part == PRUNE_ATTN ? c->head_dim * (c->n_heads / c->n_kv_heads) : 1;
    double *sq = calloc((size_t)C, sizeof *sq);
    tf_ctx *t = tf_ctx_create(c, CTX, TF_KEEP_ACTS);
    assert_true(sq && t);
    long nw = (long)(sizeof g_tokens / sizeof g_tokens[0]) / CTX;
    for (long k = 0; k < nw; k++) {
        eval_window_tokens(g_tokens, k, CTX, BOS, in, tgt);
        assert_int_equal(tf_forward(t, &m->weights, in, CTX, 0), 0);
        const float *x = part == PRUNE_ATTN ? tf_acts(t, l)->ao : tf_acts(t, l)->a;
        for (int p = 0; p < CTX; p++)
            for (int j = 0; j < C; j++)
                sq[j] += (double)x[(size_t)p * C + j] * x[(size_t)p * C + j];
    }
    memset(imp, 0, (size_t)(C / per) * sizeof *imp);
    const float *w = m->weights.layers[l].lin[kind];
    for (int j = 0; j < C; j++) {
        double wn = 0;
        for (int r = 0; r < R; r++)
            wn += (double)w[(size_t)r * C + j] * w[(size_t)r * C + j];
        imp[j / per] += sqrt(sq[j] * wn);
    }
    free(sq);
    tf_ctx_free(t);
}

static void test_collect(void **state)
{
    (void)state;
    long n = sizeof g_tokens / sizeof g_tokens[0];
    mx_error e = {0};
    for (int k = 0; k < NM; k++) {
        model *m = &g_m[k];
        prune_plan p, p2;
        assert_int_equal(prune_plan_collect(&p, m, g_tokens, n, BOS, CTX, 0, &e), 0);
        assert_int_equal(p.n_groups, m->cfg.n_layers * PRUNE_NPARTS);
        for (int gi = 0; gi < p.n_groups; gi++) {
            const prune_group *g = &p.g[gi];
            assert_int_equal(g->layer, gi / 2);
            assert_int_equal(g->part, gi % 2);
            assert_int_equal(g->n_units, prune_units(&m->cfg, g->part));
            unsigned char seen[256] = {0};
            for (int u = 0; u < g->n_units; u++) {
                assert_true(g->importance[u] >= 0.0);
                assert_true(g->order[u] >= 0 && g->order[u] < g->n_units && !seen[g->order[u]]);
                seen[g->order[u]] = 1;
                if (u)
                    assert_true(g->importance[g->order[u - 1]] >= g->importance[g->order[u]]);
            }
            double want[256];
            hand_imp(m, g->layer, g->part, want);
            for (int u = 0; u < g->n_units; u++)
                assert_near(g->importance[u], want[u], 1e-9 * (1 + want[u]));
        }
        /* Wanda: column j of the last down scaled by 10 -> channel j's importance x10, others equal */
        int L = m->cfg.n_layers - 1, j = 5;
        model_module *down = &m->modules[L * TF_NLIN + TF_DOWN];
        assert_int_equal(down->kind, TF_DOWN);
        float *save = malloc((size_t)down->rows * down->cols * sizeof *save);
        assert_non_null(save);
        memcpy(save, down->w, (size_t)down->rows * down->cols * sizeof *save);
        for (int r = 0; r < down->rows; r++)
            down->w[(size_t)r * down->cols + j] *= 10.0f;
        assert_int_equal(prune_plan_collect(&p2, m, g_tokens, n, BOS, CTX, 0, &e), 0);
        memcpy(down->w, save, (size_t)down->rows * down->cols * sizeof *save);
        free(save);
        for (int gi = 0; gi < p.n_groups; gi++)
            for (int u = 0; u < p.g[gi].n_units; u++) {
                double a = p.g[gi].importance[u], b = p2.g[gi].importance[u];
                if (gi == L * 2 + PRUNE_MLP && u == j)
                    assert_near(b, 10 * a, 1e-6 * a);
                else
                    assert_true(a == b);
            }
        prune_plan_free(&p);
        prune_plan_free(&p2);
    }
    /* no full window; a token outside the vocabulary: errors, nothing to free */
    prune_plan p;
    assert_int_equal(prune_plan_collect(&p, &g_m[0], g_tokens, CTX - 1, BOS, CTX, 0, &e), ERR_ARG);
    assert_null(p.g);
    int bad[CTX];
    memcpy(bad, g_tokens, sizeof bad);
    bad[7] = 100000;
    assert_int_equal(prune_plan_collect(&p, &g_m[0], bad, CTX, BOS, CTX, 0, &e), ERR_ARG);
    assert_null(p.g);
}

static int load_text(const char *text, mx_cfg *c, mx_error *e)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/p.json", g_tmp);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return cfg_load(path, c, e);
}

static void test_cfg(void **state)
{
    (void)state;
    const model *m = &g_m[0]; /* 2 groups, 128 channels */
    mx_error e = {0};
    mx_cfg c, d;
    cfg_init(&c);
    unsigned char am[2] = {0, 1}, mm[128], none[128] = {0}, all[2] = {1, 1};
    mlp_mask(mm, 128);
    assert_int_equal(cfg_refuse_prune(&c, "a.json", "quantize", &e), 0);
    assert_int_equal(cfg_set_format(&c, "model.layers.0.mlp.up_proj", MX_FP4_E2M1, &e), 0);
    assert_int_equal(cfg_set_prune(&c, "model.layers.0.self_attn", 2, all, &e), 0);
    assert_int_equal(cfg_set_prune(&c, "model.layers.1.mlp", 128, mm, &e), 0);
    assert_int_equal(cfg_set_prune(&c, "model.layers.0.mlp", 128, none, &e), 0);
    assert_int_equal(cfg_set_prune(&c, "model.layers.0.self_attn", 2, am, &e), 0); /* replaces */
    assert_int_equal(c.n_prune, 3);
    char path[4200];
    snprintf(path, sizeof path, "%s/c.json", g_tmp);
    assert_int_equal(cfg_save(path, &c, &e), 0);
    assert_int_equal(cfg_load(path, &d, &e), 0);
    assert_int_equal(d.n_prune, 3);
    for (int i = 0; i < 3; i++) { /* same groups, units and kept indices (ascending) */
        const cfg_prune *q = NULL;
        for (int j = 0; j < 3; j++)
            q = strcmp(d.prune[j].name, c.prune[i].name) ? q : &d.prune[j];
        assert_true(q && q->units == c.prune[i].units && q->n_keep == c.prune[i].n_keep);
        for (int j = 0; j < q->n_keep; j++)
            assert_true(q->keep[j] == c.prune[i].keep[j] && (!j || q->keep[j] > q->keep[j - 1]));
    }
    assert_true(c.prune[0].n_keep == 1 && c.prune[0].keep[0] == 1 && c.prune[2].n_keep == 0);
    assert_int_equal(c.prune[1].n_keep, count(mm, 128));
    unsigned char **masks;
    assert_int_equal(cfg_prune_masks(&d, m, &masks, &e), 0);
    assert_non_null(masks);
    assert_memory_equal(masks[0], am, 2);
    assert_memory_equal(masks[1], none, 128);
    assert_null(masks[2]);
    assert_memory_equal(masks[3], mm, 128);
    cfg_prune_masks_free(masks, 4);
    assert_int_equal(cfg_refuse_prune(&d, "c.json", "quantize", &e), ERR_ARG);
    assert_non_null(strstr(e.msg, "model.layers."));
    assert_non_null(strstr(e.msg, "c.json"));
    cfg_free(&d);
    cfg_free(&c);
    /* not this model's groups */
    cfg_init(&c);
    assert_int_equal(cfg_set_prune(&c, "model.layers.5.mlp", 128, mm, &e), 0);
    masks = (unsigned char **)&c; /* poison: must come back NULL */
    assert_int_equal(cfg_prune_masks(&c, m, &masks, &e), ERR_FORMAT);
    assert_null(masks);
    cfg_free(&c);
    cfg_init(&c);
    assert_int_equal(cfg_set_prune(&c, "model.layers.1.self_attn", 2, am, &e), 0);
    assert_int_equal(cfg_set_prune(&c, "model.layers.0.mlp", 100, mm, &e), 0);
    assert_int_equal(cfg_prune_masks(&c, m, &masks, &e), ERR_FORMAT);
    assert_null(masks);
    assert_int_equal(cfg_refuse_prune(&c, NULL, "export", &e), ERR_ARG);
    assert_non_null(strstr(e.msg, "model.layers.1.self_attn"));
    cfg_free(&c);
    cfg_init(&c);
    assert_int_equal(cfg_prune_masks(&c, m, &masks, &e), 0); /* nothing pruned: no masks */
    assert_null(masks);
    /* files: keep out of range, not ascending, repeated, not integers, too many; bad units; not an object */
    static const char *bad[] = {"{\"units\": 4, \"keep\": [0, 4]}", "{\"units\": 4, \"keep\": [2, 1]}",
                                "{\"units\": 4, \"keep\": [1, 1]}", "{\"units\": 4, \"keep\": [-1]}",
                                "{\"units\": 4, \"keep\": [0.5]}",  "{\"units\": 2, \"keep\": [0, 1, 1]}",
                                "{\"units\": 0, \"keep\": []}",     "{\"keep\": []}",
                                "[1]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "{\"formats\": {}, \"prune\": {\"model.layers.0.mlp\": %s}}", bad[i]);
        assert_int_equal(load_text(text, &c, &e), ERR_FORMAT);
        assert_int_equal(c.n_prune, 0);
    }
    assert_int_equal(load_text("{\"formats\": {}, \"prune\": [1]}", &c, &e), ERR_FORMAT);
    assert_int_equal(load_text("{\"formats\": {}, \"prune\": {\"model.layers.1.self_attn\": {\"units\": 2, "
                               "\"keep\": []}, \"model.layers.0.mlp\": {\"units\": 128, \"keep\": [3, 9]}}}",
                               &c, &e),
                     0);
    assert_int_equal(cfg_prune_masks(&c, m, &masks, &e), 0);
    assert_null(masks[0]);
    assert_memory_equal(masks[2], none, 2);
    for (int j = 0; j < 128; j++)
        assert_int_equal(masks[1][j], j == 3 || j == 9);
    cfg_prune_masks_free(masks, 4);
    cfg_free(&c);
}

static void test_qweights(void **state)
{
    (void)state;
    static const mx_format fs[] = {MX_FP32, MX_FP4_E2M1, MX_FP8_E4M3, MX_INT8, MX_FP6_E3M2};
    for (int k = 0; k < NM; k++) {
        const model *m = &g_m[k];
        unsigned char am[2] = {0, 1}, mm[256], none[256] = {0};
        mlp_mask(mm, m->cfg.hidden_dim);
        unsigned char *masks[4] = {am, none, NULL, mm};
        mx_format f[TF_NLIN * 2];
        for (int i = 0; i < m->n_modules; i++)
            f[i] = fs[(i * 3 + k) % 5];
        eval_qweights q;
        mx_error e = {0};
        assert_int_equal(eval_qweights_init_pruned(&q, m, f, NULL, masks, &e), 0);
        for (int i = 0; i < m->n_modules; i++) {
            const model_module *mo = &m->modules[i];
            const unsigned char *keep = masks[mo->layer * 2 + prune_part_of(mo->kind)];
            const float *got = q.w.layers[mo->layer].lin[mo->kind];
            if (!keep && f[i] == MX_FP32) {
                assert_ptr_equal(got, mo->w);
                continue;
            }
            size_t sz = (size_t)mo->rows * mo->cols * sizeof(float);
            float *want = malloc(sz);
            assert_non_null(want);
            assert_int_equal(prune_apply(m, i, NULL, keep, f[i], want, &e), 0);
            assert_memory_equal(got, want, sz);
            free(want);
        }
        eval_qweights_free(&q);
    }
}

/* A second path for the joint scores: at keep level 1 nothing is pruned, so
 * every method's quantization term must be what `score` computes for that
 * module and format on the same windows (kl, fisher, fisher-out); and a group
 * loss must be the measured loss increase of that pruned model. */
static void test_methods(void **state)
{
    (void)state;
    static const double levels[2] = {1.0, 0.5};
    static const mx_format fm[2] = {MX_FP8_E4M3, MX_FP4_E2M1};
    static const int meth[3] = {PRUNE_QUANT_KL, PRUNE_QUANT_FISHER, PRUNE_QUANT_FISHER_OUT};
    static const score_method smeth[3] = {SCORE_KL, SCORE_FISHER, SCORE_FISHER_OUT};
    for (int k = 0; k < 2; k++) {
        const model *m = &g_m[k];
        mx_error e = {0};
        long n = 3 * CTX;
        score_opts o;
        score_opts_init(&o);
        o.methods = (1u << SCORE_KL) | (1u << SCORE_FISHER) | (1u << SCORE_FISHER_OUT);
        o.ctx = CTX;
        o.bos = BOS;
        o.n_formats = 2;
        o.formats[0] = fm[0];
        o.formats[1] = fm[1];
        o.uniform = 0;
        score_table t;
        assert_int_equal(score_compute(m, g_tokens, n, &o, &t, &e), 0);
        prune_plan p;
        assert_int_equal(prune_plan_collect(&p, m, g_tokens, n, BOS, CTX, 0, &e), 0);
        for (int j = 0; j < 3; j++) {
            prune_scores s;
            assert_int_equal(prune_scores_compute(m, &p, g_tokens, n, BOS, CTX, 0, fm, 2, levels, 2, meth[j], NULL,
                                                  NULL, &s, &e),
                             0);
            assert_near(s.fp32_loss, t.fp32_loss, 1e-6 * fabs(t.fp32_loss));
            for (int i = 0; i < m->n_modules; i++)
                for (int f = 0; f < 2; f++) {
                    double want = t.modules[i].score[smeth[j]][fm[f]], got = s.quant[((size_t)i * 2 + f) * 2];
                    assert_near(got, want, 2e-5 * fabs(want) + 1e-7);
                }
            /* a group loss: the pruned model measured by eval_perplexity */
            int g = 1; /* layer 0's MLP */
            unsigned char *mask = malloc((size_t)p.g[g].n_units), *masks[2 * PRUNE_NPARTS] = {0};
            prune_mask(&p.g[g], s.kept[g * 2 + 1], mask);
            masks[g] = mask;
            mx_format f32[64];
            for (int i = 0; i < m->n_modules; i++)
                f32[i] = MX_FP32;
            eval_qweights q;
            eval_result r;
            assert_int_equal(eval_qweights_init_pruned(&q, m, f32, NULL, masks, &e), 0);
            assert_int_equal(eval_perplexity(&m->cfg, &q.w, g_tokens, n, BOS, CTX, 0, NULL, NULL, &r, &e), 0);
            assert_near(s.group_loss[g * 2 + 1], r.nll - t.fp32_loss, 1e-5 * fabs(r.nll - t.fp32_loss) + 1e-7);
            eval_qweights_free(&q);
            free(mask);
            prune_scores_free(&s);
        }
        prune_plan_free(&p);
        score_table_free(&t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact),      cmocka_unit_test(test_skip),    cmocka_unit_test(test_bits),
        cmocka_unit_test(test_count_mask), cmocka_unit_test(test_collect), cmocka_unit_test(test_cfg),
        cmocka_unit_test(test_qweights),   cmocka_unit_test(test_methods),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
