/* The pre-tokenizer regexes of byte-level BPE tokenizers, as hand-written
 * matchers over code points (no regex library knows \p{L} here). Each follows
 * the backtracking, leftmost-first alternation of Oniguruma, which the
 * `tokenizers` library uses; see tok_pretok.h for the patterns. */
#include "src/tok_pretok.h"

#include "src/tok_unicode.h"

enum { C_L = 1, C_N = 2, C_S = 4, C_O = 8 };

static int cls(uint32_t cp)
{
    if (tok_uc_is_letter(cp))
        return C_L;
    if (tok_uc_is_number(cp))
        return C_N;
    if (tok_uc_is_space(cp))
        return C_S;
    return C_O;
}

/* The code point at byte *pos (advancing it), or ok = 0 at the end. */
static uint32_t at(const unsigned char *s, size_t n, size_t *pos, int *ok)
{
    if (*pos >= n) {
        *ok = 0;
        return 0;
    }
    int l;
    uint32_t cp = tok_utf8_next(s + *pos, n - *pos, &l);
    *pos += (size_t)l;
    *ok = 1;
    return cp;
}

/* Byte length of the longest run from p of code points in class mask m. */
static size_t run(const unsigned char *s, size_t n, size_t p, int m, size_t max_cps)
{
    size_t q = p, k = 0;
    while (q < n && k < max_cps) {
        size_t r = q;
        int ok;
        uint32_t cp = at(s, n, &r, &ok);
        if (!(cls(cp) & m))
            break;
        q = r;
        k++;
    }
    return q - p;
}

static int fold_eq(uint32_t cp, char lower, int icase)
{
    if (cp == (uint32_t)lower)
        return 1;
    if (!icase)
        return 0;
    if (cp == (uint32_t)(lower - 32))
        return 1;
    return lower == 's' && cp == 0x17F; /* LATIN SMALL LETTER LONG S folds to s */
}

/* 's 't 're 've 'm 'll 'd after an apostrophe at s[0]; returns the byte length or 0. */
static size_t contraction(const unsigned char *s, size_t n, int icase)
{
    if (n < 2 || s[0] != '\'')
        return 0;
    size_t p = 1, p2;
    int ok;
    uint32_t a = at(s, n, &p, &ok);
    if (fold_eq(a, 's', icase) || fold_eq(a, 't', icase) || fold_eq(a, 'm', icase) ||
        fold_eq(a, 'd', icase))
        return p;
    p2 = p;
    uint32_t b = at(s, n, &p2, &ok);
    if (!ok)
        return 0;
    if ((fold_eq(a, 'r', icase) && fold_eq(b, 'e', icase)) ||
        (fold_eq(a, 'v', icase) && fold_eq(b, 'e', icase)) ||
        (fold_eq(a, 'l', icase) && fold_eq(b, 'l', icase)))
        return p2;
    return 0;
}

/* \s+(?!\S) then \s+ : the whitespace run, minus its last code point when a
 * non-space follows and the run is longer than one. */
static size_t space_run(const unsigned char *s, size_t n, size_t run_len)
{
    if (run_len == n)
        return run_len;
    size_t last = run_len - 1; /* start of the last code point of the run */
    while (last > 0 && (s[last] & 0xC0) == 0x80)
        last--;
    return last > 0 ? last : run_len;
}

/* The class of the code point at byte p. */
static int cls_at(const unsigned char *s, size_t n, size_t p)
{
    int ok;
    return cls(at(s, n, &p, &ok));
}

/* The first code point *c of s, *p the byte after it: returns its class. */
static int first(const unsigned char *s, size_t n, uint32_t *c, size_t *p)
{
    int ok;
    *p = 0;
    *c = at(s, n, p, &ok);
    return cls(*c);
}

static size_t match_gpt2(const unsigned char *s, size_t n)
{
    size_t m = contraction(s, n, 0), p;
    if (m)
        return m;
    uint32_t c;
    int cc = first(s, n, &c, &p);
    if (c == ' ' && p < n && cls_at(s, n, p) != C_S)
        return p + run(s, n, p, cls_at(s, n, p), SIZE_MAX);
    if (cc != C_S)
        return run(s, n, 0, cc, SIZE_MAX);
    return space_run(s, n, run(s, n, 0, C_S, SIZE_MAX));
}

static size_t crlf_run(const unsigned char *s, size_t n, size_t p)
{
    while (p < n && (s[p] == '\r' || s[p] == '\n'))
        p++;
    return p;
}

static size_t match_llama3(const unsigned char *s, size_t n, size_t max_digits)
{
    size_t m = contraction(s, n, 1), p;
    if (m)
        return m;
    uint32_t c;
    int cc = first(s, n, &c, &p);
    /* [^\r\n\p{L}\p{N}]?\p{L}+ */
    if (cc == C_L)
        return run(s, n, 0, C_L, SIZE_MAX);
    if (cc != C_N && c != '\r' && c != '\n' && p < n && cls_at(s, n, p) == C_L)
        return p + run(s, n, p, C_L, SIZE_MAX);
    /* \p{N} or \p{N}{1,3} */
    if (cc == C_N)
        return run(s, n, 0, C_N, max_digits);
    /* ' ?[^\s\p{L}\p{N}]+[\r\n]*' */
    if (c == ' ' && p < n && cls_at(s, n, p) == C_O)
        return crlf_run(s, n, p + run(s, n, p, C_O, SIZE_MAX));
    if (cc == C_O)
        return crlf_run(s, n, run(s, n, 0, C_O, SIZE_MAX));
    /* \s*[\r\n]+ : up to the last CR or LF of the whitespace run */
    size_t r = run(s, n, 0, C_S, SIZE_MAX);
    for (size_t k = r; k > 0; k--)
        if (s[k - 1] == '\r' || s[k - 1] == '\n')
            return k;
    /* \s+(?!\S) then \s+ */
    return space_run(s, n, r);
}

size_t tok_pretok_match(tok_pattern pat, const char *text, size_t n)
{
    const unsigned char *s = (const unsigned char *)text;
    switch (pat) {
    case TOK_PAT_GPT2:
        return match_gpt2(s, n);
    case TOK_PAT_LLAMA3:
        return match_llama3(s, n, 3);
    case TOK_PAT_QWEN2:
        return match_llama3(s, n, 1);
    }
    return 1;
}

const char *tok_pattern_source(tok_pattern pat)
{
    switch (pat) {
    case TOK_PAT_GPT2:
        return "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
    case TOK_PAT_LLAMA3:
        return "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
               "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    case TOK_PAT_QWEN2:
        return "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
               "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    }
    return "";
}

int tok_pattern_lookup(const char *src, tok_pattern *pat)
{
    for (int p = TOK_PAT_GPT2; p <= TOK_PAT_QWEN2; p++)
        if (strcmp(src, tok_pattern_source((tok_pattern)p)) == 0) {
            *pat = (tok_pattern)p;
            return 1;
        }
    return 0;
}
