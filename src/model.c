/* Format-independent parts of a loaded model: detection and dispatch, the
 * weight arena, the module table, conversions shared by the loaders. */
#include "src/model.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "src/model_priv.h"

static const char *const kind_labels[TF_NLIN] = {"q", "k", "v", "o", "gate", "up", "down"};
static const char *const hf_lin[TF_NLIN] = {
    "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
    "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"};
static const char *const gguf_lin[TF_NLIN] = {
    "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};
static const char *const l2c_lin[TF_NLIN] = {"wq", "wk", "wv", "wo", "w1", "w3", "w2"};

const char *model_kind_label(int kind)
{
    return kind >= 0 && kind < TF_NLIN ? kind_labels[kind] : "?";
}

const char *model_file_kind_name(model_file_kind k)
{
    return k == MODEL_FILE_LLAMA2C ? "llama2.c" : k == MODEL_FILE_HF ? "hf-safetensors" : "gguf";
}

/* Messages quote names and strings from the file: keep them one printable line. */
static void one_line(mx_error *e)
{
    if (!e)
        return;
    for (char *p = e->msg; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
}

int model_load(const char *path, model *m, mx_error *e)
{
    memset(m, 0, sizeof *m);
    if (strlen(path) >= sizeof m->path)
        return err_set(e, ERR_ARG, "%.64s...: path too long", path);
    struct stat st;
    if (stat(path, &st) != 0)
        return err_set(e, ERR_IO, "%s: %s", path, strerror(errno));
    int rc;
    if (S_ISDIR(st.st_mode)) {
        rc = model_load_hf(path, m, e);
    } else if (!S_ISREG(st.st_mode)) {
        return err_set(e, ERR_IO, "%s: not a regular file or a directory", path);
    } else {
        /* Peek at the magic; the per-format loaders map the file themselves. */
        unsigned char magic[4] = {0};
        FILE *f = fopen(path, "rb");
        if (!f)
            return err_set(e, ERR_IO, "%s: %s", path, strerror(errno));
        size_t got = fread(magic, 1, 4, f);
        fclose(f);
        if (got == 4 && !memcmp(magic, "GGUF", 4))
            rc = model_load_gguf(path, m, e);
        else
            rc = model_load_llama2c(path, m, e);
    }
    if (rc < 0) {
        model_free(m);
        one_line(e);
        return rc;
    }
    snprintf(m->path, sizeof m->path, "%s", path);
    m->trained_ctx = m->cfg.max_seq;
    rc = model_build_modules(m, e);
    if (rc < 0)
        model_free(m);
    return rc;
}

void model_free(model *m)
{
    if (!m)
        return;
    model_priv *p = m->priv;
    if (p) {
        free(p->arena);
        free(p->lin_type);
    }
    free(p);
    free(m->weights.layers);
    free(m->modules);
    m->priv = NULL;
    m->weights.layers = NULL;
    m->modules = NULL;
    m->n_modules = 0;
}

int model_extend_ctx(model *m, long ctx)
{
    if (ctx <= m->cfg.max_seq)
        return 0;
    m->cfg.max_seq = ctx > INT32_MAX ? INT32_MAX : (int)ctx;
    return m->trained_ctx > 0 ? m->trained_ctx : 1;
}

int model_find_module(const model *m, const char *name)
{
    for (int i = 0; i < m->n_modules; i++)
        if (!strcmp(m->modules[i].name, name))
            return i;
    return -1;
}

int model_weights_copy(const model *m, tf_weights *out, mx_error *e)
{
    *out = m->weights;
    out->layers = malloc((size_t)m->cfg.n_layers * sizeof *out->layers);
    if (!out->layers)
        return err_set(e, ERR_NOMEM, "out of memory copying the weight view");
    memcpy(out->layers, m->weights.layers, (size_t)m->cfg.n_layers * sizeof *out->layers);
    return 0;
}

void model_weights_free(tf_weights *w)
{
    if (!w)
        return;
    free(w->layers);
    w->layers = NULL;
}

static int bad_int(int v, int lo, int hi)
{
    return v < lo || v > hi;
}

int model_check_cfg(const tf_config *c, const char *file, mx_error *e)
{
#define BAD(...) return err_set(e, ERR_FORMAT, __VA_ARGS__)
    if (bad_int(c->dim, 1, MODEL_MAX_DIM))
        BAD("%s: bad header: dim %d out of range [1, %d]", file, c->dim, MODEL_MAX_DIM);
    if (bad_int(c->hidden_dim, 1, MODEL_MAX_DIM))
        BAD("%s: bad header: hidden_dim %d out of range [1, %d]", file, c->hidden_dim, MODEL_MAX_DIM);
    if (bad_int(c->n_layers, 1, MODEL_MAX_LAYERS))
        BAD("%s: bad header: n_layers %d out of range [1, %d]", file, c->n_layers, MODEL_MAX_LAYERS);
    if (bad_int(c->n_heads, 1, MODEL_MAX_HEADS))
        BAD("%s: bad header: n_heads %d out of range [1, %d]", file, c->n_heads, MODEL_MAX_HEADS);
    if (bad_int(c->n_kv_heads, 1, c->n_heads) || c->n_heads % c->n_kv_heads)
        BAD("%s: bad header: n_kv_heads %d must divide n_heads %d", file, c->n_kv_heads, c->n_heads);
    if (bad_int(c->head_dim, 2, MODEL_MAX_DIM) || c->head_dim % 2)
        BAD("%s: bad header: head_dim %d must be even and in [2, %d]", file, c->head_dim, MODEL_MAX_DIM);
    if ((int64_t)c->n_heads * c->head_dim > MODEL_MAX_DIM)
        BAD("%s: bad header: n_heads * head_dim = %lld exceeds %d", file,
            (long long)c->n_heads * c->head_dim, MODEL_MAX_DIM);
    if (bad_int(c->vocab_size, 1, MODEL_MAX_VOCAB))
        BAD("%s: bad header: vocab_size %d out of range [1, %d]", file, c->vocab_size, MODEL_MAX_VOCAB);
    if (bad_int(c->max_seq, 1, MODEL_MAX_SEQ))
        BAD("%s: bad header: max_seq %d out of range [1, %d]", file, c->max_seq, MODEL_MAX_SEQ);
    if (!(c->rope_theta > 0) || !isfinite(c->rope_theta))
        BAD("%s: bad header: rope theta %g must be positive", file, (double)c->rope_theta);
    if (!(c->norm_eps > 0) || !isfinite(c->norm_eps) || c->norm_eps > 1)
        BAD("%s: bad header: norm eps %g must be in (0, 1]", file, (double)c->norm_eps);
    if (c->rope_style != TF_ROPE_INTERLEAVED && c->rope_style != TF_ROPE_HALF)
        BAD("%s: bad rope style %d", file, c->rope_style);
    return 0;
#undef BAD
}

/* Shapes of the linear modules, computed here so loading does not depend on
 * the forward-pass code. */
static void lin_shape(const tf_config *c, int k, int64_t *rows, int64_t *cols)
{
    int64_t q = (int64_t)c->n_heads * c->head_dim, kv = (int64_t)c->n_kv_heads * c->head_dim;
    switch (k) {
    case TF_Q: *rows = q; *cols = c->dim; break;
    case TF_K:
    case TF_V: *rows = kv; *cols = c->dim; break;
    case TF_O: *rows = c->dim; *cols = q; break;
    case TF_GATE:
    case TF_UP: *rows = c->hidden_dim; *cols = c->dim; break;
    default: *rows = c->dim; *cols = c->hidden_dim; break;
    }
}

/* The norm vectors of a layer, in slot order (qk: Qwen3's per-head norms). */
typedef struct layer_norm {
    int what, qk;
    const char *hf, *gguf, *l2c;
} layer_norm;
static const layer_norm layer_norms[] = {
    {MS_ATTN_NORM, 0, "input_layernorm", "attn_norm", "rms_att"},
    {MS_FFN_NORM, 0, "post_attention_layernorm", "ffn_norm", "rms_ffn"},
    {MS_Q_NORM, 1, "self_attn.q_norm", "attn_q_norm", "q_norm"},
    {MS_K_NORM, 1, "self_attn.k_norm", "attn_k_norm", "k_norm"},
};

/* Arena offsets rounded up to 16 floats (64 bytes) for aligned SIMD loads. */
static uint64_t round16(uint64_t n)
{
    return (n + 15) & ~(uint64_t)15;
}

model_slot *model_slots(const tf_config *c, int tied, int *n, uint64_t *n_floats, mx_error *e)
{
    int per_layer = 2 + (c->qk_norm ? 2 : 0) + TF_NLIN;
    int total = 3 + c->n_layers * per_layer;
    model_slot *s = calloc((size_t)total, sizeof *s);
    if (!s) {
        err_set(e, ERR_NOMEM, "out of memory");
        return NULL;
    }
    int i = 0;
    uint64_t off = 0;
#define ADD(WHAT, LAYER, ND, R, C, HF, GG, L2C, RH)                                          \
    do {                                                                                       \
        model_slot *t = &s[i++];                                                               \
        t->what = (WHAT); t->layer = (LAYER); t->n_dims = (ND);                               \
        t->rows = (R); t->cols = (C); t->rope_heads = (RH); t->off = off;                     \
        off += round16((uint64_t)t->rows * (uint64_t)t->cols);                                 \
        snprintf(t->hf, sizeof t->hf, "%s", HF);                                               \
        snprintf(t->gguf, sizeof t->gguf, "%s", GG);                                           \
        snprintf(t->l2c, sizeof t->l2c, "%s", L2C);                                            \
    } while (0)
    ADD(MS_TOK, -1, 2, c->vocab_size, c->dim, "model.embed_tokens.weight", "token_embd.weight",
        "tok_embeddings", 0);
    for (int l = 0; l < c->n_layers; l++) {
        char hf[MODEL_NAME_MAX + 16], gg[MODEL_NAME_MAX];
        for (size_t k = 0; k < sizeof layer_norms / sizeof *layer_norms; k++) {
            const layer_norm *ln = &layer_norms[k];
            if (ln->qk && !c->qk_norm)
                continue;
            snprintf(hf, sizeof hf, "model.layers.%d.%s.weight", l, ln->hf);
            snprintf(gg, sizeof gg, "blk.%d.%s.weight", l, ln->gguf);
            ADD(ln->what, l, 1, ln->qk ? c->head_dim : c->dim, 1, hf, gg, ln->l2c, 0);
        }
        for (int k = 0; k < TF_NLIN; k++) {
            int64_t r, co;
            lin_shape(c, k, &r, &co);
            snprintf(hf, sizeof hf, "model.layers.%d.%s.weight", l, hf_lin[k]);
            snprintf(gg, sizeof gg, "blk.%d.%s.weight", l, gguf_lin[k]);
            int rh = k == TF_Q ? c->n_heads : k == TF_K ? c->n_kv_heads : 0;
            ADD(MS_LIN + k, l, 2, r, co, hf, gg, l2c_lin[k], rh);
        }
    }
    ADD(MS_FINAL_NORM, -1, 1, c->dim, 1, "model.norm.weight", "output_norm.weight", "rms_final", 0);
    if (!tied)
        ADD(MS_LM_HEAD, -1, 2, c->vocab_size, c->dim, "lm_head.weight", "output.weight", "wcls", 0);
#undef ADD
    *n = i;
    *n_floats = off;
    return s;
}

int model_alloc_weights(model *m, model_slot *s, int n, uint64_t n_floats, mx_error *e)
{
    model_priv *p = calloc(1, sizeof *p);
    if (!p)
        return err_set(e, ERR_NOMEM, "out of memory");
    m->priv = p;
    if (n_floats > SIZE_MAX / sizeof(float) - 64)
        return err_set(e, ERR_NOMEM, "model too large for this machine");
    p->arena = aligned_alloc(64, (size_t)n_floats * sizeof(float) + 64);
    m->weights.layers = calloc((size_t)m->cfg.n_layers, sizeof *m->weights.layers);
    if (!p->arena || !m->weights.layers)
        return err_set(e, ERR_NOMEM, "out of memory allocating %llu weights",
                       (unsigned long long)n_floats);
    p->n_floats = (size_t)n_floats;
    m->weights.lm_head = NULL;
    for (int i = 0; i < n; i++) {
        float *d = p->arena + s[i].off;
        s[i].dst = d;
        tf_layer_weights *L = s[i].layer >= 0 ? &m->weights.layers[s[i].layer] : NULL;
        switch (s[i].what) {
        case MS_TOK: m->weights.tok_emb = d; break;
        case MS_FINAL_NORM: m->weights.final_norm = d; break;
        case MS_LM_HEAD: m->weights.lm_head = d; break;
        case MS_ATTN_NORM: L->attn_norm = d; break;
        case MS_FFN_NORM: L->ffn_norm = d; break;
        case MS_Q_NORM: L->q_norm = d; break;
        case MS_K_NORM: L->k_norm = d; break;
        default: L->lin[s[i].what - MS_LIN] = d; break;
        }
    }
    if (!m->weights.lm_head)
        m->weights.lm_head = m->weights.tok_emb;
    return 0;
}

float model_f16_to_f32(uint16_t h)
{
    /* Branch-light: move exponent and mantissa into place, then fix up
     * Inf/NaN (exponent all ones) and zero/subnormals (renormalized by a
     * float subtraction). */
    const uint32_t exp_mask = 0x7c00u << 13;
    uint32_t o = (uint32_t)(h & 0x7fff) << 13, ex = o & exp_mask;
    o += (uint32_t)(127 - 15) << 23;
    if (ex == exp_mask) {
        o += (uint32_t)(128 - 16) << 23;
    } else if (ex == 0) {
        o += 1u << 23;
        float f, magic;
        uint32_t mb = 113u << 23;
        memcpy(&f, &o, 4);
        memcpy(&magic, &mb, 4);
        f -= magic;
        memcpy(&o, &f, 4);
    }
    o |= (uint32_t)(h & 0x8000) << 16;
    float f;
    memcpy(&f, &o, 4);
    return f;
}

float model_bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint64_t model_dtype_bytes(int dtype, uint64_t n)
{
    const gq_traits *q = dtype >= 0 ? gq_traits_of((uint32_t)dtype) : NULL;
    return q ? gq_row_bytes(q, n) : 0;
}

const char *model_dtype_name(int dtype)
{
    const char *s = dtype >= 0 ? gq_type_name((uint32_t)dtype) : NULL;
    return s ? s : "?";
}

int model_convert(float *dst, const uint8_t *src, uint64_t n, int dtype,
                  const char *file, const char *tensor, mx_error *e)
{
    const gq_traits *q = dtype >= 0 ? gq_traits_of((uint32_t)dtype) : NULL;
    if (!q || !gq_row_bytes(q, n))
        return err_set(e, ERR_INTERNAL, "%s: tensor %s: cannot convert type %s", file, tensor,
                       model_dtype_name(dtype));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (dtype == MDT_F32)
        memcpy(dst, src, (size_t)n * 4);
    else
#endif
        gq_dequantize(q, src, dst, n);
    /* One pass for NaN/Inf: an all-ones exponent. */
    const uint32_t *bits = (const uint32_t *)dst;
    uint32_t any = 0;
    for (uint64_t i = 0; i < n; i++)
        any |= (bits[i] & 0x7f800000u) == 0x7f800000u;
    if (!any)
        return 0;
    for (uint64_t i = 0; i < n; i++)
        if ((bits[i] & 0x7f800000u) == 0x7f800000u)
            return err_set(e, ERR_FORMAT, "%s: tensor %s has a non-finite value (%s) at element %llu",
                           file, tensor, (bits[i] & 0x7fffffu) ? "NaN" : "Inf", (unsigned long long)i);
    return 0;
}

static int permute_rows(float *w, int64_t rows, int64_t cols, int heads, int to_interleaved)
{
    int64_t hd = rows / heads, half = hd / 2;
    size_t row_bytes = (size_t)cols * sizeof(float);
    float *tmp = malloc((size_t)hd * row_bytes);
    if (!tmp)
        return ERR_NOMEM;
    for (int h = 0; h < heads; h++) {
        float *blk = w + (int64_t)h * hd * cols;
        memcpy(tmp, blk, (size_t)hd * row_bytes);
        for (int64_t i = 0; i < half; i++)
            for (int s = 0; s < 2; s++) {
                int64_t il = 2 * i + s, hf = s * half + i;
                int64_t to = to_interleaved ? il : hf, from = to_interleaved ? hf : il;
                memcpy(blk + to * cols, tmp + from * cols, row_bytes);
            }
    }
    free(tmp);
    return 0;
}

int model_rows_half_to_interleaved(float *w, int64_t rows, int64_t cols, int heads)
{
    return permute_rows(w, rows, cols, heads, 1);
}

int model_rows_interleaved_to_half(float *w, int64_t rows, int64_t cols, int heads)
{
    return permute_rows(w, rows, cols, heads, 0);
}

int model_build_modules(model *m, mx_error *e)
{
    const tf_config *c = &m->cfg;
    m->n_modules = c->n_layers * TF_NLIN;
    m->modules = calloc((size_t)m->n_modules, sizeof *m->modules);
    if (!m->modules)
        return err_set(e, ERR_NOMEM, "out of memory");
    for (int l = 0; l < c->n_layers; l++)
        for (int k = 0; k < TF_NLIN; k++) {
            model_module *mm = &m->modules[l * TF_NLIN + k];
            int64_t r, co;
            lin_shape(c, k, &r, &co);
            snprintf(mm->name, sizeof mm->name, "model.layers.%d.%s", l, hf_lin[k]);
            mm->layer = l;
            mm->kind = k;
            mm->rows = (int)r;
            mm->cols = (int)co;
            mm->params = r * co;
            mm->w = (float *)m->weights.layers[l].lin[k];
            const model_priv *p = m->priv;
            int dt = p && p->lin_type ? p->lin_type[l * TF_NLIN + k] : MDT_F32;
            snprintf(mm->stored, sizeof mm->stored, "%s", model_dtype_name(dt));
        }
    return 0;
}

static void shape_str(char *buf, size_t n, int nd, const uint64_t *d)
{
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < nd && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%llu", i ? ", " : "", (unsigned long long)d[i]);
    if (k < n)
        snprintf(buf + k, n - k, "]");
}

/* The stored shape of slot s under per-layer sizes ls (the full one without). */
static void stored_shape(const tf_config *c, const model_layer_sizes *ls, const model_slot *s, uint64_t *r,
                         uint64_t *co, int *rope_heads)
{
    *r = (uint64_t)s->rows;
    *co = (uint64_t)s->cols;
    *rope_heads = s->rope_heads;
    if (!ls || s->what < MS_LIN)
        return;
    int l = s->layer, hd = c->head_dim;
    switch (s->what - MS_LIN) {
    case TF_Q: *r = (uint64_t)ls->n_heads[l] * hd; *rope_heads = ls->n_heads[l]; break;
    case TF_K: *r = (uint64_t)ls->n_kv_heads[l] * hd; *rope_heads = ls->n_kv_heads[l]; break;
    case TF_V: *r = (uint64_t)ls->n_kv_heads[l] * hd; break;
    case TF_O: *co = (uint64_t)ls->n_heads[l] * hd; break;
    case TF_GATE:
    case TF_UP: *r = (uint64_t)ls->hidden[l]; break;
    case TF_DOWN: *co = (uint64_t)ls->hidden[l]; break;
    }
}

int model_fill(model *m, int tied, model_src *t, int nt, int gguf_names, int unpermute_qk,
               const model_layer_sizes *ls, const char *file, mx_error *e)
{
    int ns, rc = 0;
    uint64_t n_floats;
    model_slot *s = model_slots(&m->cfg, tied, &ns, &n_floats, e);
    if (!s)
        return ERR_NOMEM;
    int *match = malloc(2 * (size_t)ns * sizeof *match), *tscale = match + ns;
    if (!match) {
        free(s);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < ns && rc == 0; i++) {
        const char *want = gguf_names ? s[i].gguf : s[i].hf;
        /* GGUF: a linear's optional per-tensor scale NAME.scale (NVFP4's
         * second level), which llama.cpp multiplies the product by */
        char sname[MODEL_NAME_MAX + 16] = "";
        if (gguf_names && s[i].what >= MS_LIN)
            snprintf(sname, sizeof sname, "%.*s.scale", (int)(strlen(want) - strlen(".weight")), want);
        match[i] = tscale[i] = -1;
        for (int j = 0; j < nt && rc == 0; j++) {
            int *slot = !t[j].skip && !strcmp(t[j].name, want) ? &match[i]
                      : !t[j].skip && sname[0] && !strcmp(t[j].name, sname) ? &tscale[i] : NULL;
            if (!slot)
                continue;
            if (*slot >= 0)
                rc = err_set(e, ERR_FORMAT, "%s: tensor %s appears twice", file, t[j].name);
            *slot = j;
            t[j].used = 1;
        }
        const model_src *x = tscale[i] >= 0 ? &t[tscale[i]] : NULL;
        if (rc == 0 && x && !(x->dtype == GQ_F32 && x->n_dims == 1 && x->dims[0] == 1 && x->nbytes == 4))
            rc = err_set(e, ERR_FORMAT, "%s: tensor %s must be one F32 value (a per-tensor scale)", file, sname);
    }
    /* Unexpected tensors first: "biases not supported" says more than the
     * missing tensor a renamed one leaves behind. */
    for (int j = 0; j < nt && rc == 0; j++) {
        if (t[j].skip || t[j].used)
            continue;
        if (strstr(t[j].name, "bias"))
            rc = err_set(e, ERR_FORMAT, "%s: tensor %s: bias terms are not supported (Llama/Qwen3 "
                         "blocks have none; Qwen2-style models are not supported)", file, t[j].name);
        else
            rc = err_set(e, ERR_FORMAT, "%s: unexpected tensor %s (not part of a %s model with "
                         "this configuration)", file, t[j].name, m->arch == MODEL_ARCH_QWEN3 ? "qwen3" : "llama");
    }
    for (int i = 0; i < ns && rc == 0; i++) {
        const char *want = gguf_names ? s[i].gguf : s[i].hf;
        if (match[i] < 0) {
            rc = err_set(e, ERR_FORMAT, "%s: missing tensor %s", file, want);
            break;
        }
        model_src *x = &t[match[i]];
        uint64_t want_dims[2];
        int rh;
        stored_shape(&m->cfg, ls, &s[i], &want_dims[0], &want_dims[1], &rh);
        int ok = x->n_dims == s[i].n_dims && x->dims[0] == want_dims[0] &&
                 (s[i].n_dims == 1 || x->dims[1] == want_dims[1]);
        if (!ok) {
            char got[96], exp[96];
            shape_str(got, sizeof got, x->n_dims, x->dims);
            shape_str(exp, sizeof exp, s[i].n_dims, want_dims);
            rc = err_set(e, ERR_FORMAT, "%s: tensor %s has shape %s, the config implies %s", file,
                         want, got, exp);
        } else if (x->dtype < 0 || !gq_traits_of((uint32_t)x->dtype)) {
            rc = err_set(e, ERR_FORMAT, "%s: tensor %s has type %s, which mxalloc cannot read (it reads "
                         "%s)", x->file, want, x->dtype_name,
                         gguf_names ? gq_supported_list() : "F32, F16, BF16");
        } else if (x->nbytes == 0 || x->nbytes != model_dtype_bytes(x->dtype, want_dims[0] * want_dims[1])) {
            const gq_traits *q = gq_traits_of((uint32_t)x->dtype);
            if (want_dims[1] % (uint64_t)q->block)
                rc = err_set(e, ERR_FORMAT, "%s: tensor %s: row length %lld is not a multiple of the %s "
                             "block size %d", x->file, want, (long long)want_dims[1], q->name, q->block);
            else
                rc = err_set(e, ERR_FORMAT, "%s: tensor %s has %llu bytes, its shape needs %llu", x->file,
                             want, (unsigned long long)x->nbytes,
                             (unsigned long long)model_dtype_bytes(x->dtype, want_dims[0] * want_dims[1]));
        }
    }
    if (rc == 0)
        rc = model_alloc_weights(m, s, ns, n_floats, e);
    model_priv *p = m->priv;
    if (rc == 0 && !(p->lin_type = calloc((size_t)m->cfg.n_layers * TF_NLIN, sizeof *p->lin_type)))
        rc = err_set(e, ERR_NOMEM, "out of memory");
    for (int i = 0; i < ns && rc == 0; i++)
        if (s[i].what >= MS_LIN)
            p->lin_type[s[i].layer * TF_NLIN + s[i].what - MS_LIN] = t[match[i]].dtype;
    for (int i = 0; i < ns && rc == 0; i++) {
        model_src *x = &t[match[i]];
        uint64_t r, c;
        int rh;
        stored_shape(&m->cfg, ls, &s[i], &r, &c, &rh);
        uint64_t n = r * c, R = (uint64_t)s[i].rows, C = (uint64_t)s[i].cols;
        /* a smaller stored matrix goes to the front of the full one, zeros after */
        float *dst = n == R * C ? s[i].dst : malloc((n ? n : 1) * sizeof *dst);
        if (!dst) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            break;
        }
        rc = model_convert(dst, x->data, n, x->dtype, x->file, x->name, e);
        if (rc == 0 && tscale[i] >= 0) {
            float ts;
            memcpy(&ts, t[tscale[i]].data, 4);
            for (uint64_t k = 0; k < n; k++)
                dst[k] *= ts;
        }
        if (rc == 0 && unpermute_qk && rh > 0 && model_rows_interleaved_to_half(dst, (int64_t)r, (int64_t)c, rh) < 0)
            rc = err_set(e, ERR_NOMEM, "out of memory");
        if (dst != s[i].dst) {
            memset(s[i].dst, 0, R * C * sizeof *dst);
            for (uint64_t y = 0; rc == 0 && y < r; y++)
                memcpy(s[i].dst + y * C, dst + y * c, c * sizeof *dst);
            free(dst);
        }
    }
    free(match);
    free(s);
    return rc;
}
