/* GGUF v2/v3 reader: the header, metadata and tensor infos of a mapped file
 * (layout: magic "GGUF", u32 version, u64 tensor count, u64 metadata count,
 * key/value pairs, tensor infos, padding to general.alignment, data). */
#include "src/gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ggml_quant.h"

typedef struct cursor {
    const file_map *f;
    uint64_t pos;
    mx_error *e;
} cursor;

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

/* A GGUF string: u64 length + bytes. */
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
    static const uint8_t sz[GGUF_NTYPES] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return t < GGUF_NTYPES ? sz[t] : 0;
}

const char *gguf_vtype_name(uint32_t t)
{
    static const char *const n[GGUF_NTYPES] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool",
                                               "string", "array", "u64", "i64", "f64"};
    return t < GGUF_NTYPES ? n[t] : "invalid";
}

/* Skip one value of type t (arrays recursively, depth-limited). */
static int skip_value(cursor *c, uint32_t t, int depth)
{
    if (t >= GGUF_NTYPES)
        return err_set(c->e, ERR_FORMAT, "%s: bad metadata value type %u at offset %llu", c->f->path, t,
                       (unsigned long long)c->pos);
    if (t == GGUF_STRING) {
        const char *s;
        uint64_t n;
        return rdstr(c, &s, &n, "metadata string");
    }
    if (t != GGUF_ARRAY) {
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
    if (at >= GGUF_NTYPES)
        return err_set(c->e, ERR_FORMAT, "%s: bad metadata array type %u", c->f->path, at);
    if (at != GGUF_STRING && at != GGUF_ARRAY) {
        uint64_t bytes;
        if (!fm_mul(n, scalar_size(at), &bytes) || !fm_has(c->f, c->pos, bytes))
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

static int parse_tensor(cursor *c, gguf_tensor *t)
{
    const char *path = c->f->path, *name;
    uint64_t nlen;
    uint32_t nd;
    int rc;
    if ((rc = rdstr(c, &name, &nlen, "tensor name")) < 0)
        return rc;
    if (nlen >= sizeof t->name)
        return err_set(c->e, ERR_FORMAT, "%s: tensor name of %llu bytes is too long", path,
                       (unsigned long long)nlen);
    memcpy(t->name, name, (size_t)nlen);
    t->name[nlen] = '\0';
    if (memchr(t->name, '\0', (size_t)nlen))
        return err_set(c->e, ERR_FORMAT, "%s: a tensor name contains a NUL byte", path);
    if ((rc = rd32(c, &nd, "tensor rank")) < 0)
        return rc;
    if (nd < 1 || nd > 4)
        return err_set(c->e, ERR_FORMAT, "%s: tensor %s has %u dimensions (1 to 4 supported)", path,
                       t->name, nd);
    t->n_dims = (int)nd;
    uint64_t n = 1;
    for (uint32_t d = 0; d < nd; d++) {
        if ((rc = rd64(c, &t->ne[d], "tensor dimension")) < 0)
            return rc;
        if (!fm_mul(n, t->ne[d], &n))
            return err_set(c->e, ERR_FORMAT, "%s: tensor %s: dimensions overflow", path, t->name);
    }
    if ((rc = rd32(c, &t->type, "tensor type")) < 0 || (rc = rd64(c, &t->offset, "tensor offset")) < 0)
        return rc;
    const gq_traits *q = gq_traits_of(t->type);
    t->nbytes = 0;
    if (q) {
        if (t->ne[0] % (uint64_t)q->block)
            return err_set(c->e, ERR_FORMAT, "%s: tensor %s: row length %llu is not a multiple of the "
                           "%s block size %d", path, t->name, (unsigned long long)t->ne[0], q->name,
                           q->block);
        if (n && !(t->nbytes = gq_row_bytes(q, n)))
            return err_set(c->e, ERR_FORMAT, "%s: tensor %s: size overflows", path, t->name);
    }
    return 0;
}

int gguf_open(gguf_file *g, const char *path, mx_error *e)
{
    memset(g, 0, sizeof *g);
    int rc = fm_open(&g->f, path, e);
    if (rc < 0)
        return rc;
    cursor c = {&g->f, 0, e};
    uint32_t magic;
    uint64_t n_kv, n_t;
    if ((rc = rd32(&c, &magic, "GGUF magic")) < 0 || (rc = rd32(&c, &g->version, "GGUF version")) < 0)
        goto fail;
    if (memcmp(g->f.data, "GGUF", 4)) {
        rc = err_set(e, ERR_FORMAT, "%s: not a GGUF file (bad magic)", path);
        goto fail;
    }
    if (g->version == 1) {
        rc = err_set(e, ERR_FORMAT, "%s: GGUF version 1 is not supported (an early 2023 format with "
                     "32-bit counts; convert the model again with a current llama.cpp)", path);
        goto fail;
    }
    if ((g->version & 0xffff) == 0 && g->version >> 16) {
        rc = err_set(e, ERR_FORMAT, "%s: big-endian GGUF files are not supported", path);
        goto fail;
    }
    if (g->version != 2 && g->version != 3) {
        rc = err_set(e, ERR_FORMAT, "%s: GGUF version %u not supported (versions 2 and 3 are)", path,
                     g->version);
        goto fail;
    }
    if ((rc = rd64(&c, &n_t, "tensor count")) < 0 || (rc = rd64(&c, &n_kv, "metadata count")) < 0)
        goto fail;
    /* A key/value pair takes at least 13 bytes and a tensor info 28. */
    if (n_kv > g->f.size / 13 || n_t > g->f.size / 28 || n_t > (1u << 24)) {
        rc = err_set(e, ERR_FORMAT, "%s: header claims %llu metadata entries and %llu tensors, more "
                     "than a %llu-byte file can hold", path, (unsigned long long)n_kv,
                     (unsigned long long)n_t, (unsigned long long)g->f.size);
        goto fail;
    }
    /* Arrays grow as entries parse, so a lying count costs no memory. */
    uint64_t cap = 0;
    for (uint64_t i = 0; i < n_kv; i++) {
        if (i == cap && grow((void **)&g->kv, &cap, n_kv, sizeof *g->kv) < 0) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto fail;
        }
        gguf_kv *k = &g->kv[i];
        memset(k, 0, sizeof *k);
        if ((rc = rdstr(&c, &k->key, &k->key_len, "metadata key")) < 0 ||
            (rc = rd32(&c, &k->type, "metadata type")) < 0)
            goto fail;
        k->val = c.pos;
        if (k->type == GGUF_ARRAY && fm_has(&g->f, c.pos, 12)) {
            k->arr_type = fm_le32(g->f.data + c.pos);
            k->arr_n = fm_le64(g->f.data + c.pos + 4);
            k->val = c.pos + 12;
        }
        if ((rc = skip_value(&c, k->type, 0)) < 0)
            goto fail;
        g->n_kv = i + 1;
    }
    g->align = 32;
    const gguf_kv *al = gguf_find(g, "general.alignment");
    if (al) {
        int64_t v;
        if (gguf_int(g, al, &v) < 0 || v < 1 || v > (1 << 20) || (v & (v - 1))) {
            rc = err_set(e, ERR_FORMAT, "%s: general.alignment must be a power of two", path);
            goto fail;
        }
        g->align = (uint64_t)v;
    }
    cap = 0;
    for (uint64_t i = 0; i < n_t; i++) {
        if (i == cap && grow((void **)&g->t, &cap, n_t, sizeof *g->t) < 0) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto fail;
        }
        memset(&g->t[i], 0, sizeof g->t[i]);
        g->n_tensors = i + 1;
        if ((rc = parse_tensor(&c, &g->t[i])) < 0)
            goto fail;
        if (g->t[i].offset % g->align) {
            rc = err_set(e, ERR_FORMAT, "%s: tensor %s: offset %llu not aligned to %llu", path,
                         g->t[i].name, (unsigned long long)g->t[i].offset, (unsigned long long)g->align);
            goto fail;
        }
    }
    g->data_start = (c.pos + g->align - 1) / g->align * g->align;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        gguf_tensor *t = &g->t[i];
        uint64_t at;
        if (!fm_add(g->data_start, t->offset, &at) || (t->nbytes && !fm_has(&g->f, at, t->nbytes))) {
            rc = err_set(e, ERR_FORMAT, "%s: truncated: tensor %s needs %llu bytes at offset %llu, "
                         "file has %llu", path, t->name, (unsigned long long)t->nbytes,
                         (unsigned long long)(g->data_start + t->offset), (unsigned long long)g->f.size);
            goto fail;
        }
        t->offset = at;
    }
    return 0;
fail:
    gguf_close(g);
    return rc;
}

