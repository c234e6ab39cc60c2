/* mxalloc quantize: the model written with each linear module in its
 * assigned format, as a GGUF file (llama.cpp) or a packed MX safetensors
 * directory (AMD Quark layout). See src/quantize.h. */
#include "src/quantize.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernels/ggml_quant.h"
#include "kernels/gptq.h"
#include "src/file_map.h"
#include "src/file_write.h"
#include "src/gguf.h"
#include "src/gguf_write.h"
#include "src/gptq_set.h"
#include "src/model_priv.h"
#include "src/prune.h"
#include "src/tok_export.h"

static void warnf(const quant_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warnf(const quant_opts *o, const char *fmt, ...)
{
    if (!o || !o->warn)
        return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    o->warn(o->user, buf);
}

static const struct { mx_format f; const char *quark; } QUARK[] = {
    {MX_FP4_E2M1, "fp4"},     {MX_FP6_E2M3, "fp6_e2m3"}, {MX_FP6_E3M2, "fp6_e3m2"},
    {MX_FP8_E4M3, "fp8_e4m3"}, {MX_FP8_E5M2, "fp8_e5m2"}, {MX_INT8, "int8"}};

const char *quant_quark_dtype(mx_format f)
{
    for (size_t i = 0; i < sizeof QUARK / sizeof *QUARK; i++)
        if (QUARK[i].f == f)
            return QUARK[i].quark;
    return NULL;
}

int quant_quark_parse(const char *s, mx_format *out)
{
    for (size_t i = 0; s && i < sizeof QUARK / sizeof *QUARK; i++)
        if (!strcmp(QUARK[i].quark, s)) {
            *out = QUARK[i].f;
            return 0;
        }
    return -1;
}

/* ---------------------------------------------------------------- tensors */

/* The fp32 data of a slot of m (what model_alloc_weights points it at). */
static const float *slot_data(const model *m, const model_slot *s)
{
    const tf_layer_weights *L = s->layer >= 0 ? &m->weights.layers[s->layer] : NULL;
    switch (s->what) {
    case MS_TOK: return m->weights.tok_emb;
    case MS_FINAL_NORM: return m->weights.final_norm;
    case MS_LM_HEAD: return m->weights.lm_head;
    case MS_ATTN_NORM: return L->attn_norm;
    case MS_FFN_NORM: return L->ffn_norm;
    case MS_Q_NORM: return L->q_norm;
    case MS_K_NORM: return L->k_norm;
    default: return L->lin[s->what - MS_LIN];
    }
}

/* One tensor as it will be stored. */
typedef struct qt {
    uint32_t type;       /* GQ_* (GGUF), or for MX: GQ_F32/F16/BF16, or -1 = packed MX */
    uint8_t *data;       /* element data (packed codes for MX) */
    uint64_t nbytes;
    uint8_t *scales;     /* MX: E8M0 bytes [rows][nb] */
    uint64_t scale_bytes;
    uint64_t row_bytes;  /* MX: packed bytes per row */
    int has_tscale;      /* GGUF NVFP4: tscale goes beside it as NAME.scale */
    float tscale;
} qt;

static void qt_free(qt *t)
{
    free(t->data);
    free(t->scales);
    memset(t, 0, sizeof *t);
}

/* Store n values as F32, F16 or BF16 (the caller knows the values fit
 * exactly, or accepts F32); returns the type actually used: a value that
 * F16/BF16 cannot hold exactly makes it F32. */
static int store_float(const float *x, uint64_t n, uint32_t want, qt *t, mx_error *e)
{
    int exact = 1, ex;
    if (want == GQ_F16 || want == GQ_BF16) {
        uint16_t *h = malloc((size_t)n * 2 + 1);
        if (!h)
            return err_set(e, ERR_NOMEM, "out of memory");
        for (uint64_t i = 0; i < n && exact; i++) {
            h[i] = want == GQ_F16 ? gq_to_f16(x[i], &ex) : gq_to_bf16(x[i], &ex);
            exact &= ex;
        }
        if (exact) {
            t->type = want;
            t->data = (uint8_t *)h;
            t->nbytes = n * 2;
            return 0;
        }
        free(h);
    }
    t->type = GQ_F32;
    t->data = malloc((size_t)n * 4 + 1);
    if (!t->data)
        return err_set(e, ERR_NOMEM, "out of memory");
    memcpy(t->data, x, (size_t)n * 4);
    t->nbytes = n * 4;
    return exact ? 0 : 1;
}

/* The source type of a module's weights, for modules kept as they were. */
static uint32_t source_type(const model_module *mm)
{
    if (!strcmp(mm->stored, "F16"))
        return GQ_F16;
    if (!strcmp(mm->stored, "BF16"))
        return GQ_BF16;
    return GQ_F32;
}

/* A copy of a linear's rows, permuted between the RoPE layouts when asked
 * (dir > 0: half -> interleaved, dir < 0: interleaved -> half): its weights,
 * or, when o->gptq applies to f, its GPTQ values (on f's grid, so the writers
 * below store them exactly). keep (the unit mask of the module's pruning
 * group, or NULL): only the kept rows and columns, as prune_apply gathers
 * them, all zero when zero is set; the permutation then runs over the kept
 * heads. *rows and *cols get the shape returned. */
static float *linear_rows(const model *m, const model_module *mm, mx_format f, const quant_opts *o, int dir,
                          const unsigned char *keep, int zero, int *rows, int *cols, mx_error *e)
{
    size_t n = (size_t)mm->rows * (size_t)mm->cols;
    float *x = malloc(n * sizeof *x + 1);
    if (!x) {
        err_set(e, ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (o->gptq && gptq_applies(f)) {
        if (gptq_set_quant(o->gptq, m, (int)(mm - m->modules), f, x, e)) {
            free(x);
            return NULL;
        }
    } else {
        memcpy(x, mm->w, n * sizeof *x);
    }
    *rows = mm->rows;
    *cols = mm->cols;
    if (keep) { /* in place: the submatrix is no larger */
        if (prune_gather(m, (int)(mm - m->modules), x, keep, x, rows, cols, e)) {
            free(x);
            return NULL;
        }
        if (zero)
            memset(x, 0, (size_t)*rows * (size_t)*cols * sizeof *x);
    }
    /* q and k rows are whole heads of head_dim (kept heads, when pruned) */
    int heads = mm->kind == TF_Q || mm->kind == TF_K ? *rows / m->cfg.head_dim : 0;
    if (dir && heads) {
        int rc = dir > 0 ? model_rows_half_to_interleaved(x, *rows, *cols, heads)
                         : model_rows_interleaved_to_half(x, *rows, *cols, heads);
        if (rc < 0) {
            free(x);
            err_set(e, ERR_NOMEM, "out of memory");
            return NULL;
        }
    }
    return x;
}

/* NVFP4 as ggml's blocks of 64 (cols % 64 == 0) and the tensor scale; 1 when
 * a block holds NaN/Inf (ggml reads the NaN scale as 0: not stored), else 0
 * or ERR_NOMEM. */
static int gguf_nvfp4(mx_format f, const float *x, size_t rows, size_t cols, qt *t)
{
    size_t n = rows * cols, rb = mx_packed_row_bytes(MX_NVFP4, cols), nb = cols / MX_NVFP4_BLOCK;
    const gq_traits *tr = gq_traits_of(GQ_NVFP4);
    uint8_t *pk = malloc(mx_packed_size(f, rows, cols)), *out = malloc((size_t)gq_row_bytes(tr, n));
    if (!pk || !out) {
        free(pk);
        free(out);
        return ERR_NOMEM;
    }
    mx_pack(f, x, rows, cols, pk);
    const uint8_t *sc = pk + rows * rb, *tsb = sc + rows * nb;
    int nan = 0;
    for (size_t r = 0; r < rows; r++)
        for (size_t k = 0; k < cols / 64; k++) {
            uint8_t codes[64];
            for (int j = 0; j < 64; j++)
                codes[j] = (uint8_t)mx_packed_code(pk + r * rb, 64 * k + (size_t)j, 4);
            const uint8_t *d = sc + r * nb + 4 * k;
            nan |= memchr(d, MX_NVFP4_NAN_SCALE, 4) != NULL;
            gq_put_nvfp4(d, codes, out + (r * (cols / 64) + k) * (size_t)tr->bytes);
        }
    uint32_t u = (uint32_t)tsb[0] | (uint32_t)tsb[1] << 8 | (uint32_t)tsb[2] << 16 | (uint32_t)tsb[3] << 24;
    free(pk);
    if (nan) {
        free(out);
        return 1;
    }
    memcpy(&t->tscale, &u, 4);
    t->has_tscale = 1;
    t->type = GQ_NVFP4;
    t->data = out;
    t->nbytes = gq_row_bytes(tr, n);
    return 0;
}

/* A linear for GGUF (x: rows x cols, the stored shape, pruned or not):
 * MXFP4 / Q8_0 / NVFP4 when the format and the row width allow, else BF16
 * (or F32) holding the fake-quantized values exactly. */
static int gguf_linear(const model_module *mm, const float *x, size_t rows, size_t cols, mx_format f,
                       const char *gname, const quant_opts *o, qt *t, int *widened, mx_error *e)
{
    size_t n = rows * cols;
    mx_format b = mx_format_base(f); /* the storage; mx_pack(f) chooses f's scales */
    *widened = 0;
    if (b == MX_NVFP4 && cols % 64 == 0) {
        int rc = gguf_nvfp4(f, x, rows, cols, t);
        if (rc <= 0)
            return rc ? err_set(e, ERR_NOMEM, "out of memory") : 0;
        warnf(o, "%s: NaN or Inf weights, which GGUF NVFP4 cannot hold: stored as BF16", gname);
        *widened = 1;
    }
    if ((b == MX_FP4_E2M1 || b == MX_INT8) && cols % MX_BLOCK == 0) {
        size_t psz = mx_packed_size(f, rows, cols), rb = mx_packed_row_bytes(f, cols), nb = cols / MX_BLOCK;
        uint8_t *pk = malloc(psz + 1);
        const gq_traits *tr = gq_traits_of(b == MX_FP4_E2M1 ? GQ_MXFP4 : GQ_Q8_0);
        uint8_t *out = malloc((size_t)gq_row_bytes(tr, n) + 1);
        if (!pk || !out) {
            free(pk);
            free(out);
            return err_set(e, ERR_NOMEM, "out of memory");
        }
        mx_pack(f, x, rows, cols, pk);
        const uint8_t *sc = pk + rows * rb;
        int exact = 1;
        for (size_t r = 0; r < rows && exact; r++)
            for (size_t k = 0; k < nb && exact; k++) {
                const uint8_t *c = pk + r * rb + k * (b == MX_FP4_E2M1 ? 16 : 32);
                uint8_t s = sc[r * nb + k], *blk = out + (r * nb + k) * (size_t)tr->bytes;
                if (b == MX_FP4_E2M1) {
                    uint8_t codes[32];
                    for (int j = 0; j < 32; j++)
                        codes[j] = (uint8_t)(c[j / 2] >> (4 * (j & 1)) & 0xf);
                    gq_put_mxfp4(s, codes, blk);
                } else {
                    /* c/64 * 2^(s-127) = c * 2^(s-133): the fp16 scale when it has one */
                    int8_t q[32], any = 0;
                    memcpy(q, c, 32);
                    for (int j = 0; j < 32; j++)
                        any |= q[j] != 0;
                    uint16_t d = 0;
                    if (any)
                        d = gq_to_f16(ldexpf(1.0f, (int)s - 133), &exact);
                    gq_put_q8_0(d, q, blk);
                }
            }
        free(pk);
        if (exact) {
            t->type = tr->type;
            t->data = out;
            t->nbytes = gq_row_bytes(tr, n);
            return 0;
        }
        free(out);
        warnf(o, "%s: a block scale of this MXINT8 module is outside fp16's range, so Q8_0 cannot hold "
              "it exactly: stored as BF16 (exact values, 16 bits per weight)", gname);
        *widened = 1;
    }
    if (f == MX_FP32)
        return store_float(x, n, source_type(mm), t, e) < 0 ? ERR_NOMEM : 0;
    float *q = malloc(n * sizeof *q + 1);
    if (!q)
        return err_set(e, ERR_NOMEM, "out of memory");
    mx_fake_quant(f, x, q, rows, cols);
    if (!*widened && f != MX_BF16) {
        *widened = 1;
        if (b == MX_FP4_E2M1 || b == MX_INT8 || b == MX_NVFP4)
            warnf(o, "%s: rows of %zu are not whole blocks of %d, which GGUF %s needs: stored as BF16 "
                  "holding the %s values exactly (16 bits per weight)", gname, cols, b == MX_NVFP4 ? 64 : 32,
                  b == MX_NVFP4 ? "NVFP4" : b == MX_FP4_E2M1 ? "MXFP4" : "Q8_0", mx_format_name(f));
    }
    int rc = store_float(q, n, GQ_BF16, t, e);
    free(q);
    if (rc < 0)
        return rc;
    if (rc > 0)
        warnf(o, "%s: %s values below bfloat16's range: stored as F32", gname, mx_format_name(f));
    return 0;
}

/* The type for the embedding and output matrices: the source's when every
 * linear came in it (F16/BF16), else F32. */
static uint32_t matrix_type(const model *m)
{
    uint32_t t = m->n_modules ? source_type(&m->modules[0]) : GQ_F32;
    for (int i = 1; i < m->n_modules; i++)
        if (source_type(&m->modules[i]) != t)
            return GQ_F32;
    return t;
}

/* ------------------------------------------------------------------ GGUF */

/* What a pruned GGUF stores: per pruning group the unit mask written (the
 * config's, or one unit where it keeps none: then written as zeros) and per
 * layer the counts its metadata gives. */
typedef struct qlayout {
    int n_groups;
    unsigned char **mask;  /* [n_groups], NULL entries: the group whole; NULL when nothing is pruned */
    unsigned char *zero;   /* [n_groups] 1: the group's one unit is written as zeros */
    int *heads, *kv, *ff;  /* [n_layers] q heads, kv heads, MLP channels */
    int same_heads, same_kv, same_ff; /* every layer has layer 0's count */
} qlayout;

/* The layout of m under masks prune (NULL: nothing pruned). Entries of L->mask
 * that are new (a group keeping no unit) are the ones L->zero marks; the
 * others point into prune. */
static int qlayout_make(const model *m, unsigned char *const *prune, const quant_opts *o, qlayout *L,
                        int *n_zero, mx_error *e)
{
    const tf_config *c = &m->cfg;
    memset(L, 0, sizeof *L);
    *n_zero = 0;
    L->n_groups = c->n_layers * PRUNE_NPARTS;
    L->heads = malloc((size_t)c->n_layers * 3 * sizeof *L->heads + 1);
    if (!L->heads)
        return err_set(e, ERR_NOMEM, "out of memory");
    L->kv = L->heads + c->n_layers;
    L->ff = L->kv + c->n_layers;
    int any = 0;
    for (int g = 0; prune && g < L->n_groups; g++)
        any |= prune[g] != NULL;
    if (any) {
        L->mask = calloc((size_t)L->n_groups, sizeof *L->mask);
        L->zero = calloc((size_t)L->n_groups, 1);
        if (!L->mask || !L->zero)
            return err_set(e, ERR_NOMEM, "out of memory");
    }
    int rep = c->n_heads / c->n_kv_heads;
    for (int l = 0; l < c->n_layers; l++)
        for (int part = 0; part < PRUNE_NPARTS; part++) {
            int g = l * PRUNE_NPARTS + part, units = prune_units(c, part), n = units;
            if (any && prune[g]) {
                n = 0;
                for (int u = 0; u < units; u++)
                    n += prune[g][u] != 0;
                if (n == 0) {
                    /* llama.cpp runs no layer of 0 heads or 0 channels: one unit of zeros */
                    if (!(L->mask[g] = calloc((size_t)units, 1)))
                        return err_set(e, ERR_NOMEM, "out of memory");
                    L->mask[g][0] = 1;
                    L->zero[g] = 1;
                    n = 1;
                    ++*n_zero;
                    char name[MODEL_NAME_MAX];
                    prune_group_name(l, part, name, sizeof name);
                    warnf(o, "%s keeps no unit: written as one %s of zeros (llama.cpp runs no layer of 0 %s), "
                          "which computes the same", name, part == PRUNE_ATTN ? "GQA group" : "channel",
                          part == PRUNE_ATTN ? "heads" : "channels");
                } else {
                    L->mask[g] = prune[g];
                }
            }
            if (part == PRUNE_ATTN) {
                L->kv[l] = n;
                L->heads[l] = n * rep;
            } else {
                L->ff[l] = n;
            }
        }
    L->same_heads = L->same_kv = L->same_ff = 1;
    for (int l = 1; l < c->n_layers; l++) {
        L->same_heads &= L->heads[l] == L->heads[0];
        L->same_kv &= L->kv[l] == L->kv[0];
        L->same_ff &= L->ff[l] == L->ff[0];
    }
    return 0;
}

/* Free a layout made by qlayout_make: only the masks it allocated. */
static void qlayout_release(qlayout *L)
{
    for (int g = 0; L->mask && L->zero && g < L->n_groups; g++)
        if (L->zero[g])
            free(L->mask[g]);
    free(L->mask);
    free(L->zero);
    free(L->heads);
    memset(L, 0, sizeof *L);
}

static int copy_gguf_tokenizer(const char *src, gguf_writer *w, mx_error *e)
{
    gguf_file g;
    int rc = gguf_open(&g, src, e);
    if (rc < 0)
        return rc;
    int n = 0;
    for (uint64_t i = 0; i < g.n_kv && rc == 0; i++) {
        const gguf_kv *k = &g.kv[i];
        if (k->key_len < 10 || memcmp(k->key, "tokenizer.", 10) || k->key_len > 255)
            continue;
        const uint8_t *p;
        uint64_t len;
        if (gguf_kv_raw(&g, k, &p, &len) < 0) {
            rc = err_set(e, ERR_FORMAT, "%s: bad metadata value", src);
            break;
        }
        char key[256];
        memcpy(key, k->key, (size_t)k->key_len);
        key[k->key_len] = '\0';
        rc = gw_raw(w, key, k->type, p, (size_t)len) < 0 ? err_set(e, ERR_NOMEM, "out of memory") : 0;
        n++;
    }
    gguf_close(&g);
    if (rc == 0 && n == 0)
        rc = err_set(e, ERR_FORMAT, "%s: the source GGUF carries no tokenizer metadata", src);
    return rc;
}

static int gguf_tokenizer(const model *m, const quant_opts *o, gguf_writer *w, mx_error *e)
{
    if (!o->tok)
        return copy_gguf_tokenizer(m->path, w, e);
    const char *json = NULL;
    char guess[4200];
    if (o->tok_path) {
        size_t n = strlen(o->tok_path);
        if (n >= 5 && !strcmp(o->tok_path + n - 5, ".json"))
            json = o->tok_path;
    } else if (m->file_kind == MODEL_FILE_HF) {
        snprintf(guess, sizeof guess, "%s/tokenizer.json", m->path);
        json = guess;
    }
    tok_vocab v;
    int rc = tok_export_vocab(o->tok, json, &v, e);
    if (rc < 0)
        return rc;
    if (v.n != m->cfg.vocab_size)
        warnf(o, "the tokenizer has %d tokens, the model %d", v.n, m->cfg.vocab_size);
    int32_t *ty = malloc((size_t)v.n * sizeof *ty + 1);
    if (!ty) {
        tok_vocab_free(&v);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < v.n; i++)
        ty[i] = v.types[i];
    rc |= gw_str(w, "tokenizer.ggml.model", v.model);
    rc |= gw_str(w, "tokenizer.ggml.pre", v.pre);
    rc |= gw_arr_str(w, "tokenizer.ggml.tokens", (size_t)v.n, (const char *const *)v.tokens, NULL);
    if (v.scores)
        rc |= gw_arr_f32(w, "tokenizer.ggml.scores", (size_t)v.n, v.scores);
    rc |= gw_arr_i32(w, "tokenizer.ggml.token_type", (size_t)v.n, ty);
    if (v.merges)
        rc |= gw_arr_str(w, "tokenizer.ggml.merges", (size_t)v.n_merges, (const char *const *)v.merges,
                         NULL);
    if (v.bos >= 0)
        rc |= gw_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)v.bos);
    if (v.eos >= 0)
        rc |= gw_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)v.eos);
    if (v.unk >= 0)
        rc |= gw_u32(w, "tokenizer.ggml.unknown_token_id", (uint32_t)v.unk);
    rc |= gw_bool(w, "tokenizer.ggml.add_bos_token", v.add_bos);
    rc |= gw_bool(w, "tokenizer.ggml.add_eos_token", 0);
    if (v.add_space_prefix >= 0)
        rc |= gw_bool(w, "tokenizer.ggml.add_space_prefix", v.add_space_prefix);
    free(ty);
    tok_vocab_free(&v);
    return rc ? err_set(e, ERR_NOMEM, "out of memory") : 0;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    while (s && !s[1] && s > p) { /* "dir/" */
        const char *q = s - 1;
        while (q > p && *q != '/')
            q--;
        return *q == '/' ? q + 1 : q;
    }
    return s ? s + 1 : p;
}

