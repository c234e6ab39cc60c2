/* The BPE merge loop shared by both tokenizers: a doubly linked list of tokens
 * and a min-heap of candidate pairs keyed by (key, position of the left token),
 * with stale entries detected lazily through per-node version stamps.
 * Each merge costs O(log n), so a whole file encodes in O(n log n). */
#include "src/tok_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int cand_less(const tok_cand *x, const tok_cand *y)
{
    if (x->key != y->key)
        return x->key < y->key;
    return x->pos < y->pos;
}

void *tok_grow(void *a, size_t *cap, size_t elem, size_t first)
{
    size_t n = *cap ? *cap * 2 : first;
    if (n < *cap || n > SIZE_MAX / elem)
        return NULL;
    void *b = realloc(a, n * elem);
    if (b)
        *cap = n;
    return b;
}

int tok_heap_push(tok_heap *h, tok_cand c)
{
    if (h->n == h->cap) {
        tok_cand *a = tok_grow(h->a, &h->cap, sizeof *a, 64);
        if (!a)
            return ERR_NOMEM;
        h->a = a;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!cand_less(&c, &h->a[p]))
            break;
        h->a[i] = h->a[p];
        i = p;
    }
    h->a[i] = c;
    return 0;
}

int tok_heap_pop(tok_heap *h, tok_cand *out)
{
    if (h->n == 0)
        return 0;
    *out = h->a[0];
    tok_cand last = h->a[--h->n];
    size_t i = 0, n = h->n;
    for (;;) {
        size_t l = 2 * i + 1;
        if (l >= n)
            break;
        size_t c = (l + 1 < n && cand_less(&h->a[l + 1], &h->a[l])) ? l + 1 : l;
        if (!cand_less(&h->a[c], &last))
            break;
        h->a[i] = h->a[c];
        i = c;
    }
    if (n > 0)
        h->a[i] = last;
    return 1;
}

void tok_heap_free(tok_heap *h)
{
    free(h->a);
    memset(h, 0, sizeof *h);
}

static int push_pair(tok_heap *h, const int32_t *id, const uint32_t *ver, int l, int r,
                     tok_pair_fn fn, const void *ctx)
{
    float key;
    int merged;
    if (!fn(ctx, id[l], id[r], &key, &merged))
        return 0;
    tok_cand c = { .key = key, .pos = l, .vl = ver[l], .vr = ver[r], .merged = merged };
    return tok_heap_push(h, c);
}

void tok_merge_ws_free(tok_merge_ws *w)
{
    free(w->prev);
    free(w->next);
    free(w->ver);
    tok_heap_free(&w->h);
    memset(w, 0, sizeof *w);
}

long tok_merge_seg(tok_merge_ws *w, int32_t *ids, long n, tok_pair_fn fn, const void *ctx,
                   mx_error *e)
{
    if (n < 2)
        return n;
    if (n > INT32_MAX - 1)
        return err_set(e, ERR_ARG, "text too long to tokenize (%ld initial tokens)", n);
    if ((size_t)n > w->cap) {
        size_t cap = (size_t)n > 2 * w->cap ? (size_t)n : 2 * w->cap;
        int32_t *p = realloc(w->prev, cap * sizeof *p);
        if (p)
            w->prev = p;
        int32_t *q = realloc(w->next, cap * sizeof *q);
        if (q)
            w->next = q;
        uint32_t *v = realloc(w->ver, cap * sizeof *v);
        if (v)
            w->ver = v;
        if (!p || !q || !v)
            return err_set(e, ERR_NOMEM, "out of memory tokenizing %ld tokens", n);
        w->cap = cap;
    }
    int32_t *prev = w->prev, *next = w->next;
    uint32_t *ver = w->ver;
    tok_heap *h = &w->h;
    h->n = 0;
    for (long i = 0; i < n; i++) {
        prev[i] = (int32_t)(i - 1);
        next[i] = i + 1 < n ? (int32_t)(i + 1) : -1;
        ver[i] = 0;
    }
    for (long i = 0; i + 1 < n; i++)
        if (push_pair(h, ids, ver, (int)i, (int)i + 1, fn, ctx) != 0)
            return err_set(e, ERR_NOMEM, "out of memory tokenizing %ld tokens", n);
    /* A dead node has prev == -2; ver only ever grows, so a stale entry never
     * matches again. */
    tok_cand c;
    while (tok_heap_pop(h, &c)) {
        int l = c.pos;
        if (prev[l] == -2 || ver[l] != c.vl)
            continue;
        int r = next[l];
        if (r < 0 || ver[r] != c.vr)
            continue;
        ids[l] = c.merged;
        ver[l]++;
        next[l] = next[r];
        if (next[r] >= 0)
            prev[next[r]] = l;
        prev[r] = -2;
        ver[r]++;
        int fail = 0;
        if (prev[l] >= 0)
            fail |= push_pair(h, ids, ver, prev[l], l, fn, ctx);
        if (next[l] >= 0)
            fail |= push_pair(h, ids, ver, l, next[l], fn, ctx);
        if (fail)
            return err_set(e, ERR_NOMEM, "out of memory tokenizing %ld tokens", n);
    }
    long m = 0;
    for (int i = 0; i >= 0; i = next[i]) /* node 0 always survives */
        ids[m++] = ids[i];
    return m;
}

/* Segments shorter than this are not cut, to keep the per-segment cost low. */
#define MIN_SEGMENT 32

long tok_merge_run(int32_t *ids, long n, tok_pair_fn fn, tok_cut_fn cut, const void *ctx,
                   mx_error *e)
{
    tok_merge_ws w = { 0 };
    long out = 0, start = 0;
    for (long i = 1; i <= n; i++) {
        if (i < n && (!cut || i - start < MIN_SEGMENT || !cut(ctx, ids[i - 1], ids[i])))
            continue;
        long m = tok_merge_seg(&w, ids + start, i - start, fn, ctx, e);
        if (m < 0) {
            tok_merge_ws_free(&w);
            return m;
        }
        memmove(ids + out, ids + start, (size_t)m * sizeof *ids);
        out += m;
        start = i;
    }
    tok_merge_ws_free(&w);
    return out;
}
