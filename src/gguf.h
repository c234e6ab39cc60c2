/* A read-only GGUF file (versions 2 and 3, little-endian): header, metadata
 * key/value lookups and tensor infos, over a bounds-checked memory map.
 * Shared by the model loader (src/load_gguf.c) and the tokenizer
 * (src/tok_gguf.c). Every offset and count read from the file is checked
 * before use; a lying count costs no memory. Errors name the file, one line.
 *
 * Typical use:
 *     gguf_file g;
 *     if (gguf_open(&g, path, &e) < 0) return ...;
 *     const gguf_kv *k = gguf_find(&g, "llama.context_length");
 *     int64_t v; if (k && gguf_int(&g, k, &v) == 0) ...
 *     gguf_close(&g);
 */
#ifndef MXALLOC_GGUF_H
#define MXALLOC_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/err.h"
#include "src/file_map.h"

/* Metadata value types. */
enum gguf_vtype {
    GGUF_U8 = 0, GGUF_I8, GGUF_U16, GGUF_I16, GGUF_U32, GGUF_I32, GGUF_F32, GGUF_BOOL, GGUF_STRING,
    GGUF_ARRAY, GGUF_U64, GGUF_I64, GGUF_F64, GGUF_NTYPES
};

typedef struct gguf_kv {
    const char *key;   /* points into the map; not NUL-terminated */
    uint64_t key_len;
    uint32_t type;     /* enum gguf_vtype */
    uint64_t val;      /* file offset of the value (of the array's first element) */
    uint32_t arr_type; /* arrays: element type and count */
    uint64_t arr_n;
} gguf_kv;

#define GGUF_NAME_MAX 128
typedef struct gguf_tensor {
    char name[GGUF_NAME_MAX];
    int n_dims;
    uint64_t ne[4];    /* as stored: ne[0] is the fastest-varying (row length) */
    uint32_t type;     /* GGML type id (kernels/ggml_quant.h) */
    uint64_t offset;   /* absolute file offset of the data */
    uint64_t nbytes;   /* 0 when the type is not one this program reads */
} gguf_tensor;

typedef struct gguf_file {
    file_map f;
    uint32_t version;
    gguf_kv *kv;
    uint64_t n_kv;
    gguf_tensor *t;
    uint64_t n_tensors;
    uint64_t align, data_start;
} gguf_file;

/* Map and parse path. Version 1 and big-endian files are refused with one
 * line; tensors of a readable type are checked to lie inside the file. On
 * failure g holds nothing to free. */
int gguf_open(gguf_file *g, const char *path, mx_error *e);
void gguf_close(gguf_file *g);

/* The entry for key, or NULL. */
const gguf_kv *gguf_find(const gguf_file *g, const char *key);
/* The tensor named name, or NULL. */
const gguf_tensor *gguf_tensor_find(const gguf_file *g, const char *name);

/* Scalars. Integers of any integer type (and bool) as int64: -1 when k is
 * not one or an unsigned value exceeds INT64_MAX. */
int gguf_int(const gguf_file *g, const gguf_kv *k, int64_t *out);
/* F32/F64 or any integer as a float; -1 otherwise. */
int gguf_float(const gguf_file *g, const gguf_kv *k, double *out);
/* A string value (not NUL-terminated); -1 when k is not a string. */
int gguf_str(const gguf_file *g, const gguf_kv *k, const char **s, uint64_t *len);

/* Arrays: fill out[0 .. k->arr_n) (caller sized it). -1 on a type mismatch
 * (strings: array of strings; numbers: any integer or float element type). */
int gguf_strings(const gguf_file *g, const gguf_kv *k, const char **s, size_t *len);
int gguf_ints(const gguf_file *g, const gguf_kv *k, int *out);
int gguf_floats(const gguf_file *g, const gguf_kv *k, float *out);

/* The bytes of k's value as the file stores them (for an array: its element
 * type, count and elements), to copy it into another file; -1 if malformed. */
int gguf_kv_raw(const gguf_file *g, const gguf_kv *k, const uint8_t **p, uint64_t *len);

/* A printable name for a value type ("u32", "string", "array") for messages. */
const char *gguf_vtype_name(uint32_t t);

#endif
