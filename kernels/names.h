/* Name tables of enumerations (formats' targets, SIMD paths, score methods,
 * searches): one lookup for every printer and parser. */
#ifndef MXALLOC_NAMES_H
#define MXALLOC_NAMES_H

#include <strings.h>

/* The index of s among names[0..n), case-insensitive; -1 when absent or NULL. */
static inline int names_find(const char *const *names, int n, const char *s)
{
    for (int i = 0; s && i < n; i++)
        if (!strcasecmp(s, names[i]))
            return i;
    return -1;
}

/* names[i], or "?" outside the table. */
static inline const char *names_get(const char *const *names, int n, int i)
{
    return i >= 0 && i < n ? names[i] : "?";
}

#endif
