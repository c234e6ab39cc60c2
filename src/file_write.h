/* The one way mxalloc writes an output file: a temporary file in the
 * destination's directory, fsync, rename over the destination. Temporary
 * files are named DEST.tmp.PID.XXXXXX so that a later run can tell a stale
 * one (its writer is gone) from one being written right now. */
#ifndef MXALLOC_FILE_WRITE_H
#define MXALLOC_FILE_WRITE_H

#include <stddef.h>

#include "kernels/err.h"

/* Check that path can be a destination without writing anything: its
 * directory is writable and path, when it exists, is a regular file (a
 * symlink counts as its target). Errors (ERR_IO) name the path. */
int fw_check_dest(const char *path, mx_error *e);

/* Write len bytes to path atomically. A symlink is written through (its
 * target is replaced, the link stays); a directory, device, FIFO or socket is
 * refused (ERR_IO) and left alone. An existing file keeps its permission bits,
 * a new one gets 0666 & ~umask. On error nothing is left behind. Stale
 * temporary files of path from killed runs are removed first. */
int fw_write_atomic(const char *path, const void *buf, size_t len, mx_error *e);

/* Remove stale temporary files in dir: base.tmp.PID.XXXXXX (any base when base
 * is NULL) whose writer PID no longer exists or that are older than a day.
 * Returns the number removed. Nothing else is ever touched. */
int fw_clean_stale(const char *dir, const char *base);

/* 1 if name is a temporary file name of ours (base.tmp.PID.XXXXXX, any base
 * when base is NULL), storing the PID; else 0. */
int fw_is_temp_name(const char *name, const char *base, long *pid);

#endif
