/* mx_cfg -> llama-quantize --tensor-type-file lines. */
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

/* The llama-quantize type for f on rows of cols, with its bits per weight, or
 * NULL with *why set. llama-quantize needs rows of whole blocks: 32 for q8_0,
 * q4_0 and mxfp4, 256 for the K-quants (else it aborts or silently changes
 * the type). NVFP4 goes as MXFP4 would. MXFP6/MXFP8 have no llama.cpp type: the nearest type that loses
 * no precision on the shape (q6_K, q8_0), else bf16, which holds them; bf16
 * always for a config allocated for llama-cpp. */
static const char *quant_type(mx_format f, int cols, int mxfp4, mx_target target, double *bits,
                              const char **why)
{
    int w32 = cols % 32 == 0, w256 = cols % 256 == 0;
    *why = NULL;
    f = mx_format_base(f); /* llama-quantize chooses its own scales */
    /* An allocation made for llama.cpp counted MXFP6/MXFP8 as BF16 (what
     * mxalloc quantize stores): the export keeps that budget. */
    if (target == MX_TARGET_LLAMA_CPP && mx_is_block_format(f) && f != MX_FP4_E2M1 && f != MX_INT8)
        f = MX_BF16;
    switch (f) {
    case MX_FP32: *bits = 32; return "f32";
    case MX_BF16: *bits = 16; return "bf16";
    case MX_FP4_E2M1:
    case MX_NVFP4: /* llama-quantize does not write NVFP4 (mxalloc quantize does): its nearest */
        if (!w32)
            break;
        *bits = mxfp4 ? 4.25 : 4.5;
        return mxfp4 ? "mxfp4" : "q4_0";
    case MX_INT8:
        if (!w32)
            break;
        *bits = 8.5;
        return "q8_0";
    case MX_FP6_E3M2:
    case MX_FP6_E2M3:
        if (w256) {
            *bits = 6.5625;
            return "q6_K";
        }
        /* q8_0 on rows of 32-blocks, as MXFP8 */
        /* fall through */
    case MX_FP8_E4M3:
    case MX_FP8_E5M2:
        *bits = w32 ? 8.5 : 16;
        return w32 ? "q8_0" : "bf16";
    default: *why = "has no llama.cpp type"; return NULL;
    }
    *why = "needs rows of whole 32-blocks";
    return NULL;
}

/* GGUF name with its dots escaped for llama-quantize's regex. */
static void regex_escape(const char *name, char *esc, size_t n)
{
    size_t k = 0;
    for (const char *s = name; *s && k + 3 < n; s++) {
        if (*s == '.')
            esc[k++] = '\\';
        esc[k++] = *s;
    }
    esc[k] = 0;
}

int export_llama_cpp(const mx_cfg *c, int allow_mxfp4, char **out_text, export_stats *st, mx_error *e)
{
    *out_text = NULL;
    export_stats s = {0};
    size_t cap = (size_t)c->n_formats * 96 + 1, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        return err_set(e, ERR_NOMEM, "out of memory");
    buf[0] = 0;
    double wbits = 0;
    for (int i = 0; i < c->n_formats; i++) {
        const cfg_item *it = &c->formats[i];
        char name[128], esc[256];
        const char *why = NULL;
        int rc = 0;
        if (gguf_name(it->name, name, sizeof name))
            rc = err_set(e, ERR_FORMAT, "module %s has no GGUF tensor name (expected "
                         "model.layers.N.self_attn.q_proj ... mlp.down_proj)", it->name);
        else if (it->cols <= 0)
            rc = err_set(e, ERR_ARG, "the config has no shape for %s: give --model MODEL (configs "
                         "written by mxalloc alloc, anneal and the workbench carry the shapes)", it->name);
        double bits = 0;
        const char *ty = rc ? NULL : quant_type(it->fmt, it->cols, allow_mxfp4, c->target, &bits, &why);
        if (!rc && !ty)
            rc = err_set(e, ERR_FORMAT, "%s.weight: %s %s, and its rows have %d columns; "
                         "allocate with --target llama-cpp, or write the model with mxalloc quantize",
                         name, mx_format_name(it->fmt), why, it->cols);
        if (rc) {
            free(buf);
            return rc;
        }
        /* Anchored: llama-quantize uses regex_search, so blk.1 would match blk.10 too. */
        regex_escape(name, esc, sizeof esc);
        int n = snprintf(buf + len, cap - len, "^%s\\.weight$=%s\n", esc, ty);
        if (n < 0 || (size_t)n >= cap - len) {
            free(buf);
            return err_set(e, ERR_INTERNAL, "export buffer too small");
        }
        len += (size_t)n;
        double w = (double)it->rows * it->cols;
        s.weights += w;
        wbits += w * bits;
        if (it->fmt != MX_FP32 && it->fmt != MX_BF16 && !(it->fmt == MX_FP4_E2M1 && !strcmp(ty, "mxfp4")))
            s.n_approx++;
    }
    s.bits = s.weights > 0 ? wbits / s.weights : 0;
    if (st)
        *st = s;
    *out_text = buf;
    return 0;
}

int export_llama_cpp_file(const char *path, const mx_cfg *c, int allow_mxfp4, export_stats *st, mx_error *e)
{
    char *text;
    int rc = export_llama_cpp(c, allow_mxfp4, &text, st, e);
    if (!rc)
        rc = fw_write_atomic(path, text, strlen(text), e);
    free(text);
    return rc;
}

const char export_llama_quantize_usage[] =
    "llama-quantize --tensor-type-file %s --token-embedding-type f16 --output-tensor-type f16 "
    "MODEL-F32.gguf OUT.gguf Q8_0";
