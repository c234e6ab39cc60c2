/* llama2.c checkpoints: legacy (7 x int32 header) and version 1 ("ak42",
 * 256-byte header). Weights are fp32 little-endian, each kind stacked over
 * all layers; q/k rows are in the interleaved RoPE order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "src/model_priv.h"

#define L2C_MAGIC 0x616b3432u
#define L2C_V1_HEADER 256

/* One stacked tensor of the file: `what` is an MS_* kind (or -1 to skip),
 * `per` floats per layer (n_layers copies) or one copy if !layered. */
typedef struct l2c_part {
    const char *name;
    int what;
    int layered;
    uint64_t per;
} l2c_part;

static model_slot *find_slot(model_slot *s, int n, int what, int layer)
{
    for (int i = 0; i < n; i++)
        if (s[i].what == what && s[i].layer == layer)
            return &s[i];
    return NULL;
}

static int read_header(const file_map *f, tf_config *c, int *shared, int *version, mx_error *e)
{
    const uint8_t *d = f->data;
    int32_t h[7];
    int off;
    if (f->size >= 8 && fm_le32(d) == L2C_MAGIC) {
        int32_t v = (int32_t)fm_le32(d + 4);
        if (v != 1)
            return err_set(e, ERR_FORMAT, "%s: llama2.c checkpoint version %d not supported "
                           "(only fp32 legacy and version 1)", f->path, (int)v);
        if (f->size < L2C_V1_HEADER)
            return err_set(e, ERR_FORMAT, "%s: truncated: llama2.c v1 header needs %d bytes, "
                           "file has %llu", f->path, L2C_V1_HEADER, (unsigned long long)f->size);
        *version = 1;
        off = 8;
    } else {
        if (f->size < 28)
            return err_set(e, ERR_FORMAT, "%s: unrecognized model format: no GGUF or llama2.c "
                           "magic and only %llu bytes", f->path, (unsigned long long)f->size);
        *version = 0;
        off = 0;
    }
    for (int i = 0; i < 7; i++)
        h[i] = (int32_t)fm_le32(d + off + 4 * i);
    memset(c, 0, sizeof *c);
    c->dim = h[0];
    c->hidden_dim = h[1];
    c->n_layers = h[2];
    c->n_heads = h[3];
    c->n_kv_heads = h[4];
    c->max_seq = h[6];
    if (*version == 1) {
        c->vocab_size = h[5];
        uint8_t sh = d[36];
        if (sh > 1)
            return err_set(e, ERR_FORMAT, "%s: bad header: shared_classifier byte is %u", f->path, sh);
        *shared = sh;
    } else {
        /* A negative vocab size marks an unshared classifier. */
        *shared = h[5] > 0;
        c->vocab_size = h[5] == INT32_MIN ? 0 : h[5] < 0 ? -h[5] : h[5];
    }
    c->head_dim = c->n_heads > 0 && c->dim > 0 && c->dim % c->n_heads == 0 ? c->dim / c->n_heads : 0;
    c->rope_theta = 10000.0f;
    c->norm_eps = 1e-5f;
    c->rope_style = TF_ROPE_INTERLEAVED;
    c->qk_norm = 0;
    int rc;
    if (c->n_heads > 0 && c->n_heads <= MODEL_MAX_HEADS && c->dim > 0 && c->dim <= MODEL_MAX_DIM &&
        c->dim % c->n_heads)
        rc = err_set(e, ERR_FORMAT, "%s: bad header: dim %d not divisible by n_heads %d", f->path,
                     c->dim, c->n_heads);
    else
        rc = model_check_cfg(c, f->path, e);
    if (rc < 0 && *version == 0 && e) {
        /* Without a magic number the file may not be a checkpoint at all. */
        size_t n = strlen(e->msg);
        snprintf(e->msg + n, sizeof e->msg - n, " (no GGUF or llama2.c v1 magic; read as a llama2.c legacy checkpoint)");
    }
    return rc;
}

