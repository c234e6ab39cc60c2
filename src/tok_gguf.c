/* The tokenizer a GGUF file carries in its `tokenizer.ggml.*` metadata:
 * read into a tok_spec and built by tok_from_spec (src/tok.c). Models
 * "llama" (SentencePiece: tokens + scores) and "gpt2" (byte-level BPE:
 * tokens + merges); the others llama.cpp knows are refused by name. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/gguf.h"
#include "src/tok.h"

#define K "tokenizer.ggml."

/* An optional token id: -1 when absent; ERR_FORMAT when not an id of the vocabulary. */
static int get_id(const gguf_file *g, const char *key, int n_vocab, int *out, mx_error *e)
{
    const gguf_kv *k = gguf_find(g, key);
    *out = -1;
    if (!k)
        return 0;
    int64_t v;
    if (gguf_int(g, k, &v) < 0)
        return err_set(e, ERR_FORMAT, "%s: %s must be an integer (it is a %s)", g->f.path, key,
                       gguf_vtype_name(k->type));
    /* llama.cpp writes -1 (as u32 0xffffffff) or an out-of-range id for "none". */
    if (v < 0 || v == UINT32_MAX)
        return 0;
    if (v >= n_vocab)
        return err_set(e, ERR_FORMAT, "%s: %s = %lld is outside the vocabulary (%d tokens)", g->f.path,
                       key, (long long)v, n_vocab);
    *out = (int)v;
    return 0;
}

/* An optional bool: -1 when absent. */
static int get_bool(const gguf_file *g, const char *key, int *out, mx_error *e)
{
    const gguf_kv *k = gguf_find(g, key);
    *out = -1;
    if (!k)
        return 0;
    int64_t v;
    if (gguf_int(g, k, &v) < 0)
        return err_set(e, ERR_FORMAT, "%s: %s must be a bool (it is a %s)", g->f.path, key,
                       gguf_vtype_name(k->type));
    *out = v != 0;
    return 0;
}

/* A NUL-terminated copy of a metadata string (for the spec's C strings). */
static char *get_cstr(const gguf_file *g, const char *key, int required, mx_error *e, int *rc)
{
    const gguf_kv *k = gguf_find(g, key);
    *rc = 0;
    if (!k) {
        if (required)
            *rc = err_set(e, ERR_FORMAT, "%s: no tokenizer in the file (no %s)", g->f.path, key);
        return NULL;
    }
    const char *s;
    uint64_t n;
    if (gguf_str(g, k, &s, &n) < 0) {
        *rc = err_set(e, ERR_FORMAT, "%s: %s must be a string (it is a %s)", g->f.path, key,
                      gguf_vtype_name(k->type));
        return NULL;
    }
    if (n > 256 || memchr(s, '\0', (size_t)n)) {
        *rc = err_set(e, ERR_FORMAT, "%s: %s is not a short string", g->f.path, key);
        return NULL;
    }
    char *c = malloc((size_t)n + 1);
    if (!c) {
        *rc = err_set(e, ERR_NOMEM, "out of memory");
        return NULL;
    }
    memcpy(c, s, (size_t)n);
    c[n] = '\0';
    return c;
}

/* A per-token array (scores, token types) that must match the vocabulary. */
static const gguf_kv *per_token(const gguf_file *g, const char *key, int n_vocab, mx_error *e, int *rc)
{
    const gguf_kv *k = gguf_find(g, key);
    *rc = 0;
    if (k && (k->type != GGUF_ARRAY || k->arr_n != (uint64_t)n_vocab))
        *rc = err_set(e, ERR_FORMAT, "%s: %s must be an array of %d values (one per token)", g->f.path,
                      key, n_vocab);
    return k;
}

