/* Unicode helpers for the tokenizers: \p{L} / \p{N} / \s classification,
 * UTF-8 decoding, and NFC/NFKC — the Unicode data comes from libutf8proc. */
#include "src/tok_unicode.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

int tok_uc_is_letter(uint32_t cp)
{
    if (cp < 0x80)
        return (cp | 0x20) - 'a' < 26;
    utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)cp);
    return c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO;
}

int tok_uc_is_number(uint32_t cp)
{
    if (cp < 0x80)
        return cp - '0' < 10;
    utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)cp);
    return c >= UTF8PROC_CATEGORY_ND && c <= UTF8PROC_CATEGORY_NO;
}

int tok_uc_is_space(uint32_t cp)
{
    /* The White_Space property (what \s means for Unicode text in Oniguruma
     * and Rust regex); stable since Unicode 6.3. utf8proc has no such
     * property (its Zs category misses TAB..CR and NEL), hence the list. */
    if (cp < 0x80)
        return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20;
    return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
           cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

int tok_uc_ccc_of(uint32_t cp)
{
    if (cp < 0x300)
        return 0;
    return utf8proc_get_property((utf8proc_int32_t)cp)->combining_class;
}

uint32_t tok_utf8_next(const unsigned char *s, size_t n, int *len)
{
    unsigned c = s[0];
    if (c < 0x80) {
        *len = 1;
        return c;
    }
    int need;
    uint32_t cp, min;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1, cp = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2, cp = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3, cp = c & 0x07, min = 0x10000;
    } else {
        *len = 1;
        return 0xFFFD;
    }
    if ((size_t)need >= n) {
        *len = 1;
        return 0xFFFD;
    }
    for (int k = 1; k <= need; k++) {
        if ((s[k] & 0xC0) != 0x80) {
            *len = 1;
            return 0xFFFD;
        }
        cp = cp << 6 | (s[k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000)) {
        *len = 1;
        return 0xFFFD;
    }
    *len = need + 1;
    return cp;
}

int tok_utf8_put(uint32_t cp, unsigned char *o)
{
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | cp >> 6);
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | cp >> 12);
        o[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | cp >> 18);
    o[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* NFC of one code point is itself (it has a canonical decomposition that
 * composes back: é, Hangul syllables...). */
static int nfc_stable(uint32_t cp)
{
    utf8proc_int32_t buf[8];
    utf8proc_ssize_t n = utf8proc_decompose_char((utf8proc_int32_t)cp, buf, 8, UTF8PROC_DECOMPOSE,
                                                 NULL);
    if (n < 1 || n > 8)
        return 0;
    n = utf8proc_normalize_utf32(buf, n, UTF8PROC_COMPOSE);
    return n == 1 && buf[0] == (utf8proc_int32_t)cp;
}

int tok_nfc_quick(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    int last = 0;
    for (size_t i = 0; i < n;) {
        if (p[i] < 0x80) { /* ASCII is NFC and a starter */
            last = 0;
            i++;
            continue;
        }
        int l;
        uint32_t cp = tok_utf8_next(p + i, n - i, &l);
        i += (size_t)l;
        if (cp < 0x300) { /* NFC_QC=Yes and starters below U+0300 */
            last = 0;
            continue;
        }
        const utf8proc_property_t *pr = utf8proc_get_property((utf8proc_int32_t)cp);
        int ccc = pr->combining_class;
        if (ccc != 0 && last > ccc)
            return 0;
        /* "Maybe": may compose with what precedes it (utf8proc marks the
         * second parts of compositions with comb_index >= 0x8000; Hangul
         * V/T jamo compose algorithmically). */
        if ((pr->comb_index != UINT16_MAX && pr->comb_index >= 0x8000) ||
            (cp >= 0x1161 && cp <= 0x1175) || (cp >= 0x11A8 && cp <= 0x11C2))
            return 0;
        if (pr->decomp_type == 0 && pr->decomp_seqindex != UINT16_MAX && !nfc_stable(cp))
            return 0;
        last = ccc;
    }
    return 1;
}

/* Normalize each maximal run of valid UTF-8 with utf8proc; invalid bytes are
 * copied through (they act as starters that never compose, as before). */
static int normalize(const char *s, size_t n, char **out, size_t *out_len, utf8proc_option_t opt)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t cap = n + 16, ol = 0;
    char *o = malloc(cap);
    if (!o)
        return -1;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n) {
            int l;
            uint32_t cp = tok_utf8_next(p + j, n - j, &l);
            if (cp == 0xFFFD && !(l == 3 && p[j] == 0xEF))
                break;
            j += (size_t)l;
        }
        const char *piece = s + i;
        size_t pl = j - i;
        utf8proc_uint8_t *m = NULL;
        if (pl > 0) {
            utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)pl,
                                              &m, opt);
            if (r < 0) {
                free(o);
                return -1;
            }
            piece = (const char *)m;
            pl = (size_t)r;
        }
        int bad = j < n; /* the invalid byte that ended the run */
        if (ol + pl + 2 > cap) {
            cap = (ol + pl + 2) * 2;
            char *g = realloc(o, cap);
            if (!g) {
                free(m);
                free(o);
                return -1;
            }
            o = g;
        }
        memcpy(o + ol, piece, pl);
        ol += pl;
        free(m);
        if (bad)
            o[ol++] = s[j++];
        i = j;
    }
    o[ol] = '\0';
    *out = o;
    *out_len = ol;
    return 0;
}

int tok_nfc(const char *s, size_t n, char **out, size_t *out_len)
{
    return normalize(s, n, out, out_len, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
}

int tok_nfkc(const char *s, size_t n, char **out, size_t *out_len)
{
    return normalize(s, n, out, out_len, UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
}
