/* Module names: HF, LAYER.KIND and GGUF spellings from one table. */
#include "src/module_name.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kernels/tf.h"

/* Indexed by enum tf_linear (kernels/tf.h). */
static const struct {
    const char *label, *hf, *gguf;
} kinds[TF_NLIN] = {
    {"q", "self_attn.q_proj", "attn_q"},  {"k", "self_attn.k_proj", "attn_k"},
    {"v", "self_attn.v_proj", "attn_v"},  {"o", "self_attn.o_proj", "attn_output"},
    {"gate", "mlp.gate_proj", "ffn_gate"}, {"up", "mlp.up_proj", "ffn_up"},
    {"down", "mlp.down_proj", "ffn_down"},
};

#define HF_PREFIX "model.layers."

const char *module_name_kind_label(int kind)
{
    return kind >= 0 && kind < TF_NLIN ? kinds[kind].label : "?";
}

int module_name_kind_parse(const char *label)
{
    for (int k = 0; k < TF_NLIN; k++)
        if (!strcasecmp(label, kinds[k].label))
            return k;
    return -1;
}

/* A layer number of digits only, ending at *end: 0, or -1. */
static int parse_layer(const char *s, const char **end, int *layer)
{
    if (*s < '0' || *s > '9')
        return -1;
    char *e;
    errno = 0;
    long v = strtol(s, &e, 10);
    if (errno || v > INT_MAX)
        return -1;
    *end = e;
    *layer = (int)v;
    return 0;
}

int module_name_split(const char *name, int *layer, int *kind)
{
    const char *rest;
    int l;
    if (!name)
        return -1;
    if (!strncmp(name, HF_PREFIX, strlen(HF_PREFIX))) {
        if (parse_layer(name + strlen(HF_PREFIX), &rest, &l) || *rest != '.')
            return -1;
        for (int k = 0; k < TF_NLIN; k++)
            if (!strcmp(rest + 1, kinds[k].hf)) {
                *layer = l, *kind = k;
                return 0;
            }
        return -1;
    }
    if (parse_layer(name, &rest, &l) || *rest != '.')
        return -1;
    int k = module_name_kind_parse(rest + 1);
    if (k < 0)
        return -1;
    *layer = l, *kind = k;
    return 0;
}

/* snprintf's result k fitted into n bytes. */
static int put(size_t n, int k)
{
    return k > 0 && (size_t)k < n ? 0 : -1;
}

int module_name_hf(int layer, int kind, char *out, size_t n)
{
    if (layer < 0 || kind < 0 || kind >= TF_NLIN)
        return -1;
    return put(n, snprintf(out, n, HF_PREFIX "%d.%s", layer, kinds[kind].hf));
}

int module_name_short(int layer, int kind, char *out, size_t n)
{
    if (layer < 0 || kind < 0 || kind >= TF_NLIN)
        return -1;
    return put(n, snprintf(out, n, "%d.%s", layer, kinds[kind].label));
}

int module_name_gguf(int layer, int kind, char *out, size_t n)
{
    if (layer < 0 || kind < 0 || kind >= TF_NLIN)
        return -1;
    return put(n, snprintf(out, n, "blk.%d.%s", layer, kinds[kind].gguf));
}

int module_name_canonical(const char *name, char *out, size_t n)
{
    int layer, kind;
    if (strncmp(name, HF_PREFIX, strlen(HF_PREFIX)) && !module_name_split(name, &layer, &kind))
        return module_name_hf(layer, kind, out, n);
    int k = snprintf(out, n, "%s", name);
    return k >= 0 && (size_t)k < n ? 0 : -1;
}
