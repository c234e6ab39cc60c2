/* Tokenizer object: accessors shared by the llama2.c and Hugging Face formats. */
#include "src/tok_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tok_free(tok *t)
{
    if (!t)
        return;
    tok_strmap_free(&t->map);
    tok_hf_free(t->hf);
    free(t->arena);
    free(t->off);
    free(t->len);
    free(t->score);
    free(t->bigram);
    free(t);
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
    if (t->kind == TOK_KIND_LLAMA2C)
        return tok_encode_llama2c(t, text ? text : "", len, out, e);
    return tok_encode_hf(t, text ? text : "", len, out, e);
}

tok *tok_open(const char *path, const char *model_path, int vocab_size, mx_error *e)
{
    if (!path) {
        if (!model_path) {
            err_set(e, ERR_ARG, "no tokenizer given");
            return NULL;
        }
        char guess[4200];
        snprintf(guess, sizeof guess, "%s/tokenizer.json", model_path);
        return tok_load_hf(guess, e);
    }
    size_t n = strlen(path);
    if (n >= 5 && !strcmp(path + n - 5, ".json"))
        return tok_load_hf(path, e);
    return tok_load_llama2c(path, vocab_size, e);
}

int tok_window_bos(const tok *t)
{
    int bos = tok_bos(t);
    return bos >= 0 ? bos : tok_eos(t);
}
