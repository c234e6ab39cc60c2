/* A GGUF v3 writer: metadata and tensors are collected in memory, then the
 * whole file is written at once through fw_write_atomic (src/file_write.h),
 * so a failed or interrupted write leaves no partial file.
 *
 * Typical use:
 *     gguf_writer w;
 *     gw_init(&w);
 *     gw_str(&w, "general.architecture", "llama");
 *     gw_u32(&w, "llama.block_count", 2);
 *     uint64_t ne[2] = {cols, rows};            // ne[0] is the row length
 *     gw_tensor(&w, "blk.0.attn_q.weight", GQ_F32, 2, ne, data, nbytes, e);
 *     int rc = gw_write(&w, "out.gguf", e);
 *     gw_free(&w);
 * Each call returns 0 or a negative ERR_* code (ERR_NOMEM, or ERR_ARG for a
 * tensor whose size does not match its type and shape); after an error the
 * writer still frees cleanly. Tensor data is copied. */
#ifndef MXALLOC_GGUF_WRITE_H
#define MXALLOC_GGUF_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/err.h"

#define GW_ALIGN 32

typedef struct gw_tensor_rec {
    char *name;
    int n_dims;
    uint64_t ne[4];
    uint32_t type;
    uint8_t *data;
    uint64_t nbytes;
} gw_tensor_rec;

typedef struct gguf_writer {
    uint8_t *kv;          /* encoded key/value pairs */
    size_t kv_len, kv_cap;
    uint64_t n_kv;
    gw_tensor_rec *t;
    size_t n_t, cap_t;
    int failed;           /* an earlier call ran out of memory */
} gguf_writer;

void gw_init(gguf_writer *w);
void gw_free(gguf_writer *w);

int gw_str(gguf_writer *w, const char *key, const char *s);
int gw_u32(gguf_writer *w, const char *key, uint32_t v);
int gw_i32(gguf_writer *w, const char *key, int32_t v);
int gw_f32(gguf_writer *w, const char *key, float v);
int gw_bool(gguf_writer *w, const char *key, int v);
/* Arrays: strings with explicit lengths (lens NULL: NUL-terminated). */
int gw_arr_str(gguf_writer *w, const char *key, size_t n, const char *const *s, const size_t *lens);
int gw_arr_f32(gguf_writer *w, const char *key, size_t n, const float *v);
int gw_arr_i32(gguf_writer *w, const char *key, size_t n, const int32_t *v);
/* A value already encoded as GGUF stores it (type + bytes), e.g. copied
 * from another file: type is enum gguf_vtype, val the value's bytes. */
int gw_raw(gguf_writer *w, const char *key, uint32_t type, const void *val, size_t len);

/* A tensor: ne[0] is the row length (fastest-varying), as GGUF stores it. */
int gw_tensor(gguf_writer *w, const char *name, uint32_t type, int n_dims, const uint64_t *ne,
              const void *data, uint64_t nbytes, mx_error *e);

/* Bytes of the whole file gw_write would write. */
uint64_t gw_file_size(const gguf_writer *w);
/* Write the file atomically. Errors name the path. */
int gw_write(gguf_writer *w, const char *path, mx_error *e);

#endif
