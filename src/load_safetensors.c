/* Hugging Face directories: config.json + model.safetensors, or shards listed
 * by model.safetensors.index.json. LlamaForCausalLM (SmolLM2, TinyLlama,
 * TinyStories included) and Qwen3ForCausalLM; F32/F16/BF16 tensors converted
 * to fp32. Tied embeddings may be stored as model.embed_tokens.weight,
 * lm_head.weight or both (then identical). config.json keys that change the
 * math beyond what the forward pass computes are refused, one line each. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xxhash.h>

#include "kernels/mx.h"
#include "src/model_priv.h"
#include "src/quantize.h"

typedef struct hf_ctx {
    file_map **maps; /* one allocation each: tensors keep pointers to their file's path */
    int n_maps;
    model_src *t;
    int nt, cap;
} hf_ctx;

static int st_dtype(const char *s, size_t *elsize)
{
    static const struct { const char *name; int dt; size_t size; } tab[] = {
        {"F32", MDT_F32, 4}, {"F16", MDT_F16, 2}, {"BF16", MDT_BF16, 2}, {"F64", -1, 8},
        {"I64", -1, 8}, {"U64", -1, 8}, {"I32", -1, 4}, {"U32", -1, 4}, {"I16", -1, 2},
        {"U16", -1, 2}, {"I8", -1, 1}, {"U8", -1, 1}, {"BOOL", -1, 1}, {"F8_E4M3", -1, 1},
        {"F8_E5M2", -1, 1}};
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (!strcmp(s, tab[i].name)) {
            *elsize = tab[i].size;
            return tab[i].dt;
        }
    *elsize = 0;
    return -1;
}

