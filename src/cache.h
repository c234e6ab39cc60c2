/* The score cache: a versioned binary file holding one score_table.
 * Layout (little-endian): magic "MXSCORE\0" (8 bytes), u32 version, u32 0,
 * u64 payload length, u64 xxh64(payload, seed 0), then the payload. Any
 * truncation, corruption or other version is rejected with a one-line message. */
#ifndef MXALLOC_CACHE_H
#define MXALLOC_CACHE_H

#include <stddef.h>

#include "src/score_table.h"
#include "kernels/err.h"

/* 2: the fisher-out method; 3: the projection's anchors; 4: per-window
 * standard errors of every score; 5: the quantizer (GPTQ or rounding) and
 * the calibration text's hash. Files of other versions are refused
 * ("recompute the scores"). */
#define CACHE_VERSION 5

/* Write t to path atomically (fw_write_atomic: temp file in the same
 * directory + rename); on error nothing is left behind and an existing file is
 * untouched. */
int cache_write(const char *path, const score_table *t, mx_error *e);

/* Read a score file into *t (caller frees with score_table_free). ERR_IO when
 * it cannot be read, ERR_FORMAT when it is not a score file, truncated, corrupt
 * (checksum) or of another version, or when its module table is inconsistent
 * (a layer or kind out of range, a shape that does not match the parameter
 * count, a duplicated or non-printable module name, a negative or infinite
 * standard error); the message names the
 * file. The declared length is checked against the file size before anything
 * is allocated. On error *t is left empty (nothing to free). */
int cache_read(const char *path, score_table *t, mx_error *e);

/* The cache directory: $XDG_CACHE_HOME/mxalloc, else $HOME/.cache/mxalloc;
 * created (with parents) when missing, and cleared of stale temporary files
 * of killed runs (fw_clean_stale). Returns 0 or ERR_IO/ERR_ARG. */
int cache_dir(char *out, size_t out_len, mx_error *e);

/* cache_dir()/KEY.scores; the key must be non-empty [0-9A-Za-z_-]. */
int cache_path_for_key(const char *key, char *out, size_t out_len, mx_error *e);

/* 1 if path exists and starts like a score file (the magic), 0 if it exists
 * and does not (or is not a regular file), -1 if it cannot be opened. Lets
 * `score --out` refuse to overwrite somebody else's file. */
int cache_is_score_file(const char *path);

#endif
