/* Deployable artifacts of an assignment: the model with each linear module
 * stored in its assigned format.
 *   quant_write_gguf:   a GGUF v3 llama.cpp runs as it is (MXFP4 -> GGUF
 *                       MXFP4, MXINT8 -> Q8_0 with the same values, other
 *                       formats -> BF16 holding exactly the quantized values)
 *   quant_write_mx_dir: a Hugging Face directory of packed OCP MX tensors
 *                       (AMD Quark's layout: X.weight codes + X.weight_scale
 *                       E8M0 bytes) with a quantization_config
 * Both hold exactly the fake-quantized weights mxalloc measures, and
 * model_load reads both back to them (man/mxalloc.1, QUANTIZE). */
#ifndef MXALLOC_QUANTIZE_H
#define MXALLOC_QUANTIZE_H

#include <stdint.h>

#include "kernels/mx.h"
#include "kernels/err.h"
#include "src/model.h"
#include "src/tok.h"

typedef void (*quant_warn_fn)(void *user, const char *msg);

struct gptq_set;
typedef struct quant_opts {
    const tok *tok;           /* the model's tokenizer (GGUF metadata); NULL for a GGUF source */
    const char *tok_path;     /* the file it came from (tokenizer.json re-read for its merges;
                               * tokenizer.bin copied into an MX directory) */
    quant_warn_fn warn;       /* one line per warning (may be NULL) */
    void *user;
    const struct gptq_set *gptq; /* non-NULL: the MX modules by GPTQ with it (src/gptq_set.h) */
    unsigned char *const *prune; /* GGUF only: unit masks per pruning group (layer * PRUNE_NPARTS
                                  * + part, as cfg_prune_masks gives them; a NULL entry keeps
                                  * the group whole), or NULL: nothing pruned. See below. */
} quant_opts;

typedef struct quant_stats {
    uint64_t lin_params, lin_bytes;  /* the block linears */
    uint64_t all_params, all_bytes;  /* every tensor */
    uint64_t file_bytes;             /* the whole file (GGUF) or the weights file (MX) */
    int n_widened;                   /* modules stored wider than their format (BF16/F32) */
    uint64_t lin_params_full;        /* the block linears' weights before pruning (= lin_params
                                      * when nothing is pruned) */
    int n_zero_units;                /* sublayers kept at 0 units, written as one unit of zeros */
} quant_stats;

/* Write the GGUF. fmts[i] is m->modules[i]'s format. Nothing is left behind
 * on error.
 *
 * Pruned (o->prune): each linear holds only its kept rows and columns (the
 * submatrix prune_apply fake-quantizes, in the storage type chosen for the
 * pruned row width), q/k rows permuted per kept head. Per layer: kept q heads
 * = kept GQA groups * n_heads / n_kv_heads, kv heads = kept groups, and
 * feed_forward_length = kept channels. A sublayer kept at 0 units is written
 * as one unit of zeros (llama.cpp cannot run a layer of 0 heads or 0
 * channels; zero q/k/v rows give a zero attention output, a zero gate row
 * silu(0) * up = 0: the same function). When every layer has the same
 * counts the file stays architecture llama (or qwen3) with scalar keys,
 * which model_load reads back; when they differ a llama model is written as
 * llama.cpp's "deci" architecture (the Llama variant whose tensors are sized
 * per layer) with per-layer arrays for head_count, head_count_kv and
 * feed_forward_length where those vary; a qwen3 model of differing layers
 * is refused (ERR_ARG: llama.cpp has no per-layer qwen3). GPTQ does not
 * apply to pruned modules (ERR_ARG). */
int quant_write_gguf(const model *m, const mx_format *fmts, const quant_opts *o, const char *path,
                     quant_stats *st, mx_error *e);
/* Write the packed MX directory (created; an existing one must be empty).
 * o->prune must be NULL (ERR_ARG): config.json has one shape for all layers. */
int quant_write_mx_dir(const model *m, const mx_format *fmts, const quant_opts *o, const char *dir,
                       quant_stats *st, mx_error *e);

/* The Quark dtype name of an MX block format ("fp4", "fp6_e2m3", "int8", ...),
 * and back (-1 when unknown). */
const char *quant_quark_dtype(mx_format f);
int quant_quark_parse(const char *s, mx_format *out);

#endif