void gguf_close(gguf_file *g)
{
    free(g->kv);
    free(g->t);
    fm_close(&g->f);
    g->kv = NULL;
    g->t = NULL;
    g->n_kv = g->n_tensors = 0;
}

const gguf_kv *gguf_find(const gguf_file *g, const char *key)
{
    size_t n = strlen(key);
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (g->kv[i].key_len == n && !memcmp(g->kv[i].key, key, n))
            return &g->kv[i];
    return NULL;
}

const gguf_tensor *gguf_tensor_find(const gguf_file *g, const char *name)
{
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (!strcmp(g->t[i].name, name))
            return &g->t[i];
    return NULL;
}

/* One integer element of type t at p; -1 if t is not an integer type. */
static int int_at(const uint8_t *p, uint32_t t, int64_t *out)
{
    switch (t) {
    case GGUF_U8: case GGUF_BOOL: *out = p[0]; return 0;
    case GGUF_I8: *out = (int8_t)p[0]; return 0;
    case GGUF_U16: *out = (uint16_t)(p[0] | p[1] << 8); return 0;
    case GGUF_I16: *out = (int16_t)(uint16_t)(p[0] | p[1] << 8); return 0;
    case GGUF_U32: *out = fm_le32(p); return 0;
    case GGUF_I32: *out = (int32_t)fm_le32(p); return 0;
    case GGUF_U64: if (fm_le64(p) > INT64_MAX) return -1; *out = (int64_t)fm_le64(p); return 0;
    case GGUF_I64: *out = (int64_t)fm_le64(p); return 0;
    default: return -1;
    }
}

