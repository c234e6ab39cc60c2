/* mxalloc export CFG.json --to llama-cpp|json: hand an assignment to other tools. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/cache.h"
#include "src/cfg.h"
#include "src/cmd.h"
#include "src/model.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: mxalloc export CFG.json --to llama-cpp|json [--out FILE] [--model MODEL] [--no-mxfp4]\n\n"
               "  --to llama-cpp   llama-quantize --tensor-type-file lines, one\n"
               "                   'blk\\.N\\.TENSOR\\.weight=TYPE' per module (GGUF names)\n"
               "  --to json        the normalized config\n"
               "  --out FILE       write there (atomically) instead of standard output\n"
               "  --model MODEL    first check that the config belongs to this model\n"
               "  --no-mxfp4       map mxfp4_e2m1 to q4_0 (llama.cpp builds without MXFP4)\n"
               "  --help           this text\n");
}

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

static char *llama_cpp_text(const mx_cfg *c, int mxfp4, mx_error *e)
{
    size_t cap = (size_t)c->n_formats * 64 + 1, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        err_set(e, ERR_NOMEM, "out of memory");
        return NULL;
    }
    buf[0] = 0;
    for (int i = 0; i < c->n_formats; i++) {
        char name[128], esc[256];
        if (gguf_name(c->formats[i].name, name, sizeof name)) {
            err_set(e, ERR_FORMAT, "module %s has no GGUF tensor name (expected "
                    "model.layers.N.self_attn.q_proj ... mlp.down_proj)", c->formats[i].name);
            free(buf);
            return NULL;
        }
        /* The pattern is a regex in llama-quantize: escape the dots. */
        size_t k = 0;
        for (const char *s = name; *s && k + 3 < sizeof esc; s++) {
            if (*s == '.')
                esc[k++] = '\\';
            esc[k++] = *s;
        }
        esc[k] = 0;
        const char *ty = gguf_type(c->formats[i].fmt, mxfp4);
        int n = snprintf(buf + len, cap - len, "%s\\.weight=%s\n", esc, ty ? ty : "f32");
        if (n < 0 || (size_t)n >= cap - len) {
            err_set(e, ERR_INTERNAL, "export buffer too small");
            free(buf);
            return NULL;
        }
        len += (size_t)n;
    }
    return buf;
}

int cmd_export(int argc, char **argv)
{
    const char *cfg_path = NULL, *to = NULL, *out = NULL, *model_path = NULL;
    int mxfp4 = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--no-mxfp4")) {
            mxfp4 = 0;
            continue;
        }
        if (!strcmp(a, "--to"))
            dst = &to;
        else if (!strcmp(a, "--out"))
            dst = &out;
        else if (!strcmp(a, "--model"))
            dst = &model_path;
        if (dst) {
            if (i + 1 >= argc) {
                fprintf(stderr, "mxalloc export: %s needs a value\n", a);
                return 2;
            }
            *dst = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "mxalloc export: unknown option '%s' (see --help)\n", a);
            return 2;
        } else if (!cfg_path) {
            cfg_path = a;
        } else {
            fprintf(stderr, "mxalloc export: unexpected argument '%s'\n", a);
            return 2;
        }
    }
    if (!cfg_path || !to) {
        fprintf(stderr, "mxalloc export: %s\n", !cfg_path ? "missing the config file" : "missing --to");
        usage(stderr);
        return 2;
    }
    int llama = !strcmp(to, "llama-cpp") || !strcmp(to, "llama.cpp");
    if (!llama && strcmp(to, "json")) {
        fprintf(stderr, "mxalloc export: --to: '%s' is not llama-cpp or json\n", to);
        return 2;
    }
    mx_cfg c;
    mx_error e = {0};
    char *text = NULL;
    int rc = cfg_load(cfg_path, &c, &e);
    if (!rc && model_path) {
        model m;
        rc = model_load(model_path, &m, &e);
        if (!rc) {
            rc = cfg_check_model(&c, &m, &e);
            model_free(&m);
        }
    }
    if (!rc) {
        text = llama ? llama_cpp_text(&c, mxfp4, &e) : cfg_to_json(&c, &e);
        if (!text)
            rc = e.code ? e.code : ERR_NOMEM;
    }
    if (!rc && !llama) {
        size_t n = strlen(text);
        char *t2 = realloc(text, n + 2);
        if (!t2)
            rc = err_set(&e, ERR_NOMEM, "out of memory");
        else {
            text = t2;
            text[n] = '\n';
            text[n + 1] = 0;
        }
    }
    if (!rc) {
        if (out)
            rc = cache_write_atomic(out, text, strlen(text), &e);
        else
            fputs(text, stdout);
    }
    if (rc)
        fprintf(stderr, "mxalloc export: %s\n", e.msg);
    free(text);
    cfg_free(&c);
    return rc ? 1 : 0;
}
