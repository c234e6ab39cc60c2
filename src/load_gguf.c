/* GGUF v3 files (little-endian): architectures llama and qwen3, F32/F16/BF16
 * tensors. llama's q/k rows, permuted by llama.cpp's converter for its
 * interleaved RoPE, are put back in HF order so every llama model loads with
 * TF_ROPE_HALF and the same weights whatever the file format. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "src/model_priv.h"

enum { GT_U8 = 0, GT_I8, GT_U16, GT_I16, GT_U32, GT_I32, GT_F32, GT_BOOL, GT_STRING, GT_ARRAY,
       GT_U64, GT_I64, GT_F64, GT_N };
enum { GGML_F32 = 0, GGML_F16 = 1, GGML_BF16 = 30 };

typedef struct cursor {
    const file_map *f;
    uint64_t pos;
    mx_error *e;
} cursor;

typedef struct gkv {
    const char *key; /* points into the map; not NUL-terminated */
    uint64_t key_len;
    uint32_t type;
    uint64_t val;    /* offset of the value */
    uint32_t arr_type;
    uint64_t arr_n;
} gkv;

static int need(cursor *c, uint64_t n, const char *what)
{
    if (fm_has(c->f, c->pos, n))
        return 0;
    return err_set(c->e, ERR_FORMAT, "%s: truncated: %s needs %llu bytes at offset %llu, file has %llu",
                   c->f->path, what, (unsigned long long)n, (unsigned long long)c->pos,
                   (unsigned long long)c->f->size);
}

static int rd32(cursor *c, uint32_t *v, const char *what)
{
    if (need(c, 4, what) < 0)
        return ERR_FORMAT;
    *v = fm_le32(c->f->data + c->pos);
    c->pos += 4;
    return 0;
}

static int rd64(cursor *c, uint64_t *v, const char *what)
{
    if (need(c, 8, what) < 0)
        return ERR_FORMAT;
    *v = fm_le64(c->f->data + c->pos);
    c->pos += 8;
    return 0;
}

/* A GGUF string: uint64 length + bytes. */
static int rdstr(cursor *c, const char **s, uint64_t *len, const char *what)
{
    if (rd64(c, len, what) < 0 || need(c, *len, what) < 0)
        return ERR_FORMAT;
    *s = (const char *)c->f->data + c->pos;
    c->pos += *len;
    return 0;
}

static uint64_t scalar_size(uint32_t t)
{
    static const uint8_t sz[GT_N] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return t < GT_N ? sz[t] : 0;
}

/* Skip one value of type t (arrays recursively, depth-limited). */
static int skip_value(cursor *c, uint32_t t, int depth)
{
    if (t >= GT_N)
        return err_set(c->e, ERR_FORMAT, "%s: bad metadata value type %u at offset %llu", c->f->path, t,
                       (unsigned long long)c->pos);
    if (t == GT_STRING) {
        const char *s;
        uint64_t n;
        return rdstr(c, &s, &n, "metadata string");
    }
    if (t != GT_ARRAY) {
        if (need(c, scalar_size(t), "metadata value") < 0)
            return ERR_FORMAT;
        c->pos += scalar_size(t);
        return 0;
    }
    if (depth > 8)
        return err_set(c->e, ERR_FORMAT, "%s: metadata arrays nested too deeply", c->f->path);
    uint32_t at;
    uint64_t n;
    if (rd32(c, &at, "array type") < 0 || rd64(c, &n, "array length") < 0)
        return ERR_FORMAT;
    if (at >= GT_N)
        return err_set(c->e, ERR_FORMAT, "%s: bad metadata array type %u", c->f->path, at);
    if (at != GT_STRING && at != GT_ARRAY) {
        uint64_t bytes;
        if (!fm_mul(n, scalar_size(at), &bytes) || need(c, bytes, "metadata array") < 0)
            return err_set(c->e, ERR_FORMAT, "%s: truncated: metadata array of %llu elements at offset "
                           "%llu runs past the end of the file (%llu bytes)", c->f->path,
                           (unsigned long long)n, (unsigned long long)c->pos,
                           (unsigned long long)c->f->size);
        c->pos += bytes;
        return 0;
    }
    /* Every element takes at least 8 bytes, so a lying count fails fast. */
    if (n > (c->f->size - c->pos) / 8)
        return err_set(c->e, ERR_FORMAT, "%s: truncated: metadata array of %llu elements at offset %llu "
                       "cannot fit in the file (%llu bytes)", c->f->path, (unsigned long long)n,
                       (unsigned long long)c->pos, (unsigned long long)c->f->size);
    for (uint64_t i = 0; i < n; i++)
        if (skip_value(c, at, depth + 1) < 0)
            return ERR_FORMAT;
    return 0;
}

