/* Unicode classification and NFC/NFKC for the tokenizers (over libutf8proc). */
#ifndef MXALLOC_TOK_UNICODE_H
#define MXALLOC_TOK_UNICODE_H

#include <stddef.h>
#include <stdint.h>

int tok_uc_is_letter(uint32_t cp);  /* \p{L} */
int tok_uc_is_number(uint32_t cp);  /* \p{N} */
int tok_uc_is_space(uint32_t cp);   /* \s: White_Space */
int tok_uc_ccc_of(uint32_t cp);     /* canonical combining class */

/* Decode one UTF-8 code point from s[0..n) (n >= 1). Invalid bytes decode as
 * one code point each (U+FFFD-like, value 0xFFFD) so text is never lost;
 * *len gets the byte count consumed. */
uint32_t tok_utf8_next(const unsigned char *s, size_t n, int *len);
/* Encode cp as UTF-8 into out (room for 4); returns the byte count. */
int tok_utf8_put(uint32_t cp, unsigned char *out);

/* NFC: 1 if s[0..n) is certainly already NFC (quick check), else 0. */
int tok_nfc_quick(const char *s, size_t n);
/* NFC-normalize s[0..n) into a malloc'd buffer (*out, *out_len). Bytes that are
 * not valid UTF-8 are copied through unchanged. 0 or -1 on out of memory. */
int tok_nfc(const char *s, size_t n, char **out, size_t *out_len);
/* NFKC, the same way. */
int tok_nfkc(const char *s, size_t n, char **out, size_t *out_len);

#endif