/* A per-layer count: the scalar when every layer has it, else the array. */
static int layer_key(gguf_writer *w, const char *key, const int *v, int n, int same)
{
    if (same)
        return gw_u32(w, key, (uint32_t)v[0]);
    int32_t *a = malloc((size_t)n * sizeof *a + 1);
    if (!a)
        return ERR_NOMEM;
    for (int i = 0; i < n; i++)
        a[i] = v[i];
    int rc = gw_arr_i32(w, key, (size_t)n, a);
    free(a);
    return rc;
}

/* The architecture a file of layout L is written as: llama.cpp's llama and
 * qwen3 size every layer's tensors by layer 0's counts; its deci (the Llama
 * of Nemotron-NAS: llama's tensors, norms and RoPE) sizes them per layer. */
static const char *gguf_arch(const model *m, const qlayout *L)
{
    if (m->arch == MODEL_ARCH_QWEN3)
        return "qwen3";
    return L->same_heads && L->same_kv && L->same_ff ? "llama" : "deci";
}

static int gguf_meta(const model *m, const qlayout *L, gguf_writer *w)
{
    const tf_config *c = &m->cfg;
    const char *a = gguf_arch(m, L);
    char k[96], name[128];
    int rc = 0;
    snprintf(name, sizeof name, "%.*s", (int)strcspn(base_name(m->path), "/"), base_name(m->path));
    rc |= gw_str(w, "general.architecture", a);
    rc |= gw_str(w, "general.name", name);
    rc |= gw_u32(w, "general.quantization_version", 2);
    rc |= gw_u32(w, "general.alignment", GW_ALIGN);
#define U(S, V) (snprintf(k, sizeof k, "%s." S, a), rc |= gw_u32(w, k, (uint32_t)(V)))
#define F(S, V) (snprintf(k, sizeof k, "%s." S, a), rc |= gw_f32(w, k, (V)))
    U("vocab_size", c->vocab_size);
    U("context_length", m->trained_ctx > 0 ? m->trained_ctx : c->max_seq);
    U("embedding_length", c->dim);
    U("block_count", c->n_layers);
#define A(S, V, SAME) (snprintf(k, sizeof k, "%s." S, a), rc |= layer_key(w, k, (V), c->n_layers, (SAME)))
    A("feed_forward_length", L->ff, L->same_ff);
    A("attention.head_count", L->heads, L->same_heads);
    A("attention.head_count_kv", L->kv, L->same_kv);
#undef A
    U("attention.key_length", c->head_dim);
    U("attention.value_length", c->head_dim);
    U("rope.dimension_count", c->head_dim);
    F("rope.freq_base", c->rope_theta);
    F("attention.layer_norm_rms_epsilon", c->norm_eps);
#undef U
#undef F
    /* llama2.c sources compute RoPE on interleaved pairs: the file holds
     * llama.cpp's usual (interleaved) rows, and this key tells mxalloc to
     * keep them so, so reading the file back computes bit for bit as the
     * source did (llama.cpp ignores it). */
    if (c->rope_style == TF_ROPE_INTERLEAVED)
        rc |= gw_str(w, "mxalloc.rope_layout", "interleaved");
    return rc ? ERR_NOMEM : 0;
}

