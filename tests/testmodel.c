/* Test-model builders and writers (see testmodel.h). Written independently
 * of the loaders: the formats are emitted from their specifications. */
#include "tests/testmodel.h"

#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/model_priv.h"

/* ---- construction ------------------------------------------------------ */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [-1, 1). */
static float rng_unit(uint64_t *s)
{
    return (float)((double)(rng_next(s) >> 40) / (double)(1 << 23) - 1.0);
}

static void lin_shape(const tf_config *c, int k, int *rows, int *cols)
{
    int q = c->n_heads * c->head_dim, kv = c->n_kv_heads * c->head_dim;
    int r[TF_NLIN] = {q, kv, kv, c->dim, c->hidden_dim, c->hidden_dim, c->dim};
    int co[TF_NLIN] = {c->dim, c->dim, c->dim, q, c->dim, c->dim, c->hidden_dim};
    *rows = r[k];
    *cols = co[k];
}

static int alloc_all(tm_model *t)
{
    const tf_config *c = &t->cfg;
    size_t vd = (size_t)c->vocab_size * c->dim;
    t->tok_emb = malloc(vd * sizeof(float));
    t->final_norm = malloc((size_t)c->dim * sizeof(float));
    t->lm_head = t->tied ? t->tok_emb : malloc(vd * sizeof(float));
    t->layers = calloc((size_t)c->n_layers, sizeof *t->layers);
    if (!t->tok_emb || !t->final_norm || !t->lm_head || !t->layers)
        return ERR_NOMEM;
    for (int l = 0; l < c->n_layers; l++) {
        tm_layer *L = &t->layers[l];
        L->attn_norm = malloc((size_t)c->dim * sizeof(float));
        L->ffn_norm = malloc((size_t)c->dim * sizeof(float));
        if (!L->attn_norm || !L->ffn_norm)
            return ERR_NOMEM;
        if (c->qk_norm) {
            L->q_norm = malloc((size_t)c->head_dim * sizeof(float));
            L->k_norm = malloc((size_t)c->head_dim * sizeof(float));
            if (!L->q_norm || !L->k_norm)
                return ERR_NOMEM;
        }
        for (int k = 0; k < TF_NLIN; k++) {
            int r, co;
            lin_shape(c, k, &r, &co);
            L->lin[k] = malloc((size_t)r * co * sizeof(float));
            if (!L->lin[k])
                return ERR_NOMEM;
        }
    }
    return 0;
}

void tm_free(tm_model *t)
{
    if (!t)
        return;
    if (t->layers)
        for (int l = 0; l < t->cfg.n_layers; l++) {
            tm_layer *L = &t->layers[l];
            free(L->attn_norm);
            free(L->ffn_norm);
            free(L->q_norm);
            free(L->k_norm);
            for (int k = 0; k < TF_NLIN; k++)
                free(L->lin[k]);
        }
    free(t->layers);
    if (t->lm_head != t->tok_emb)
        free(t->lm_head);
    free(t->tok_emb);
    free(t->final_norm);
    memset(t, 0, sizeof *t);
}

static void fill(float *x, size_t n, float scale, float offset, uint64_t *s)
{
    for (size_t i = 0; i < n; i++)
        x[i] = offset + scale * rng_unit(s);
}

int tm_random(tm_model *t, model_arch arch, const tf_config *c, int tied, uint64_t seed)
{
    memset(t, 0, sizeof *t);
    t->arch = arch;
    t->cfg = *c;
    if (arch == MODEL_ARCH_QWEN3)
        t->cfg.qk_norm = 1;
    t->tied = tied;
    if (alloc_all(t) < 0) {
        tm_free(t);
        return ERR_NOMEM;
    }
    c = &t->cfg;
    uint64_t s = seed;
    fill(t->tok_emb, (size_t)c->vocab_size * c->dim, 1.0f, 0.0f, &s);
    for (int l = 0; l < c->n_layers; l++) {
        tm_layer *L = &t->layers[l];
        fill(L->attn_norm, (size_t)c->dim, 0.2f, 1.0f, &s);
        fill(L->ffn_norm, (size_t)c->dim, 0.2f, 1.0f, &s);
        if (c->qk_norm) {
            fill(L->q_norm, (size_t)c->head_dim, 0.2f, 1.0f, &s);
            fill(L->k_norm, (size_t)c->head_dim, 0.2f, 1.0f, &s);
        }
        for (int k = 0; k < TF_NLIN; k++) {
            int r, co;
            lin_shape(c, k, &r, &co);
            fill(L->lin[k], (size_t)r * co, 1.0f / sqrtf((float)co), 0.0f, &s);
        }
    }
    fill(t->final_norm, (size_t)c->dim, 0.2f, 1.0f, &s);
    if (!tied)
        fill(t->lm_head, (size_t)c->vocab_size * c->dim, 1.0f / sqrtf((float)c->dim), 0.0f, &s);
    return 0;
}

int tm_make(tm_model *t, tm_preset p, uint64_t seed)
{
    tf_config c = {0};
    model_arch arch = MODEL_ARCH_LLAMA;
    int tied = 1;
    switch (p) {
    case TM_LLAMA2C:
        c = (tf_config){.dim = 32, .hidden_dim = 96, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2,
                        .head_dim = 8, .vocab_size = 96, .max_seq = 64, .rope_theta = 10000.0f,
                        .norm_eps = 1e-5f, .rope_style = TF_ROPE_INTERLEAVED};
        break;
    case TM_SMOLLM:
        c = (tf_config){.dim = 64, .hidden_dim = 128, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2,
                        .head_dim = 16, .vocab_size = 128, .max_seq = 128, .rope_theta = 100000.0f,
                        .norm_eps = 1e-5f, .rope_style = TF_ROPE_HALF};
        break;
    default:
        arch = MODEL_ARCH_QWEN3;
        tied = 0;
        c = (tf_config){.dim = 32, .hidden_dim = 64, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2,
                        .head_dim = 16, .vocab_size = 96, .max_seq = 128, .rope_theta = 1000000.0f,
                        .norm_eps = 1e-6f, .rope_style = TF_ROPE_HALF, .qk_norm = 1};
        break;
    }
    return tm_random(t, arch, &c, tied, seed);
}

static int dup_floats(float **dst, const float *src, size_t n)
{
    *dst = malloc((n ? n : 1) * sizeof(float));
    if (!*dst)
        return ERR_NOMEM;
    memcpy(*dst, src, n * sizeof(float));
    return 0;
}

