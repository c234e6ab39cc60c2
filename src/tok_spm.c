/* Tokenizers handed over as vocabularies (tok_from_spec: GGUF metadata) and
 * SentencePiece tokenizer.model files (through libsentencepiece).
 *
 * "llama" (SentencePiece with scores) encodes as llama.cpp's SPM tokenizer:
 * control, user-defined and unknown-type tokens are cut out of the raw text
 * first (longest token first, as llama.cpp with parse_special); each piece of
 * text between them gets a " " prefix when add_space_prefix and it follows
 * the start or a special token, spaces become "▁", the characters are merged
 * pairwise by the score of the merged piece (best first, leftmost on ties),
 * and a character outside the vocab becomes its <0xNN> tokens, else unk.
 * "gpt2" (byte-level BPE with merges) is built as the equivalent
 * tokenizer.json in memory and handed to tok_hf.c. */
#include "src/tok_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/tok_pretok.h"
#include "src/tok_spm_model.h"
#include "src/tok_unicode.h"

struct tok_spm {
    int add_bos, add_eos, add_space_prefix;
    int unk;
    int *special; /* ids cut out of the raw text, longest first */
    int n_special;
    int byte_tok[256]; /* <0xNN>, -1 when absent */
};

void tok_spm_free(struct tok_spm *s)
{
    if (!s)
        return;
    free(s->special);
    free(s);
}

/* ------------------------------------------------------- llama (SPM) spec */

static int cmp_len_desc(const void *a, const void *b, void *ctx)
{
    const tok *t = ctx;
    int x = *(const int *)a, y = *(const int *)b;
    if (t->len[x] != t->len[y])
        return t->len[x] > t->len[y] ? -1 : 1;
    return x < y ? -1 : x > y;
}

static tok *spm_from_spec(const tok_spec *s, const char *file, mx_error *e)
{
    tok *t = calloc(1, sizeof *t);
    struct tok_spm *p = calloc(1, sizeof *p);
    int n = s->n_vocab;
    if (!t || !p) {
        free(t);
        free(p);
        err_set(e, ERR_NOMEM, "%s: out of memory", file);
        return NULL;
    }
    t->kind = TOK_KIND_SPM;
    t->spm = p;
    t->n_vocab = n;
    size_t arena = 0;
    for (int i = 0; i < n; i++) {
        if (!s->tokens[i] || s->token_lens[i] > (1u << 20)) {
            err_set(e, ERR_FORMAT, "%s: token %d is missing or too long", file, i);
            goto fail;
        }
        arena += s->token_lens[i] + 1;
    }
    if (arena >= UINT32_MAX) {
        err_set(e, ERR_FORMAT, "%s: vocabulary too large", file);
        goto fail;
    }
    t->arena = malloc(arena);
    t->off = malloc((size_t)n * sizeof *t->off);
    t->len = malloc((size_t)n * sizeof *t->len);
    t->score = malloc((size_t)n * sizeof *t->score);
    t->attr = calloc((size_t)n, 1);
    p->special = malloc((size_t)n * sizeof *p->special);
    if (!t->arena || !t->off || !t->len || !t->score || !t->attr || !p->special) {
        err_set(e, ERR_NOMEM, "%s: out of memory for %d tokens", file, n);
        goto fail;
    }
    size_t ap = 0;
    for (int i = 0; i < n; i++) {
        size_t l = s->token_lens[i];
        memcpy(t->arena + ap, s->tokens[i], l);
        t->arena[ap + l] = '\0';
        t->off[i] = (uint32_t)ap;
        t->len[i] = (uint32_t)l;
        if (l > t->max_len)
            t->max_len = (uint32_t)l;
        ap += l + 1;
        t->score[i] = s->scores ? s->scores[i] : 0.0f;
        int ty = s->types ? s->types[i] : 1;
        if (ty == 6 || (!s->types && tok_byte_piece(t->arena + t->off[i], l) >= 0))
            t->attr[i] |= TOK_A_BYTE;
        if (ty == 2 || ty == 3 || ty == 5)
            t->attr[i] |= TOK_A_CONTROL;
        if ((ty == 2 || ty == 3 || ty == 4) && l > 0) {
            t->attr[i] |= TOK_A_SPECIAL;
            p->special[p->n_special++] = i;
        }
    }
    qsort_r(p->special, (size_t)p->n_special, sizeof *p->special, cmp_len_desc, t);
    if (tok_strmap_build(&t->map, t->arena, t->off, t->len, n, NULL) != 0) {
        err_set(e, ERR_NOMEM, "%s: out of memory for %d tokens", file, n);
        goto fail;
    }
    for (int b = 0; b < 256; b++) {
        char hex[8];
        snprintf(hex, sizeof hex, "<0x%02X>", (unsigned)b);
        p->byte_tok[b] = tok_strmap_get(&t->map, hex, 6);
    }
    p->unk = s->unk;
    p->add_bos = s->add_bos < 0 ? 1 : s->add_bos;
    p->add_eos = s->add_eos < 0 ? 0 : s->add_eos;
    p->add_space_prefix = s->add_space_prefix < 0 ? 1 : s->add_space_prefix;
    t->bos = s->bos;
    t->eos = s->eos;
    if ((p->add_bos && s->bos < 0) || (p->add_eos && s->eos < 0)) {
        err_set(e, ERR_FORMAT, "%s: the tokenizer adds %s but names no such token", file,
                p->add_bos && s->bos < 0 ? "BOS" : "EOS");
        goto fail;
    }
    memcpy(t->meta, "\xE2\x96\x81", 3);
    t->meta_len = 3;
    t->strip_lead = p->add_space_prefix;
    return t;
fail:
    tok_free(t);
    return NULL;
}

