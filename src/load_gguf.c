/* GGUF v2/v3 model files: architectures llama and qwen3; tensors F32, F16,
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
    char arch[8];
    const gguf_kv *ak = gguf_find(&g, "general.architecture");
    const char *astr;
    uint64_t alen;
    if (!ak || gguf_str(&g, ak, &astr, &alen) < 0) {
        rc = err_set(e, ERR_FORMAT, "%s: no general.architecture string", path);
        goto out;
    }
    if (alen == 5 && !memcmp(astr, "llama", 5)) {
        m->arch = MODEL_ARCH_LLAMA;
    } else if (alen == 5 && !memcmp(astr, "qwen3", 5)) {
        m->arch = MODEL_ARCH_QWEN3;
    } else {
        rc = err_set(e, ERR_FORMAT, "%s: architecture %.*s not supported (supported: llama, qwen3)", path,
                     (int)(alen > 40 ? 40 : alen), astr);
        goto out;
    }
    snprintf(arch, sizeof arch, "%.5s", astr);
    snprintf(m->arch_name, sizeof m->arch_name, "%s", arch);
    tf_config *cf = &m->cfg;
    memset(cf, 0, sizeof *cf);
    if ((rc = get_int(&g, arch, "embedding_length", INT32_MIN, &cf->dim, e)) < 0 ||
        (rc = get_int(&g, arch, "block_count", INT32_MIN, &cf->n_layers, e)) < 0 ||
        (rc = get_int(&g, arch, "feed_forward_length", INT32_MIN, &cf->hidden_dim, e)) < 0 ||
        (rc = get_int(&g, arch, "attention.head_count", INT32_MIN, &cf->n_heads, e)) < 0 ||
        (rc = get_int(&g, arch, "attention.head_count_kv", cf->n_heads, &cf->n_kv_heads, e)) < 0 ||
        (rc = get_int(&g, arch, "context_length", 2048, &cf->max_seq, e)) < 0 ||
        (rc = get_float(&g, arch, "attention.layer_norm_rms_epsilon", 1e-5f, &cf->norm_eps, e)) < 0 ||
        (rc = get_float(&g, arch, "rope.freq_base", 10000.0f, &cf->rope_theta, e)) < 0)
        goto out;
    if (cf->n_heads < 1) {
        rc = err_set(e, ERR_FORMAT, "%s: %s.attention.head_count must be positive", path, arch);
        goto out;
    }
    if ((rc = get_int(&g, arch, "attention.key_length", cf->dim / cf->n_heads, &cf->head_dim, e)) < 0)
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
                   path, e);
    if (rc < 0)
        goto out;
    m->file_kind = MODEL_FILE_GGUF;
    m->content_hash = XXH64(g.f.data, (size_t)g.f.size, 0);
out:
    free(t);
    gguf_close(&g);
    return rc;
}