int tm_from_model(tm_model *t, const model *m)
{
    memset(t, 0, sizeof *t);
    t->arch = m->arch;
    t->cfg = m->cfg;
    t->tied = m->weights.lm_head == m->weights.tok_emb;
    if (alloc_all(t) < 0) {
        tm_free(t);
        return ERR_NOMEM;
    }
    const tf_config *c = &t->cfg;
    size_t vd = (size_t)c->vocab_size * c->dim;
    memcpy(t->tok_emb, m->weights.tok_emb, vd * sizeof(float));
    memcpy(t->final_norm, m->weights.final_norm, (size_t)c->dim * sizeof(float));
    if (!t->tied)
        memcpy(t->lm_head, m->weights.lm_head, vd * sizeof(float));
    for (int l = 0; l < c->n_layers; l++) {
        const tf_layer_weights *S = &m->weights.layers[l];
        tm_layer *L = &t->layers[l];
        memcpy(L->attn_norm, S->attn_norm, (size_t)c->dim * sizeof(float));
        memcpy(L->ffn_norm, S->ffn_norm, (size_t)c->dim * sizeof(float));
        if (c->qk_norm) {
            memcpy(L->q_norm, S->q_norm, (size_t)c->head_dim * sizeof(float));
            memcpy(L->k_norm, S->k_norm, (size_t)c->head_dim * sizeof(float));
        }
        for (int k = 0; k < TF_NLIN; k++) {
            int r, co;
            lin_shape(c, k, &r, &co);
            memcpy(L->lin[k], S->lin[k], (size_t)r * co * sizeof(float));
        }
    }
    return 0;
}

/* ---- dtype encoding ---------------------------------------------------- */

static uint16_t f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000, ex = (x >> 23) & 0xff, man = x & 0x7fffff;
    if (ex == 0xff)
        return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0));
    int e = (int)ex - 127 + 15;
    if (e >= 31)
        return (uint16_t)(sign | 0x7c00);
    if (e <= 0) { /* subnormal or zero in half precision */
        if (e < -10)
            return (uint16_t)sign;
        man |= 0x800000;
        int shift = 14 - e;
        uint32_t h = man >> shift, rem = man & ((1u << shift) - 1), halfway = 1u << (shift - 1);
        if (rem > halfway || (rem == halfway && (h & 1)))
            h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = (uint32_t)e << 10 | man >> 13, rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
        h++; /* may carry into the exponent, which is the correct rounding */
    return (uint16_t)(sign | h);
}

static uint16_t f32_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffff) > 0x7f800000)
        return (uint16_t)(x >> 16 | 0x40);
    x += 0x7fff + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

void tm_round(tm_model *t, tm_dtype dt)
{
    if (dt == TM_F32)
        return;
    const tf_config *c = &t->cfg;
#define RND(p, n)                                                                                  \
    for (size_t i_ = 0; i_ < (size_t)(n); i_++)                                                    \
        (p)[i_] = dt == TM_F16 ? model_f16_to_f32(f32_to_f16((p)[i_]))                             \
                               : model_bf16_to_f32(f32_to_bf16((p)[i_]));
    size_t vd = (size_t)c->vocab_size * c->dim;
    RND(t->tok_emb, vd);
    if (!t->tied)
        RND(t->lm_head, vd);
    RND(t->final_norm, c->dim);
    for (int l = 0; l < c->n_layers; l++) {
        tm_layer *L = &t->layers[l];
        RND(L->attn_norm, c->dim);
        RND(L->ffn_norm, c->dim);
        if (c->qk_norm) {
            RND(L->q_norm, c->head_dim);
            RND(L->k_norm, c->head_dim);
        }
        for (int k = 0; k < TF_NLIN; k++) {
            int r, co;
            lin_shape(c, k, &r, &co);
            RND(L->lin[k], (size_t)r * co);
        }
    }
#undef RND
}

int tm_set_rope_style(tm_model *t, int style)
{
    if (t->cfg.rope_style == style)
        return 0;
    const tf_config *c = &t->cfg;
    for (int l = 0; l < c->n_layers; l++)
        for (int k = TF_Q; k <= TF_K; k++) {
            int r, co, heads = k == TF_Q ? c->n_heads : c->n_kv_heads;
            lin_shape(c, k, &r, &co);
            int rc = style == TF_ROPE_HALF ? model_rows_interleaved_to_half(t->layers[l].lin[k], r, co, heads)
                                           : model_rows_half_to_interleaved(t->layers[l].lin[k], r, co, heads);
            if (rc < 0)
                return rc;
        }
    t->cfg.rope_style = style;
    return 0;
}

int tm_weights(const tm_model *t, tf_weights *w)
{
    w->tok_emb = t->tok_emb;
    w->final_norm = t->final_norm;
    w->lm_head = t->lm_head;
    w->layers = calloc((size_t)t->cfg.n_layers, sizeof *w->layers);
    if (!w->layers)
        return ERR_NOMEM;
    for (int l = 0; l < t->cfg.n_layers; l++) {
        tf_layer_weights *W = &w->layers[l];
        const tm_layer *L = &t->layers[l];
        W->attn_norm = L->attn_norm;
        W->ffn_norm = L->ffn_norm;
        W->q_norm = L->q_norm;
        W->k_norm = L->k_norm;
        for (int k = 0; k < TF_NLIN; k++)
            W->lin[k] = L->lin[k];
    }
    return 0;
}

/* ---- shared writer plumbing --------------------------------------------- */

static size_t dt_size(tm_dtype dt)
{
    return dt == TM_F32 ? 4 : 2;
}

/* x encoded as dt, little-endian, at b (dt_size(dt) bytes). */
static void put_float_le(uint8_t *b, float x, tm_dtype dt)
{
    uint32_t u;
    if (dt == TM_F32)
        memcpy(&u, &x, 4);
    else
        u = dt == TM_F16 ? f32_to_f16(x) : f32_to_bf16(x);
    for (size_t j = 0; j < dt_size(dt); j++)
        b[j] = (uint8_t)(u >> (8 * j));
}

/* Write n floats encoded as dt, little-endian. */
static int emit(FILE *f, const float *x, uint64_t n, tm_dtype dt)
{
    uint8_t buf[8192];
    size_t per = dt_size(dt), chunk = sizeof buf / per;
    while (n > 0) {
        size_t k = n < chunk ? (size_t)n : chunk;
        for (size_t i = 0; i < k; i++)
            put_float_le(buf + per * i, x[i], dt);
        if (fwrite(buf, per, k, f) != k)
            return ERR_IO;
        x += k;
        n -= k;
    }
    return 0;
}

static int put_bytes(FILE *f, const void *p, size_t n)
{
    return fwrite(p, 1, n, f) == n ? 0 : ERR_IO;
}

static int put_u32(FILE *f, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    return put_bytes(f, b, 4);
}

static int put_u64(FILE *f, uint64_t v)
{
    return put_u32(f, (uint32_t)v) < 0 ? ERR_IO : put_u32(f, (uint32_t)(v >> 32));
}

static int put_zeros(FILE *f, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        if (fputc(0, f) == EOF)
            return ERR_IO;
    return 0;
}

/* One tensor as written: q/k rows possibly permuted into an owned copy. */
typedef struct wt {
    char name[128];
    int nd;
    int64_t rows, cols; /* 1-D: rows = length, cols = 1 */
    const float *data;
    float *owned;
    const float *orig;  /* t's array the data came from (== data unless permuted) */
    int is_1d;
} wt;

