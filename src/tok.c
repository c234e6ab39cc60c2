/* Tokenizer object: accessors shared by every format, decoding, and the one
 * rule that finds a command's tokenizer (tok_open). */
#include "src/tok_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void tok_free(tok *t)
{
    if (!t)
        return;
    tok_strmap_free(&t->map);
    tok_hf_free(t->hf);
    tok_spm_free(t->spm);
    tok_spm_model_free(t->spm_model);
    free(t->arena);
    free(t->off);
    free(t->len);
    free(t->score);
    free(t->bigram);
    free(t->attr);
    free(t);
}

tok *tok_new(int kind, const char *file, mx_error *e)
{
    tok *t = calloc(1, sizeof *t);
    if (!t) {
        err_set(e, ERR_NOMEM, "%s: out of memory", file);
        return NULL;
    }
    t->kind = kind;
    return t;
}

int tok_vocab_size(const tok *t)
{
    return t->n_vocab;
}

int tok_bos(const tok *t)
{
    return t->bos;
}

int tok_eos(const tok *t)
{
    return t->eos;
}

int tok_set_special(tok *t, int bos, int eos)
{
    if (bos < -1 || bos >= t->n_vocab || eos < -1 || eos >= t->n_vocab)
        return ERR_ARG;
    t->bos = bos;
    t->eos = eos;
    return 0;
}

const char *tok_piece(const tok *t, int id)
{
    if (!t || id < 0 || id >= t->n_vocab)
        return "";
    return t->arena + t->off[id];
}

int tok_id(const tok *t, const char *piece, size_t len)
{
    return tok_strmap_get(&t->map, piece, len);
}

long tok_encode(const tok *t, const char *text, size_t len, int **out, mx_error *e)
{
    *out = NULL;
    if (!text && len > 0)
        return err_set(e, ERR_ARG, "tok_encode: NULL text");
    text = text ? text : "";
    switch (t->kind) {
    case TOK_KIND_LLAMA2C:
        return tok_encode_llama2c(t, text, len, out, e);
    case TOK_KIND_SPM:
        return tok_encode_spm(t, text, len, out, e);
    case TOK_KIND_SPM_MODEL:
        return tok_encode_spm_model(t, text, len, out, e);
    default:
        return tok_encode_hf(t, text, len, out, e);
    }
}

int tok_byte_piece(const char *p, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    if (n != 6 || memcmp(p, "<0x", 3) != 0 || p[5] != '>')
        return -1;
    const char *a = strchr(hex, p[3]), *b = strchr(hex, p[4]);
    if (!a || !b || !p[3] || !p[4])
        return -1;
    return (int)((a - hex) << 4 | (b - hex));
}

long tok_decode(const tok *t, const int *ids, long n, char **out, mx_error *e)
{
    *out = NULL;
    if (n < 0 || (n > 0 && !ids))
        return err_set(e, ERR_ARG, "tok_decode: bad token list");
    if (t->kind == TOK_KIND_SPM_MODEL)
        return tok_decode_spm_model(t, ids, n, out, e);
    size_t cap = 16;
    for (long i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->n_vocab)
            return err_set(e, ERR_ARG, "tok_decode: token id %d outside the vocabulary of %d", ids[i],
                           t->n_vocab);
        cap += t->len[ids[i]];
    }
    char *o = malloc(cap);
    if (!o)
        return err_set(e, ERR_NOMEM, "out of memory decoding %ld tokens", n);
    size_t ol = 0;
    for (long i = 0; i < n; i++) {
        int id = ids[i];
        uint8_t a = t->attr ? t->attr[id] : 0;
        if (a & TOK_A_CONTROL)
            continue;
        const char *p = t->arena + t->off[id];
        size_t pl = t->len[id];
        if (a & TOK_A_BYTE) {
            int b = tok_byte_piece(p, pl);
            if (b >= 0) {
                o[ol++] = (char)b;
                continue;
            }
        }
        /* Output never outgrows the pieces: "▁" (3 bytes) becomes one space. */
        for (size_t k = 0; k < pl;) {
            if (t->meta_len && pl - k >= t->meta_len && !memcmp(p + k, t->meta, t->meta_len)) {
                o[ol++] = ' ';
                k += t->meta_len;
            } else {
                o[ol++] = p[k++];
            }
        }
    }
    if (t->strip_lead && ol > 0 && o[0] == ' ') {
        memmove(o, o + 1, ol - 1);
        ol--;
    }
    o[ol] = '\0';
    *out = o;
    return (long)ol;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

static int is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int is_gguf(const char *p)
{
    if (ends_with(p, ".gguf"))
        return 1;
    FILE *f = fopen(p, "rb");
    char m[4] = { 0 };
    if (!f)
        return 0;
    size_t r = fread(m, 1, 4, f);
    fclose(f);
    return r == 4 && !memcmp(m, "GGUF", 4);
}

tok *tok_open(const char *path, const char *model_path, int vocab_size, mx_error *e)
{
    if (path) {
        if (ends_with(path, ".json"))
            return tok_load_hf(path, e);
        if (ends_with(path, ".model"))
            return tok_load_spm_model(path, e);
        return tok_load_llama2c(path, vocab_size, e);
    }
    if (!model_path) {
        err_set(e, ERR_ARG, "no tokenizer given");
        return NULL;
    }
    struct stat st;
    if (stat(model_path, &st) != 0) {
        err_set(e, ERR_IO, "%s: cannot open", model_path);
        return NULL;
    }
    char guess[4200];
    if (S_ISDIR(st.st_mode)) {
        snprintf(guess, sizeof guess, "%s/tokenizer.json", model_path);
        if (is_file(guess))
            return tok_load_hf(guess, e);
        snprintf(guess, sizeof guess, "%s/tokenizer.model", model_path);
        if (is_file(guess))
            return tok_load_spm_model(guess, e);
        err_set(e, ERR_ARG, "%s: no tokenizer.json or tokenizer.model in the model directory: "
                "pass --tokenizer FILE", model_path);
        return NULL;
    }
    if (is_gguf(model_path))
        return tok_load_gguf(model_path, e);
    /* A llama2.c checkpoint: a tokenizer.bin beside it, as llama2.c ships them. */
    const char *slash = strrchr(model_path, '/');
    if (slash)
        snprintf(guess, sizeof guess, "%.*s/tokenizer.bin", (int)(slash - model_path), model_path);
    else
        snprintf(guess, sizeof guess, "tokenizer.bin");
    if (is_file(guess))
        return tok_load_llama2c(guess, vocab_size, e);
    err_set(e, ERR_ARG, "%s: a llama2.c checkpoint carries no tokenizer: pass --tokenizer FILE",
            model_path);
    return NULL;
}

int tok_window_bos(const tok *t)
{
    int bos = tok_bos(t);
    return bos >= 0 ? bos : tok_eos(t);
}
