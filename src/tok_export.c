/* tok_export_vocab: a tokenizer as GGUF `tokenizer.ggml.*` metadata (see
 * src/tok_export.h). */
#include "src/tok_export.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/tok_internal.h"

#define SPM_SPACE "\xe2\x96\x81" /* U+2581, SentencePiece's space */

void tok_vocab_free(tok_vocab *v)
{
    if (v->tokens)
        for (int i = 0; i < v->n; i++)
            free(v->tokens[i]);
    if (v->merges)
        for (int i = 0; i < v->n_merges; i++)
            free(v->merges[i]);
    free(v->tokens);
    free(v->merges);
    free(v->scores);
    free(v->types);
    memset(v, 0, sizeof *v);
}

static int alloc_vocab(tok_vocab *v, int n, mx_error *e)
{
    v->n = n;
    v->tokens = calloc((size_t)n, sizeof *v->tokens);
    v->scores = calloc((size_t)n, sizeof *v->scores);
    v->types = calloc((size_t)n, sizeof *v->types);
    if (!v->tokens || !v->scores || !v->types)
        return err_set(e, ERR_NOMEM, "out of memory");
    return 0;
}

/* A copy of p[0..n) with every ' ' as "▁". */
static char *spm_piece(const char *p, size_t n)
{
    size_t sp = 0;
    for (size_t i = 0; i < n; i++)
        sp += p[i] == ' ';
    char *o = malloc(n + 2 * sp + 1), *q = o;
    if (!o)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == ' ') {
            memcpy(q, SPM_SPACE, 3);
            q += 3;
        } else {
            *q++ = p[i];
        }
    }
    *q = '\0';
    return o;
}

static int from_llama2c(const tok *t, tok_vocab *v, mx_error *e)
{
    snprintf(v->model, sizeof v->model, "llama");
    snprintf(v->pre, sizeof v->pre, "default");
    int rc = alloc_vocab(v, t->n_vocab, e);
    for (int i = 0; i < t->n_vocab && rc == 0; i++) {
        const char *p = t->arena + t->off[i];
        size_t n = t->len[i];
        if (memchr(p, '\0', n))
            return err_set(e, ERR_FORMAT, "token %d holds a NUL byte: not storable in GGUF", i);
        v->tokens[i] = spm_piece(p, n);
        if (!v->tokens[i])
            return err_set(e, ERR_NOMEM, "out of memory");
        v->scores[i] = t->score[i];
        uint8_t a = t->attr ? t->attr[i] : 0;
        v->types[i] = a & TOK_A_BYTE ? TOKX_BYTE : a & TOK_A_CONTROL ? TOKX_CONTROL : TOKX_NORMAL;
    }
    if (rc)
        return rc;
    /* llama2.c's id 0 is <unk> (sentencepiece's layout). */
    if (t->n_vocab > 0 && !strcmp(v->tokens[0], "<unk>")) {
        v->types[0] = TOKX_UNKNOWN;
        v->unk = 0;
    }
    v->bos = t->bos;
    v->eos = t->eos;
    v->add_bos = 1;
    v->add_space_prefix = 1;
    return 0;
}

static int json_has_string(json_t *j, const char *needle)
{
    char *s = json_dumps(j, JSON_COMPACT);
    int r = s && strstr(s, needle);
    free(s);
    return r;
}

/* A merge entry ("a b" or ["a", "b"]) as its two halves; 0 or -1. */
static int merge_parts(json_t *m, const char **a, size_t *al, const char **b, size_t *bl)
{
    if (json_is_string(m)) {
        const char *s = json_string_value(m), *sp = strchr(s, ' ');
        if (!sp)
            return -1;
        *a = s;
        *al = (size_t)(sp - s);
        *b = sp + 1;
        *bl = strlen(sp + 1);
        return 0;
    }
    if (json_is_array(m) && json_array_size(m) == 2 && json_is_string(json_array_get(m, 0)) &&
        json_is_string(json_array_get(m, 1))) {
        *a = json_string_value(json_array_get(m, 0));
        *al = json_string_length(json_array_get(m, 0));
        *b = json_string_value(json_array_get(m, 1));
        *bl = json_string_length(json_array_get(m, 1));
        return 0;
    }
    return -1;
}

/* llama.cpp's pre-tokenizer name for a byte-level tokenizer.json's split. */
static const char *gpt2_pre(json_t *root)
{
    json_t *pt = json_object_get(root, "pre_tokenizer");
    if (json_has_string(pt, "\\\\p{N}{1,3}"))
        return "llama-bpe";
    if (json_has_string(pt, "\"Digits\""))
        return "smollm";
    if (json_has_string(pt, "[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}"))
        return "qwen2";
    return "gpt-2";
}