/* q/k of layer l in RoPE order `style`; a permuted copy when t differs. */
static int lin_in_style(const tm_model *t, int l, int k, int style, wt *w)
{
    int r, co;
    lin_shape(&t->cfg, k, &r, &co);
    w->rows = r;
    w->cols = co;
    w->nd = 2;
    w->data = w->orig = t->layers[l].lin[k];
    if ((k != TF_Q && k != TF_K) || t->cfg.rope_style == style)
        return 0;
    if (dup_floats(&w->owned, w->data, (size_t)r * co) < 0)
        return ERR_NOMEM;
    int heads = k == TF_Q ? t->cfg.n_heads : t->cfg.n_kv_heads;
    int rc = style == TF_ROPE_HALF ? model_rows_interleaved_to_half(w->owned, r, co, heads)
                                   : model_rows_half_to_interleaved(w->owned, r, co, heads);
    w->data = w->owned;
    return rc;
}

static const char *const hf_lin[TF_NLIN] = {
    "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
    "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"};
static const char *const gguf_lin[TF_NLIN] = {
    "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};

/* Every tensor of t in file order with HF or GGUF names, q/k rows in `style`. */
static wt *tensor_list(const tm_model *t, int gguf, int style, int *n_out)
{
    const tf_config *c = &t->cfg;
    int cap = 4 + c->n_layers * (4 + TF_NLIN), n = 0;
    wt *w = calloc((size_t)cap, sizeof *w);
    if (!w)
        return NULL;
#define ONE_D(NAME, PTR, LEN)                                                                      \
    do {                                                                                           \
        snprintf(w[n].name, sizeof w[n].name, "%s", NAME);                                         \
        w[n].nd = 1; w[n].rows = (LEN); w[n].cols = 1; w[n].data = (PTR); w[n].is_1d = 1; n++;     \
    } while (0)
    w[n].nd = 2;
    w[n].rows = c->vocab_size;
    w[n].cols = c->dim;
    w[n].data = w[n].orig = t->tok_emb;
    snprintf(w[n++].name, sizeof w[0].name, "%s", gguf ? "token_embd.weight" : "model.embed_tokens.weight");
    /* HF tied models: transformers saves the shared matrix under either name, or both. */
    if (!gguf && t->tied && t->hf_tied_names == TM_TIED_LM_HEAD)
        snprintf(w[0].name, sizeof w[0].name, "lm_head.weight");
    char nm[128];
    for (int l = 0; l < c->n_layers; l++) {
        const tm_layer *L = &t->layers[l];
        snprintf(nm, sizeof nm, gguf ? "blk.%d.attn_norm.weight" : "model.layers.%d.input_layernorm.weight", l);
        ONE_D(nm, L->attn_norm, c->dim);
        if (c->qk_norm) {
            snprintf(nm, sizeof nm, gguf ? "blk.%d.attn_q_norm.weight" : "model.layers.%d.self_attn.q_norm.weight", l);
            ONE_D(nm, L->q_norm, c->head_dim);
            snprintf(nm, sizeof nm, gguf ? "blk.%d.attn_k_norm.weight" : "model.layers.%d.self_attn.k_norm.weight", l);
            ONE_D(nm, L->k_norm, c->head_dim);
        }
        for (int k = 0; k < TF_NLIN; k++) {
            if (lin_in_style(t, l, k, style, &w[n]) < 0) {
                for (int i = 0; i <= n; i++)
                    free(w[i].owned);
                free(w);
                return NULL;
            }
            if (gguf)
                snprintf(w[n].name, sizeof w[n].name, "blk.%d.%s.weight", l, gguf_lin[k]);
            else
                snprintf(w[n].name, sizeof w[n].name, "model.layers.%d.%s.weight", l, hf_lin[k]);
            n++;
        }
        snprintf(nm, sizeof nm, gguf ? "blk.%d.ffn_norm.weight" : "model.layers.%d.post_attention_layernorm.weight", l);
        ONE_D(nm, L->ffn_norm, c->dim);
    }
    ONE_D(gguf ? "output_norm.weight" : "model.norm.weight", t->final_norm, c->dim);
    if (!t->tied || (!gguf && t->hf_tied_names == TM_TIED_BOTH)) {
        w[n].nd = 2;
        w[n].rows = c->vocab_size;
        w[n].cols = c->dim;
        w[n].data = w[n].orig = t->lm_head;
        snprintf(w[n++].name, sizeof w[0].name, "%s", gguf ? "output.weight" : "lm_head.weight");
    }
#undef ONE_D
    *n_out = n;
    return w;
}

static void free_list(wt *w, int n)
{
    if (!w)
        return;
    for (int i = 0; i < n; i++)
        free(w[i].owned);
    free(w);
}

static FILE *open_out(const char *path, mx_error *e)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        err_set(e, ERR_IO, "%s: %s", path, strerror(errno));
    return f;
}

static int close_out(FILE *f, const char *path, int rc, mx_error *e)
{
    if (fclose(f) != 0 && rc == 0)
        rc = ERR_IO;
    if (rc == ERR_IO)
        err_set(e, ERR_IO, "%s: write failed", path);
    return rc;
}

/* ---- llama2.c ----------------------------------------------------------- */

