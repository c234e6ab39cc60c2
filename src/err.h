/* Error reporting shared by library code: functions return a negative code and
 * fill an mx_error with a one-line message; only the CLI and the UI print it. */
#ifndef MXALLOC_ERR_H
#define MXALLOC_ERR_H

#include <stdarg.h>

enum { ERR_OK = 0, ERR_IO = -1, ERR_FORMAT = -2, ERR_ARG = -3, ERR_NOMEM = -4,
       ERR_INFEASIBLE = -5, ERR_CANCELLED = -6, ERR_INTERNAL = -7 };

typedef struct mx_error {
    int code;
    char msg[512];
} mx_error;

/* Fill *e (if not NULL) with a printf-style message; returns code so callers can
 * write `return err_set(e, ERR_IO, "...")`. */
int err_set(mx_error *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix an existing message, e.g. with the file name it concerns. */
int err_prefix(mx_error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