int quant_write_gguf(const model *m, const mx_format *fmts, const quant_opts *o, const char *path,
                     quant_stats *st, mx_error *e)
{
    memset(st, 0, sizeof *st);
    gguf_writer w;
    gw_init(&w);
    int ns = 0, rc;
    uint64_t nf;
    int tied = m->weights.lm_head == m->weights.tok_emb;
    qlayout L;
    int n_zero = 0;
    if ((rc = qlayout_make(m, o->prune, o, &L, &n_zero, e)) < 0) {
        qlayout_release(&L);
        return rc;
    }
    if (L.mask && m->arch == MODEL_ARCH_QWEN3 && !(L.same_heads && L.same_kv && L.same_ff)) {
        qlayout_release(&L);
        return err_set(e, ERR_ARG, "the config prunes qwen3 blocks to different sizes, which llama.cpp's qwen3 "
                       "cannot load (its tensors are sized by layer 0's counts): not written");
    }
    for (int i = 0; L.mask && o->gptq && i < m->n_modules; i++)
        if (L.mask[m->modules[i].layer * PRUNE_NPARTS + prune_part_of(m->modules[i].kind)]) {
            qlayout_release(&L);
            return err_set(e, ERR_ARG, "%s is pruned: GPTQ does not apply to pruned modules",
                           m->modules[i].name);
        }
    model_slot *s = model_slots(&m->cfg, tied, &ns, &nf, e);
    if (!s) {
        qlayout_release(&L);
        return ERR_NOMEM;
    }
    st->n_zero_units = n_zero;
    if ((rc = gguf_meta(m, &L, &w)) < 0 || (rc = gguf_tokenizer(m, o, &w, e)) < 0) {
        if (rc == ERR_NOMEM && !e->msg[0])
            err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    /* llama.cpp's llama graph rotates interleaved pairs: HF-order q/k rows are
     * permuted as its converter does (qwen3 rotates halves: no permutation). */
    int permute = m->arch == MODEL_ARCH_LLAMA && m->cfg.rope_style == TF_ROPE_HALF;
    uint32_t mt = matrix_type(m);
    int n_wide8 = 0;
    for (int i = 0; i < ns && rc == 0; i++) {
        qt t = {0};
        uint64_t n = (uint64_t)s[i].rows * (uint64_t)s[i].cols;
        int rows = (int)s[i].rows, cols = (int)s[i].cols;
        if (s[i].what >= MS_LIN) {
            int mi = s[i].layer * TF_NLIN + (s[i].what - MS_LIN), wide;
            const model_module *mm = &m->modules[mi];
            int g = mm->layer * PRUNE_NPARTS + prune_part_of(mm->kind);
            float *x = linear_rows(m, mm, fmts[mi], o, permute, L.mask ? L.mask[g] : NULL,
                                   L.zero ? L.zero[g] : 0, &rows, &cols, e);
            if (!x) {
                rc = ERR_NOMEM;
                break;
            }
            st->lin_params_full += n;
            n = (uint64_t)rows * (uint64_t)cols;
            rc = gguf_linear(mm, x, (size_t)rows, (size_t)cols, fmts[mi], s[i].gguf, o, &t, &wide, e);
            free(x);
            if (rc == 0 && wide) {
                st->n_widened++;
                n_wide8 += mx_format_base(fmts[mi]) != MX_FP4_E2M1 && mx_format_base(fmts[mi]) != MX_INT8 &&
                           mx_format_base(fmts[mi]) != MX_NVFP4;
            }
            st->lin_params += n;
            st->lin_bytes += t.nbytes;
        } else {
            rc = store_float(slot_data(m, &s[i]), n, s[i].n_dims == 2 ? mt : GQ_F32, &t, e);
            rc = rc > 0 ? 0 : rc;
        }
        if (rc == 0) {
            uint64_t ne[2] = {(uint64_t)cols, (uint64_t)rows};
            rc = gw_tensor(&w, s[i].gguf, t.type, s[i].n_dims, s[i].n_dims == 2 ? ne : ne + 1, t.data,
                           t.nbytes, e);
        }
        if (rc == 0 && t.has_tscale) {
            /* llama.cpp multiplies the product by NAME.scale (shape {1}) */
            char sname[MODEL_NAME_MAX + 16];
            size_t stem = strlen(s[i].gguf) - strlen(".weight");
            snprintf(sname, sizeof sname, "%.*s.scale", (int)stem, s[i].gguf);
            uint64_t one = 1;
            rc = gw_tensor(&w, sname, GQ_F32, 1, &one, &t.tscale, 4, e);
            st->lin_bytes += 4;
            st->all_bytes += 4;
        }
        st->all_params += n;
        st->all_bytes += t.nbytes;
        qt_free(&t);
    }
    if (rc == 0 && n_wide8)
        warnf(o, "%d MXFP6/MXFP8 module%s stored as BF16 holding the quantized values exactly: llama.cpp "
              "has no MXFP6/MXFP8 type, so they take 16 bits per weight in the file", n_wide8,
              n_wide8 > 1 ? "s" : "");
    if (rc == 0) {
        st->file_bytes = gw_file_size(&w);
        rc = gw_write(&w, path, e);
    }
out:
    free(s);
    gw_free(&w);
    qlayout_release(&L);
    return rc;
}

/* --------------------------------------------------------- MX directory */

typedef struct st_rec {
    char name[MODEL_NAME_MAX + 32];
    const char *dtype;
    uint64_t shape[2];
    int n_dims;
    qt t;          /* data (or scales, for a scale record) owned here */
    int is_scale;
} st_rec;

/* model.safetensors: header (JSON, padded with spaces to 8 bytes), data. */
static int write_safetensors(const char *path, st_rec *r, int n, uint64_t *bytes, mx_error *e)
{
    json_t *h = json_object(), *meta = json_object();
    json_object_set_new(meta, "format", json_string("pt"));
    json_object_set_new(h, "__metadata__", meta);
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        uint64_t nb = r[i].is_scale ? r[i].t.scale_bytes : r[i].t.nbytes;
        json_t *o = json_object(), *sh = json_array(), *of = json_array();
        for (int d = 0; d < r[i].n_dims; d++)
            json_array_append_new(sh, json_integer((json_int_t)r[i].shape[d]));
        json_array_append_new(of, json_integer((json_int_t)off));
        json_array_append_new(of, json_integer((json_int_t)(off + nb)));
        json_object_set_new(o, "dtype", json_string(r[i].dtype));
        json_object_set_new(o, "shape", sh);
        json_object_set_new(o, "data_offsets", of);
        json_object_set_new(h, r[i].name, o);
        off += nb;
    }
    char *hs = json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(h);
    if (!hs)
        return err_set(e, ERR_NOMEM, "out of memory");
    size_t hl = strlen(hs), hp = (hl + 7) / 8 * 8;
    size_t total = 8 + hp + (size_t)off;
    uint8_t *buf = malloc(total);
    if (!buf) {
        free(hs);
        return err_set(e, ERR_NOMEM, "out of memory (%zu bytes)", total);
    }
    uint64_t hp64 = hp;
    memcpy(buf, &hp64, 8);
    memcpy(buf + 8, hs, hl);
    memset(buf + 8 + hl, ' ', hp - hl);
    free(hs);
    uint8_t *p = buf + 8 + hp;
    for (int i = 0; i < n; i++) {
        uint64_t nb = r[i].is_scale ? r[i].t.scale_bytes : r[i].t.nbytes;
        memcpy(p, r[i].is_scale ? r[i].t.scales : r[i].t.data, (size_t)nb);
        p += nb;
    }
    *bytes = total;
    int rc = fw_write_atomic(path, buf, total, e);
    free(buf);
    return rc;
}

