/* Error reporting shared by library code: functions return a negative code and
 * fill an mx_error with a one-line message; only the CLI and the UI print it. */
#ifndef MXALLOC_ERR_H
#define MXALLOC_ERR_H

#include <stdarg.h>
#include <stddef.h>

enum { ERR_OK = 0, ERR_IO = -1, ERR_FORMAT = -2, ERR_ARG = -3, ERR_NOMEM = -4,
       ERR_INFEASIBLE = -5, ERR_CANCELLED = -6, ERR_INTERNAL = -7 };

typedef struct mx_error {
    int code;
    char msg[512];
} mx_error;

/* Fill *e (if not NULL) with a printf-style message; returns code so callers can
 * write `return err_set(e, ERR_IO, "...")`. Control bytes (newline, ESC, ...)
 * in the result are written as \xNN (err_escape): a message stays one line
 * whatever file bytes it quotes. */
int err_set(mx_error *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix an existing message, e.g. with the file name it concerns: "PREFIX:
 * MSG" (trailing ':' and spaces of the prefix are dropped, so "%s: " and "%s"
 * give the same; the prefix is escaped like err_set's messages). */
int err_prefix(mx_error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Copy src to dst (n bytes with the NUL), control bytes (< 0x20, 0x7f) as
 * \xNN; truncates at a character boundary. For text from files or other
 * programs printed outside mx_error. */
void err_escape(char *dst, size_t n, const char *src);

#endif
