/* Pre-tokenizer regexes of byte-level BPE tokenizers (private to tok_*). */
#ifndef MXALLOC_TOK_PRETOK_H
#define MXALLOC_TOK_PRETOK_H

#include <stddef.h>
#include <string.h>

typedef enum tok_pattern {
    /* GPT-2 (ByteLevel use_regex, SmolLM2 after Digits):
     * 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
    TOK_PAT_GPT2,
    /* Llama 3: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
     *  ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
    TOK_PAT_LLAMA3,
    /* Qwen2/Qwen3: as Llama 3 but \p{N} (one digit per piece). */
    TOK_PAT_QWEN2,
} tok_pattern;

/* Byte length (>= 1) of the match starting at text[0], n >= 1. Every position
 * starts a match with these patterns, so consecutive matches tile the text.
 * Bytes that are not valid UTF-8 count as one non-letter, non-number,
 * non-space character each. */
size_t tok_pretok_match(tok_pattern pat, const char *text, size_t n);

/* The regex source as written in tokenizer.json (after JSON unescaping). */
const char *tok_pattern_source(tok_pattern pat);
/* 1 and *pat if src is one of the known patterns, else 0. */
int tok_pattern_lookup(const char *src, tok_pattern *pat);

#endif
