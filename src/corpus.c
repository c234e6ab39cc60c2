#include "src/corpus.h"

#include <stdlib.h>
#include <string.h>

#include "src/eval.h"
#include "src/file_map.h"
#include "src/tok.h"

int corpus_load(corpus *c, const model *m, const char *tok_path, const char *text_path, int ctx,
                long max_tokens, mx_error *e)
{
    memset(c, 0, sizeof *c);
    tok *tk = tok_open(tok_path, m->path, m->cfg.vocab_size, e);
    if (!tk)
        return e ? e->code : ERR_IO;
    int rc = ERR_FORMAT;
    c->bos = tok_window_bos(tk);
    if (c->bos < 0) {
        rc = err_set(e, ERR_FORMAT, "the tokenizer has neither a BOS nor an EOS token");
        goto out;
    }
    if ((rc = fm_read_all(text_path, &c->text, &c->len, e)))
        goto out;
    if (c->len == 0) {
        rc = err_set(e, ERR_FORMAT, "%s: empty text", text_path);
        goto out;
    }
    long n = tok_encode(tk, c->text, c->len, &c->ids, e);
    if (n < 0) {
        rc = (int)n;
        err_prefix(e, "%s", text_path);
        goto out;
    }
    long skip = n > 0 && c->ids[0] == tok_bos(tk) ? 1 : 0; /* the stream's own BOS */
    c->tokens = c->ids + skip;
    c->n_tokens = n - skip;
    c->n_windows = eval_window_count(c->n_tokens, ctx, max_tokens);
    if (c->n_windows == 0) {
        rc = err_set(e, ERR_FORMAT, "%s: %ld tokens%s, fewer than one window of %d", text_path,
                     c->n_tokens, max_tokens && max_tokens < c->n_tokens ? " allowed" : "", ctx);
        goto out;
    }
    rc = 0;
out:
    tok_free(tk);
    if (rc)
        corpus_free(c);
    return rc;
}

void corpus_free(corpus *c)
{
    free(c->ids);
    free(c->text);
    memset(c, 0, sizeof *c);
}