/* Parse one safetensors file's header, appending its tensors to ctx. */
static int parse_safetensors(const file_map *f, hf_ctx *ctx, mx_error *e)
{
    const char *p = f->path;
    if (f->size < 8)
        return err_set(e, ERR_FORMAT, "%s: truncated: safetensors header length needs 8 bytes, "
                       "file has %llu", p, (unsigned long long)f->size);
    uint64_t hlen = fm_le64(f->data);
    if (!fm_has(f, 8, hlen))
        return err_set(e, ERR_FORMAT, "%s: truncated: safetensors header needs %llu bytes at offset 8, "
                       "file has %llu", p, (unsigned long long)hlen, (unsigned long long)f->size);
    uint64_t base = 8 + hlen, avail = f->size - base;
    json_error_t je;
    json_t *root = json_loadb((const char *)f->data + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return err_set(e, ERR_FORMAT, "%s: bad safetensors header JSON: %s (line %d)", p, je.text, je.line);
    int rc = 0;
    if (!json_is_object(root))
        rc = err_set(e, ERR_FORMAT, "%s: safetensors header is not a JSON object", p);
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (rc < 0)
            break;
        if (!strcmp(key, "__metadata__"))
            continue;
        json_t *dt = json_object_get(v, "dtype"), *shape = json_object_get(v, "shape"),
               *offs = json_object_get(v, "data_offsets");
        if (!json_is_string(dt) || !json_is_array(shape) || !json_is_array(offs) ||
            json_array_size(offs) != 2 || !json_is_integer(json_array_get(offs, 0)) ||
            !json_is_integer(json_array_get(offs, 1))) {
            rc = err_set(e, ERR_FORMAT, "%s: tensor %s: malformed entry (needs dtype, shape, data_offsets)",
                         p, key);
            break;
        }
        if (strlen(key) >= sizeof ctx->t[0].name) {
            rc = err_set(e, ERR_FORMAT, "%s: tensor name too long: %.64s...", p, key);
            break;
        }
        if (json_array_size(shape) > 4) {
            rc = err_set(e, ERR_FORMAT, "%s: tensor %s has %zu dimensions (at most 4 supported)", p, key,
                         json_array_size(shape));
            break;
        }
        if (ctx->nt == ctx->cap) {
            int cap = ctx->cap ? 2 * ctx->cap : 64;
            model_src *nt = realloc(ctx->t, (size_t)cap * sizeof *nt);
            if (!nt) {
                rc = err_set(e, ERR_NOMEM, "out of memory");
                break;
            }
            ctx->t = nt;
            ctx->cap = cap;
        }
        model_src *t = &ctx->t[ctx->nt];
        memset(t, 0, sizeof *t);
        snprintf(t->name, sizeof t->name, "%s", key);
        snprintf(t->dtype_name, sizeof t->dtype_name, "%s", json_string_value(dt));
        size_t elsize;
        t->dtype = st_dtype(t->dtype_name, &elsize);
        t->file = f->path;
        t->n_dims = (int)json_array_size(shape);
        uint64_t n = 1;
        for (int d = 0; d < t->n_dims; d++) {
            json_t *x = json_array_get(shape, (size_t)d);
            if (!json_is_integer(x) || json_integer_value(x) < 0) {
                rc = err_set(e, ERR_FORMAT, "%s: tensor %s: shape entries must be non-negative integers",
                             p, key);
                break;
            }
            t->dims[d] = (uint64_t)json_integer_value(x);
            if (!fm_mul(n, t->dims[d], &n)) {
                rc = err_set(e, ERR_FORMAT, "%s: tensor %s: shape overflows", p, key);
                break;
            }
        }
        if (rc < 0)
            break;
        json_int_t b = json_integer_value(json_array_get(offs, 0)),
                   en = json_integer_value(json_array_get(offs, 1));
        uint64_t need;
        if (b < 0 || en < b) {
            rc = err_set(e, ERR_FORMAT, "%s: tensor %s: bad data_offsets [%lld, %lld]", p, key,
                         (long long)b, (long long)en);
        } else if ((uint64_t)en > avail) {
            rc = err_set(e, ERR_FORMAT, "%s: truncated: tensor %s needs %llu bytes at offset %llu, "
                         "file has %llu", p, key, (unsigned long long)(en - b),
                         (unsigned long long)(base + (uint64_t)b), (unsigned long long)f->size);
        } else if (elsize && (!fm_mul(n, elsize, &need) || need != (uint64_t)(en - b))) {
            rc = err_set(e, ERR_FORMAT, "%s: tensor %s: data_offsets span %llu bytes but shape and "
                         "dtype need %llu", p, key, (unsigned long long)(en - b),
                         (unsigned long long)(n * elsize));
        }
        if (rc < 0)
            break;
        t->data = f->data + base + (uint64_t)b;
        t->nbytes = (uint64_t)(en - b);
        ctx->nt++;
    }
    json_decref(root);
    return rc;
}

/* Map and parse one more safetensors file. Each map is its own allocation:
 * the tensors' `file` points at its path, which must not move when the
 * table of maps grows (it did: a use-after-free in messages about an
 * earlier shard). */