int tm_write_llama2c(const tm_model *t, const char *path, int version, mx_error *e)
{
    const tf_config *c = &t->cfg;
    if (t->arch != MODEL_ARCH_LLAMA || c->qk_norm || c->head_dim * c->n_heads != c->dim)
        return err_set(e, ERR_ARG, "%s: llama2.c holds only llama models with head_dim = dim/heads", path);
    if (version != 0 && version != 1)
        return err_set(e, ERR_ARG, "%s: llama2.c version must be 0 or 1", path);
    int n = 0;
    wt *w = tensor_list(t, 0, TF_ROPE_INTERLEAVED, &n);
    if (!w)
        return err_set(e, ERR_NOMEM, "out of memory");
    FILE *f = open_out(path, e);
    if (!f) {
        free_list(w, n);
        return ERR_IO;
    }
    int rc = 0;
    int32_t hdr[7] = {c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads,
                      c->vocab_size, c->max_seq};
    if (version == 0 && !t->tied)
        hdr[5] = -c->vocab_size;
    if (version == 1) {
        rc |= put_u32(f, 0x616b3432u);
        rc |= put_u32(f, 1);
    }
    for (int i = 0; i < 7; i++)
        rc |= put_u32(f, (uint32_t)hdr[i]);
    if (version == 1) {
        rc |= fputc(t->tied ? 1 : 0, f) == EOF ? ERR_IO : 0;
        rc |= put_zeros(f, 256 - 37);
    }
    /* Per-layer tensors are stacked by kind over all layers. In tensor_list
     * order a layer is: attn_norm, q, k, v, o, gate, up, down, ffn_norm. */
    int per = 2 + TF_NLIN;
    enum { P_ATT = 0, P_LIN = 1, P_FFN = 1 + TF_NLIN };
#define LAYERS(IDX)                                                                                \
    for (int l = 0; l < c->n_layers && !rc; l++) {                                                 \
        const wt *x = &w[1 + l * per + (IDX)];                                                     \
        rc = emit(f, x->data, (uint64_t)(x->rows * x->cols), TM_F32);                              \
    }
    const wt *emb = &w[0], *fin = &w[1 + c->n_layers * per];
    if (version == 0) {
        rc = rc ? ERR_IO : emit(f, emb->data, (uint64_t)(emb->rows * emb->cols), TM_F32);
        LAYERS(P_ATT);
        LAYERS(P_LIN + TF_Q);
        LAYERS(P_LIN + TF_K);
        LAYERS(P_LIN + TF_V);
        LAYERS(P_LIN + TF_O);
        LAYERS(P_FFN);
        LAYERS(P_LIN + TF_GATE);
        LAYERS(P_LIN + TF_DOWN);
        LAYERS(P_LIN + TF_UP);
        if (!rc)
            rc = emit(f, fin->data, (uint64_t)c->dim, TM_F32);
        /* freq_cis_real then freq_cis_imag, [max_seq][head_dim/2] each, as llama2.c wrote them. */
        int half = c->head_dim / 2;
        for (int part = 0; part < 2 && !rc; part++)
            for (int p = 0; p < c->max_seq && !rc; p++)
                for (int i = 0; i < half && !rc; i++) {
                    double fr = 1.0 / pow(c->rope_theta, (2.0 * i) / c->head_dim), a = p * fr;
                    float v = (float)(part == 0 ? cos(a) : sin(a));
                    rc = emit(f, &v, 1, TM_F32);
                }
    } else {
        rc = rc ? ERR_IO : 0;
        LAYERS(P_ATT);
        LAYERS(P_FFN);
        if (!rc)
            rc = emit(f, fin->data, (uint64_t)c->dim, TM_F32);
        if (!rc)
            rc = emit(f, emb->data, (uint64_t)(emb->rows * emb->cols), TM_F32);
        LAYERS(P_LIN + TF_Q);
        LAYERS(P_LIN + TF_K);
        LAYERS(P_LIN + TF_V);
        LAYERS(P_LIN + TF_O);
        LAYERS(P_LIN + TF_GATE);
        LAYERS(P_LIN + TF_DOWN);
        LAYERS(P_LIN + TF_UP);
    }
#undef LAYERS
    if (!rc && !t->tied)
        rc = emit(f, t->lm_head, (uint64_t)c->vocab_size * c->dim, TM_F32);
    free_list(w, n);
    return close_out(f, path, rc ? ERR_IO : 0, e);
}

/* ---- Hugging Face ------------------------------------------------------- */

static const char *st_dtype(tm_dtype dt)
{
    return dt == TM_F32 ? "F32" : dt == TM_F16 ? "F16" : "BF16";
}

static int write_json(json_t *j, const char *path, mx_error *e)
{
    int rc = json_dump_file(j, path, JSON_INDENT(2)) == 0 ? 0
             : err_set(e, ERR_IO, "%s: cannot write JSON", path);
    json_decref(j);
    return rc;
}

static int write_config(const tm_model *t, const char *dir, tm_dtype dt, mx_error *e)
{
    const tf_config *c = &t->cfg;
    int q3 = t->arch == MODEL_ARCH_QWEN3;
    json_t *j = json_object();
    json_object_set_new(j, "architectures", json_pack("[s]", q3 ? "Qwen3ForCausalLM" : "LlamaForCausalLM"));
    json_object_set_new(j, "model_type", json_string(q3 ? "qwen3" : "llama"));
    json_object_set_new(j, "hidden_size", json_integer(c->dim));
    json_object_set_new(j, "intermediate_size", json_integer(c->hidden_dim));
    json_object_set_new(j, "num_hidden_layers", json_integer(c->n_layers));
    json_object_set_new(j, "num_attention_heads", json_integer(c->n_heads));
    json_object_set_new(j, "num_key_value_heads", json_integer(c->n_kv_heads));
    /* Llama configs usually omit head_dim when it is dim/heads: exercise both. */
    if (q3 || c->head_dim * c->n_heads != c->dim)
        json_object_set_new(j, "head_dim", json_integer(c->head_dim));
    json_object_set_new(j, "vocab_size", json_integer(c->vocab_size));
    json_object_set_new(j, "max_position_embeddings", json_integer(c->max_seq));
    json_object_set_new(j, "rope_theta", json_real(c->rope_theta));
    json_object_set_new(j, "rms_norm_eps", json_real(c->norm_eps));
    json_object_set_new(j, "rope_scaling", json_null());
    json_object_set_new(j, "tie_word_embeddings", json_boolean(t->tied));
    json_object_set_new(j, "hidden_act", json_string("silu"));
    json_object_set_new(j, "attention_bias", json_false());
    json_object_set_new(j, "torch_dtype", json_string(dt == TM_F32 ? "float32" : dt == TM_F16 ? "float16" : "bfloat16"));
    char path[8192];
    snprintf(path, sizeof path, "%s/config.json", dir);
    return write_json(j, path, e);
}

/* One safetensors file holding w[0..n). */
static int write_safetensors(const char *path, const wt *w, int n, tm_dtype dt, uint64_t *bytes,
                             mx_error *e)
{
    json_t *h = json_object();
    json_object_set_new(h, "__metadata__", json_pack("{s:s}", "format", "pt"));
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        uint64_t sz = (uint64_t)(w[i].rows * w[i].cols) * dt_size(dt);
        json_t *shape = w[i].nd == 1 ? json_pack("[I]", (json_int_t)w[i].rows)
                                     : json_pack("[I,I]", (json_int_t)w[i].rows, (json_int_t)w[i].cols);
        json_object_set_new(h, w[i].name, json_pack("{s:s,s:o,s:[I,I]}", "dtype", st_dtype(dt), "shape",
                                                    shape, "data_offsets", (json_int_t)off,
                                                    (json_int_t)(off + sz)));
        off += sz;
    }
    char *s = json_dumps(h, JSON_COMPACT);
    json_decref(h);
    if (!s)
        return err_set(e, ERR_NOMEM, "out of memory");
    size_t len = strlen(s), padded = (len + 7) / 8 * 8; /* the spec pads with spaces */
    FILE *f = open_out(path, e);
    if (!f) {
        free(s);
        return ERR_IO;
    }
    int rc = put_u64(f, padded);
    rc |= put_bytes(f, s, len);
    for (size_t i = len; i < padded; i++)
        rc |= fputc(' ', f) == EOF ? ERR_IO : 0;
    free(s);
    for (int i = 0; i < n && !rc; i++)
        rc = emit(f, w[i].data, (uint64_t)(w[i].rows * w[i].cols), dt);
    *bytes = off;
    return close_out(f, path, rc ? ERR_IO : 0, e);
}