typedef struct spm_ctx {
    const tok *t;
    char *buf; /* room for two pieces */
} spm_ctx;

static int spm_pair(const void *vctx, int a, int b, float *key, int *merged)
{
    const spm_ctx *c = vctx;
    const tok *t = c->t;
    /* byte and unknown symbols stand for characters outside the vocab: they
     * never merge (llama.cpp turns them into bytes only after merging) */
    if ((t->attr[a] | t->attr[b]) & TOK_A_BYTE || a == t->spm->unk || b == t->spm->unk)
        return 0;
    memcpy(c->buf, t->arena + t->off[a], t->len[a]);
    memcpy(c->buf + t->len[a], t->arena + t->off[b], t->len[b]);
    int id = tok_strmap_get(&t->map, c->buf, (size_t)t->len[a] + t->len[b]);
    if (id < 0)
        return 0;
    *key = -t->score[id];
    *merged = id;
    return 1;
}

typedef struct ovec {
    int *a;
    size_t n, cap;
} ovec;

static int ovec_grow(ovec *v, size_t more)
{
    if (v->n + more <= v->cap)
        return 0;
    size_t cap = v->cap ? v->cap : 256;
    while (cap < v->n + more)
        cap *= 2;
    int *a = realloc(v->a, cap * sizeof *a);
    if (!a)
        return ERR_NOMEM;
    v->a = a;
    v->cap = cap;
    return 0;
}

/* One piece of raw text: prefix, escape, symbols, merges. */
static int spm_text(const tok *t, const char *s, size_t n, int prefix, ovec *out, mx_error *e)
{
    const struct tok_spm *p = t->spm;
    size_t spaces = prefix;
    for (size_t i = 0; i < n; i++)
        spaces += s[i] == ' ';
    size_t bl = n + prefix + 2 * spaces;
    char *b = malloc(bl + 1);
    char *pairbuf = malloc(2 * (size_t)t->max_len + 1);
    int32_t *ids = malloc((bl + 1) * sizeof *ids);
    int rc = 0;
    if (!b || !pairbuf || !ids) {
        rc = err_set(e, ERR_NOMEM, "out of memory tokenizing %zu bytes", n);
        goto done;
    }
    size_t o = 0;
    if (prefix) {
        memcpy(b, "\xE2\x96\x81", 3);
        o = 3;
    }
    for (size_t i = 0; i < n; i++)
        if (s[i] == ' ') {
            memcpy(b + o, "\xE2\x96\x81", 3);
            o += 3;
        } else {
            b[o++] = s[i];
        }
    long m = 0;
    for (size_t i = 0; i < o;) {
        /* a character: the lead byte's length, as llama.cpp (cut at the end) */
        unsigned c = (unsigned char)b[i];
        size_t l = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
        if (l > o - i)
            l = o - i;
        int id = tok_strmap_get(&t->map, b + i, l);
        if (id >= 0) {
            ids[m++] = id;
        } else {
            int ok = 1;
            for (size_t k = 0; k < l && ok; k++)
                ok = p->byte_tok[(unsigned char)b[i + k]] >= 0;
            if (ok) {
                for (size_t k = 0; k < l; k++)
                    ids[m++] = p->byte_tok[(unsigned char)b[i + k]];
            } else if (p->unk >= 0) {
                ids[m++] = p->unk;
            } else {
                rc = err_set(e, ERR_ARG, "the text has a character (byte 0x%02X) that this "
                             "vocabulary cannot encode (no byte or unknown token)", c);
                goto done;
            }
        }
        i += l;
    }
    spm_ctx ctx = { t, pairbuf };
    m = tok_merge_run(ids, m, spm_pair, NULL, &ctx, e);
    if (m < 0) {
        rc = (int)m;
        goto done;
    }
    if (ovec_grow(out, (size_t)m)) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    memcpy(out->a + out->n, ids, (size_t)m * sizeof *ids);
    out->n += (size_t)m;
done:
    free(b);
    free(pairbuf);
    free(ids);
    return rc;
}

