/* Handing an assignment (mx_cfg) to other tools: the texts `mxalloc export`
 * prints (--to json is cfg_to_text) and the workbench's `export` command writes. */
#ifndef MXALLOC_EXPORT_H
#define MXALLOC_EXPORT_H

#include "src/cfg.h"
#include "kernels/err.h"

/* What an export gives llama-quantize, over the modules it lists. */
typedef struct export_stats {
    double weights;      /* weights of the listed modules */
    double bits;         /* bits per weight llama-quantize will store for them */
    int n_approx;        /* modules llama-quantize quantizes with its own rounding
                          * (q8_0, q6_K, q4_0; bf16 for MXFP6/MXFP8), so values
                          * differ from what mxalloc measured; mxfp4, bf16, f32 match */
} export_stats;

/* llama-quantize --tensor-type-file lines, one '^blk\.N\.TENSOR\.weight$=TYPE'
 * per module in config order: anchored (llama-quantize matches with
 * regex_search, first pattern wins), and only types llama-quantize stores for
 * the module's row width (the config's shapes): MXFP4 -> mxfp4 (q4_0 when
 * allow_mxfp4 = 0, for builds without MXFP4), MXINT8 and MXFP8 -> q8_0, MXFP6
 * -> q6_K on rows of 256-blocks else q8_0, MXFP6/MXFP8 on rows that are not
 * whole 32-blocks -> bf16 (always bf16 in a config whose target is
 * llama-cpp: what it counted), bf16 -> bf16, fp32 -> f32. *out_text is malloc'ed
 * (caller frees); *st (may be NULL) gets the stored bits. 0, or one line in e:
 * ERR_ARG for a module without a shape, ERR_FORMAT for a module without a
 * GGUF name or an MXFP4/MXINT8 module whose rows are not whole 32-blocks
 * (naming the tensor), ERR_NOMEM; *out_text is NULL on error. */
int export_llama_cpp(const mx_cfg *c, int allow_mxfp4, char **out_text, export_stats *st, mx_error *e);

/* export_llama_cpp written to path atomically (temp file + rename): on error
 * no file is created and an existing one is untouched. */
int export_llama_cpp_file(const char *path, const mx_cfg *c, int allow_mxfp4, export_stats *st, mx_error *e);

/* The llama-quantize command for a tensor-type file (printf format, one %s:
 * the file). The base type must be a quantized one, or llama-quantize ignores
 * the overrides; every listed tensor has its own line, so Q8_0 only reaches
 * tensors the config does not list; embeddings and output stay f16. */
extern const char export_llama_quantize_usage[];

#endif
