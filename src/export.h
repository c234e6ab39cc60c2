/* Handing an assignment (mx_cfg) to other tools: the texts `mxalloc export`
 * prints (--to json is cfg_to_text) and the workbench's `export` command writes. */
#ifndef MXALLOC_EXPORT_H
#define MXALLOC_EXPORT_H

#include "src/cfg.h"
#include "kernels/err.h"

/* llama-quantize --tensor-type-file lines, one 'blk\.N\.TENSOR\.weight=TYPE'
 * per module in config order (GGUF names, the nearest GGUF type by bits per
 * weight). allow_mxfp4 = 0 maps mxfp4_e2m1 to q4_0 (llama.cpp builds without
 * MXFP4). *out_text is malloc'ed (caller frees). 0, or ERR_FORMAT naming a
 * module without a GGUF tensor name, or ERR_NOMEM; *out_text is NULL on error. */
int export_llama_cpp(const mx_cfg *c, int allow_mxfp4, char **out_text, mx_error *e);

/* export_llama_cpp written to path atomically (temp file + rename): on error
 * no file is created and an existing one is untouched. */
int export_llama_cpp_file(const char *path, const mx_cfg *c, int allow_mxfp4, mx_error *e);

#endif
