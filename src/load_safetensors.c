/* Hugging Face directories: config.json + model.safetensors, or shards listed
 * by model.safetensors.index.json. LlamaForCausalLM (SmolLM2 included) and
 * Qwen3ForCausalLM; F32/F16/BF16 tensors converted to fp32. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xxhash.h>

#include "src/model_priv.h"

typedef struct hf_ctx {
    file_map *maps;
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

/* Map and parse one more safetensors file. */
static int add_file(hf_ctx *ctx, const char *path, mx_error *e)
{
    file_map *nm = realloc(ctx->maps, (size_t)(ctx->n_maps + 1) * sizeof *nm);
    if (!nm)
        return err_set(e, ERR_NOMEM, "out of memory");
    ctx->maps = nm;
    int rc = fm_open(&ctx->maps[ctx->n_maps], path, e);
    if (rc < 0)
        return rc;
    ctx->n_maps++;
    return parse_safetensors(&ctx->maps[ctx->n_maps - 1], ctx, e);
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
    *tied = json_is_true(tw);
    json_t *rs = json_object_get(j, "rope_scaling");
    if (rs && !json_is_null(rs))
        return err_set(e, ERR_FORMAT, "%s: rope_scaling is not supported", file);
    if (json_is_true(json_object_get(j, "attention_bias")) || json_is_true(json_object_get(j, "mlp_bias")))
        return err_set(e, ERR_FORMAT, "%s: attention_bias/mlp_bias are not supported", file);
    if (json_is_true(json_object_get(j, "use_sliding_window")))
        return err_set(e, ERR_FORMAT, "%s: use_sliding_window is not supported", file);
    const char *act = json_string_value(json_object_get(j, "hidden_act"));
    if (act && strcmp(act, "silu"))
        return err_set(e, ERR_FORMAT, "%s: hidden_act %s not supported (only silu)", file, act);
    return model_check_cfg(c, file, e);
}

int model_load_hf(const char *dir, model *m, mx_error *e)
{
    char path[8192];
    hf_ctx ctx = {0};
    file_map cf = {0};
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
    for (int i = 0; i < ctx.nt; i++) {
        size_t n = strlen(ctx.t[i].name), k = strlen("rotary_emb.inv_freq");
        /* Old checkpoints store the RoPE frequencies; tied models may store lm_head too. */
        if ((n >= k && !strcmp(ctx.t[i].name + n - k, "rotary_emb.inv_freq")) ||
            (tied && !strcmp(ctx.t[i].name, "lm_head.weight")))
            ctx.t[i].skip = 1;
    }
    rc = model_fill(m, tied, ctx.t, ctx.nt, 0, 0, dir, e);
    if (rc < 0)
        goto out;
    XXH64_state_t *h = XXH64_createState();
    if (!h) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    XXH64_reset(h, 0);
    XXH64_update(h, cf.data, (size_t)cf.size);
    for (int i = 0; i < ctx.n_maps; i++)
        XXH64_update(h, ctx.maps[i].data, (size_t)ctx.maps[i].size);
    m->content_hash = XXH64_digest(h);
    XXH64_freeState(h);
    m->file_kind = MODEL_FILE_HF;
out:
    json_decref(cj);
    fm_close(&cf);
    for (int i = 0; i < ctx.n_maps; i++)
        fm_close(&ctx.maps[i]);
    free(ctx.maps);
    free(ctx.t);
    return rc;
}