int tm_write_hf(const tm_model *t, const char *dir, tm_dtype dt, int n_shards, mx_error *e)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return err_set(e, ERR_IO, "%s: %s", dir, strerror(errno));
    int rc = write_config(t, dir, dt, e);
    if (rc < 0)
        return rc;
    int n = 0;
    wt *w = tensor_list(t, 0, TF_ROPE_HALF, &n);
    if (!w)
        return err_set(e, ERR_NOMEM, "out of memory");
    char path[8192];
    if (n_shards <= 1) {
        uint64_t bytes;
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        rc = write_safetensors(path, w, n, dt, &bytes, e);
    } else {
        if (n_shards > n)
            n_shards = n;
        json_t *idx = json_object(), *wm = json_object();
        uint64_t total = 0;
        for (int s = 0; s < n_shards && rc == 0; s++) {
            int a = n * s / n_shards, b = n * (s + 1) / n_shards;
            char fn[64];
            snprintf(fn, sizeof fn, "model-%05d-of-%05d.safetensors", s + 1, n_shards);
            snprintf(path, sizeof path, "%s/%s", dir, fn);
            uint64_t bytes;
            rc = write_safetensors(path, w + a, b - a, dt, &bytes, e);
            total += bytes;
            for (int i = a; i < b; i++)
                json_object_set_new(wm, w[i].name, json_string(fn));
        }
        json_object_set_new(idx, "metadata", json_pack("{s:I}", "total_size", (json_int_t)total));
        json_object_set_new(idx, "weight_map", wm);
        snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
        if (rc == 0)
            rc = write_json(idx, path, e);
        else
            json_decref(idx);
    }
    free_list(w, n);
    return rc;
}

/* ---- GGUF --------------------------------------------------------------- */

enum { GT_I32 = 5, GT_U32 = 4, GT_F32 = 6, GT_BOOL = 7, GT_STRING = 8, GT_ARRAY = 9 };

static int g_str(FILE *f, const char *s)
{
    size_t n = strlen(s);
    return put_u64(f, n) | put_bytes(f, s, n);
}

static int g_kv_u32(FILE *f, const char *k, uint32_t v)
{
    return g_str(f, k) | put_u32(f, GT_U32) | put_u32(f, v);
}

static int g_kv_f32(FILE *f, const char *k, float v)
{
    uint32_t b;
    memcpy(&b, &v, 4);
    return g_str(f, k) | put_u32(f, GT_F32) | put_u32(f, b);
}

static int g_kv_str(FILE *f, const char *k, const char *v)
{
    return g_str(f, k) | put_u32(f, GT_STRING) | g_str(f, v);
}

static int g_kv_bool(FILE *f, const char *k, int v)
{
    uint8_t b = (uint8_t)(v != 0);
    return g_str(f, k) | put_u32(f, GT_BOOL) | put_bytes(f, &b, 1);
}

static int g_kv_strs(FILE *f, const char *k, const char *const *v, int n)
{
    int rc = g_str(f, k) | put_u32(f, GT_ARRAY) | put_u32(f, GT_STRING) | put_u64(f, (uint64_t)n);
    for (int i = 0; i < n; i++)
        rc |= g_str(f, v[i]);
    return rc;
}

static int g_kv_nums(FILE *f, const char *k, uint32_t type, const void *v, int n)
{
    int rc = g_str(f, k) | put_u32(f, GT_ARRAY) | put_u32(f, type) | put_u64(f, (uint64_t)n);
    for (int i = 0; i < n; i++) {
        uint32_t b;
        memcpy(&b, (const char *)v + 4 * (size_t)i, 4);
        rc |= put_u32(f, b);
    }
    return rc;
}

/* The tokenizer keys of a vocabulary; *n_kv counts them. */
static int write_vocab(FILE *f, const tm_gguf_vocab *v, int count_only, int *n_kv)
{
    int rc = 0, n = 0;
#define KV(expr) (n++, rc |= count_only ? 0 : (expr))
    KV(g_kv_str(f, "tokenizer.ggml.model", v->model));
    if (v->pre)
        KV(g_kv_str(f, "tokenizer.ggml.pre", v->pre));
    KV(g_kv_strs(f, "tokenizer.ggml.tokens", v->tokens, v->n));
    if (v->scores)
        KV(g_kv_nums(f, "tokenizer.ggml.scores", GT_F32, v->scores, v->n));
    if (v->types)
        KV(g_kv_nums(f, "tokenizer.ggml.token_type", GT_I32, v->types, v->n));
    if (v->merges)
        KV(g_kv_strs(f, "tokenizer.ggml.merges", v->merges, v->n_merges));
    const struct { const char *k; int v; } ids[] = {
        {"tokenizer.ggml.bos_token_id", v->bos}, {"tokenizer.ggml.eos_token_id", v->eos},
        {"tokenizer.ggml.unknown_token_id", v->unk}, {"tokenizer.ggml.padding_token_id", v->pad}};
    for (int i = 0; i < 4; i++)
        if (ids[i].v >= 0)
            KV(g_kv_u32(f, ids[i].k, (uint32_t)ids[i].v));
    const struct { const char *k; int v; } flags[] = {
        {"tokenizer.ggml.add_bos_token", v->add_bos}, {"tokenizer.ggml.add_eos_token", v->add_eos},
        {"tokenizer.ggml.add_space_prefix", v->add_space_prefix}};
    for (int i = 0; i < 3; i++)
        if (flags[i].v >= 0)
            KV(g_kv_bool(f, flags[i].k, flags[i].v));
#undef KV
    *n_kv = n;
    return rc;
}

/* ---- test quantizers: simple, valid blocks of each GGML type ------------- */