typedef struct gguf {
    const file_map *f;
    gkv *kv;
    uint64_t n_kv;
    char arch[32];
} gguf;

static const gkv *find_kv(const gguf *g, const char *key)
{
    size_t n = strlen(key);
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (g->kv[i].key_len == n && !memcmp(g->kv[i].key, key, n))
            return &g->kv[i];
    return NULL;
}

/* An integer-typed value as int64 (unsigned 64-bit values above INT64_MAX fail). */
static int kv_int(const gguf *g, const gkv *k, int64_t *out)
{
    const uint8_t *p = g->f->data + k->val;
    switch (k->type) {
    case GT_U8: *out = p[0]; return 0;
    case GT_I8: *out = (int8_t)p[0]; return 0;
    case GT_U16: *out = (uint16_t)(p[0] | p[1] << 8); return 0;
    case GT_I16: *out = (int16_t)(uint16_t)(p[0] | p[1] << 8); return 0;
    case GT_U32: *out = fm_le32(p); return 0;
    case GT_I32: *out = (int32_t)fm_le32(p); return 0;
    case GT_U64: if (fm_le64(p) > INT64_MAX) return -1; *out = (int64_t)fm_le64(p); return 0;
    case GT_I64: *out = (int64_t)fm_le64(p); return 0;
    default: return -1;
    }
}

/* `arch.suffix` as an int in [0, INT32_MAX]; def = INT32_MIN means required. */
static int get_int(const gguf *g, const char *suffix, int def, int *out, mx_error *e)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", g->arch, suffix);
    const gkv *k = find_kv(g, key);
    if (!k) {
        if (def == INT32_MIN)
            return err_set(e, ERR_FORMAT, "%s: missing metadata key %s", g->f->path, key);
        *out = def;
        return 0;
    }
    if (k->type == GT_ARRAY)
        return err_set(e, ERR_FORMAT, "%s: %s is a per-layer array: not supported", g->f->path, key);
    int64_t v;
    if (kv_int(g, k, &v) < 0 || v < 0 || v > INT32_MAX)
        return err_set(e, ERR_FORMAT, "%s: %s must be a non-negative integer", g->f->path, key);
    *out = (int)v;
    return 0;
}

static int get_float(const gguf *g, const char *suffix, float def, float *out, mx_error *e)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", g->arch, suffix);
    const gkv *k = find_kv(g, key);
    if (!k) {
        *out = def;
        return 0;
    }
    const uint8_t *p = g->f->data + k->val;
    if (k->type == GT_F32) {
        uint32_t b = fm_le32(p);
        memcpy(out, &b, 4);
    } else if (k->type == GT_F64) {
        uint64_t b = fm_le64(p);
        double d;
        memcpy(&d, &b, 8);
        *out = (float)d;
    } else {
        int64_t v;
        if (kv_int(g, k, &v) < 0)
            return err_set(e, ERR_FORMAT, "%s: %s must be a number", g->f->path, key);
        *out = (float)v;
    }
    return 0;
}

/* Grow *p to hold more elements (doubling, at most max); 0 or -1. */
static int grow(void **p, uint64_t *cap, uint64_t max, size_t size)
{
    uint64_t nc = *cap ? 2 * *cap : 64;
    if (nc > max)
        nc = max;
    void *q = realloc(*p, (size_t)nc * size);
    if (!q)
        return -1;
    *p = q;
    *cap = nc;
    return 0;
}