typedef struct frag {
    size_t off, len;
    int id; /* -1: text */
} frag;

long tok_encode_spm(const tok *t, const char *text, size_t len, int **out, mx_error *e)
{
    const struct tok_spm *p = t->spm;
    ovec v = { 0 };
    frag *fr = NULL, *nf = NULL;
    size_t nfr = 0;
    int rc = 0;
    if (len > 0) {
        fr = malloc(sizeof *fr);
        if (!fr) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto done;
        }
        fr[0] = (frag){ 0, len, -1 };
        nfr = 1;
    }
    /* llama.cpp's partition: each special token, longest first, cut out of
     * every text fragment at each of its occurrences. */
    for (int k = 0; k < p->n_special && nfr > 0; k++) {
        int sid = p->special[k];
        const char *st = t->arena + t->off[sid];
        size_t sl = t->len[sid];
        size_t cap = nfr, nn = 0;
        nf = malloc(cap * sizeof *nf);
        if (!nf) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto done;
        }
        for (size_t f = 0; f < nfr; f++) {
            frag x = fr[f];
            for (;;) {
                const char *hit = x.id < 0 && x.len >= sl ? memmem(text + x.off, x.len, st, sl) : NULL;
                size_t need = nn + (hit ? 3 : 1);
                if (need > cap) {
                    cap = need * 2;
                    frag *g = realloc(nf, cap * sizeof *nf);
                    if (!g) {
                        rc = err_set(e, ERR_NOMEM, "out of memory");
                        goto done;
                    }
                    nf = g;
                }
                if (!hit) {
                    if (x.len > 0 || x.id >= 0)
                        nf[nn++] = x;
                    break;
                }
                size_t at = (size_t)(hit - text);
                if (at > x.off)
                    nf[nn++] = (frag){ x.off, at - x.off, -1 };
                nf[nn++] = (frag){ at, sl, sid };
                x = (frag){ at + sl, x.off + x.len - at - sl, -1 };
            }
        }
        free(fr);
        fr = nf;
        nf = NULL;
        nfr = nn;
    }
    if (p->add_bos && (rc = ovec_grow(&v, 1)) == 0)
        v.a[v.n++] = t->bos;
    int prev_special = 1;
    for (size_t f = 0; f < nfr && !rc; f++) {
        if (fr[f].id >= 0) {
            if ((rc = ovec_grow(&v, 1)) == 0)
                v.a[v.n++] = fr[f].id;
            prev_special = 1;
            continue;
        }
        rc = spm_text(t, text + fr[f].off, fr[f].len, p->add_space_prefix && prev_special, &v, e);
        prev_special = 0;
    }
    if (!rc && p->add_eos && (rc = ovec_grow(&v, 1)) == 0)
        v.a[v.n++] = t->eos;
    if (!rc && !v.a && ovec_grow(&v, 1))
        rc = ERR_NOMEM;
