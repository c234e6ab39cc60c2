/* Read-only memory-mapped files with bounds-checked access, for the model
 * loaders: every offset and length read from a file goes through fm_range. */
#ifndef MXALLOC_FILE_MAP_H
#define MXALLOC_FILE_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/err.h"

typedef struct file_map {
    const uint8_t *data; /* NULL for an empty file */
    uint64_t size;
    char path[4096];
} file_map;

/* Map `path` read-only (a regular file; anything else is ERR_IO). Errors name
 * the file. */
int fm_open(file_map *f, const char *path, mx_error *e);
void fm_close(file_map *f);

/* Read a whole (small) regular file such as a calibration text into a
 * malloc'ed buffer with a NUL after its *len bytes; directories, devices and
 * FIFOs are refused (ERR_IO "is a directory" / "not a regular file"), so the
 * memory is bounded by the file's size. Errors (ERR_IO, ERR_NOMEM) name the
 * file; *out is untouched then. */
int fm_read_all(const char *path, char **out, size_t *len, mx_error *e);

/* 1 if [off, off+len) lies inside the file (overflow-safe), else 0. */
int fm_has(const file_map *f, uint64_t off, uint64_t len);

/* Overflow-checked arithmetic: return 0 on overflow, else store the result. */
int fm_mul(uint64_t a, uint64_t b, uint64_t *out);
int fm_add(uint64_t a, uint64_t b, uint64_t *out);

/* Little-endian readers (caller checked the range). */
uint32_t fm_le32(const uint8_t *p);
uint64_t fm_le64(const uint8_t *p);

#endif