static const char *st_dtype(uint32_t t)
{
    return t == GQ_F16 ? "F16" : t == GQ_BF16 ? "BF16" : "F32";
}

static json_t *weight_spec(mx_format f)
{
    json_t *w = json_object();
    json_object_set_new(w, "dtype", json_string(quant_quark_dtype(mx_format_base(f))));
    json_object_set_new(w, "qscheme", json_string("per_group"));
    json_object_set_new(w, "group_size", json_integer(MX_BLOCK));
    json_object_set_new(w, "ch_axis", json_integer(-1));
    json_object_set_new(w, "is_dynamic", json_false());
    json_object_set_new(w, "symmetric", json_null());
    json_object_set_new(w, "scale_type", json_string("float"));
    json_object_set_new(w, "scale_format", json_string("e8m0"));
    json_object_set_new(w, "scale_calculation_mode", json_string("even"));
    json_object_set_new(w, "round_method", json_string("half_even"));
    json_object_set_new(w, "mx_format", json_string(mx_format_name(f)));
    json_object_set_new(w, "scale_rule", json_string(mx_scale_mode_name(mx_format_scale_mode(f))));
    json_object_set_new(w, "rounding", json_string("nearest-even"));
    return w;
}

/* config.json: the source's (HF) or one made from the model's configuration. */
static json_t *mx_config(const model *m, const mx_format *fmts, uint32_t mt, mx_error *e)
{
    json_t *c = NULL;
    if (m->file_kind == MODEL_FILE_HF) {
        char p[4200];
        json_error_t je;
        snprintf(p, sizeof p, "%s/config.json", m->path);
        c = json_load_file(p, 0, &je);
        if (!c || !json_is_object(c)) {
            json_decref(c);
            err_set(e, ERR_FORMAT, "%s: cannot read it again: %s", p, je.text);
            return NULL;
        }
    } else {
        const tf_config *k = &m->cfg;
        int q3 = m->arch == MODEL_ARCH_QWEN3;
        c = json_object();
        json_t *ar = json_array();
        json_array_append_new(ar, json_string(q3 ? "Qwen3ForCausalLM" : "LlamaForCausalLM"));
        json_object_set_new(c, "architectures", ar);
        json_object_set_new(c, "model_type", json_string(q3 ? "qwen3" : "llama"));
        json_object_set_new(c, "hidden_size", json_integer(k->dim));
        json_object_set_new(c, "intermediate_size", json_integer(k->hidden_dim));
        json_object_set_new(c, "num_hidden_layers", json_integer(k->n_layers));
        json_object_set_new(c, "num_attention_heads", json_integer(k->n_heads));
        json_object_set_new(c, "num_key_value_heads", json_integer(k->n_kv_heads));
        json_object_set_new(c, "head_dim", json_integer(k->head_dim));
        json_object_set_new(c, "vocab_size", json_integer(k->vocab_size));
        json_object_set_new(c, "max_position_embeddings",
                            json_integer(m->trained_ctx > 0 ? m->trained_ctx : k->max_seq));
        json_object_set_new(c, "rms_norm_eps", json_real((double)k->norm_eps));
        json_object_set_new(c, "rope_theta", json_real((double)k->rope_theta));
        json_object_set_new(c, "hidden_act", json_string("silu"));
        json_object_set_new(c, "tie_word_embeddings", json_boolean(m->weights.lm_head == m->weights.tok_emb));
        json_object_set_new(c, "torch_dtype", json_string(mt == GQ_F16 ? "float16" : mt == GQ_BF16 ? "bfloat16"
                                                                                          : "float32"));
        if (k->rope_style == TF_ROPE_INTERLEAVED)
            json_object_set_new(c, "mxalloc_rope_layout", json_string("interleaved"));
    }
    json_t *q = json_object(), *lq = json_object(), *ex = json_array(), *fm = json_object(),
           *g = json_object(), *exp = json_object();
    json_object_set_new(q, "quant_method", json_string("quark"));
    json_object_set_new(exp, "kv_cache_group", json_array());
    json_object_set_new(exp, "pack_method", json_string("reorder"));
    json_object_set_new(exp, "weight_format", json_string("real_quantized"));
    json_object_set_new(q, "export", exp);
    json_object_set_new(g, "weight", json_null());
    json_object_set_new(g, "input_tensors", json_null());
    json_object_set_new(g, "output_tensors", json_null());
    json_object_set_new(g, "bias", json_null());
    json_object_set_new(q, "global_quant_config", g);
    json_object_set_new(q, "layer_type_quant_config", json_object());
    for (int i = 0; i < m->n_modules; i++) {
        json_object_set_new(fm, m->modules[i].name, json_string(mx_format_name(fmts[i])));
        if (!mx_is_block_format(fmts[i])) {
            json_array_append_new(ex, json_string(m->modules[i].name));
            continue;
        }
        json_t *l = json_object();
        json_object_set_new(l, "weight", weight_spec(fmts[i]));
        json_object_set_new(l, "input_tensors", json_null());
        json_object_set_new(l, "output_tensors", json_null());
        json_object_set_new(l, "bias", json_null());
        json_object_set_new(lq, m->modules[i].name, l);
    }
    json_array_append_new(ex, json_string("lm_head"));
    json_object_set_new(q, "layer_quant_config", lq);
    json_object_set_new(q, "exclude", ex);
    json_t *mx = json_object();
    json_object_set_new(mx, "block", json_integer(MX_BLOCK));
    json_object_set_new(mx, "scale_mode", json_string("ocp-floor"));
    json_object_set_new(mx, "rounding", json_string("nearest-even"));
    json_object_set_new(mx, "packing", json_string("per row, element j at bits [j*b, (j+1)*b) LSB first, "
                                                   "rows byte-aligned; scales [rows][ceil(cols/32)] E8M0"));
    json_object_set_new(mx, "formats", fm);
    json_object_set_new(q, "mxalloc", mx);
    json_object_set_new(c, "quantization_config", q);
    return c;
}