done:
    free(fr);
    free(nf);
    if (rc) {
        if (rc == ERR_NOMEM && e && e->code != ERR_NOMEM)
            err_set(e, ERR_NOMEM, "out of memory");
        free(v.a);
        return rc;
    }
    *out = v.a;
    return (long)v.n;
}

/* ------------------------------------------------------- gpt2 (BPE) spec */

/* llama.cpp's tokenizer.ggml.pre names whose split regexes tok_hf.c has. */
static const struct {
    const char *name;
    int kind; /* 0 GPT-2 regex, 1 Llama 3, 2 Qwen2, 3 digits + GPT-2 (SmolLM) */
    int ignore_merges;
} PRE[] = {
    { "gpt-2", 0, 0 },      { "phi-2", 0, 0 },     { "mpt", 0, 0 },        { "olmo", 0, 0 },
    { "roberta-bpe", 0, 0 }, { "jais", 0, 0 },     { "gigachat", 0, 0 },   { "llama3", 1, 1 },
    { "llama-v3", 1, 1 },   { "llama-bpe", 1, 1 }, { "falcon3", 1, 1 },    { "falcon-h1", 1, 1 },
    { "pixtral", 1, 1 },    { "midm-2.0", 1, 1 },  { "lfm2", 1, 1 },       { "glm4", 1, 0 },
    { "chatglm-bpe", 1, 0 }, { "qwen2", 2, 0 },    { "deepseek-r1-qwen", 2, 0 },
    { "stablelm2", 2, 0 },  { "hunyuan", 2, 0 },   { "smollm", 3, 0 },     { "starcoder", 3, 0 },
    { "refact", 3, 0 },     { "command-r", 3, 0 }, { "codeshell", 3, 0 },  { "exaone", 3, 0 },
    { "minerva-7b", 3, 0 },
};

static json_t *jstr(const char *s, size_t n)
{
    return json_stringn(s, n);
}

