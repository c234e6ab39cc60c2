/* The C face of libsentencepiece, kept thin (tok_spm_model.cc, C++). */
#ifndef MXALLOC_TOK_SPM_MODEL_H
#define MXALLOC_TOK_SPM_MODEL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct tok_spm_model;

enum { TOK_SPMM_CONTROL = 1, TOK_SPMM_BYTE = 2, TOK_SPMM_UNKNOWN = 4, TOK_SPMM_UNUSED = 8 };

/* NULL with the library's message in err on failure. */
struct tok_spm_model *tok_spmm_open(const char *path, char *err, size_t errlen);
void tok_spm_model_free(struct tok_spm_model *m);
int tok_spmm_size(const struct tok_spm_model *m);
const char *tok_spmm_piece(const struct tok_spm_model *m, int id, size_t *len);
int tok_spmm_flags(const struct tok_spm_model *m, int id); /* TOK_SPMM_* */
int tok_spmm_bos(const struct tok_spm_model *m);         /* -1 = none */
int tok_spmm_eos(const struct tok_spm_model *m);
/* Encode (no BOS/EOS) into a malloc'd *out: the count, or -1 (out of memory)
 * or -2 (the library refused; message in err). */
long tok_spmm_encode(const struct tok_spm_model *m, const char *text, size_t len, int **out,
                     char *err, size_t errlen);
/* Decode into a malloc'd NUL-terminated *out: its length, or -1 / -2 as above. */
long tok_spmm_decode(const struct tok_spm_model *m, const int *ids, long n, char **out, char *err,
                     size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