static void put16le(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static float h16(float x, uint16_t *bits)
{
    *bits = f32_to_f16(x);
    return model_f16_to_f32(*bits);
}

static int clampi(long v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : (int)v;
}

static int qround(float x, float d, int lo, int hi)
{
    return d != 0.0f ? clampi(lrintf(x / d), lo, hi) : clampi(0, lo, hi);
}

static void amax_minmax(const float *x, int n, float *amax, float *mn, float *mx)
{
    *amax = 0.0f;
    *mn = *mx = x[0];
    for (int i = 0; i < n; i++) {
        if (fabsf(x[i]) > *amax)
            *amax = fabsf(x[i]);
        if (x[i] < *mn)
            *mn = x[i];
        if (x[i] > *mx)
            *mx = x[i];
    }
}

/* One block of `type` from x (layouts: kernels/ggml_quant.c). */
static void quant_block(int type, const float *x, uint8_t *b)
{
    const gq_traits *q = gq_traits_of((uint32_t)type);
    memset(b, 0, (size_t)q->bytes);
    uint16_t hb, mb;
    float amax, mn, mx;
    amax_minmax(x, q->block, &amax, &mn, &mx);
    if (type == GQ_Q8_0) {
        float d = h16(amax / 127.0f, &hb);
        put16le(b, hb);
        for (int i = 0; i < 32; i++)
            b[2 + i] = (uint8_t)(int8_t)qround(x[i], d, -127, 127);
    } else if (type == GQ_Q4_0 || type == GQ_Q5_0 || type == GQ_Q4_1 || type == GQ_Q5_1) {
        int five = type == GQ_Q5_0 || type == GQ_Q5_1, off = type == GQ_Q4_0 ? 2 : type == GQ_Q5_0 ? 6 : type == GQ_Q4_1 ? 4 : 8;
        int top = five ? 31 : 15, u[32];
        if (type == GQ_Q4_0 || type == GQ_Q5_0) {
            float d = h16(amax / (float)(top / 2), &hb);
            put16le(b, hb);
            for (int i = 0; i < 32; i++)
                u[i] = qround(x[i], d, -(top + 1) / 2, top / 2) + (top + 1) / 2;
        } else {
            float d = h16((mx - mn) / (float)top, &hb), m = h16(mn, &mb);
            put16le(b, hb);
            put16le(b + 2, mb);
            for (int i = 0; i < 32; i++)
                u[i] = qround(x[i] - m, d, 0, top);
        }
        for (int i = 0; i < 16; i++)
            b[off + i] = (uint8_t)((u[i] & 15) | (u[i + 16] & 15) << 4);
        if (five)
            for (int i = 0; i < 32; i++)
                b[off - 4 + i / 8] |= (uint8_t)(((u[i] >> 4) & 1) << (i % 8));
    } else if (type == GQ_MXFP4) {
        static const float e2m1[16] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6, 0, -0.5f, -1, -1.5f, -2, -3, -4, -6};
        int e = amax > 0 ? clampi((long)floorf(log2f(amax)) - 2 + 127, 0, 254) : 0;
        float sc = ldexpf(1.0f, e - 127);
        b[0] = (uint8_t)e;
        for (int i = 0; i < 32; i++) {
            int best = 0;
            for (int c = 1; c < 16; c++)
                if (fabsf(e2m1[c] * sc - x[i]) < fabsf(e2m1[best] * sc - x[i]))
                    best = c;
            b[1 + (i % 16)] |= (uint8_t)(best << (i < 16 ? 0 : 4));
        }
    } else if (type == GQ_Q2_K || type == GQ_Q4_K || type == GQ_Q5_K) {
        /* x = d*sc*q - dmin*m with sub-block scale sc and min m */
        int nsub = type == GQ_Q2_K ? 16 : 8, len = 256 / nsub;
        int top = type == GQ_Q2_K ? 3 : type == GQ_Q4_K ? 15 : 31, sbits = type == GQ_Q2_K ? 15 : 63;
        float scf[16], mnf[16], maxs = 0, maxm = 0;
        for (int j = 0; j < nsub; j++) {
            float a, lo, hi;
            amax_minmax(x + j * len, len, &a, &lo, &hi);
            mnf[j] = lo < 0 ? -lo : 0;
            scf[j] = (hi + mnf[j]) / (float)top;
            maxs = scf[j] > maxs ? scf[j] : maxs;
            maxm = mnf[j] > maxm ? mnf[j] : maxm;
        }
        float d = h16(maxs / (float)sbits, &hb), dmin = h16(maxm / (float)sbits, &mb);
        int sc[16], mi[16], u[256];
        for (int j = 0; j < nsub; j++) {
            sc[j] = qround(scf[j], d, 0, sbits);
            mi[j] = qround(mnf[j], dmin, 0, sbits);
            float dl = d * (float)sc[j], ml = dmin * (float)mi[j];
            for (int l = 0; l < len; l++)
                u[j * len + l] = qround(x[j * len + l] + ml, dl, 0, top);
        }
        if (type == GQ_Q2_K) {
            for (int j = 0; j < 16; j++)
                b[j] = (uint8_t)(sc[j] | mi[j] << 4);
            for (int i = 0; i < 256; i++)
                b[16 + 32 * (i / 128) + i % 32] |= (uint8_t)(u[i] << (2 * ((i % 128) / 32)));
            put16le(b + 80, hb);
            put16le(b + 82, mb);
        } else {
            int qs = type == GQ_Q5_K ? 48 : 16;
            put16le(b, hb);
            put16le(b + 2, mb);
            for (int j = 0; j < 4; j++) {
                b[4 + j] = (uint8_t)(sc[j] | (sc[j + 4] >> 4) << 6);
                b[8 + j] = (uint8_t)(mi[j] | (mi[j + 4] >> 4) << 6);
                b[12 + j] = (uint8_t)((sc[j + 4] & 15) | (mi[j + 4] & 15) << 4);
            }
            for (int i = 0; i < 256; i++) {
                b[qs + 32 * (i / 64) + i % 32] |= (uint8_t)((u[i] & 15) << (4 * ((i / 32) % 2)));
                if (type == GQ_Q5_K)
                    b[16 + i % 32] |= (uint8_t)((u[i] >> 4) << (i / 32));
            }
        }
    } else if (type == GQ_Q3_K || type == GQ_Q6_K) {
        /* x = d*sc*q, signed sub-block scales and quants */
        int six = type == GQ_Q6_K, qlo = six ? -32 : -4, qhi = six ? 31 : 3, smax = six ? 127 : 31;
        float scf[16], maxs = 0;
        for (int j = 0; j < 16; j++) {
            float a, lo, hi;
            amax_minmax(x + j * 16, 16, &a, &lo, &hi);
            scf[j] = a / (float)qhi;
            maxs = scf[j] > maxs ? scf[j] : maxs;
        }
        float d = h16(maxs / (float)smax, &hb);
        int sc[16], v[256];
        for (int j = 0; j < 16; j++) {
            sc[j] = qround(scf[j], d, 0, smax);
            for (int l = 0; l < 16; l++)
                v[j * 16 + l] = qround(x[j * 16 + l], d * (float)sc[j], qlo, qhi);
        }
        if (six) {
            for (int j = 0; j < 16; j++)
                b[192 + j] = (uint8_t)(int8_t)sc[j];
            for (int i = 0; i < 256; i++) {
                int u = v[i] + 32, h = i / 128, k = (i % 128) / 32, l = i % 32;
                b[64 * h + l + 32 * (k % 2)] |= (uint8_t)((u & 15) << (4 * (k / 2)));
                b[128 + 32 * h + l] |= (uint8_t)((u >> 4) << (2 * k));
            }
            put16le(b + 208, hb);
        } else {
            for (int j = 0; j < 16; j++) {
                int st = sc[j] + 32;
                b[96 + j % 8] |= (uint8_t)((st & 15) << (j < 8 ? 0 : 4));
                b[104 + j % 4] |= (uint8_t)((st >> 4) << (2 * (j / 4)));
            }
            for (int i = 0; i < 256; i++) {
                b[32 + 32 * (i / 128) + i % 32] |= (uint8_t)((v[i] & 3) << (2 * ((i % 128) / 32)));
                b[i % 32] |= (uint8_t)((v[i] >= 0) << (i / 32));
            }
            put16le(b + 108, hb);
        }
    }
}