static int add_file(hf_ctx *ctx, const char *path, mx_error *e)
{
    file_map **nm = realloc(ctx->maps, (size_t)(ctx->n_maps + 1) * sizeof *nm);
    if (!nm)
        return err_set(e, ERR_NOMEM, "out of memory");
    ctx->maps = nm;
    file_map *f = malloc(sizeof *f);
    if (!f)
        return err_set(e, ERR_NOMEM, "out of memory");
    int rc = fm_open(f, path, e);
    if (rc < 0) {
        free(f);
        return rc;
    }
    ctx->maps[ctx->n_maps++] = f;
    return parse_safetensors(f, ctx, e);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Shards named in the index, in sorted order; each is checked to hold what the
 * index says it holds. */
static int load_index(const char *dir, hf_ctx *ctx, mx_error *e)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    file_map f;
    int rc = fm_open(&f, path, e);
    if (rc < 0)
        return rc;
    json_error_t je;
    json_t *root = f.size ? json_loadb((const char *)f.data, (size_t)f.size, 0, &je) : NULL;
    if (!root) {
        rc = err_set(e, ERR_FORMAT, "%s: bad JSON: %s (line %d)", path, f.size ? je.text : "empty file",
                     f.size ? je.line : 0);
        fm_close(&f);
        return rc;
    }
    json_t *wm = json_object_get(root, "weight_map");
    const char **names = NULL;
    size_t nn = 0;
    if (!json_is_object(wm) || json_object_size(wm) == 0) {
        rc = err_set(e, ERR_FORMAT, "%s: no weight_map object", path);
        goto out;
    }
    names = calloc(json_object_size(wm), sizeof *names);
    if (!names) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    const char *key;
    json_t *v;
    json_object_foreach(wm, key, v) {
        const char *s = json_string_value(v);
        if (!s || !*s || strchr(s, '/') || !strcmp(s, ".") || !strcmp(s, "..")) {
            rc = err_set(e, ERR_FORMAT, "%s: weight_map entry for %s must be a file name in the same "
                         "directory", path, key);
            goto out;
        }
        names[nn++] = s;
    }
    qsort(names, nn, sizeof *names, cmp_str);
    for (size_t i = 0; i < nn && rc == 0; i++) {
        if (i && !strcmp(names[i], names[i - 1]))
            continue;
        char shard[8192];
        snprintf(shard, sizeof shard, "%s/%s", dir, names[i]);
        int first = ctx->nt;
        rc = add_file(ctx, shard, e);
        /* Every tensor the index puts in this shard must be there. */
        json_object_foreach(wm, key, v) {
            if (rc < 0)
                break;
            if (strcmp(json_string_value(v), names[i]))
                continue;
            int found = 0;
            for (int j = first; j < ctx->nt && !found; j++)
                found = !strcmp(ctx->t[j].name, key);
            if (!found)
                rc = err_set(e, ERR_FORMAT, "%s: the index puts tensor %s here but the file lacks it",
                             shard, key);
        }
    }
out:
    free(names);
    json_decref(root);
    fm_close(&f);
    return rc;
}

static int get_int(json_t *cfg, const char *key, int def, int *out, const char *file, mx_error *e)
{
    json_t *v = json_object_get(cfg, key);
    if (!v || json_is_null(v)) {
        if (def == INT32_MIN)
            return err_set(e, ERR_FORMAT, "%s: missing integer \"%s\"", file, key);
        *out = def;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT32_MAX)
        return err_set(e, ERR_FORMAT, "%s: \"%s\" must be a non-negative integer", file, key);
    *out = (int)json_integer_value(v);
    return 0;
}

static int get_num(json_t *cfg, const char *key, double def, float *out, const char *file, mx_error *e)
{
    json_t *v = json_object_get(cfg, key);
    if (!v || json_is_null(v)) {
        *out = (float)def;
        return 0;
    }
    if (!json_is_number(v))
        return err_set(e, ERR_FORMAT, "%s: \"%s\" must be a number", file, key);
    *out = (float)json_number_value(v);
    return 0;
}

/* rope_scaling (null, or a type that leaves the frequencies alone) and
 * transformers 5's rope_parameters {rope_type: "default", rope_theta}. */
static int check_rope(json_t *j, const char *key, tf_config *c, const char *file, mx_error *e)
{
    json_t *rs = json_object_get(j, key);
    if (!rs || json_is_null(rs))
        return 0;
    if (!json_is_object(rs))
        return err_set(e, ERR_FORMAT, "%s: \"%s\" must be an object or null", file, key);
    const char *type = json_string_value(json_object_get(rs, "rope_type"));
    if (!type)
        type = json_string_value(json_object_get(rs, "type"));
    if (!type || strcmp(type, "default"))
        return err_set(e, ERR_FORMAT, "%s: \"%s\" of type %.40s is not supported (RoPE scaling changes "
                       "the rotary frequencies; only unscaled RoPE is computed)", file, key,
                       type ? type : "(none)");
    json_t *th = json_object_get(rs, "rope_theta");
    if (th) {
        if (!json_is_number(th))
            return err_set(e, ERR_FORMAT, "%s: \"%s\".rope_theta must be a number", file, key);
        c->rope_theta = (float)json_number_value(th);
    }
    return 0;
}