static const char *ggml_type_name(uint32_t t)
{
    static const char *const names[] = {"F32", "F16", "Q4_0", "Q4_1", "Q4_2", "Q4_3", "Q5_0", "Q5_1",
                                        "Q8_0", "Q8_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K"};
    if (t < sizeof names / sizeof names[0])
        return names[t];
    return t == GGML_BF16 ? "BF16" : "a quantized type";
}

int model_load_gguf(const char *path, model *m, mx_error *e)
{
    file_map f;
    int rc = fm_open(&f, path, e);
    if (rc < 0)
        return rc;
    cursor c = {&f, 0, e};
    gguf g = {&f, NULL, 0, ""};
    model_src *t = NULL;
    uint32_t magic, version;
    uint64_t n_tensors = 0, n_kv;
    if ((rc = rd32(&c, &magic, "GGUF magic")) < 0 || (rc = rd32(&c, &version, "GGUF version")) < 0)
        goto out;
    if (version != 3) {
        rc = err_set(e, ERR_FORMAT, "%s: GGUF version %u not supported (only 3)", path, version);
        goto out;
    }
    if ((rc = rd64(&c, &n_tensors, "tensor count")) < 0 || (rc = rd64(&c, &n_kv, "metadata count")) < 0)
        goto out;
    /* A key/value pair takes at least 13 bytes and a tensor info 28. */
    if (n_kv > f.size / 13 || n_tensors > f.size / 28 || n_tensors > (1u << 24)) {
        rc = err_set(e, ERR_FORMAT, "%s: header claims %llu metadata entries and %llu tensors, more "
                     "than a %llu-byte file can hold", path, (unsigned long long)n_kv,
                     (unsigned long long)n_tensors, (unsigned long long)f.size);
        goto out;
    }
    /* Arrays grow as entries parse, so a lying count costs no memory. */
    uint64_t kv_cap = 0, t_cap = 0;
    for (uint64_t i = 0; i < n_kv; i++) {
        if (i == kv_cap && grow((void **)&g.kv, &kv_cap, n_kv, sizeof *g.kv) < 0) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        gkv *k = &g.kv[i];
        if ((rc = rdstr(&c, &k->key, &k->key_len, "metadata key")) < 0 ||
            (rc = rd32(&c, &k->type, "metadata type")) < 0)
            goto out;
        k->val = c.pos;
        if (k->type == GT_ARRAY && fm_has(&f, c.pos, 12)) {
            k->arr_type = fm_le32(f.data + c.pos);
            k->arr_n = fm_le64(f.data + c.pos + 4);
        }
        if ((rc = skip_value(&c, k->type, 0)) < 0)
            goto out;
        g.n_kv = i + 1;
    }
    const gkv *ak = find_kv(&g, "general.architecture");
    if (!ak || ak->type != GT_STRING) {
        rc = err_set(e, ERR_FORMAT, "%s: no general.architecture string", path);
        goto out;
    }
    uint64_t alen = fm_le64(f.data + ak->val);
    const char *astr = (const char *)f.data + ak->val + 8;
    if (alen == 5 && !memcmp(astr, "llama", 5)) {
        m->arch = MODEL_ARCH_LLAMA;
    } else if (alen == 5 && !memcmp(astr, "qwen3", 5)) {
        m->arch = MODEL_ARCH_QWEN3;
    } else {
        rc = err_set(e, ERR_FORMAT, "%s: architecture %.*s not supported (supported: llama, qwen3)", path,
                     (int)(alen > 40 ? 40 : alen), astr);
        goto out;
    }
    snprintf(g.arch, sizeof g.arch, "%.5s", astr);
    snprintf(m->arch_name, sizeof m->arch_name, "%s", g.arch);
    uint64_t align = 32;
    const gkv *al = find_kv(&g, "general.alignment");
    if (al) {
        int64_t v;
        if (kv_int(&g, al, &v) < 0 || v < 1 || v > (1 << 20) || (v & (v - 1))) {
            rc = err_set(e, ERR_FORMAT, "%s: general.alignment must be a power of two", path);
            goto out;
        }
        align = (uint64_t)v;
    }
    /* Tensor infos; data offsets are relative to the aligned data section. */
    uint64_t *offs = NULL, offs_cap = 0;
    for (uint64_t i = 0; i < n_tensors && rc == 0; i++) {
        const char *name;
        if (i == t_cap) {
            uint64_t oc = offs_cap;
            if (grow((void **)&t, &t_cap, n_tensors, sizeof *t) < 0 ||
                grow((void **)&offs, &oc, n_tensors, sizeof *offs) < 0) {
                rc = err_set(e, ERR_NOMEM, "out of memory");
                break;
            }
            offs_cap = oc;
            memset(t + i, 0, (size_t)(t_cap - i) * sizeof *t);
        }
        uint64_t nlen;
        uint32_t nd, type;
        if ((rc = rdstr(&c, &name, &nlen, "tensor name")) < 0)
            break;
        if (nlen >= sizeof t[i].name) {
            rc = err_set(e, ERR_FORMAT, "%s: tensor name of %llu bytes is too long", path,
                         (unsigned long long)nlen);
            break;
        }
        memcpy(t[i].name, name, (size_t)nlen);
        t[i].name[nlen] = '\0';
        if ((rc = rd32(&c, &nd, "tensor rank")) < 0)
            break;
        if (nd < 1 || nd > 4) {
            rc = err_set(e, ERR_FORMAT, "%s: tensor %s has %u dimensions (1 to 4 supported)", path,
                         t[i].name, nd);
            break;
        }
        t[i].n_dims = (int)nd;
        uint64_t ne[4], n = 1;
        for (uint32_t d = 0; d < nd && rc == 0; d++) {
            if ((rc = rd64(&c, &ne[d], "tensor dimension")) < 0)
                break;
            if (!fm_mul(n, ne[d], &n))
                rc = err_set(e, ERR_FORMAT, "%s: tensor %s: dimensions overflow", path, t[i].name);
        }
        if (rc < 0 || (rc = rd32(&c, &type, "tensor type")) < 0 || (rc = rd64(&c, &offs[i], "tensor offset")) < 0)
            break;
        /* GGUF lists the fastest-varying dimension first; store row-major. */
        for (uint32_t d = 0; d < nd; d++)
            t[i].dims[d] = ne[nd - 1 - d];
        t[i].dtype = type == GGML_F32 ? MDT_F32 : type == GGML_F16 ? MDT_F16 : type == GGML_BF16 ? MDT_BF16 : -1;
        snprintf(t[i].dtype_name, sizeof t[i].dtype_name, "%s (ggml type %u)", ggml_type_name(type), type);
        t[i].file = f.path;
        if (t[i].dtype >= 0 && !fm_mul(n, model_dtype_size(t[i].dtype), &t[i].nbytes))
            rc = err_set(e, ERR_FORMAT, "%s: tensor %s: size overflows", path, t[i].name);
        if (offs[i] % align)
            rc = err_set(e, ERR_FORMAT, "%s: tensor %s: offset %llu not aligned to %llu", path, t[i].name,
                         (unsigned long long)offs[i], (unsigned long long)align);
    }
    uint64_t data_start = (c.pos + align - 1) / align * align;
    for (uint64_t i = 0; i < n_tensors && rc == 0; i++) {
        uint64_t at;
        if (t[i].dtype < 0)
            continue; /* rejected by model_fill if the model needs it */
        if (!fm_add(data_start, offs[i], &at) || !fm_has(&f, at, t[i].nbytes))
            rc = err_set(e, ERR_FORMAT, "%s: truncated: tensor %s needs %llu bytes at offset %llu, "
                         "file has %llu", path, t[i].name, (unsigned long long)t[i].nbytes,
                         (unsigned long long)(data_start + offs[i]), (unsigned long long)f.size);
        else
            t[i].data = f.data + at;
    }
    free(offs);
    if (rc < 0)
        goto out;
    tf_config *cf = &m->cfg;
    memset(cf, 0, sizeof *cf);
    if ((rc = get_int(&g, "embedding_length", INT32_MIN, &cf->dim, e)) < 0 ||
        (rc = get_int(&g, "block_count", INT32_MIN, &cf->n_layers, e)) < 0 ||
        (rc = get_int(&g, "feed_forward_length", INT32_MIN, &cf->hidden_dim, e)) < 0 ||
        (rc = get_int(&g, "attention.head_count", INT32_MIN, &cf->n_heads, e)) < 0 ||
        (rc = get_int(&g, "attention.head_count_kv", cf->n_heads, &cf->n_kv_heads, e)) < 0 ||
        (rc = get_int(&g, "context_length", 2048, &cf->max_seq, e)) < 0 ||
        (rc = get_float(&g, "attention.layer_norm_rms_epsilon", 1e-5f, &cf->norm_eps, e)) < 0 ||
        (rc = get_float(&g, "rope.freq_base", 10000.0f, &cf->rope_theta, e)) < 0)
        goto out;
    if (cf->n_heads < 1) {
        rc = err_set(e, ERR_FORMAT, "%s: %s.attention.head_count must be positive", path, g.arch);
        goto out;
    }
    if ((rc = get_int(&g, "attention.key_length", cf->dim / cf->n_heads, &cf->head_dim, e)) < 0)
        goto out;
    int rot = cf->head_dim;
    if ((rc = get_int(&g, "rope.dimension_count", cf->head_dim, &rot, e)) < 0)
        goto out;
    if (rot != cf->head_dim) {
        rc = err_set(e, ERR_FORMAT, "%s: partial rotary embedding (%d of %d dims) not supported", path, rot,
                     cf->head_dim);
        goto out;
    }
    char key[64];
    snprintf(key, sizeof key, "%s.rope.scaling.type", g.arch);
    const gkv *sk = find_kv(&g, key);
    if (sk && !(sk->type == GT_STRING && fm_le64(f.data + sk->val) == 4 &&
                !memcmp(f.data + sk->val + 8, "none", 4))) {
        rc = err_set(e, ERR_FORMAT, "%s: rope scaling is not supported", path);
        goto out;
    }
    /* The vocabulary size is the embedding's row count. */
    int tied = 1;
    cf->vocab_size = 0;
    for (uint64_t i = 0; i < n_tensors; i++) {
        if (!strcmp(t[i].name, "token_embd.weight") && t[i].n_dims == 2)
            cf->vocab_size = t[i].dims[0] <= INT32_MAX ? (int)t[i].dims[0] : -1;
        if (!strcmp(t[i].name, "output.weight"))
            tied = 0;
    }
    if (cf->vocab_size == 0) {
        rc = err_set(e, ERR_FORMAT, "%s: missing 2-D tensor token_embd.weight", path);
        goto out;
    }
    cf->rope_style = TF_ROPE_HALF;
    cf->qk_norm = m->arch == MODEL_ARCH_QWEN3;
    if ((rc = model_check_cfg(cf, path, e)) < 0)
        goto out;
    for (uint64_t i = 0; i < n_tensors; i++)
        if (!strcmp(t[i].name, "rope_freqs.weight")) {
            rc = err_set(e, ERR_FORMAT, "%s: rope_freqs.weight (RoPE frequency scaling) not supported", path);
            goto out;
        }
    rc = model_fill(m, tied, t, (int)n_tensors, 1, m->arch == MODEL_ARCH_LLAMA, path, e);
    if (rc < 0)
        goto out;
    m->file_kind = MODEL_FILE_GGUF;
    m->content_hash = XXH64(f.data, (size_t)f.size, 0);
out:
    free(g.kv);
    free(t);
    fm_close(&f);
    return rc;
}
