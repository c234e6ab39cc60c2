/* GGUF v2/v3 model files: architectures llama, qwen3 and deci (llama.cpp's
 * Llama of per-layer sizes, which mxalloc quantize writes for a model pruned
 * unevenly: zero-padded to the largest layer on load); tensors F32, F16,
 * BF16 and the quantized types of kernels/ggml_quant.h, dequantized to the
 * fp32 view on load. llama's q/k rows, permuted by llama.cpp's converter for
 * its interleaved RoPE, are put back in HF order so every llama model loads
 * with TF_ROPE_HALF and the same weights whatever the file format. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "src/gguf.h"
#include "src/model_priv.h"

/* `arch.suffix` as an int in [0, INT32_MAX]; def = INT32_MIN means required. */
static int get_int(const gguf_file *g, const char *arch, const char *suffix, int def, int *out,
                   mx_error *e)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    const gguf_kv *k = gguf_find(g, key);
    if (!k) {
        if (def == INT32_MIN)
            return err_set(e, ERR_FORMAT, "%s: missing metadata key %s", g->f.path, key);
        *out = def;
        return 0;
    }
    if (k->type == GGUF_ARRAY)
        return err_set(e, ERR_FORMAT, "%s: %s is a per-layer array: not supported", g->f.path, key);
    int64_t v;
    if (gguf_int(g, k, &v) < 0 || v < 0 || v > INT32_MAX)
        return err_set(e, ERR_FORMAT, "%s: %s must be a non-negative integer", g->f.path, key);
    *out = (int)v;
    return 0;
}

/* `arch.suffix` per layer: a scalar for every layer or an array of n_layers
 * (1 <= value <= INT32_MAX); *max their largest, *varies 1 when they differ. */
static int get_layer_ints(const gguf_file *g, const char *arch, const char *suffix, int n_layers, int *out,
                          int *max, int *varies, mx_error *e)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    const gguf_kv *k = gguf_find(g, key);
    *varies = 0;
    if (!k)
        return err_set(e, ERR_FORMAT, "%s: missing metadata key %s", g->f.path, key);
    if (k->type == GGUF_ARRAY) {
        if (k->arr_n != (uint64_t)n_layers || gguf_ints(g, k, out) < 0)
            return err_set(e, ERR_FORMAT, "%s: %s must hold %d integers (one per layer)", g->f.path, key, n_layers);
    } else {
        int64_t v;
        if (gguf_int(g, k, &v) < 0 || v > INT32_MAX)
            return err_set(e, ERR_FORMAT, "%s: %s must be a non-negative integer", g->f.path, key);
        for (int l = 0; l < n_layers; l++)
            out[l] = (int)v;
    }
    *max = 0;
    for (int l = 0; l < n_layers; l++) {
        if (out[l] < 1)
            return err_set(e, ERR_FORMAT, "%s: %s of layer %d is %d: layers without attention or MLP are not "
                           "supported", g->f.path, key, l, out[l]);
        *varies |= out[l] != out[0];
        *max = out[l] > *max ? out[l] : *max;
    }
    return 0;
}

static int get_float(const gguf_file *g, const char *arch, const char *suffix, float def, float *out,
                     mx_error *e)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    const gguf_kv *k = gguf_find(g, key);
    double d = def;
    if (k && gguf_float(g, k, &d) < 0)
        return err_set(e, ERR_FORMAT, "%s: %s must be a number", g->f.path, key);
    *out = (float)d;
    return 0;
}

/* GGUF lists the fastest-varying dimension first; model_src is row-major. */
static void to_src(const gguf_file *g, const gguf_tensor *gt, model_src *t)
{
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", gt->name);
    t->n_dims = gt->n_dims;
    for (int d = 0; d < gt->n_dims; d++)
        t->dims[d] = gt->ne[gt->n_dims - 1 - d];
    t->dtype = gq_traits_of(gt->type) ? (int)gt->type : -1;
    const char *nm = gq_type_name(gt->type);
    if (nm)
        snprintf(t->dtype_name, sizeof t->dtype_name, "%s (%u)", nm, gt->type);
    else
        snprintf(t->dtype_name, sizeof t->dtype_name, "unknown ggml type %u", gt->type);
    t->file = g->f.path;
    if (t->dtype >= 0) {
        t->data = g->f.data + gt->offset;
        t->nbytes = gt->nbytes;
    }
}