/* The bytes of n floats (rows of whole blocks) as `type`. */
static uint8_t *encode(int type, const float *x, uint64_t n, uint64_t *nbytes)
{
    const gq_traits *q = gq_traits_of((uint32_t)type);
    *nbytes = gq_row_bytes(q, n);
    uint8_t *b = malloc(*nbytes ? (size_t)*nbytes : 1);
    if (!b)
        return NULL;
    if (type == GQ_F32 || type == GQ_F16 || type == GQ_BF16) {
        tm_dtype dt = type == GQ_F32 ? TM_F32 : type == GQ_F16 ? TM_F16 : TM_BF16;
        for (uint64_t i = 0; i < n; i++)
            put_float_le(b + dt_size(dt) * i, x[i], dt);
        return b;
    }
    for (uint64_t i = 0; i < n / (uint64_t)q->block; i++)
        quant_block(type, x + i * (uint64_t)q->block, b + i * (uint64_t)q->bytes);
    return b;
}

int tm_write_gguf_opts(tm_model *t, const char *path, const tm_gguf_opts *o, mx_error *e)
{
    const tf_config *c = &t->cfg;
    int q3 = t->arch == MODEL_ARCH_QWEN3, type = o ? o->type : GQ_F32;
    int version = o && o->version ? o->version : 3;
    const gq_traits *qt = gq_traits_of((uint32_t)type);
    if (!qt)
        return err_set(e, ERR_ARG, "%s: no GGML type %d", path, type);
    const char *a = q3 ? "qwen3" : "llama";
    /* llama.cpp stores llama q/k rows permuted for its interleaved RoPE; qwen3
     * keeps the HF order (NEOX RoPE). */
    int n = 0;
    wt *w = tensor_list(t, 1, q3 ? TF_ROPE_HALF : TF_ROPE_INTERLEAVED, &n);
    if (!w)
        return err_set(e, ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++)
        if (!w[i].is_1d && w[i].cols % qt->block) {
            err_set(e, ERR_ARG, "%s: tensor %s: rows of %lld are not whole %s blocks", path, w[i].name,
                    (long long)w[i].cols, qt->name);
            free_list(w, n);
            return ERR_ARG;
        }
    /* Encode every tensor first; 2-D ones then hold exactly what the file decodes to. */
    size_t nn = n > 0 ? (size_t)n : 1;
    uint8_t **enc = calloc(nn, sizeof *enc);
    uint64_t *nb = calloc(nn, sizeof *nb);
    int rc = enc && nb ? 0 : ERR_NOMEM;
    for (int i = 0; i < n && !rc; i++) {
        int tt = w[i].is_1d ? GQ_F32 : type;
        uint64_t cnt = (uint64_t)(w[i].rows * w[i].cols);
        if (!(enc[i] = encode(tt, w[i].data, cnt, &nb[i])))
            rc = ERR_NOMEM;
        else if (!w[i].is_1d && w[i].orig && qt->block > 1) {
            float *back = malloc((size_t)cnt * sizeof(float));
            if (!back) {
                rc = ERR_NOMEM;
                break;
            }
            gq_dequantize(gq_traits_of((uint32_t)tt), enc[i], back, cnt);
            if (w[i].owned) { /* permuted q/k: back to t's row order */
                int k = strstr(w[i].name, "attn_q") ? TF_Q : TF_K;
                int heads = k == TF_Q ? c->n_heads : c->n_kv_heads;
                rc = c->rope_style == TF_ROPE_HALF
                         ? model_rows_interleaved_to_half(back, w[i].rows, w[i].cols, heads)
                         : model_rows_half_to_interleaved(back, w[i].rows, w[i].cols, heads);
            }
            memcpy((float *)w[i].orig, back, (size_t)cnt * sizeof(float));
            free(back);
        }
    }
    FILE *f = rc ? NULL : open_out(path, e);
    if (!f) {
        for (int i = 0; enc && i < n; i++)
            free(enc[i]);
        free(enc);
        free(nb);
        free_list(w, n);
        return rc ? err_set(e, rc, "out of memory") : ERR_IO;
    }
    const uint64_t align = 32;
    int n_vocab_kv = 1;
    if (o && o->vocab)
        write_vocab(f, o->vocab, 1, &n_vocab_kv);
    int n_kv = (q3 ? 13 : 12) + n_vocab_kv;
    rc = put_bytes(f, "GGUF", 4) | put_u32(f, (uint32_t)version) | put_u64(f, (uint64_t)n) |
         put_u64(f, (uint64_t)n_kv);
    char k[128];
#define KEY(S) (snprintf(k, sizeof k, "%s.%s", a, S), k)
    rc |= g_kv_str(f, "general.architecture", a);
    rc |= g_kv_str(f, "general.name", "mxalloc test model");
    rc |= g_kv_u32(f, "general.alignment", (uint32_t)align);
    rc |= g_kv_u32(f, KEY("context_length"), (uint32_t)c->max_seq);
    rc |= g_kv_u32(f, KEY("embedding_length"), (uint32_t)c->dim);
    rc |= g_kv_u32(f, KEY("block_count"), (uint32_t)c->n_layers);
    rc |= g_kv_u32(f, KEY("feed_forward_length"), (uint32_t)c->hidden_dim);
    rc |= g_kv_u32(f, KEY("attention.head_count"), (uint32_t)c->n_heads);
    rc |= g_kv_u32(f, KEY("attention.head_count_kv"), (uint32_t)c->n_kv_heads);
    rc |= g_kv_f32(f, KEY("attention.layer_norm_rms_epsilon"), c->norm_eps);
    rc |= g_kv_f32(f, KEY("rope.freq_base"), c->rope_theta);
    if (q3) {
        rc |= g_kv_u32(f, KEY("attention.key_length"), (uint32_t)c->head_dim);
        rc |= g_kv_u32(f, KEY("attention.value_length"), (uint32_t)c->head_dim);
    } else {
        rc |= g_kv_u32(f, KEY("rope.dimension_count"), (uint32_t)c->head_dim);
    }
#undef KEY
    if (o && o->vocab) {
        int dummy;
        rc |= write_vocab(f, o->vocab, 0, &dummy);
    } else {
        /* A token list, so readers meet a string array. */
        rc |= g_str(f, "tokenizer.ggml.tokens") | put_u32(f, GT_ARRAY) | put_u32(f, GT_STRING) |
              put_u64(f, (uint64_t)c->vocab_size);
        for (int i = 0; i < c->vocab_size; i++) {
            char tok[32];
            snprintf(tok, sizeof tok, "<t%d>", i);
            rc |= g_str(f, tok);
        }
    }
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        rc |= g_str(f, w[i].name) | put_u32(f, (uint32_t)w[i].nd);
        if (w[i].nd == 1)
            rc |= put_u64(f, (uint64_t)w[i].rows);
        else
            rc |= put_u64(f, (uint64_t)w[i].cols) | put_u64(f, (uint64_t)w[i].rows);
        rc |= put_u32(f, (uint32_t)(w[i].is_1d ? GQ_F32 : type)) | put_u64(f, off);
        off += (nb[i] + align - 1) / align * align;
    }
    long pos = ftell(f);
    if (pos < 0)
        rc = ERR_IO;
    else
        rc |= put_zeros(f, (align - (uint64_t)pos % align) % align);
    for (int i = 0; i < n && !rc; i++) {
        rc = put_bytes(f, enc[i], (size_t)nb[i]);
        if (!rc)
            rc = put_zeros(f, (align - nb[i] % align) % align);
    }
    for (int i = 0; i < n; i++)
        free(enc[i]);
    free(enc);
    free(nb);
    free_list(w, n);
    return close_out(f, path, rc ? ERR_IO : 0, e);
}

