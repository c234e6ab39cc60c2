/* Hash tables for the tokenizers: piece string -> id, and (id, id) -> merge. */
#include "src/tok_internal.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

static size_t pow2_at_least(size_t n)
{
    size_t c = 16;
    while (c < n)
        c <<= 1;
    return c;
}

int tok_strmap_build(tok_strmap *m, const char *arena, const uint32_t *off, const uint32_t *len,
                     int n, const uint8_t *skip)
{
    memset(m, 0, sizeof *m);
    size_t cap = pow2_at_least((size_t)n * 2 + 1);
    m->ids = malloc(cap * sizeof *m->ids);
    m->tags = malloc(cap * sizeof *m->tags);
    if (!m->ids || !m->tags) {
        tok_strmap_free(m);
        return ERR_NOMEM;
    }
    memset(m->ids, 0xff, cap * sizeof *m->ids); /* all -1 */
    m->mask = cap - 1;
    m->arena = arena;
    m->off = off;
    m->len = len;
    for (int i = 0; i < n; i++) {
        if (skip && skip[i])
            continue;
        const char *s = arena + off[i];
        uint64_t h = XXH3_64bits(s, len[i]);
        size_t slot = (size_t)h & m->mask;
        uint32_t tag = (uint32_t)(h >> 32);
        int dup = 0;
        while (m->ids[slot] >= 0) {
            int j = m->ids[slot];
            if (m->tags[slot] == tag && len[j] == len[i] && memcmp(arena + off[j], s, len[i]) == 0) {
                dup = 1; /* keep the lowest id */
                break;
            }
            slot = (slot + 1) & m->mask;
        }
        if (!dup) {
            m->ids[slot] = i;
            m->tags[slot] = tag;
        }
    }
    return 0;
}

int tok_strmap_get(const tok_strmap *m, const char *s, size_t n)
{
    if (!m->ids)
        return -1;
    uint64_t h = XXH3_64bits(s, n);
    size_t slot = (size_t)h & m->mask;
    uint32_t tag = (uint32_t)(h >> 32);
    for (;;) {
        int j = m->ids[slot];
        if (j < 0)
            return -1;
        if (m->tags[slot] == tag && m->len[j] == n && memcmp(m->arena + m->off[j], s, n) == 0)
            return j;
        slot = (slot + 1) & m->mask;
    }
}

void tok_strmap_free(tok_strmap *m)
{
    free(m->ids);
    free(m->tags);
    memset(m, 0, sizeof *m);
}

static uint64_t pair_key(int a, int b)
{
    return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
}

static size_t pair_hash(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return (size_t)k;
}

int tok_pairmap_init(tok_pairmap *m, size_t expected)
{
    memset(m, 0, sizeof *m);
    size_t cap = pow2_at_least(expected * 2 + 1);
    m->keys = malloc(cap * sizeof *m->keys);
    m->rank = malloc(cap * sizeof *m->rank);
    m->merged = malloc(cap * sizeof *m->merged);
    if (!m->keys || !m->rank || !m->merged) {
        tok_pairmap_free(m);
        return ERR_NOMEM;
    }
    memset(m->keys, 0xff, cap * sizeof *m->keys);
    m->mask = cap - 1;
    return 0;
}

static int pairmap_grow(tok_pairmap *m)
{
    tok_pairmap big;
    if (tok_pairmap_init(&big, (m->mask + 1)) != 0)
        return ERR_NOMEM;
    for (size_t i = 0; i <= m->mask; i++)
        if (m->keys[i] != UINT64_MAX)
            tok_pairmap_put(&big, (int)(m->keys[i] >> 32), (int)(uint32_t)m->keys[i], m->rank[i],
                            m->merged[i]);
    tok_pairmap_free(m);
    *m = big;
    return 0;
}

int tok_pairmap_put(tok_pairmap *m, int a, int b, int rank, int merged)
{
    if ((m->count + 1) * 2 > m->mask + 1 && pairmap_grow(m) != 0)
        return ERR_NOMEM;
    uint64_t k = pair_key(a, b);
    size_t slot = pair_hash(k) & m->mask;
    while (m->keys[slot] != UINT64_MAX) {
        if (m->keys[slot] == k) {
            m->rank[slot] = rank;
            m->merged[slot] = merged;
            return 0;
        }
        slot = (slot + 1) & m->mask;
    }
    m->keys[slot] = k;
    m->rank[slot] = rank;
    m->merged[slot] = merged;
    m->count++;
    return 0;
}

int tok_pairmap_get(const tok_pairmap *m, int a, int b, int *rank, int *merged)
{
    if (!m->keys)
        return 0;
    uint64_t k = pair_key(a, b);
    size_t slot = pair_hash(k) & m->mask;
    while (m->keys[slot] != UINT64_MAX) {
        if (m->keys[slot] == k) {
            *rank = m->rank[slot];
            *merged = m->merged[slot];
            return 1;
        }
        slot = (slot + 1) & m->mask;
    }
    return 0;
}

void tok_pairmap_free(tok_pairmap *m)
{
    free(m->keys);
    free(m->rank);
    free(m->merged);
    memset(m, 0, sizeof *m);
}
