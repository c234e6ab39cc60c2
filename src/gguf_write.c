/* GGUF v3 writer (layout as src/gguf.c reads it: magic, version, tensor and
 * metadata counts, key/values, tensor infos, padding to GW_ALIGN, data with
 * every tensor starting GW_ALIGN-aligned). Little-endian hosts only, like
 * the reader. */
#include "src/gguf_write.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/ggml_quant.h"
#include "src/file_write.h"
#include "src/gguf.h"

void gw_init(gguf_writer *w)
{
    memset(w, 0, sizeof *w);
}

void gw_free(gguf_writer *w)
{
    for (size_t i = 0; i < w->n_t; i++) {
        free(w->t[i].name);
        free(w->t[i].data);
    }
    free(w->t);
    free(w->kv);
    memset(w, 0, sizeof *w);
}

static int put(gguf_writer *w, const void *p, size_t n)
{
    if (w->failed)
        return ERR_NOMEM;
    if (w->kv_len + n > w->kv_cap) {
        size_t cap = w->kv_cap ? w->kv_cap : 4096;
        while (cap < w->kv_len + n)
            cap *= 2;
        uint8_t *k = realloc(w->kv, cap);
        if (!k) {
            w->failed = 1;
            return ERR_NOMEM;
        }
        w->kv = k;
        w->kv_cap = cap;
    }
    memcpy(w->kv + w->kv_len, p, n);
    w->kv_len += n;
    return 0;
}

static int put32(gguf_writer *w, uint32_t v)
{
    return put(w, &v, 4);
}

static int put64(gguf_writer *w, uint64_t v)
{
    return put(w, &v, 8);
}

static int put_str(gguf_writer *w, const char *s, size_t n)
{
    return put64(w, n) < 0 || put(w, s, n) < 0 ? ERR_NOMEM : 0;
}

static int key(gguf_writer *w, const char *k, uint32_t type)
{
    if (put_str(w, k, strlen(k)) < 0 || put32(w, type) < 0)
        return ERR_NOMEM;
    w->n_kv++;
    return 0;
}

int gw_str(gguf_writer *w, const char *k, const char *s)
{
    return key(w, k, GGUF_STRING) < 0 || put_str(w, s, strlen(s)) < 0 ? ERR_NOMEM : 0;
}

int gw_u32(gguf_writer *w, const char *k, uint32_t v)
{
    return key(w, k, GGUF_U32) < 0 || put32(w, v) < 0 ? ERR_NOMEM : 0;
}

int gw_i32(gguf_writer *w, const char *k, int32_t v)
{
    return key(w, k, GGUF_I32) < 0 || put32(w, (uint32_t)v) < 0 ? ERR_NOMEM : 0;
}

int gw_f32(gguf_writer *w, const char *k, float v)
{
    return key(w, k, GGUF_F32) < 0 || put(w, &v, 4) < 0 ? ERR_NOMEM : 0;
}

int gw_bool(gguf_writer *w, const char *k, int v)
{
    uint8_t b = v != 0;
    return key(w, k, GGUF_BOOL) < 0 || put(w, &b, 1) < 0 ? ERR_NOMEM : 0;
}

int gw_arr_str(gguf_writer *w, const char *k, size_t n, const char *const *s, const size_t *lens)
{
    if (key(w, k, GGUF_ARRAY) < 0 || put32(w, GGUF_STRING) < 0 || put64(w, n) < 0)
        return ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        if (put_str(w, s[i], lens ? lens[i] : strlen(s[i])) < 0)
            return ERR_NOMEM;
    return 0;
}

int gw_arr_f32(gguf_writer *w, const char *k, size_t n, const float *v)
{
    return key(w, k, GGUF_ARRAY) < 0 || put32(w, GGUF_F32) < 0 || put64(w, n) < 0 ||
                   put(w, v, n * 4) < 0 ? ERR_NOMEM : 0;
}

int gw_arr_i32(gguf_writer *w, const char *k, size_t n, const int32_t *v)
{
    return key(w, k, GGUF_ARRAY) < 0 || put32(w, GGUF_I32) < 0 || put64(w, n) < 0 ||
                   put(w, v, n * 4) < 0 ? ERR_NOMEM : 0;
}