int tm_write_gguf(const tm_model *t, const char *path, tm_dtype dt, mx_error *e)
{
    /* F32/F16/BF16 writes never change t (callers tm_round first for F16/BF16). */
    tm_gguf_opts o = {.type = dt == TM_F32 ? GQ_F32 : dt == TM_F16 ? GQ_F16 : GQ_BF16};
    return tm_write_gguf_opts((tm_model *)t, path, &o, e);
}

/* ---- conversion, tokenizer, temp files ---------------------------------- */

int tm_convert(const char *src, const char *dst, tm_format fmt, tm_dtype dt, mx_error *e)
{
    model m;
    int rc = model_load(src, &m, e);
    if (rc < 0)
        return rc;
    tm_model t;
    rc = tm_from_model(&t, &m);
    model_free(&m);
    if (rc < 0)
        return err_set(e, ERR_NOMEM, "out of memory");
    switch (fmt) {
    case TM_FMT_LLAMA2C: rc = tm_write_llama2c(&t, dst, 0, e); break;
    case TM_FMT_LLAMA2C_V1: rc = tm_write_llama2c(&t, dst, 1, e); break;
    case TM_FMT_HF: rc = tm_write_hf(&t, dst, dt, 1, e); break;
    default: rc = tm_write_gguf(&t, dst, dt, e); break;
    }
    tm_free(&t);
    return rc;
}

/* GPT-2's reversible byte -> printable code point map. */
static void byte_unicode(uint32_t cp[256])
{
    int n = 0;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
        cp[b] = printable ? (uint32_t)b : (uint32_t)(256 + n++);
    }
}

/* Byte string -> its byte-level token text (UTF-8). */
static void bl_text(const char *s, const uint32_t cp[256], char *out, size_t n)
{
    size_t k = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && k + 3 < n; p++) {
        uint32_t c = cp[*p];
        if (c < 0x80) {
            out[k++] = (char)c;
        } else {
            out[k++] = (char)(0xc0 | c >> 6);
            out[k++] = (char)(0x80 | (c & 0x3f));
        }
    }
    out[k] = '\0';
}

void tm_byte_level(const char *raw, char *out, size_t n)
{
    uint32_t cp[256];
    byte_unicode(cp);
    bl_text(raw, cp, out, n);
}

int tm_write_bpe_tokenizer(const char *path, const char *const (*merges)[2], int n_merges, mx_error *e)
{
    uint32_t cp[256];
    byte_unicode(cp);
    json_t *vocab = json_object(), *mj = json_array();
    for (int b = 0; b < 256; b++) {
        char s[2] = {(char)b, 0}, txt[8];
        if (b == 0) { /* a NUL byte cannot travel in a C string: encode it directly */
            txt[0] = (char)(0xc0 | cp[0] >> 6);
            txt[1] = (char)(0x80 | (cp[0] & 0x3f));
            txt[2] = 0;
        } else {
            bl_text(s, cp, txt, sizeof txt);
        }
        json_object_set_new(vocab, txt, json_integer(b));
    }
    int rc = 0;
    for (int i = 0; i < n_merges && rc == 0; i++) {
        char l[256], r[256], both[520], pair[520];
        bl_text(merges[i][0], cp, l, sizeof l);
        bl_text(merges[i][1], cp, r, sizeof r);
        snprintf(both, sizeof both, "%s%s", l, r);
        snprintf(pair, sizeof pair, "%s %s", l, r);
        if (!json_object_get(vocab, l) || !json_object_get(vocab, r) || json_object_get(vocab, both))
            rc = err_set(e, ERR_ARG, "%s: merge %d (\"%s\" + \"%s\") needs existing parts and a new result",
                         path, i, merges[i][0], merges[i][1]);
        json_object_set_new(vocab, both, json_integer(256 + i));
        json_array_append_new(mj, json_string(pair));
    }
    int eot = 256 + n_merges;
    json_object_set_new(vocab, "<|endoftext|>", json_integer(eot));
    json_t *root = json_pack(
        "{s:s, s:n, s:n, s:[{s:i,s:s,s:b,s:b,s:b,s:b,s:b}], s:n,"
        " s:{s:s,s:b,s:b,s:b}, s:n, s:{s:s,s:b,s:b,s:b},"
        " s:{s:s,s:n,s:n,s:n,s:n,s:b,s:b,s:b,s:o,s:o}}",
        "version", "1.0", "truncation", "padding",
        "added_tokens", "id", eot, "content", "<|endoftext|>", "single_word", 0, "lstrip", 0,
        "rstrip", 0, "normalized", 0, "special", 1,
        "normalizer",
        "pre_tokenizer", "type", "ByteLevel", "add_prefix_space", 0, "trim_offsets", 1, "use_regex", 1,
        "post_processor",
        "decoder", "type", "ByteLevel", "add_prefix_space", 1, "trim_offsets", 1, "use_regex", 1,
        "model", "type", "BPE", "dropout", "unk_token", "continuing_subword_prefix", "end_of_word_suffix",
        "fuse_unk", 0, "byte_fallback", 0, "ignore_merges", 0, "vocab", vocab, "merges", mj);
    if (!root)
        return err_set(e, ERR_INTERNAL, "%s: cannot build tokenizer JSON", path);
    if (rc < 0) {
        json_decref(root);
        return rc;
    }
    return write_json(root, path, e);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(p);
    return 0;
}

void tm_rmtree(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int tm_tmpdir(char *buf, size_t n)
{
    /* tmpfs when there is one: tests rewrite small files many times, which a
     * disk mounted with discard makes slow. */
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(buf, n, "%s/mxalloc-test-XXXXXX", base);
    return mkdtemp(buf) ? 0 : ERR_IO;
}

char tm_dir[4096];

int tm_dir_setup(void **state)
{
    (void)state;
    return tm_tmpdir(tm_dir, sizeof tm_dir);
}

int tm_dir_teardown(void **state)
{
    (void)state;
    tm_rmtree(tm_dir);
    return 0;
}

void tm_path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", tm_dir, name);
}
