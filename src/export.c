/* mx_cfg -> llama.cpp tensor-type lines. */
#include "src/export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/cache.h"

/* HF module name -> GGUF tensor name (without ".weight"); 0 or -1. */
static int gguf_name(const char *hf, char *out, size_t n)
{
    static const struct {
        const char *hf, *gguf;
    } map[] = {
        {"self_attn.q_proj", "attn_q"}, {"self_attn.k_proj", "attn_k"},
        {"self_attn.v_proj", "attn_v"}, {"self_attn.o_proj", "attn_output"},
        {"mlp.gate_proj", "ffn_gate"},  {"mlp.up_proj", "ffn_up"},
        {"mlp.down_proj", "ffn_down"},
    };
    int layer, pos = 0;
    if (sscanf(hf, "model.layers.%d.%n", &layer, &pos) != 1 || pos == 0 || layer < 0)
        return -1;
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (!strcmp(hf + pos, map[i].hf)) {
            int k = snprintf(out, n, "blk.%d.%s", layer, map[i].gguf);
            return k > 0 && (size_t)k < n ? 0 : -1;
        }
    return -1;
}

/* The nearest GGUF type llama.cpp can store, by bits per weight. */
static const char *gguf_type(mx_format f, int mxfp4)
{
    switch (f) {
    case MX_FP32: return "f32";
    case MX_BF16: return "bf16";
    case MX_FP8_E4M3:
    case MX_FP8_E5M2:
    case MX_INT8: return "q8_0";
    case MX_FP6_E3M2:
    case MX_FP6_E2M3: return "q6_K";
    case MX_FP4_E2M1: return mxfp4 ? "mxfp4" : "q4_0";
    default: return NULL;
    }
}

int export_llama_cpp(const mx_cfg *c, int allow_mxfp4, char **out_text, mx_error *e)
{
    *out_text = NULL;
    size_t cap = (size_t)c->n_formats * 64 + 1, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        return err_set(e, ERR_NOMEM, "out of memory");
    buf[0] = 0;
    for (int i = 0; i < c->n_formats; i++) {
        char name[128], esc[256];
        if (gguf_name(c->formats[i].name, name, sizeof name)) {
            free(buf);
            return err_set(e, ERR_FORMAT, "module %s has no GGUF tensor name (expected "
                           "model.layers.N.self_attn.q_proj ... mlp.down_proj)", c->formats[i].name);
        }
        /* The pattern is a regex in llama-quantize: escape the dots. */
        size_t k = 0;
        for (const char *s = name; *s && k + 3 < sizeof esc; s++) {
            if (*s == '.')
                esc[k++] = '\\';
            esc[k++] = *s;
        }
        esc[k] = 0;
        const char *ty = gguf_type(c->formats[i].fmt, allow_mxfp4);
        int n = snprintf(buf + len, cap - len, "%s\\.weight=%s\n", esc, ty ? ty : "f32");
        if (n < 0 || (size_t)n >= cap - len) {
            free(buf);
            return err_set(e, ERR_INTERNAL, "export buffer too small");
        }
        len += (size_t)n;
    }
    *out_text = buf;
    return 0;
}

int export_llama_cpp_file(const char *path, const mx_cfg *c, int allow_mxfp4, mx_error *e)
{
    char *text;
    int rc = export_llama_cpp(c, allow_mxfp4, &text, e);
    if (!rc)
        rc = cache_write_atomic(path, text, strlen(text), e);
    free(text);
    return rc;
}
