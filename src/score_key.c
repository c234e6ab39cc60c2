/* Cache keys of score tables and the check that a cached table answers a request. */
#include "src/score.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include "src/eval.h"

uint64_t score_hash_bytes(const void *p, size_t len) { return XXH64(p, len, 0); }

static void put_u64(XXH64_state_t *h, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    XXH64_update(h, b, 8);
}

void score_key(const score_key_input *k, char *out)
{
    XXH64_state_t *h = XXH64_createState();
    uint64_t v;
    if (h) {
        XXH64_reset(h, 0);
        XXH64_update(h, "mxalloc-score", 13);
        put_u64(h, SCORE_ALGO_VERSION);
        put_u64(h, k->model_hash);
        put_u64(h, k->text_hash);
        put_u64(h, k->tokens_hash);
        put_u64(h, (uint64_t)k->calib_tokens);
        put_u64(h, (uint64_t)k->ctx);
        put_u64(h, k->methods);
        put_u64(h, (uint64_t)k->fisher_chunk);
        put_u64(h, (uint64_t)k->n_formats);
        for (int i = 0; i < k->n_formats; i++)
            put_u64(h, (uint64_t)k->formats[i]);
        if (k->gptq)
            XXH64_update(h, "gptq", 4);
        v = XXH64_digest(h);
        XXH64_freeState(h);
    } else { /* no memory for a state: hash the same fields from one buffer */
        uint64_t buf[11 + MX_NFORMATS];
        int n = 0;
        buf[n++] = SCORE_ALGO_VERSION;
        buf[n++] = k->model_hash;
        buf[n++] = k->text_hash;
        buf[n++] = k->tokens_hash;
        buf[n++] = (uint64_t)k->calib_tokens;
        buf[n++] = (uint64_t)k->ctx;
        buf[n++] = k->methods;
        buf[n++] = (uint64_t)k->fisher_chunk;
        buf[n++] = (uint64_t)k->n_formats;
        for (int i = 0; i < k->n_formats && i < MX_NFORMATS; i++)
            buf[n++] = (uint64_t)k->formats[i];
        if (k->gptq)
            buf[n++] = 0x67707471u; /* "gptq" */
        v = XXH64(buf, sizeof buf[0] * (size_t)n, 1);
    }
    snprintf(out, 17, "%016llx", (unsigned long long)v);
}

long score_key_for_text(const model *m, const char *text, size_t text_len, const int *tokens,
                        long n_tokens, const score_opts *o, char *key)
{
    long nw = eval_window_count(n_tokens, o->ctx, o->max_tokens);
    if (nw <= 0)
        return 0;
    score_key_input ki = {.model_hash = m->content_hash,
                          .text_hash = score_hash_bytes(text, text_len),
                          .tokens_hash = score_hash_bytes(tokens, sizeof(int) * (size_t)(nw * o->ctx)),
                          .calib_tokens = nw * o->ctx,
                          .ctx = o->ctx,
                          .methods = o->methods,
                          /* the chunk only matters to Fisher scores */
                          .fisher_chunk = o->methods & (1u << SCORE_FISHER) ? o->fisher_chunk : 0,
                          .n_formats = o->n_formats,
                          .formats = o->formats,
                          .gptq = o->gptq != NULL};
    score_key(&ki, key);
    return nw;
}

int score_table_check(const score_table *t, const model *m, const char *key,
                      const score_opts *o, mx_error *e)
{
    if (strcmp(t->key, key))
        return err_set(e, ERR_FORMAT, "stale: computed for other inputs (key %s, want %s)",
                       t->key[0] ? t->key : "none", key);
    if (t->model_hash != m->content_hash)
        return err_set(e, ERR_FORMAT, "stale: computed for other model weights");
    if ((t->methods & o->methods) != o->methods)
        return err_set(e, ERR_FORMAT, "stale: lacks a requested method");
    if (t->n_formats != o->n_formats ||
        memcmp(t->formats, o->formats, sizeof t->formats[0] * (size_t)o->n_formats))
        return err_set(e, ERR_FORMAT, "stale: other candidate formats");
    if (t->n_modules != m->n_modules)
        return err_set(e, ERR_FORMAT, "stale: %d modules, the model has %d", t->n_modules,
                       m->n_modules);
    if (!isfinite(t->fp32_loss))
        return err_set(e, ERR_FORMAT, "incomplete: no fp32 loss");
    for (int i = 0; i < m->n_modules; i++) {
        const score_module *sm = &t->modules[i];
        if (strcmp(sm->name, m->modules[i].name))
            return err_set(e, ERR_FORMAT, "stale: module %d is '%s', the model has '%s'", i,
                           sm->name, m->modules[i].name);
        if (o->only && !o->only[i])
            continue;
        for (int fi = 0; fi < o->n_formats; fi++) {
            mx_format f = o->formats[fi];
            for (int s = 0; s < SCORE_NMETHODS; s++)
                if ((o->methods & (1u << s)) && !isfinite(sm->score[s][f]))
                    return err_set(e, ERR_FORMAT, "incomplete: no %s score of %s for %s",
                                   score_method_name((score_method)s), mx_format_name(f),
                                   sm->name);
        }
    }
    if (o->uniform)
        for (int fi = 0; fi < o->n_formats; fi++)
            if (!isfinite(t->uniform_loss[o->formats[fi]]))
                return err_set(e, ERR_FORMAT, "incomplete: no uniform %s loss",
                               mx_format_name(o->formats[fi]));
    return 0;
}