static int float_at(const uint8_t *p, uint32_t t, double *out)
{
    if (t == GGUF_F32) {
        uint32_t b = fm_le32(p);
        float f;
        memcpy(&f, &b, 4);
        *out = f;
        return 0;
    }
    if (t == GGUF_F64) {
        uint64_t b = fm_le64(p);
        memcpy(out, &b, 8);
        return 0;
    }
    int64_t v;
    if (int_at(p, t, &v) < 0)
        return -1;
    *out = (double)v;
    return 0;
}

int gguf_int(const gguf_file *g, const gguf_kv *k, int64_t *out)
{
    return int_at(g->f.data + k->val, k->type, out);
}

int gguf_float(const gguf_file *g, const gguf_kv *k, double *out)
{
    return float_at(g->f.data + k->val, k->type, out);
}

int gguf_str(const gguf_file *g, const gguf_kv *k, const char **s, uint64_t *len)
{
    if (k->type != GGUF_STRING)
        return -1;
    *len = fm_le64(g->f.data + k->val);
    *s = (const char *)g->f.data + k->val + 8;
    return 0;
}

int gguf_strings(const gguf_file *g, const gguf_kv *k, const char **s, size_t *len)
{
    if (k->type != GGUF_ARRAY || k->arr_type != GGUF_STRING)
        return -1;
    uint64_t pos = k->val; /* every string was bounds-checked by gguf_open */
    for (uint64_t i = 0; i < k->arr_n; i++) {
        uint64_t n = fm_le64(g->f.data + pos);
        s[i] = (const char *)g->f.data + pos + 8;
        len[i] = (size_t)n;
        pos += 8 + n;
    }
    return 0;
}

int gguf_ints(const gguf_file *g, const gguf_kv *k, int *out)
{
    if (k->type != GGUF_ARRAY)
        return -1;
    uint64_t sz = scalar_size(k->arr_type);
    for (uint64_t i = 0; i < k->arr_n; i++) {
        int64_t v;
        if (k->arr_type == GGUF_STRING || k->arr_type == GGUF_ARRAY ||
            int_at(g->f.data + k->val + i * sz, k->arr_type, &v) < 0 || v < INT32_MIN || v > INT32_MAX)
            return -1;
        out[i] = (int)v;
    }
    return 0;
}

int gguf_floats(const gguf_file *g, const gguf_kv *k, float *out)
{
    if (k->type != GGUF_ARRAY)
        return -1;
    uint64_t sz = scalar_size(k->arr_type);
    for (uint64_t i = 0; i < k->arr_n; i++) {
        double v;
        if (k->arr_type == GGUF_STRING || k->arr_type == GGUF_ARRAY ||
            float_at(g->f.data + k->val + i * sz, k->arr_type, &v) < 0)
            return -1;
        out[i] = (float)v;
    }
    return 0;
}

int gguf_kv_raw(const gguf_file *g, const gguf_kv *k, const uint8_t **p, uint64_t *len)
{
    uint64_t start = k->type == GGUF_ARRAY ? k->val - 12 : k->val;
    if (k->type == GGUF_ARRAY && k->val < 12)
        return -1;
    cursor c = {&g->f, start, NULL};
    if (skip_value(&c, k->type, 0) < 0)
        return -1;
    *p = g->f.data + start;
    *len = c.pos - start;
    return 0;
}