int model_load_gguf(const char *path, model *m, mx_error *e)
{
    gguf_file g;
    int rc = gguf_open(&g, path, e);
    if (rc < 0)
        return rc;
    model_src *t = NULL;
    int *ly = NULL; /* per-layer head counts, kv head counts, feed-forward lengths */
    char arch[8];
    const gguf_kv *ak = gguf_find(&g, "general.architecture");
    const char *astr;
    uint64_t alen;
    if (!ak || gguf_str(&g, ak, &astr, &alen) < 0) {
        rc = err_set(e, ERR_FORMAT, "%s: no general.architecture string", path);
        goto out;
    }
    int deci = alen == 4 && !memcmp(astr, "deci", 4);
    if ((alen == 5 && !memcmp(astr, "llama", 5)) || deci) {
        m->arch = MODEL_ARCH_LLAMA;
    } else if (alen == 5 && !memcmp(astr, "qwen3", 5)) {
        m->arch = MODEL_ARCH_QWEN3;
    } else {
        rc = err_set(e, ERR_FORMAT, "%s: architecture %.*s not supported (supported: llama, qwen3, deci)", path,
                     (int)(alen > 40 ? 40 : alen), astr);
        goto out;
    }
    snprintf(arch, sizeof arch, "%.*s", (int)alen, astr);
    snprintf(m->arch_name, sizeof m->arch_name, "%s", arch);
    tf_config *cf = &m->cfg;
    memset(cf, 0, sizeof *cf);
    if ((rc = get_int(&g, arch, "embedding_length", INT32_MIN, &cf->dim, e)) < 0 ||
        (rc = get_int(&g, arch, "block_count", INT32_MIN, &cf->n_layers, e)) < 0)
        goto out;
    if (cf->n_layers < 1 || cf->n_layers > 4096) {
        rc = err_set(e, ERR_FORMAT, "%s: %s.block_count %d is not in 1..4096", path, arch, cf->n_layers);
        goto out;
    }
    int vh, vk, vf;
    if (!(ly = calloc(3 * (size_t)cf->n_layers, sizeof *ly))) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    int *lh = ly, *lk = ly + cf->n_layers, *lf = ly + 2 * cf->n_layers;
    if ((rc = get_layer_ints(&g, arch, "feed_forward_length", cf->n_layers, lf, &cf->hidden_dim, &vf, e)) < 0 ||
        (rc = get_layer_ints(&g, arch, "attention.head_count", cf->n_layers, lh, &cf->n_heads, &vh, e)) < 0)
        goto out;
    char kvkey[64];
    snprintf(kvkey, sizeof kvkey, "%s.attention.head_count_kv", arch);
    if (!gguf_find(&g, kvkey)) {
        memcpy(lk, lh, (size_t)cf->n_layers * sizeof *lk);
        cf->n_kv_heads = cf->n_heads;
        vk = vh;
    } else if ((rc = get_layer_ints(&g, arch, "attention.head_count_kv", cf->n_layers, lk, &cf->n_kv_heads, &vk,
                                    e)) < 0)
        goto out;
    /* the padding keeps each q head on its k/v head: one ratio for every layer */
    for (int l = 0; l < cf->n_layers; l++)
        if (lh[l] % lk[l] || lh[l] / lk[l] != cf->n_heads / cf->n_kv_heads || cf->n_heads % cf->n_kv_heads) {
            rc = err_set(e, ERR_FORMAT, "%s: layer %d has %d q heads for %d k/v heads, unlike the others", path, l,
                         lh[l], lk[l]);
            goto out;
        }
    int varies = vh || vk || vf;
    if (varies && m->arch != MODEL_ARCH_LLAMA) {
        rc = err_set(e, ERR_FORMAT, "%s: per-layer sizes are supported for llama/deci only", path);
        goto out;
    }
    model_layer_sizes lsz = {lh, lk, lf};
    if ((rc = get_int(&g, arch, "context_length", 2048, &cf->max_seq, e)) < 0 ||
        (rc = get_float(&g, arch, "attention.layer_norm_rms_epsilon", 1e-5f, &cf->norm_eps, e)) < 0 ||
        (rc = get_float(&g, arch, "rope.freq_base", 10000.0f, &cf->rope_theta, e)) < 0)
        goto out;
    if (cf->n_heads < 1) {
        rc = err_set(e, ERR_FORMAT, "%s: %s.attention.head_count must be positive", path, arch);
        goto out;
    }
    /* llama.cpp's default head size is n_embd / layer 0's head count */
    if ((rc = get_int(&g, arch, "attention.key_length", cf->dim / lh[0], &cf->head_dim, e)) < 0)
        goto out;
    int rot = cf->head_dim;
    if ((rc = get_int(&g, arch, "rope.dimension_count", cf->head_dim, &rot, e)) < 0)
        goto out;
    if (rot != cf->head_dim) {
        rc = err_set(e, ERR_FORMAT, "%s: partial rotary embedding (%d of %d dims) not supported", path, rot,
                     cf->head_dim);
        goto out;
    }
    char key[64];
    snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
    const gguf_kv *sk = gguf_find(&g, key);
    const char *sv;
    uint64_t sl;
    if (sk && !(gguf_str(&g, sk, &sv, &sl) == 0 && sl == 4 && !memcmp(sv, "none", 4))) {
        rc = err_set(e, ERR_FORMAT, "%s: rope scaling (%s) is not supported", path, key);
        goto out;
    }
    /* The vocabulary size is the embedding's row count. */
    int tied = 1;
    const gguf_tensor *emb = gguf_tensor_find(&g, "token_embd.weight");
    if (!emb || emb->n_dims != 2) {
        rc = err_set(e, ERR_FORMAT, "%s: missing 2-D tensor token_embd.weight", path);
        goto out;
    }
    cf->vocab_size = emb->ne[1] <= INT32_MAX ? (int)emb->ne[1] : -1;
    if (gguf_tensor_find(&g, "output.weight"))
        tied = 0;
    cf->rope_style = TF_ROPE_HALF;
    /* Written by mxalloc quantize from a llama2.c checkpoint: keep llama.cpp's
     * interleaved q/k rows and rotate interleaved pairs, as the source did,
     * so the file computes bit for bit what the source computes (the
     * rotate-half form is the same function but sums in another order). */
    int keep_interleaved = 0;
    const gguf_kv *rl = gguf_find(&g, "mxalloc.rope_layout");
    const char *rv;
    uint64_t rn;
    if (rl && m->arch == MODEL_ARCH_LLAMA) {
        if (gguf_str(&g, rl, &rv, &rn) < 0 || !((rn == 11 && !memcmp(rv, "interleaved", 11)) ||
                                                 (rn == 4 && !memcmp(rv, "half", 4)))) {
            rc = err_set(e, ERR_FORMAT, "%s: mxalloc.rope_layout must be \"interleaved\" or \"half\"", path);
            goto out;
        }
        keep_interleaved = rn == 11;
        if (keep_interleaved)
            cf->rope_style = TF_ROPE_INTERLEAVED;
    }
    cf->qk_norm = m->arch == MODEL_ARCH_QWEN3;
    if ((rc = model_check_cfg(cf, path, e)) < 0)
        goto out;
    if (gguf_tensor_find(&g, "rope_freqs.weight")) {
        rc = err_set(e, ERR_FORMAT, "%s: rope_freqs.weight (RoPE frequency scaling) not supported", path);
        goto out;
    }
    t = calloc(g.n_tensors ? (size_t)g.n_tensors : 1, sizeof *t);
    if (!t) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (uint64_t i = 0; i < g.n_tensors; i++)
        to_src(&g, &g.t[i], &t[i]);
    rc = model_fill(m, tied, t, (int)g.n_tensors, 1, m->arch == MODEL_ARCH_LLAMA && !keep_interleaved,
                   varies ? &lsz : NULL, path, e);
    if (rc < 0)
        goto out;
    m->file_kind = MODEL_FILE_GGUF;
    m->content_hash = XXH64(g.f.data, (size_t)g.f.size, 0);
out:
    free(t);
    free(ly);
    gguf_close(&g);
    return rc;
}