static tok *gpt2_from_spec(const tok_spec *s, const char *file, mx_error *e)
{
    int pk = -1, ign = 0;
    const char *pre = s->pre ? s->pre : "(none)";
    for (size_t k = 0; k < sizeof PRE / sizeof *PRE && s->pre; k++)
        if (!strcmp(PRE[k].name, s->pre)) {
            pk = PRE[k].kind;
            ign = PRE[k].ignore_merges;
        }
    if (pk < 0) {
        err_set(e, ERR_FORMAT, "%s: unsupported gpt2 pre-tokenizer '%.40s' (supported: gpt-2, "
                "llama-bpe/llama3, qwen2, smollm and their aliases)", file, pre);
        return NULL;
    }
    if (s->n_merges < 0 || (s->n_merges > 0 && (!s->merges || !s->merge_lens))) {
        err_set(e, ERR_FORMAT, "%s: gpt2 tokenizer without merges", file);
        return NULL;
    }
    json_t *root = json_object(), *model = json_object(), *vocab = json_object();
    json_t *merges = json_array(), *added = json_array();
    int rc = 0;
    json_object_set_new(root, "model", model);
    json_object_set_new(model, "type", json_string("BPE"));
    json_object_set_new(model, "vocab", vocab);
    json_object_set_new(model, "merges", merges);
    json_object_set_new(model, "ignore_merges", json_boolean(ign));
    json_object_set_new(root, "added_tokens", added);
    for (int i = 0; i < s->n_vocab && !rc; i++) {
        json_t *k = s->tokens[i] ? jstr(s->tokens[i], s->token_lens[i]) : NULL;
        if (!k || json_string_length(k) == 0) {
            json_decref(k);
            rc = err_set(e, ERR_FORMAT, "%s: token %d is empty or not valid UTF-8", file, i);
            break;
        }
        if (!json_object_getn(vocab, json_string_value(k), json_string_length(k))) /* first id wins */
            json_object_setn_new_nocheck(vocab, json_string_value(k), json_string_length(k),
                                     json_integer(i));
        int ty = s->types ? s->types[i] : 1;
        if (ty == 2 || ty == 3 || ty == 4)
            json_array_append_new(added, json_pack("{si so sb sb}", "id", i, "content", json_incref(k),
                                                   "special", ty != 4, "normalized", 0));
        json_decref(k);
    }
    for (int i = 0; i < s->n_merges && !rc; i++) {
        json_t *m = s->merges[i] ? jstr(s->merges[i], s->merge_lens[i]) : NULL;
        if (!m) {
            rc = err_set(e, ERR_FORMAT, "%s: merge %d is not valid UTF-8", file, i);
            break;
        }
        json_array_append_new(merges, m);
    }
    json_t *bytelevel = json_pack("{ss sb sb}", "type", "ByteLevel", "add_prefix_space", 0, "use_regex",
                                  pk == 0 || pk == 3);
    if (pk == 0) {
        json_object_set_new(root, "pre_tokenizer", bytelevel);
    } else if (pk == 3) {
        json_object_set_new(root, "pre_tokenizer",
                            json_pack("{ss s[{ss sb}, o]}", "type", "Sequence", "pretokenizers", "type",
                                      "Digits", "individual_digits", 1, bytelevel));
    } else {
        const char *re = tok_pattern_source(pk == 1 ? TOK_PAT_LLAMA3 : TOK_PAT_QWEN2);
        json_object_set_new(root, "pre_tokenizer",
                            json_pack("{ss s[{ss s{ss} ss}, o]}", "type", "Sequence", "pretokenizers",
                                      "type", "Split", "pattern", "Regex", re, "behavior", "Isolated",
                                      bytelevel));
    }
    int add_bos = s->add_bos < 0 ? pk == 1 : s->add_bos, add_eos = s->add_eos < 0 ? 0 : s->add_eos;
    if (!rc && ((add_bos && (s->bos < 0 || s->bos >= s->n_vocab)) ||
                (add_eos && (s->eos < 0 || s->eos >= s->n_vocab))))
        rc = err_set(e, ERR_FORMAT, "%s: the tokenizer adds %s but names no such token", file,
                     add_bos ? "BOS" : "EOS");
    if (!rc && (add_bos || add_eos)) {
        json_t *single = json_array(), *specials = json_object();
        const char *nm[2] = { "BOS", "EOS" };
        int id[2] = { s->bos, s->eos }, on[2] = { add_bos, add_eos };
        for (int k = 0; k < 2; k++) {
            if (k == 1)
                json_array_append_new(single, json_pack("{s{ss si}}", "Sequence", "id", "A", "type_id", 0));
            if (!on[k])
                continue;
            json_array_append_new(single, json_pack("{s{ss si}}", "SpecialToken", "id", nm[k], "type_id", 0));
            json_object_set_new(specials, nm[k], json_pack("{ss s[i] s[s]}", "id", nm[k], "ids", id[k],
                                                           "tokens", nm[k]));
        }
        json_object_set_new(root, "post_processor",
                            json_pack("{ss so so}", "type", "TemplateProcessing", "single", single,
                                      "special_tokens", specials));
    }
    tok *t = NULL;
    if (!rc)
        t = tok_hf_from_json(root, file, e);
    json_decref(root);
    if (!t)
        return NULL;
    if (t->n_vocab != s->n_vocab) {
        err_set(e, ERR_FORMAT, "%s: the vocabulary has %d tokens but only %d distinct ones", file,
                s->n_vocab, t->n_vocab);
        tok_free(t);
        return NULL;
    }
    if (s->bos >= 0 || s->eos >= 0)
        tok_set_special(t, s->bos >= 0 ? s->bos : t->bos, s->eos >= 0 ? s->eos : t->eos);
    return t;
}

tok *tok_from_spec(const tok_spec *s, const char *file, mx_error *e)
{
    file = file ? file : "tokenizer";
    if (!s || !s->model) {
        err_set(e, ERR_FORMAT, "%s: no tokenizer model named", file);
        return NULL;
    }
    if (s->n_vocab <= 0 || s->n_vocab >= (1 << 24) || !s->tokens || !s->token_lens) {
        err_set(e, ERR_FORMAT, "%s: tokenizer vocabulary missing or of bad size (%d)", file,
                s->n_vocab);
        return NULL;
    }
    int ids[4] = { s->bos, s->eos, s->unk, s->pad };
    for (int k = 0; k < 4; k++)
        if (ids[k] < -1 || ids[k] >= s->n_vocab) {
            err_set(e, ERR_FORMAT, "%s: special token id %d outside the vocabulary of %d", file,
                    ids[k], s->n_vocab);
            return NULL;
        }
    if (!strcmp(s->model, "llama"))
        return spm_from_spec(s, file, e);
    if (!strcmp(s->model, "gpt2"))
        return gpt2_from_spec(s, file, e);
    err_set(e, ERR_FORMAT, "%s: unsupported tokenizer model '%.40s' (supported: llama, gpt2)", file,
            s->model);
    return NULL;
}