int gw_raw(gguf_writer *w, const char *k, uint32_t type, const void *val, size_t len)
{
    return key(w, k, type) < 0 || put(w, val, len) < 0 ? ERR_NOMEM : 0;
}

int gw_tensor(gguf_writer *w, const char *name, uint32_t type, int n_dims, const uint64_t *ne,
              const void *data, uint64_t nbytes, mx_error *e)
{
    const gq_traits *q = gq_traits_of(type);
    uint64_t n = 1;
    if (!q || n_dims < 1 || n_dims > 4)
        return err_set(e, ERR_ARG, "tensor %s: bad type %u or %d dimensions", name, type, n_dims);
    for (int d = 0; d < n_dims; d++)
        n *= ne[d];
    if (ne[0] % (uint64_t)q->block || gq_row_bytes(q, n) != nbytes)
        return err_set(e, ERR_ARG, "tensor %s: %llu bytes do not hold %llu %s elements in rows of %llu",
                       name, (unsigned long long)nbytes, (unsigned long long)n, q->name,
                       (unsigned long long)ne[0]);
    if (w->n_t == w->cap_t) {
        size_t cap = w->cap_t ? 2 * w->cap_t : 64;
        gw_tensor_rec *t = realloc(w->t, cap * sizeof *t);
        if (!t)
            return err_set(e, ERR_NOMEM, "out of memory");
        w->t = t;
        w->cap_t = cap;
    }
    gw_tensor_rec *t = &w->t[w->n_t];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    t->data = malloc(nbytes ? (size_t)nbytes : 1);
    if (!t->name || !t->data) {
        free(t->name);
        free(t->data);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    memcpy(t->data, data, (size_t)nbytes);
    t->n_dims = n_dims;
    for (int d = 0; d < 4; d++)
        t->ne[d] = d < n_dims ? ne[d] : 1;
    t->type = type;
    t->nbytes = nbytes;
    w->n_t++;
    return 0;
}

static uint64_t pad(uint64_t x)
{
    return (x + GW_ALIGN - 1) / GW_ALIGN * GW_ALIGN;
}

/* Header + key/values + tensor infos, unpadded. */
static uint64_t meta_size(const gguf_writer *w)
{
    uint64_t s = 4 + 4 + 8 + 8 + w->kv_len;
    for (size_t i = 0; i < w->n_t; i++)
        s += 8 + strlen(w->t[i].name) + 4 + 8 * (uint64_t)w->t[i].n_dims + 4 + 8;
    return s;
}

uint64_t gw_file_size(const gguf_writer *w)
{
    uint64_t s = pad(meta_size(w));
    for (size_t i = 0; i < w->n_t; i++)
        s = pad(s) + w->t[i].nbytes;
    return s;
}

int gw_write(gguf_writer *w, const char *path, mx_error *e)
{
    if (w->failed)
        return err_set(e, ERR_NOMEM, "%s: out of memory building the file", path);
    uint64_t total = gw_file_size(w);
    uint8_t *buf = calloc(1, (size_t)total);
    if (!buf)
        return err_set(e, ERR_NOMEM, "%s: out of memory (%llu bytes)", path, (unsigned long long)total);
    uint8_t *p = buf;
#define W(src, n) (memcpy(p, (src), (n)), p += (n))
    uint32_t v32 = 3;
    uint64_t v64;
    W("GGUF", 4);
    W(&v32, 4);
    v64 = w->n_t;
    W(&v64, 8);
    W(&w->n_kv, 8);
    W(w->kv, w->kv_len);
    uint64_t off = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        const gw_tensor_rec *t = &w->t[i];
        v64 = strlen(t->name);
        W(&v64, 8);
        W(t->name, v64);
        v32 = (uint32_t)t->n_dims;
        W(&v32, 4);
        W(t->ne, 8 * (size_t)t->n_dims);
        W(&t->type, 4);
        off = pad(off);
        W(&off, 8);
        off += t->nbytes;
    }
#undef W
    uint64_t base = pad((uint64_t)(p - buf));
    off = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        off = pad(off);
        memcpy(buf + base + off, w->t[i].data, (size_t)w->t[i].nbytes);
        off += w->t[i].nbytes;
    }
    int rc = fw_write_atomic(path, buf, (size_t)total, e);
    free(buf);
    return rc;
}