int model_load_llama2c(const char *path, model *m, mx_error *e)
{
    file_map f;
    int rc = fm_open(&f, path, e);
    if (rc < 0)
        return rc;
    int shared = 1, version = 0;
    rc = read_header(&f, &m->cfg, &shared, &version, e);
    if (rc < 0)
        goto out;
    const tf_config *c = &m->cfg;
    uint64_t D = (uint64_t)c->dim, H = (uint64_t)c->hidden_dim, V = (uint64_t)c->vocab_size;
    uint64_t Q = (uint64_t)c->n_heads * (uint64_t)c->head_dim;
    uint64_t KV = (uint64_t)c->n_kv_heads * (uint64_t)c->head_dim;
    uint64_t freq = (uint64_t)c->max_seq * (uint64_t)c->head_dim / 2;
    /* All values are bounded by model_check_cfg, so these products fit in 64 bits. */
    l2c_part legacy[] = {
        {"tok_embeddings", MS_TOK, 0, V * D}, {"rms_att", MS_ATTN_NORM, 1, D},
        {"wq", MS_LIN + TF_Q, 1, Q * D}, {"wk", MS_LIN + TF_K, 1, KV * D},
        {"wv", MS_LIN + TF_V, 1, KV * D}, {"wo", MS_LIN + TF_O, 1, D * Q},
        {"rms_ffn", MS_FFN_NORM, 1, D}, {"w1", MS_LIN + TF_GATE, 1, H * D},
        {"w2", MS_LIN + TF_DOWN, 1, D * H}, {"w3", MS_LIN + TF_UP, 1, H * D},
        {"rms_final", MS_FINAL_NORM, 0, D}, {"freq_cis_real", -1, 0, freq},
        {"freq_cis_imag", -1, 0, freq}, {"wcls", MS_LM_HEAD, 0, V * D}};
    l2c_part v1[] = {
        {"rms_att", MS_ATTN_NORM, 1, D}, {"rms_ffn", MS_FFN_NORM, 1, D},
        {"rms_final", MS_FINAL_NORM, 0, D}, {"tok_embeddings", MS_TOK, 0, V * D},
        {"wq", MS_LIN + TF_Q, 1, Q * D}, {"wk", MS_LIN + TF_K, 1, KV * D},
        {"wv", MS_LIN + TF_V, 1, KV * D}, {"wo", MS_LIN + TF_O, 1, D * Q},
        {"w1", MS_LIN + TF_GATE, 1, H * D}, {"w2", MS_LIN + TF_DOWN, 1, D * H},
        {"w3", MS_LIN + TF_UP, 1, H * D}, {"wcls", MS_LM_HEAD, 0, V * D}};
    l2c_part *parts = version ? v1 : legacy;
    int n_parts = version ? (int)(sizeof v1 / sizeof v1[0]) : (int)(sizeof legacy / sizeof legacy[0]);
    if (shared)
        n_parts--; /* wcls is last in both layouts */
    uint64_t start = version ? L2C_V1_HEADER : 28, off = start, offs[16];
    for (int i = 0; i < n_parts; i++) {
        uint64_t bytes = parts[i].per * 4 * (parts[i].layered ? (uint64_t)c->n_layers : 1);
        offs[i] = off;
        if (!fm_has(&f, off, bytes)) {
            rc = err_set(e, ERR_FORMAT, "%s: truncated: tensor %s needs %llu bytes at offset %llu, "
                         "file has %llu", path, parts[i].name, (unsigned long long)bytes,
                         (unsigned long long)off, (unsigned long long)f.size);
            goto out;
        }
        off += bytes;
    }
    if (off != f.size) {
        rc = err_set(e, ERR_FORMAT, "%s: file has %llu bytes but a llama2.c %s checkpoint with this "
                     "header has %llu", path, (unsigned long long)f.size,
                     version ? "v1" : "legacy", (unsigned long long)off);
        goto out;
    }
    int n_slots;
    uint64_t n_floats;
    model_slot *slots = model_slots(c, shared, &n_slots, &n_floats, e);
    if (!slots) {
        rc = ERR_NOMEM;
        goto out;
    }
    rc = model_alloc_weights(m, slots, n_slots, n_floats, e);
    for (int i = 0; rc == 0 && i < n_parts; i++) {
        if (parts[i].what < 0)
            continue;
        int nl = parts[i].layered ? c->n_layers : 1;
        for (int l = 0; rc == 0 && l < nl; l++) {
            model_slot *s = find_slot(slots, n_slots, parts[i].what, parts[i].layered ? l : -1);
            char name[64];
            if (parts[i].layered)
                snprintf(name, sizeof name, "%s[layer %d]", parts[i].name, l);
            else
                snprintf(name, sizeof name, "%s", parts[i].name);
            rc = model_convert(s->dst, f.data + offs[i] + (uint64_t)l * parts[i].per * 4,
                               parts[i].per, MDT_F32, path, name, e);
        }
    }
    free(slots);
    if (rc < 0)
        goto out;
    m->arch = MODEL_ARCH_LLAMA;
    m->file_kind = MODEL_FILE_LLAMA2C;
    snprintf(m->arch_name, sizeof m->arch_name, "llama2.c%s", version ? " v1" : "");
    m->content_hash = XXH64(f.data, (size_t)f.size, 0);
out:
    fm_close(&f);
    return rc;
}
