/* mx_cfg -> llama.cpp tensor-type lines. */
#include "src/export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/file_write.h"
#include "src/module_name.h"

/* HF module name (or LAYER.KIND) -> GGUF tensor name (without ".weight"); 0 or -1. */
static int gguf_name(const char *name, char *out, size_t n)
{
    int layer, kind;
    return module_name_split(name, &layer, &kind) ? -1 : module_name_gguf(layer, kind, out, n);
}

/* The nearest type llama-quantize makes, by bits per weight (the traits table). */
static const char *gguf_type(mx_format f, int mxfp4)
{
    const mx_traits *t = mx_traits_of(f);
    if (!t)
        return NULL;
    return f == MX_FP4_E2M1 && !mxfp4 ? "q4_0" : t->llama_quant;
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
        rc = fw_write_atomic(path, text, strlen(text), e);
    free(text);
    return rc;
}
