/* Names of the quantizable linear modules, one row per kind: the HF name the
 * model, score files and configs store ("model.layers.3.mlp.down_proj"), the
 * short LAYER.KIND the workbench and tables show ("3.down"), and the GGUF
 * tensor name ("blk.3.ffn_down"). Every place that reads a module name takes
 * either spelling through module_name_canonical. */
#ifndef MXALLOC_MODULE_NAME_H
#define MXALLOC_MODULE_NAME_H

#include <stddef.h>

/* Short kind label: "q", "k", "v", "o", "gate", "up", "down"; "?" out of range. */
const char *module_name_kind_label(int kind);
/* Kind of a short label (case-insensitive), or -1. */
int module_name_kind_parse(const char *label);
/* Layer and kind of a name in either spelling (HF or LAYER.KIND): 0, or -1
 * when it is neither (embeddings, lm_head, a malformed name). */
int module_name_split(const char *name, int *layer, int *kind);
/* "model.layers.L.self_attn.q_proj" ...: 0, or -1 (bad kind or layer, n too small). */
int module_name_hf(int layer, int kind, char *out, size_t n);
/* "L.q" ...: 0, or -1. */
int module_name_short(int layer, int kind, char *out, size_t n);
/* "blk.L.attn_q" ... (without ".weight"): 0, or -1. */
int module_name_gguf(int layer, int kind, char *out, size_t n);
/* The HF name of a LAYER.KIND name; any other name is copied as it is (so an
 * unknown name still fails later with "no module NAME"). 0, or -1 when out is
 * too small. */
int module_name_canonical(const char *name, char *out, size_t n);

#endif
