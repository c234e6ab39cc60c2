/* llama2.c tokenizer.bin: load, and encode exactly like llama2.c's encode()
 * (bos=1, eos=0) but with the O(n log n) merge loop of tok_merge.c.
 * Format: int32 max_token_length, then per token float32 score, int32 len, bytes. */
#include "src/tok_internal.h"

#include <stdlib.h>
#include <string.h>

#include "src/file_map.h"

/* llama2.c starts its best-score search at -1e10 with a strict '>', so a merge
 * whose token scores <= -1e10 (or NaN) is never taken. */
#define LLAMA2C_MIN_SCORE -1e10f

static int32_t rd_i32(const unsigned char *p)
{
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    int32_t r;
    memcpy(&r, &v, 4);
    return r;
}

static float rd_f32(const unsigned char *p)
{
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float r;
    memcpy(&r, &v, 4);
    return r;
}

tok *tok_load_llama2c(const char *path, int vocab_size, mx_error *e)
{
    char *buf;
    size_t size;
    if (fm_read_all(path, &buf, &size, e) != 0)
        return NULL;
    const unsigned char *b = (const unsigned char *)buf;
    tok *t = tok_new(TOK_KIND_LLAMA2C, path, e);
    if (!t) {
        free(buf);
        return NULL;
    }
    if (size < 4) {
        err_set(e, ERR_FORMAT, "%s: truncated: %zu bytes, no max_token_length header", path, size);
        goto fail;
    }
    int32_t maxlen = rd_i32(b);
    if (maxlen <= 0 || maxlen > (1 << 20)) {
        err_set(e, ERR_FORMAT, "%s: not a llama2.c tokenizer (max_token_length %d)", path, (int)maxlen);
        goto fail;
    }
    /* Count the tokens first (when vocab_size <= 0: every token in the file). */
    size_t pos = 4, arena_size = 0;
    int n = 0;
    while (vocab_size > 0 ? n < vocab_size : pos < size) {
        if (size - pos < 8) {
            err_set(e, ERR_FORMAT, "%s: truncated at byte %zu: token %d of %d has no score/length",
                    path, pos, n, vocab_size > 0 ? vocab_size : n + 1);
            goto fail;
        }
        int32_t l = rd_i32(b + pos + 4);
        if (l < 0 || l > maxlen) {
            err_set(e, ERR_FORMAT, "%s: token %d has length %d (max_token_length %d)", path, n,
                    (int)l, (int)maxlen);
            goto fail;
        }
        if (size - pos - 8 < (size_t)l) {
            err_set(e, ERR_FORMAT, "%s: truncated at byte %zu: token %d needs %d bytes", path,
                    size, n, (int)l);
            goto fail;
        }
        pos += 8 + (size_t)l;
        arena_size += (size_t)l + 1;
        if (n == INT32_MAX - 1) {
            err_set(e, ERR_FORMAT, "%s: too many tokens", path);
            goto fail;
        }
        n++;
    }
    if (n == 0) {
        err_set(e, ERR_FORMAT, "%s: no tokens", path);
        goto fail;
    }
    t->n_vocab = n;
    t->arena = malloc(arena_size);
    t->off = malloc((size_t)n * sizeof *t->off);
    t->len = malloc((size_t)n * sizeof *t->len);
    t->score = malloc((size_t)n * sizeof *t->score);
    if (!t->arena || !t->off || !t->len || !t->score) {
        err_set(e, ERR_NOMEM, "%s: out of memory for %d tokens", path, n);
        goto fail;
    }
    pos = 4;
    size_t ap = 0;
    for (int i = 0; i < n; i++) {
        t->score[i] = rd_f32(b + pos);
        uint32_t l = (uint32_t)rd_i32(b + pos + 4);
        pos += 8;
        /* llama2.c handles pieces as C strings: an embedded NUL ends the piece. */
        uint32_t cl = (uint32_t)strnlen((const char *)b + pos, l);
        memcpy(t->arena + ap, b + pos, cl);
        t->arena[ap + cl] = '\0';
        t->off[i] = (uint32_t)ap;
        t->len[i] = cl;
        if (cl > t->max_len)
            t->max_len = cl;
        ap += l + 1;
        pos += l;
    }
    if (tok_strmap_build(&t->map, t->arena, t->off, t->len, n, NULL) != 0) {
        err_set(e, ERR_NOMEM, "%s: out of memory for %d tokens", path, n);
        goto fail;
    }
    /* Which byte pairs occur inside pieces: a merged token's piece starts and
     * ends with the bytes of its outermost parts, so a boundary between a piece
     * ending in x and one starting with y is never merged across unless some
     * piece contains "xy". That lets the encoder merge segments independently. */
    int has_empty = 0;
    for (int i = 0; i < n; i++)
        has_empty |= t->len[i] == 0;
    if (!has_empty) {
        t->bigram = calloc(65536 / 8, 1);
        if (!t->bigram) {
            err_set(e, ERR_NOMEM, "%s: out of memory", path);
            goto fail;
        }
        for (int i = 0; i < n; i++) {
            const unsigned char *p = (const unsigned char *)t->arena + t->off[i];
            for (uint32_t k = 0; k + 1 < t->len[i]; k++) {
                unsigned bg = (unsigned)p[k] << 8 | p[k + 1];
                t->bigram[bg >> 3] |= (uint8_t)(1u << (bg & 7));
            }
        }
    }
    t->bos = n > 1 ? 1 : -1;
    t->eos = n > 2 ? 2 : -1;
    /* For tok_decode, as llama2.c's decode(): BOS/EOS print nothing, <0xNN>
     * is the byte, and the space the encoder put first is dropped. */
    t->attr = calloc((size_t)n, 1);
    if (!t->attr) {
        err_set(e, ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    for (int i = 0; i < n; i++)
        if (tok_byte_piece(t->arena + t->off[i], t->len[i]) >= 0)
            t->attr[i] = TOK_A_BYTE;
    if (t->bos >= 0)
        t->attr[t->bos] = TOK_A_CONTROL;
    if (t->eos >= 0)
        t->attr[t->eos] = TOK_A_CONTROL;
    t->strip_lead = 1;
    free(buf);
    return t;
fail:
    free(buf);
    tok_free(t);
    return NULL;
}

typedef struct pair_ctx {
    const tok *t;
    char *buf; /* room for two pieces */
} pair_ctx;

static int llama_pair(const void *vctx, int a, int b, float *key, int *merged)
{
    const pair_ctx *c = vctx;
    const tok *t = c->t;
    memcpy(c->buf, t->arena + t->off[a], t->len[a]);
    memcpy(c->buf + t->len[a], t->arena + t->off[b], t->len[b]);
    int id = tok_strmap_get(&t->map, c->buf, (size_t)t->len[a] + t->len[b]);
    if (id < 0 || !(t->score[id] > LLAMA2C_MIN_SCORE))
        return 0;
    *key = -t->score[id];
    *merged = id;
    return 1;
}

static int llama_cut(const void *vctx, int a, int b)
{
    const tok *t = ((const pair_ctx *)vctx)->t;
    const unsigned char *pa = (const unsigned char *)t->arena + t->off[a];
    const unsigned char *pb = (const unsigned char *)t->arena + t->off[b];
    unsigned bg = (unsigned)pa[t->len[a] - 1] << 8 | pb[0];
    return !(t->bigram[bg >> 3] >> (bg & 7) & 1);
}

static int byte_token(const tok *t, unsigned char byte, int32_t *out, mx_error *e)
{
    int id = (int)byte + 3;
    if (id >= t->n_vocab)
        return err_set(e, ERR_ARG, "byte 0x%02X needs byte-fallback token %d but the vocab has %d",
                       byte, id, t->n_vocab);
    *out = id;
    return 0;
}

long tok_encode_llama2c(const tok *t, const char *text, size_t len, int **out, mx_error *e)
{
    /* llama2.c takes a C string: the text ends at the first NUL byte. */
    len = strnlen(text, len);
    if (len > (size_t)INT32_MAX - 8)
        return err_set(e, ERR_ARG, "text too long to tokenize (%zu bytes)", len);
    int32_t *ids = malloc((len + 2) * sizeof *ids);
    char *buf = malloc(2 * (size_t)t->max_len + 1);
    long rc;
    if (!ids || !buf) {
        rc = err_set(e, ERR_NOMEM, "out of memory tokenizing %zu bytes", len);
        goto fail;
    }
    long n = 0;
    /* llama2.c always starts with id 1 (not tok_bos(), which a caller may
     * override); BOS goes through the merge loop too, as in llama2.c. */
    if (t->n_vocab > 1)
        ids[n++] = 1;
    if (len > 0) {
        /* The dummy prefix: the piece " " (byte fallback if the vocab lacks it,
         * which is also what a literal leading space would give). */
        int sp = tok_strmap_get(&t->map, " ", 1);
        if (sp < 0 && (rc = byte_token(t, ' ', &sp, e)) != 0)
            goto fail;
        ids[n++] = sp;
    }
    const unsigned char *s = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        /* A group is one byte plus the continuation bytes (10xxxxxx) that follow
         * it, at most 4 bytes in all — llama2.c's rule, valid UTF-8 or not. */
        size_t g = 1;
        while (g < 4 && i + g < len && (s[i + g] & 0xC0) == 0x80)
            g++;
        int id = tok_strmap_get(&t->map, text + i, g);
        if (id >= 0) {
            ids[n++] = id;
        } else {
            for (size_t k = 0; k < g; k++)
                if ((rc = byte_token(t, s[i + k], &ids[n++], e)) != 0)
                    goto fail;
        }
        i += g;
    }
    pair_ctx ctx = { t, buf };
    long m = tok_merge_run(ids, n, llama_pair, t->bigram ? llama_cut : NULL, &ctx, e);
    if (m < 0) {
        rc = m;
        goto fail;
    }
    free(buf);
    *out = ids;
    return m;
fail:
    free(ids);
    free(buf);
    return rc;
}
