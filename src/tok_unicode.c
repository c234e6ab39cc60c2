/* Unicode helpers for the tokenizers: \p{L} / \p{N} / \s classification,
 * UTF-8 decoding, and NFC (quick check plus the full algorithm of UAX #15). */
#include "src/tok_unicode.h"

#include <stdlib.h>
#include <string.h>

static int in_ranges(const uint32_t (*r)[2], size_t n, uint32_t cp)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < r[mid][0])
            hi = mid;
        else if (cp > r[mid][1])
            lo = mid + 1;
        else
            return 1;
    }
    return 0;
}

/* Value of the run containing cp in a {first, last, value} table, or 0. */
static uint32_t run_value(const uint32_t (*r)[3], size_t n, uint32_t cp)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < r[mid][0])
            hi = mid;
        else if (cp > r[mid][1])
            lo = mid + 1;
        else
            return r[mid][2];
    }
    return 0;
}

int tok_uc_is_letter(uint32_t cp)
{
    if (cp < 0x80)
        return (cp | 0x20) - 'a' < 26;
    return in_ranges(tok_uc_letter, tok_uc_letter_n, cp);
}

int tok_uc_is_number(uint32_t cp)
{
    if (cp < 0x80)
        return cp - '0' < 10;
    return in_ranges(tok_uc_number, tok_uc_number_n, cp);
}

int tok_uc_is_space(uint32_t cp)
{
    /* The White_Space property (what \s means for Unicode text in Oniguruma
     * and Rust regex); stable since Unicode 6.3. */
    if (cp < 0x80)
        return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20;
    return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
           cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

int tok_uc_ccc_of(uint32_t cp)
{
    if (cp < 0x300)
        return 0;
    return (int)run_value(tok_uc_ccc, tok_uc_ccc_n, cp);
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
        int ccc = tok_uc_ccc_of(cp);
        if (ccc != 0 && last > ccc)
            return 0;
        if (cp >= 0x300 && run_value(tok_uc_nfc_qc, tok_uc_nfc_qc_n, cp) != 0)
            return 0;
        last = ccc;
    }
    return 1;
}

/* ---- full NFC ---- */

enum { SBASE = 0xAC00, LBASE = 0x1100, VBASE = 0x1161, TBASE = 0x11A7, LCOUNT = 19, VCOUNT = 21,
       TCOUNT = 28, NCOUNT = VCOUNT * TCOUNT, SCOUNT = LCOUNT * NCOUNT };

static const uint32_t *find_decomp(uint32_t cp)
{
    size_t lo = 0, hi = tok_uc_decomp_n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < tok_uc_decomp[mid][0])
            hi = mid;
        else if (cp > tok_uc_decomp[mid][0])
            lo = mid + 1;
        else
            return tok_uc_decomp[mid];
    }
    return NULL;
}

/* Marker for an invalid input byte b kept through unchanged: outside Unicode. */
#define RAW_BYTE(b) (0x200000u | (b))

typedef struct cpbuf {
    uint32_t *a;
    size_t n, cap;
} cpbuf;

static int cp_push(cpbuf *b, uint32_t cp)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        uint32_t *a = realloc(b->a, cap * sizeof *a);
        if (!a)
            return -1;
        b->a = a;
        b->cap = cap;
    }
    b->a[b->n++] = cp;
    return 0;
}

static int decompose(cpbuf *b, uint32_t cp, int depth)
{
    if (cp >= SBASE && cp < SBASE + SCOUNT) {
        uint32_t s = cp - SBASE;
        if (cp_push(b, LBASE + s / NCOUNT) || cp_push(b, VBASE + (s % NCOUNT) / TCOUNT))
            return -1;
        if (s % TCOUNT && cp_push(b, TBASE + s % TCOUNT))
            return -1;
        return 0;
    }
    const uint32_t *d = depth < 8 ? find_decomp(cp) : NULL;
    if (!d)
        return cp_push(b, cp);
    if (decompose(b, d[1], depth + 1))
        return -1;
    return d[2] ? decompose(b, d[2], depth + 1) : 0;
}

static uint32_t compose_pair(uint32_t a, uint32_t b)
{
    if (a >= LBASE && a < LBASE + LCOUNT && b >= VBASE && b < VBASE + VCOUNT)
        return SBASE + ((a - LBASE) * VCOUNT + (b - VBASE)) * TCOUNT;
    if (a >= SBASE && a < SBASE + SCOUNT && (a - SBASE) % TCOUNT == 0 && b > TBASE &&
        b < TBASE + TCOUNT)
        return a + (b - TBASE);
    size_t lo = 0, hi = tok_uc_compose_n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const uint32_t *c = tok_uc_compose[mid];
        if (a < c[0] || (a == c[0] && b < c[1]))
            hi = mid;
        else if (a > c[0] || b > c[1])
            lo = mid + 1;
        else
            return c[2];
    }
    return 0;
}

static int ccc_raw(uint32_t cp)
{
    return cp >= 0x200000u ? 0 : tok_uc_ccc_of(cp);
}

int tok_nfc(const char *s, size_t n, char **out, size_t *out_len)
{
    const unsigned char *p = (const unsigned char *)s;
    cpbuf b = { 0 };
    for (size_t i = 0; i < n;) {
        int l;
        uint32_t cp = tok_utf8_next(p + i, n - i, &l);
        if (cp == 0xFFFD && !(l == 3 && p[i] == 0xEF && p[i + 1] == 0xBF && p[i + 2] == 0xBD))
            cp = RAW_BYTE(p[i]); /* an invalid byte: keep it as it is */
        i += (size_t)l;
        if (decompose(&b, cp, 0)) {
            free(b.a);
            return -1;
        }
    }
    /* Canonical ordering: stable insertion sort of each run of non-starters. */
    for (size_t i = 1; i < b.n; i++) {
        int c = ccc_raw(b.a[i]);
        if (c == 0)
            continue;
        size_t j = i;
        uint32_t x = b.a[i];
        while (j > 0 && ccc_raw(b.a[j - 1]) > c) {
            b.a[j] = b.a[j - 1];
            j--;
        }
        b.a[j] = x;
    }
    /* Canonical composition. */
    size_t w = 0;
    long starter = -1;
    int last_ccc = 0;
    for (size_t i = 0; i < b.n; i++) {
        uint32_t cp = b.a[i];
        int c = ccc_raw(cp);
        if (starter >= 0 && cp < 0x200000u) {
            /* Not blocked: nothing between, or everything between has a lower class. */
            int blocked = (size_t)starter + 1 != w && last_ccc >= c;
            uint32_t comp = blocked ? 0 : compose_pair(b.a[starter], cp);
            if (comp) {
                b.a[starter] = comp;
                continue;
            }
        }
        if (c == 0) {
            starter = (long)w;
            last_ccc = 0;
        } else {
            last_ccc = c;
        }
        b.a[w++] = cp;
    }
    char *o = malloc(w * 4 + 1);
    if (!o) {
        free(b.a);
        return -1;
    }
    size_t ol = 0;
    for (size_t i = 0; i < w; i++) {
        if (b.a[i] >= 0x200000u)
            o[ol++] = (char)(b.a[i] & 0xFF);
        else
            ol += (size_t)tok_utf8_put(b.a[i], (unsigned char *)o + ol);
    }
    o[ol] = '\0';
    free(b.a);
    *out = o;
    *out_len = ol;
    return 0;
}
