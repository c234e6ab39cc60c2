/* The score cache: a versioned binary file holding one score_table.
 * Layout (little-endian): magic "MXSCORE\0" (8 bytes), u32 version, u32 0,
 * u64 payload length, u64 xxh64(payload, seed 0), then the payload. Any
 * truncation, corruption or other version is rejected with a one-line message. */
#ifndef MXALLOC_CACHE_H
#define MXALLOC_CACHE_H

#include <stddef.h>

#include "solver/score_table.h"
#include "src/err.h"

#define CACHE_VERSION 1

/* Write t to path atomically (temp file in the same directory + rename); on
 * error nothing is left behind and an existing file is untouched. */
int cache_write(const char *path, const score_table *t, mx_error *e);

/* Read a score file into *t (caller frees with score_table_free). ERR_IO when
 * it cannot be read, ERR_FORMAT when it is not a score file, truncated, corrupt
 * (checksum) or of another version; the message names the file. On error *t is
 * left empty (nothing to free). */
int cache_read(const char *path, score_table *t, mx_error *e);

/* The cache directory: $XDG_CACHE_HOME/mxalloc, else $HOME/.cache/mxalloc;
 * created (with parents) when missing. Returns 0 or ERR_IO/ERR_ARG. */
int cache_dir(char *out, size_t out_len, mx_error *e);

/* cache_dir()/KEY.scores; the key must be non-empty [0-9A-Za-z_-]. */
int cache_path_for_key(const char *key, char *out, size_t out_len, mx_error *e);

/* The atomic write primitive used above (and by cfg_save): write len bytes to
 * a temp file next to path, fsync, rename over path. */
int cache_write_atomic(const char *path, const void *buf, size_t len, mx_error *e);

#endif