/* Read config.json into m->cfg / m->arch; *tied from tie_word_embeddings. */
static int parse_config(json_t *j, const char *file, model *m, int *tied, mx_error *e)
{
    if (!json_is_object(j))
        return err_set(e, ERR_FORMAT, "%s: not a JSON object", file);
    const char *arch = NULL;
    json_t *archs = json_object_get(j, "architectures");
    if (json_is_array(archs) && json_array_size(archs) > 0)
        arch = json_string_value(json_array_get(archs, 0));
    const char *mt = json_string_value(json_object_get(j, "model_type"));
    if (!arch && mt)
        arch = !strcmp(mt, "llama") ? "LlamaForCausalLM" : !strcmp(mt, "qwen3") ? "Qwen3ForCausalLM" : mt;
    if (!arch)
        return err_set(e, ERR_FORMAT, "%s: no \"architectures\" or \"model_type\"", file);
    if (!strcmp(arch, "LlamaForCausalLM"))
        m->arch = MODEL_ARCH_LLAMA;
    else if (!strcmp(arch, "Qwen3ForCausalLM"))
        m->arch = MODEL_ARCH_QWEN3;
    else
        return err_set(e, ERR_FORMAT, "%s: architecture %s not supported (supported: LlamaForCausalLM, "
                       "Qwen3ForCausalLM)", file, arch);
    snprintf(m->arch_name, sizeof m->arch_name, "%s", m->arch == MODEL_ARCH_QWEN3 ? "qwen3" : "llama");
    tf_config *c = &m->cfg;
    memset(c, 0, sizeof *c);
    int rc;
    if ((rc = get_int(j, "hidden_size", INT32_MIN, &c->dim, file, e)) < 0 ||
        (rc = get_int(j, "intermediate_size", INT32_MIN, &c->hidden_dim, file, e)) < 0 ||
        (rc = get_int(j, "num_hidden_layers", INT32_MIN, &c->n_layers, file, e)) < 0 ||
        (rc = get_int(j, "num_attention_heads", INT32_MIN, &c->n_heads, file, e)) < 0 ||
        (rc = get_int(j, "num_key_value_heads", c->n_heads, &c->n_kv_heads, file, e)) < 0 ||
        (rc = get_int(j, "vocab_size", INT32_MIN, &c->vocab_size, file, e)) < 0 ||
        (rc = get_int(j, "max_position_embeddings", 2048, &c->max_seq, file, e)) < 0)
        return rc;
    if (c->n_heads < 1)
        return err_set(e, ERR_FORMAT, "%s: num_attention_heads must be positive", file);
    if (!json_object_get(j, "head_dim") && c->dim % c->n_heads)
        return err_set(e, ERR_FORMAT, "%s: hidden_size %d not divisible by num_attention_heads %d "
                       "and no head_dim", file, c->dim, c->n_heads);
    if ((rc = get_int(j, "head_dim", c->dim / c->n_heads, &c->head_dim, file, e)) < 0 ||
        (rc = get_num(j, "rope_theta", 10000.0, &c->rope_theta, file, e)) < 0 ||
        (rc = get_num(j, "rms_norm_eps", 1e-6, &c->norm_eps, file, e)) < 0)
        return rc;
    c->rope_style = TF_ROPE_HALF;
    c->qk_norm = m->arch == MODEL_ARCH_QWEN3;
    json_t *tw = json_object_get(j, "tie_word_embeddings");
    /* Python reads 0/1 as false/true too. */
    if (tw && !json_is_boolean(tw) && !json_is_null(tw) && !json_is_integer(tw))
        return err_set(e, ERR_FORMAT, "%s: \"tie_word_embeddings\" must be true or false", file);
    *tied = json_is_true(tw) || (json_is_integer(tw) && json_integer_value(tw) != 0);
    if ((rc = check_rope(j, "rope_scaling", c, file, e)) < 0 ||
        (rc = check_rope(j, "rope_parameters", c, file, e)) < 0)
        return rc;
    static const struct { const char *key, *why; } no[] = {
        {"attention_bias", "q/k/v/o projection biases"}, {"mlp_bias", "MLP projection biases"},
        {"use_sliding_window", "sliding-window attention"}, {"use_qk_norm", "a QK norm Llama lacks"}};
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        json_t *v = json_object_get(j, no[i].key);
        if (v && !json_is_false(v) && !json_is_null(v))
            return err_set(e, ERR_FORMAT, "%s: \"%s\" is not false: %s are not supported", file, no[i].key,
                           no[i].why);
    }
    json_t *prf = json_object_get(j, "partial_rotary_factor");
    if (prf && !json_is_null(prf) && !(json_is_number(prf) && json_number_value(prf) == 1.0))
        return err_set(e, ERR_FORMAT, "%s: \"partial_rotary_factor\" other than 1 (partial RoPE) is not "
                       "supported", file);
    const char *act = json_string_value(json_object_get(j, "hidden_act"));
    if (json_object_get(j, "hidden_act") && !act)
        return err_set(e, ERR_FORMAT, "%s: \"hidden_act\" must be a string", file);
    if (act && strcmp(act, "silu"))
        return err_set(e, ERR_FORMAT, "%s: hidden_act %s not supported (only silu)", file, act);
    /* torch_dtype / dtype name the tensors' type, which each tensor's header says itself. */
    return model_check_cfg(c, file, e);
}