tok *tok_load_gguf(const char *path, mx_error *e)
{
    gguf_file g;
    if (gguf_open(&g, path, e) < 0)
        return NULL;
    tok *t = NULL;
    tok_spec s;
    memset(&s, 0, sizeof s);
    char *model = NULL, *pre = NULL;
    const char **tokens = NULL, **merges = NULL;
    size_t *tok_lens = NULL, *merge_lens = NULL;
    float *scores = NULL;
    int *types = NULL, rc;
    model = get_cstr(&g, K "model", 1, e, &rc);
    if (rc < 0)
        goto out;
    if (strcmp(model, "llama") && strcmp(model, "gpt2")) {
        err_set(e, ERR_FORMAT, "%s: tokenizer model \"%s\" not supported (supported: llama, gpt2)", path,
                model);
        goto out;
    }
    pre = get_cstr(&g, K "pre", 0, e, &rc);
    if (rc < 0)
        goto out;
    const gguf_kv *tk = gguf_find(&g, K "tokens");
    if (!tk || tk->type != GGUF_ARRAY || tk->arr_type != GGUF_STRING || tk->arr_n == 0) {
        err_set(e, ERR_FORMAT, "%s: " K "tokens must be a non-empty array of strings", path);
        goto out;
    }
    if (tk->arr_n > (1u << 24)) {
        err_set(e, ERR_FORMAT, "%s: %llu tokens is more than mxalloc reads (%u)", path,
                (unsigned long long)tk->arr_n, 1u << 24);
        goto out;
    }
    int n = (int)tk->arr_n;
    tokens = malloc((size_t)n * sizeof *tokens);
    tok_lens = malloc((size_t)n * sizeof *tok_lens);
    if (!tokens || !tok_lens) {
        err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    gguf_strings(&g, tk, tokens, tok_lens);
    const gguf_kv *sk = per_token(&g, K "scores", n, e, &rc);
    if (rc < 0)
        goto out;
    const gguf_kv *ty = per_token(&g, K "token_type", n, e, &rc);
    if (rc < 0)
        goto out;
    if (sk) {
        if (!(scores = malloc((size_t)n * sizeof *scores))) {
            err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        if (gguf_floats(&g, sk, scores) < 0) {
            err_set(e, ERR_FORMAT, "%s: " K "scores must hold numbers", path);
            goto out;
        }
    }
    if (ty) {
        if (!(types = malloc((size_t)n * sizeof *types))) {
            err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        if (gguf_ints(&g, ty, types) < 0) {
            err_set(e, ERR_FORMAT, "%s: " K "token_type must hold integers", path);
            goto out;
        }
    }
    const gguf_kv *mk = gguf_find(&g, K "merges");
    if (mk) {
        if (mk->type != GGUF_ARRAY || mk->arr_type != GGUF_STRING || mk->arr_n > (1u << 24)) {
            err_set(e, ERR_FORMAT, "%s: " K "merges must be an array of strings", path);
            goto out;
        }
        s.n_merges = (int)mk->arr_n;
        merges = malloc((size_t)(s.n_merges ? s.n_merges : 1) * sizeof *merges);
        merge_lens = malloc((size_t)(s.n_merges ? s.n_merges : 1) * sizeof *merge_lens);
        if (!merges || !merge_lens) {
            err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        gguf_strings(&g, mk, merges, merge_lens);
    } else if (!strcmp(model, "gpt2")) {
        err_set(e, ERR_FORMAT, "%s: a gpt2 tokenizer needs " K "merges", path);
        goto out;
    }
    s.model = model;
    s.pre = pre;
    s.n_vocab = n;
    s.tokens = tokens;
    s.token_lens = tok_lens;
    s.scores = scores;
    s.types = types;
    s.merges = merges;
    s.merge_lens = merge_lens;
    if (get_id(&g, K "bos_token_id", n, &s.bos, e) < 0 || get_id(&g, K "eos_token_id", n, &s.eos, e) < 0 ||
        get_id(&g, K "unknown_token_id", n, &s.unk, e) < 0 ||
        get_id(&g, K "padding_token_id", n, &s.pad, e) < 0 ||
        get_bool(&g, K "add_bos_token", &s.add_bos, e) < 0 ||
        get_bool(&g, K "add_eos_token", &s.add_eos, e) < 0 ||
        get_bool(&g, K "add_space_prefix", &s.add_space_prefix, e) < 0)
        goto out;
    t = tok_from_spec(&s, path, e);
out:
    free(model);
    free(pre);
    free(tokens);
    free(tok_lens);
    free(merges);
    free(merge_lens);
    free(scores);
    free(types);
    gguf_close(&g);
    return t;
}