/* ------------------------------------------------ SentencePiece .model */

tok *tok_load_spm_model(const char *path, mx_error *e)
{
    char msg[300] = "";
    struct tok_spm_model *m = tok_spmm_open(path, msg, sizeof msg);
    if (!m) {
        err_set(e, ERR_FORMAT, "%s: not a SentencePiece model (%s)", path, msg);
        return NULL;
    }
    tok *t = tok_new(TOK_KIND_SPM_MODEL, path, e);
    int n = tok_spmm_size(m);
    if (!t) {
        tok_spm_model_free(m);
        return NULL;
    }
    t->spm_model = m;
    t->n_vocab = n;
    size_t arena = 0, len;
    for (int i = 0; i < n; i++) {
        tok_spmm_piece(m, i, &len);
        arena += len + 1;
    }
    if (n <= 0 || arena >= UINT32_MAX) {
        err_set(e, ERR_FORMAT, "%s: SentencePiece model with %d pieces", path, n);
        goto fail;
    }
    t->arena = malloc(arena);
    t->off = malloc((size_t)n * sizeof *t->off);
    t->len = malloc((size_t)n * sizeof *t->len);
    t->attr = calloc((size_t)n, 1);
    if (!t->arena || !t->off || !t->len || !t->attr) {
        err_set(e, ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    size_t ap = 0;
    for (int i = 0; i < n; i++) {
        const char *p = tok_spmm_piece(m, i, &len);
        memcpy(t->arena + ap, p, len);
        t->arena[ap + len] = '\0';
        t->off[i] = (uint32_t)ap;
        t->len[i] = (uint32_t)len;
        ap += len + 1;
        int f = tok_spmm_flags(m, i);
        t->attr[i] = (f & TOK_SPMM_CONTROL ? TOK_A_CONTROL : 0) | (f & TOK_SPMM_BYTE ? TOK_A_BYTE : 0);
    }
    if (tok_strmap_build(&t->map, t->arena, t->off, t->len, n, NULL) != 0) {
        err_set(e, ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    t->bos = tok_spmm_bos(m);
    t->eos = tok_spmm_eos(m);
    t->bos = t->bos < n ? t->bos : -1;
    t->eos = t->eos < n ? t->eos : -1;
    return t;
fail:
    tok_free(t);
    return NULL;
}

/* The library's Encode plus BOS first, as Llama's tokenizer.model is used. */
long tok_encode_spm_model(const tok *t, const char *text, size_t len, int **out, mx_error *e)
{
    char msg[300] = "";
    int *ids = NULL;
    long n = tok_spmm_encode(t->spm_model, text, len, &ids, msg, sizeof msg);
    if (n == -1)
        return err_set(e, ERR_NOMEM, "out of memory tokenizing %zu bytes", len);
    if (n < 0)
        return err_set(e, ERR_ARG, "SentencePiece refused the text: %s", msg);
    if (t->bos >= 0) {
        int *w = realloc(ids, (size_t)(n + 1) * sizeof *w);
        if (!w) {
            free(ids);
            return err_set(e, ERR_NOMEM, "out of memory");
        }
        memmove(w + 1, w, (size_t)n * sizeof *w);
        w[0] = t->bos;
        ids = w;
        n++;
    }
    *out = ids;
    return n;
}

long tok_decode_spm_model(const tok *t, const int *ids, long n, char **out, mx_error *e)
{
    for (long i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= t->n_vocab)
            return err_set(e, ERR_ARG, "tok_decode: token id %d outside the vocabulary of %d", ids[i],
                           t->n_vocab);
    char msg[300] = "";
    long r = tok_spmm_decode(t->spm_model, ids, n, out, msg, sizeof msg);
    if (r == -1)
        return err_set(e, ERR_NOMEM, "out of memory decoding %ld tokens", n);
    if (r < 0)
        return err_set(e, ERR_ARG, "SentencePiece cannot decode: %s", msg);
    return r;
}