static int from_json(const tok *t, const char *path, tok_vocab *v, mx_error *e)
{
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root)
        return err_set(e, ERR_FORMAT, "%s: bad JSON: %s (line %d)", path, je.text, je.line);
    int rc = 0;
    json_t *model = json_object_get(root, "model"), *vocab = json_object_get(model, "vocab"),
           *merges = json_object_get(model, "merges"), *added = json_object_get(root, "added_tokens");
    int byte_level = json_has_string(json_object_get(root, "pre_tokenizer"), "\"ByteLevel\"") ||
                     json_has_string(json_object_get(root, "decoder"), "\"ByteLevel\"");
    if (!json_is_object(vocab) || !json_is_array(merges)) {
        rc = err_set(e, ERR_FORMAT, "%s: not a BPE tokenizer.json (model.vocab, model.merges)", path);
        goto out;
    }
    if ((rc = alloc_vocab(v, t->n_vocab, e)) < 0)
        goto out;
    const char *k;
    json_t *x;
    json_object_foreach(vocab, k, x) {
        json_int_t id = json_integer_value(x);
        if (json_is_integer(x) && id >= 0 && id < t->n_vocab && !v->tokens[id])
            v->tokens[id] = strdup(k);
    }
    size_t i;
    json_array_foreach(added, i, x) {
        json_int_t id = json_integer_value(json_object_get(x, "id"));
        const char *c = json_string_value(json_object_get(x, "content"));
        if (!c || id < 0 || id >= t->n_vocab)
            continue;
        if (!v->tokens[id])
            v->tokens[id] = strdup(c);
        v->types[id] = json_is_true(json_object_get(x, "special")) ? TOKX_CONTROL : TOKX_USER;
    }
    for (int j = 0; j < v->n; j++) {
        if (!v->tokens[j] && !(v->tokens[j] = strdup(""))) /* a hole: llama.cpp marks these unused */
            rc = err_set(e, ERR_NOMEM, "out of memory");
        else if (!v->tokens[j][0])
            v->types[j] = TOKX_UNUSED;
        if (!v->types[j])
            v->types[j] = tok_byte_piece(v->tokens[j], strlen(v->tokens[j])) >= 0 && !byte_level
                              ? TOKX_BYTE : TOKX_NORMAL;
    }
    if (rc < 0)
        goto out;
    v->bos = t->bos;
    v->eos = t->eos;
    v->unk = -1;
    const char *unk = json_string_value(json_object_get(model, "unk_token"));
    if (unk) {
        json_t *u = json_object_get(vocab, unk);
        if (json_is_integer(u) && json_integer_value(u) < t->n_vocab) {
            v->unk = (int)json_integer_value(u);
            v->types[v->unk] = TOKX_UNKNOWN;
        }
    }
    /* BOS is added when the post-processor template starts with it. */
    json_t *pp = json_object_get(root, "post_processor");
    v->add_bos = v->bos >= 0 && json_has_string(json_object_get(pp, "single"), "SpecialToken") &&
                 json_has_string(json_array_get(json_object_get(pp, "single"), 0), "SpecialToken");
    size_t nm = json_array_size(merges);
    if (byte_level) {
        snprintf(v->model, sizeof v->model, "gpt2");
        snprintf(v->pre, sizeof v->pre, "%s", gpt2_pre(root));
        v->add_space_prefix = -1;
        free(v->scores);
        v->scores = NULL;
        v->merges = calloc(nm ? nm : 1, sizeof *v->merges);
        if (!v->merges) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        v->n_merges = (int)nm;
        json_array_foreach(merges, i, x) {
            const char *a, *b;
            size_t al, bl;
            if (merge_parts(x, &a, &al, &b, &bl) < 0) {
                rc = err_set(e, ERR_FORMAT, "%s: merge %zu is not \"a b\" or [a, b]", path, i);
                goto out;
            }
            if (!(v->merges[i] = malloc(al + bl + 2))) {
                rc = err_set(e, ERR_NOMEM, "out of memory");
                goto out;
            }
            snprintf(v->merges[i], al + bl + 2, "%.*s %.*s", (int)al, a, (int)bl, b);
        }
        goto out;
    }
    /* SentencePiece-style: llama.cpp merges the adjacent pair whose joined
     * piece has the highest score (leftmost on ties); HF BPE merges the
     * lowest-ranked pair. The score -(rank + 1) of the merge that makes each
     * piece turns the one into the other; pieces no merge makes (single
     * characters, bytes, specials) are never a merge result and keep 0. */
    snprintf(v->model, sizeof v->model, "llama");
    snprintf(v->pre, sizeof v->pre, "default");
    v->add_space_prefix = json_has_string(json_object_get(root, "normalizer"), "\"Prepend\"") ||
                          json_has_string(json_object_get(root, "pre_tokenizer"), "\"prepend_scheme\":\"always\"");
    char *buf = NULL;
    size_t cap = 0;
    json_array_foreach(merges, i, x) {
        const char *a, *b;
        size_t al, bl;
        if (merge_parts(x, &a, &al, &b, &bl) < 0) {
            rc = err_set(e, ERR_FORMAT, "%s: merge %zu is not \"a b\" or [a, b]", path, i);
            break;
        }
        if (al + bl + 1 > cap) {
            cap = 2 * (al + bl + 1);
            char *nb = realloc(buf, cap);
            if (!nb) {
                rc = err_set(e, ERR_NOMEM, "out of memory");
                break;
            }
            buf = nb;
        }
        memcpy(buf, a, al);
        memcpy(buf + al, b, bl);
        json_t *id = json_object_getn(vocab, buf, al + bl);
        json_int_t n = json_integer_value(id);
        if (json_is_integer(id) && n >= 0 && n < v->n && v->scores[n] == 0.0f)
            v->scores[n] = -(float)(i + 1);
    }
    free(buf);
out:
    json_decref(root);
    return rc;
}

int tok_export_vocab(const tok *t, const char *json_path, tok_vocab *v, mx_error *e)
{
    memset(v, 0, sizeof *v);
    v->bos = v->eos = v->unk = -1;
    v->add_space_prefix = -1;
    int rc;
    if (t->kind == TOK_KIND_LLAMA2C)
        rc = from_llama2c(t, v, e);
    else if (t->kind == TOK_KIND_HF && json_path)
        rc = from_json(t, json_path, v, e);
    else
        rc = err_set(e, ERR_FORMAT, "this tokenizer (%s) has no GGUF form in mxalloc: use a "
                     "tokenizer.json or a llama2.c tokenizer.bin",
                     t->kind == TOK_KIND_SPM_MODEL ? "tokenizer.model" : "a GGUF vocabulary");
    if (rc < 0)
        tok_vocab_free(v);
    return rc;
}
