/* One-line error messages. Every message passes through err_escape: file
 * contents quoted in a message (names, JSON excerpts) must not carry line
 * breaks or terminal escape sequences to the user's terminal. */
#include "kernels/err.h"

#include <stdio.h>
#include <string.h>

void err_escape(char *dst, size_t n, const char *src)
{
    static const char hex[] = "0123456789abcdef";
    size_t k = 0;
    if (!n)
        return;
    for (; *src; src++) {
        unsigned char c = (unsigned char)*src;
        if (c < 0x20 || c == 0x7f) {
            if (k + 4 >= n)
                break;
            dst[k++] = '\\';
            dst[k++] = 'x';
            dst[k++] = hex[c >> 4];
            dst[k++] = hex[c & 15];
        } else {
            if (k + 1 >= n)
                break;
            dst[k++] = (char)c;
        }
    }
    dst[k] = '\0';
}

int err_set(mx_error *e, int code, const char *fmt, ...)
{
    if (e) {
        char raw[sizeof e->msg];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(raw, sizeof raw, fmt, ap);
        va_end(ap);
        err_escape(e->msg, sizeof e->msg, raw);
        e->code = code;
    }
    return code;
}

int err_prefix(mx_error *e, const char *fmt, ...)
{
    if (!e)
        return ERR_INTERNAL;
    char raw[256], pre[256], old[sizeof e->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    err_escape(pre, sizeof pre, raw);
    /* One separator: a prefix written as "FILE: " must not give "FILE: : msg". */
    size_t n = strlen(pre);
    while (n && (pre[n - 1] == ' ' || pre[n - 1] == ':'))
        n--;
    memcpy(old, e->msg, sizeof old);
    /* Truncation of an over-long message is acceptable: assemble by hand. */
    if (n > sizeof e->msg - 3)
        n = sizeof e->msg - 3;
    memcpy(e->msg, pre, n);
    memcpy(e->msg + n, ": ", 2);
    size_t room = sizeof e->msg - n - 3, ol = strlen(old);
    if (ol > room)
        ol = room;
    memcpy(e->msg + n + 2, old, ol);
    e->msg[n + 2 + ol] = '\0';
    return e->code;
}