/* A tied matrix may be saved under either name or both (transformers writes
 * whichever the model's state dict kept): use one, and insist that two
 * copies agree byte for byte. */
static int tied_embedding(hf_ctx *ctx, int emb, int head, const char *dir, mx_error *e)
{
    if (head < 0)
        return 0;
    model_src *h = &ctx->t[head];
    if (emb < 0) {
        snprintf(h->name, sizeof h->name, "model.embed_tokens.weight");
        return 0;
    }
    model_src *m = &ctx->t[emb];
    int same = m->dtype == h->dtype && m->n_dims == h->n_dims && m->nbytes == h->nbytes &&
               !memcmp(m->dims, h->dims, sizeof m->dims) && !memcmp(m->data, h->data, (size_t)m->nbytes);
    if (!same)
        return err_set(e, ERR_FORMAT, "%s: tie_word_embeddings is true but model.embed_tokens.weight and "
                       "lm_head.weight are both stored and differ", dir);
    h->skip = 1;
    return 0;
}

/* Packed MX linears (mxalloc quantize --layout mx, AMD Quark's layout):
 * X.weight holds the element codes [rows][packed row bytes] (U8), and
 * X.weight_scale the E8M0 scales [rows][ceil(cols/32)] (U8), with the
 * module's entry in quantization_config.layer_quant_config naming an MX
 * element type, group size 32 and E8M0 scales. Each such pair is unpacked
 * to fp32 (exactly the fake-quantized values) and handed on as an F32
 * tensor; *bufs collects the buffers to free after model_fill. */