/* Remove what a failed run wrote into its temporary directory. */
static void rm_tmp_dir(const char *dir, const char *const *names, int n)
{
    char p[8400];
    for (int i = 0; i < n; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

static int copy_file(const char *src, const char *dst, mx_error *e)
{
    char *buf;
    size_t len;
    int rc = fm_read_all(src, &buf, &len, e);
    if (rc < 0)
        return rc;
    rc = fw_write_atomic(dst, buf, len, e);
    free(buf);
    return rc;
}

int quant_write_mx_dir(const model *m, const mx_format *fmts, const quant_opts *o, const char *dir,
                       quant_stats *st, mx_error *e)
{
    memset(st, 0, sizeof *st);
    for (int g = 0; o->prune && g < m->cfg.n_layers * PRUNE_NPARTS; g++)
        if (o->prune[g])
            return err_set(e, ERR_ARG, "the packed MX layout cannot hold pruned blocks (its config.json has one "
                           "head count and intermediate size for every layer): use --layout gguf");
    for (int i = 0; i < m->n_modules; i++)
        if (mx_traits_of(fmts[i])->scale_type != MX_SCALE_E8M0 && mx_is_block_format(fmts[i]))
            return err_set(e, ERR_ARG, "%s is %s, which is not an OCP MX format: the MX layout cannot hold it "
                           "(the GGUF layout can: llama.cpp's NVFP4)", m->modules[i].name, mx_format_name(fmts[i]));
    struct stat sb;
    if (stat(dir, &sb) == 0) {
        if (!S_ISDIR(sb.st_mode))
            return err_set(e, ERR_IO, "%s: exists and is not a directory", dir);
        DIR *d = opendir(dir);
        struct dirent *de;
        int empty = d != NULL;
        while (d && (de = readdir(d)))
            empty &= !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
        if (d)
            closedir(d);
        if (!empty) /* rename() below replaces only an empty directory */
            return err_set(e, ERR_IO, "%s: exists and is not empty (remove it first)", dir);
    }
    int ns = 0, rc = 0;
    uint64_t nf;
    int tied = m->weights.lm_head == m->weights.tok_emb;
    model_slot *s = model_slots(&m->cfg, tied, &ns, &nf, e);
    if (!s)
        return ERR_NOMEM;
    st_rec *r = calloc((size_t)ns * 2 + 1, sizeof *r);
    if (!r) {
        free(s);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    int nr = 0, unpermute = m->cfg.rope_style == TF_ROPE_INTERLEAVED ? -1 : 0;
    uint32_t mt = matrix_type(m);
    for (int i = 0; i < ns && rc == 0; i++) {
        st_rec *x = &r[nr++];
        snprintf(x->name, sizeof x->name, "%s", s[i].hf);
        x->n_dims = s[i].n_dims;
        x->shape[0] = (uint64_t)s[i].rows;
        x->shape[1] = (uint64_t)s[i].cols;
        uint64_t n = (uint64_t)s[i].rows * (uint64_t)s[i].cols;
        if (s[i].what < MS_LIN) {
            rc = store_float(slot_data(m, &s[i]), n, s[i].n_dims == 2 ? mt : GQ_F32, &x->t, e);
            rc = rc > 0 ? 0 : rc;
            x->dtype = st_dtype(x->t.type);
            st->all_params += n;
            st->all_bytes += x->t.nbytes;
            continue;
        }
        int mi = s[i].layer * TF_NLIN + (s[i].what - MS_LIN);
        const model_module *mm = &m->modules[mi];
        mx_format f = fmts[mi];
        int wr, wc;
        float *w = linear_rows(m, mm, f, o, unpermute, NULL, 0, &wr, &wc, e);
        if (!w) {
            rc = ERR_NOMEM;
            break;
        }
        if (mx_is_block_format(f)) {
            size_t rows = (size_t)mm->rows, cols = (size_t)mm->cols, rb = mx_packed_row_bytes(f, cols),
                   nb = (cols + MX_BLOCK - 1) / MX_BLOCK;
            uint8_t *pk = malloc(mx_packed_size(f, rows, cols) + 1), *sc = malloc(rows * nb + 1);
            if (!pk || !sc) {
                free(pk);
                free(sc);
                free(w);
                rc = err_set(e, ERR_NOMEM, "out of memory");
                break;
            }
            mx_pack(f, w, rows, cols, pk);
            memcpy(sc, pk + rows * rb, rows * nb);
            x->t.data = pk; /* codes first: the scales after them are simply not written */
            x->t.nbytes = rows * rb;
            x->dtype = "U8";
            x->shape[1] = rb;
            st_rec *y = &r[nr++];
            snprintf(y->name, sizeof y->name, "%s.weight_scale", mm->name);
            y->dtype = "U8";
            y->n_dims = 2;
            y->shape[0] = rows;
            y->shape[1] = nb;
            y->is_scale = 1;
            y->t.scales = sc;
            y->t.scale_bytes = rows * nb;
            st->lin_bytes += x->t.nbytes + y->t.scale_bytes;
            st->all_bytes += x->t.nbytes + y->t.scale_bytes;
        } else {
            float *q = w;
            if (f == MX_BF16)
                mx_fake_quant(f, w, w, (size_t)mm->rows, (size_t)mm->cols);
            rc = store_float(q, n, f == MX_BF16 ? GQ_BF16 : source_type(mm), &x->t, e);
            rc = rc > 0 ? 0 : rc;
            x->dtype = st_dtype(x->t.type);
            st->lin_bytes += x->t.nbytes;
            st->all_bytes += x->t.nbytes;
        }
        free(w);
        st->lin_params += n;
        st->lin_params_full += n;
        st->all_params += n;
    }
    json_t *cj = rc == 0 ? mx_config(m, fmts, mt, e) : NULL;
    if (rc == 0 && !cj)
        rc = ERR_FORMAT;
    /* Everything goes into a temporary directory beside DIR, renamed at the end. */
    char tmp[4200];
    const char *names[16];
    int nn = 0;
    int made = 0;
    if (rc == 0) {
        snprintf(tmp, sizeof tmp, "%s.tmp.%ld.XXXXXX", dir, (long)getpid());
        if (!mkdtemp(tmp))
            rc = err_set(e, ERR_IO, "%s: cannot create a directory beside it: %s", dir, strerror(errno));
        else
            made = 1;
    }
    char p[8400];
    if (rc == 0) {
        snprintf(p, sizeof p, "%s/model.safetensors", tmp);
        names[nn++] = "model.safetensors";
        rc = write_safetensors(p, r, nr, &st->file_bytes, e);
    }
    if (rc == 0) {
        char *txt = json_dumps(cj, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
        snprintf(p, sizeof p, "%s/config.json", tmp);
        names[nn++] = "config.json";
        if (!txt)
            rc = err_set(e, ERR_NOMEM, "out of memory");
        else {
            size_t tl = strlen(txt);
            txt[tl] = '\0';
            char *t2 = realloc(txt, tl + 2);
            if (t2) {
                t2[tl] = '\n';
                t2[tl + 1] = '\0';
                txt = t2;
                tl++;
            }
            rc = fw_write_atomic(p, txt, tl, e);
            free(txt);
        }
    }
    /* The tokenizer and the other files a model directory carries. */
    static const char *const hf_files[] = {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                                           "generation_config.json", "tokenizer.model"};
    if (rc == 0 && m->file_kind == MODEL_FILE_HF && !o->tok_path) {
        for (size_t i = 0; i < sizeof hf_files / sizeof *hf_files && rc == 0; i++) {
            char src[4200];
            snprintf(src, sizeof src, "%s/%s", m->path, hf_files[i]);
            if (stat(src, &sb) != 0)
                continue;
            snprintf(p, sizeof p, "%s/%s", tmp, hf_files[i]);
            names[nn++] = hf_files[i];
            rc = copy_file(src, p, e);
        }
    } else if (rc == 0 && o->tok_path) {
        size_t L = strlen(o->tok_path);
        const char *nm = L >= 5 && !strcmp(o->tok_path + L - 5, ".json") ? "tokenizer.json"
                         : L >= 6 && !strcmp(o->tok_path + L - 6, ".model") ? "tokenizer.model"
                                                                            : "tokenizer.bin";
        snprintf(p, sizeof p, "%s/%s", tmp, nm);
        names[nn++] = nm;
        rc = copy_file(o->tok_path, p, e);
    } else if (rc == 0) {
        warnf(o, "the source's tokenizer (GGUF metadata) is not copied: pass --tokenizer FILE to use "
              "the directory");
    }
    if (rc == 0 && rename(tmp, dir) != 0)
        rc = err_set(e, ERR_IO, "%s: %s", dir, strerror(errno));
    if (rc < 0 && made)
        rm_tmp_dir(tmp, names, nn);
    /* name the destination, not the temporary directory that is gone */
    size_t tl = strlen(tmp);
    if (rc < 0 && made && e && !strncmp(e->msg, tmp, tl)) {
        char rest[sizeof e->msg];
        snprintf(rest, sizeof rest, "%s", e->msg + tl);
        err_set(e, rc, "%s%s", dir, rest);
    }
    json_decref(cj);
    for (int i = 0; i < nr; i++)
        qt_free(&r[i].t);
    free(r);
    free(s);
    return rc;
}
