/* Whole-file reads and writes for cmocka tests: any failure fails the
 * running test (cmocka assertions), so callers need no error paths. */
#ifndef MXALLOC_FILE_BYTES_H
#define MXALLOC_FILE_BYTES_H

#include <stddef.h>

/* The bytes of path, with a NUL after them (text can be used as a string);
 * *n is the size. Free with free(). */
void *fb_slurp(const char *path, size_t *n);
/* Replace path by the n bytes at d. */
void fb_spill(const char *path, const void *d, size_t n);

#endif