static int unpack_mx(json_t *cfg, model *m, int tied, hf_ctx *ctx, float ***bufs, int *nbufs,
                     const char *dir, mx_error *e)
{
    json_t *q = json_object_get(cfg, "quantization_config");
    if (!q || json_is_null(q))
        return 0;
    const char *qm = json_string_value(json_object_get(q, "quant_method"));
    json_t *lq = json_object_get(q, "layer_quant_config");
    if (!qm || strcmp(qm, "quark") || !json_is_object(lq))
        return err_set(e, ERR_FORMAT, "%s/config.json: quantization_config (%.40s) is not one mxalloc reads "
                       "(it reads the packed MX layout of mxalloc quantize --layout mx)", dir,
                       qm ? qm : "no quant_method");
    int ns, rc = 0;
    uint64_t nf;
    model_slot *s = model_slots(&m->cfg, tied, &ns, &nf, e);
    if (!s)
        return ERR_NOMEM;
    *bufs = calloc((size_t)ns + 1, sizeof **bufs);
    if (!*bufs) {
        free(s);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    const char *key;
    json_t *v;
    json_object_foreach(lq, key, v) {
        json_t *w = json_object_get(v, "weight");
        if (rc < 0)
            break;
        if (!w || json_is_null(w))
            continue;
        mx_format f;
        const char *dt = json_string_value(json_object_get(w, "dtype")),
                   *sf = json_string_value(json_object_get(w, "scale_format"));
        if (quant_quark_parse(dt, &f) < 0 || json_integer_value(json_object_get(w, "group_size")) != MX_BLOCK ||
            !sf || strcmp(sf, "e8m0")) {
            rc = err_set(e, ERR_FORMAT, "%s/config.json: %s: only OCP MX weights are read (dtype fp4, "
                         "fp6_e2m3, fp6_e3m2, fp8_e4m3, fp8_e5m2 or int8; group_size 32; scale_format e8m0)",
                         dir, key);
            break;
        }
        char wn[MODEL_NAME_MAX + 32], sn[MODEL_NAME_MAX + 32];
        snprintf(wn, sizeof wn, "%s.weight", key);
        snprintf(sn, sizeof sn, "%s.weight_scale", key);
        const model_slot *sl = NULL;
        for (int i = 0; i < ns && !sl; i++)
            if (!strcmp(s[i].hf, wn) && s[i].what >= MS_LIN)
                sl = &s[i];
        model_src *wt = NULL, *st = NULL;
        for (int i = 0; i < ctx->nt; i++) {
            if (!strcmp(ctx->t[i].name, wn))
                wt = &ctx->t[i];
            if (!strcmp(ctx->t[i].name, sn))
                st = &ctx->t[i];
        }
        if (!sl) {
            rc = err_set(e, ERR_FORMAT, "%s/config.json: quantization_config names %s, which is not a "
                         "linear module of this model", dir, key);
            break;
        }
        if (!wt || !st) {
            rc = err_set(e, ERR_FORMAT, "%s: missing tensor %s", dir, wt ? sn : wn);
            break;
        }
        uint64_t rows = (uint64_t)sl->rows, cols = (uint64_t)sl->cols, nb = (cols + MX_BLOCK - 1) / MX_BLOCK;
        uint64_t rb = mx_packed_row_bytes(f, (size_t)cols);
        if (strcmp(wt->dtype_name, "U8") || strcmp(st->dtype_name, "U8") || wt->n_dims != 2 ||
            st->n_dims != 2 || wt->dims[0] != rows || wt->dims[1] != rb || st->dims[0] != rows ||
            st->dims[1] != nb) {
            rc = err_set(e, ERR_FORMAT, "%s: %s must be U8 [%llu, %llu] and %s U8 [%llu, %llu] for %s of "
                         "[%llu, %llu]", wt->file, wn, (unsigned long long)rows, (unsigned long long)rb, sn,
                         (unsigned long long)rows, (unsigned long long)nb, mx_format_name(f),
                         (unsigned long long)rows, (unsigned long long)cols);
            break;
        }
        size_t cb = (size_t)(rows * rb), sb = (size_t)(rows * nb);
        uint8_t *pk = malloc(cb + sb + 1);
        float *out = malloc((size_t)(rows * cols) * sizeof *out + 1);
        if (!pk || !out) {
            free(pk);
            free(out);
            rc = err_set(e, ERR_NOMEM, "out of memory");
            break;
        }
        memcpy(pk, wt->data, cb);
        memcpy(pk + cb, st->data, sb);
        mx_unpack(f, pk, cb + sb, (size_t)rows, (size_t)cols, out);
        free(pk);
        (*bufs)[(*nbufs)++] = out;
        wt->data = (const uint8_t *)out;
        wt->dtype = MDT_F32;
        snprintf(wt->dtype_name, sizeof wt->dtype_name, "F32");
        wt->dims[1] = cols;
        wt->nbytes = rows * cols * 4;
        st->skip = 1;
    }
    free(s);
    return rc;
}

int model_load_hf(const char *dir, model *m, mx_error *e)
{
    char path[8192];
    hf_ctx ctx = {0};
    file_map cf = {0};
    float **mxbufs = NULL;
    int n_mxbufs = 0;
    json_t *cj = NULL;
    int tied = 0;
    snprintf(path, sizeof path, "%s/config.json", dir);
    struct stat st;
    if (stat(path, &st) != 0)
        return err_set(e, ERR_FORMAT, "%s: a directory without config.json is not a model", dir);
    int rc = fm_open(&cf, path, e);
    if (rc < 0)
        return rc;
    json_error_t je;
    cj = cf.size ? json_loadb((const char *)cf.data, (size_t)cf.size, 0, &je) : NULL;
    if (!cj) {
        rc = err_set(e, ERR_FORMAT, "%s: bad JSON: %s (line %d)", path, cf.size ? je.text : "empty file",
                     cf.size ? je.line : 0);
        goto out;
    }
    rc = parse_config(cj, path, m, &tied, e);
    if (rc < 0)
        goto out;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (stat(path, &st) == 0) {
        rc = add_file(&ctx, path, e);
    } else {
        snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
        if (stat(path, &st) != 0) {
            rc = err_set(e, ERR_FORMAT, "%s: no model.safetensors or model.safetensors.index.json", dir);
            goto out;
        }
        rc = load_index(dir, &ctx, e);
    }
    if (rc < 0)
        goto out;
    int emb = -1, head = -1;
    for (int i = 0; i < ctx.nt; i++) {
        size_t n = strlen(ctx.t[i].name), k = strlen("rotary_emb.inv_freq");
        /* Old checkpoints store the RoPE frequencies. */
        if (n >= k && !strcmp(ctx.t[i].name + n - k, "rotary_emb.inv_freq"))
            ctx.t[i].skip = 1;
        if (!strcmp(ctx.t[i].name, "model.embed_tokens.weight"))
            emb = i;
        if (!strcmp(ctx.t[i].name, "lm_head.weight"))
            head = i;
    }
    if (tied && (rc = tied_embedding(&ctx, emb, head, dir, e)) < 0)
        goto out;
    if ((rc = unpack_mx(cj, m, tied, &ctx, &mxbufs, &n_mxbufs, dir, e)) < 0)
        goto out;
    rc = model_fill(m, tied, ctx.t, ctx.nt, 0, 0, NULL, dir, e);
    if (rc < 0)
        goto out;
    /* mxalloc quantize from a llama2.c checkpoint: HF-order q/k rows here, but
     * the source rotated interleaved pairs; compute as it did (same function,
     * same summation order: the values read back are then bit-identical). */
    const char *rl = json_string_value(json_object_get(cj, "mxalloc_rope_layout"));
    if (rl && !strcmp(rl, "interleaved") && m->arch == MODEL_ARCH_LLAMA) {
        const tf_config *c = &m->cfg;
        for (int l = 0; l < c->n_layers && rc == 0; l++)
            if (model_rows_half_to_interleaved((float *)m->weights.layers[l].lin[TF_Q],
                                               (int64_t)c->n_heads * c->head_dim, c->dim, c->n_heads) < 0 ||
                model_rows_half_to_interleaved((float *)m->weights.layers[l].lin[TF_K],
                                               (int64_t)c->n_kv_heads * c->head_dim, c->dim, c->n_kv_heads) < 0)
                rc = err_set(e, ERR_NOMEM, "out of memory");
        m->cfg.rope_style = TF_ROPE_INTERLEAVED;
        if (rc < 0)
            goto out;
    } else if (rl && strcmp(rl, "half")) {
        rc = err_set(e, ERR_FORMAT, "%s/config.json: \"mxalloc_rope_layout\" must be \"interleaved\" or "
                     "\"half\"", dir);
        goto out;
    }
    XXH64_state_t *h = XXH64_createState();
    if (!h) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    XXH64_reset(h, 0);
    XXH64_update(h, cf.data, (size_t)cf.size);
    for (int i = 0; i < ctx.n_maps; i++)
        XXH64_update(h, ctx.maps[i]->data, (size_t)ctx.maps[i]->size);
    m->content_hash = XXH64_digest(h);
    XXH64_freeState(h);
    m->file_kind = MODEL_FILE_HF;
out:
    json_decref(cj);
    fm_close(&cf);
    for (int i = 0; i < ctx.n_maps; i++) {
        fm_close(ctx.maps[i]);
        free(ctx.maps[i]);
    }
    free(ctx.maps);
    free(ctx.t);
    for (int i = 0; i < n_mxbufs; i++)
        free(mxbufs[i]);
    free(mxbufs);
    return rc;
}
