/* Hugging Face tokenizer.json: byte-level BPE (GPT-2, SmolLM2, Llama 3,
 * Qwen2/3) and SentencePiece-style BPE (Llama 2, Mistral, TinyLlama...).
 *
 * Supported: model BPE (vocab + merges as "a b" strings or ["a", "b"] pairs,
 * ignore_merges, unk_token, fuse_unk, byte_fallback to <0xNN>); normalizer
 * null, NFC, NFKC, Prepend, Replace (string pattern), Strip, or a Sequence of
 * those; added_tokens (leftmost-longest, with lstrip, rstrip and single_word:
 * normalized=false ones in the raw text first, then normalized=true ones,
 * their content normalized too, in the normalized text — as the library);
 * pre_tokenizer: Split (one of the known regexes, behavior Isolated), Digits,
 * Metaspace (replacement, prepend_scheme always/first/never, split), ByteLevel
 * (last), alone or in a Sequence; post_processor null, ByteLevel,
 * TemplateProcessing, or a Sequence of those. Anything else is rejected with
 * a message naming it.
 * A pre_tokenizer with ByteLevel makes the file byte-level: vocabulary strings
 * are decoded from the GPT-2 byte-level alphabet at load time, so BPE runs on
 * raw bytes and tok_piece gives real text. Without it the vocabulary is text
 * as written (with its "▁") and BPE starts from characters, as the library. */
#include "src/tok_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "src/file_map.h"
#include "src/tok_pretok.h"
#include "src/tok_unicode.h"

enum { ST_SPLIT, ST_DIGITS, ST_BYTELEVEL, ST_METASPACE };
enum { NM_PREPEND, NM_REPLACE, NM_STRIP, NM_NFC, NM_NFKC };
#define MAX_NORMS 8
#define MAX_STEPS 8
#define MAX_ID (1 << 24) /* ranks and ids stay exact as float heap keys */
#define MAX_ID_GAPS 65536 /* unused ids below the largest one */

typedef struct hf_step {
    int kind;
    tok_pattern pat;      /* ST_SPLIT */
    int individual;       /* ST_DIGITS */
    int add_prefix_space; /* ST_BYTELEVEL */
    int use_regex;        /* ST_BYTELEVEL */
    char rep[8];          /* ST_METASPACE: the replacement character */
    size_t rep_len;
    int prepend;          /* ST_METASPACE: 0 never, 1 first, 2 always */
    int split;            /* ST_METASPACE */
} hf_step;

typedef struct hf_norm {
    int kind;
    char *a, *b; /* NM_PREPEND: a; NM_REPLACE: a -> b */
    size_t al, bl;
    int left, right; /* NM_STRIP */
} hf_norm;

typedef struct hf_added {
    char *content;
    size_t len;
    char *ncontent; /* normalized content (== content when not normalized) */
    size_t nlen;
    int id;
    int lstrip, rstrip, single_word;
    int normalized, special;
} hf_added;

struct tok_hf {
    tok_pairmap merges;
    int ignore_merges, byte_fallback, fuse_unk;
    int unk; /* -1 if none */
    int spm; /* no ByteLevel: text vocabulary, BPE from characters */
    hf_norm norm[MAX_NORMS];
    int n_norms;
    hf_step step[MAX_STEPS];
    int n_steps;
    hf_added *added;
    int n_added;
    /* Pass p (0: raw text, normalized=false tokens; 1: normalized text):
     * added[k].content/len (p 0) or ncontent/nlen (p 1) start with byte b
     * for some token of that pass when added_first[p][b]. */
    uint8_t added_first[2][256];
    int *prefix, n_prefix, *suffix, n_suffix;
    int byte_id[256]; /* id of each single-byte piece, -1 if absent */
    int byte_tok[256]; /* id of each <0xNN> piece, -1 if absent */
};

void tok_hf_free(struct tok_hf *h)
{
    if (!h)
        return;
    tok_pairmap_free(&h->merges);
    for (int i = 0; i < h->n_added; i++) {
        free(h->added[i].content);
        if (h->added[i].ncontent != h->added[i].content)
            free(h->added[i].ncontent);
    }
    for (int i = 0; i < h->n_norms; i++) {
        free(h->norm[i].a);
        free(h->norm[i].b);
    }
    free(h->added);
    free(h->prefix);
    free(h->suffix);
    free(h);
}

/* ------------------------------------------------- GPT-2 byte-level alphabet */

/* bytes_to_unicode(): printable Latin-1 bytes map to themselves, the other 68
 * bytes to U+0100.. in byte order. */
static uint32_t byte_to_cp(unsigned b)
{
    if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF))
        return b;
    unsigned k = 0;
    for (unsigned x = 0; x < b; x++)
        if (!((x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF)))
            k++;
    return 256 + k;
}

/* Decode a byte-level string into raw bytes (out has room for n bytes).
 * Returns the byte count, or -1 if a character is outside the alphabet. */
static long bytelevel_decode(const int16_t *cp_to_byte, const char *s, size_t n, char *out)
{
    long o = 0;
    for (size_t i = 0; i < n;) {
        int l;
        uint32_t cp = tok_utf8_next((const unsigned char *)s + i, n - i, &l);
        if (cp >= 324 || cp_to_byte[cp] < 0)
            return -1;
        out[o++] = (char)cp_to_byte[cp];
        i += (size_t)l;
    }
    return o;
}

/* ------------------------------------------------------------------ loading */

typedef struct load_ctx {
    const char *path;
    mx_error *e;
    int16_t cp_to_byte[324];
} load_ctx;

static int fail(load_ctx *c, int code, const char *fmt, const char *a, const char *b)
{
    char msg[400];
    snprintf(msg, sizeof msg, fmt, a ? a : "", b ? b : "");
    return err_set(c->e, code, "%s: %s", c->path, msg);
}

static const char *type_of(json_t *o)
{
    json_t *t = json_is_object(o) ? json_object_get(o, "type") : NULL;
    return json_is_string(t) ? json_string_value(t) : NULL;
}

typedef int (*parse_fn)(load_ctx *c, struct tok_hf *h, json_t *node);

/* A Sequence of normalizers, pre-tokenizers or post-processors: each element
 * parsed in order by the same parser. */
static int parse_sequence(load_ctx *c, struct tok_hf *h, json_t *node, const char *what,
                          const char *key, parse_fn parse)
{
    json_t *list = json_object_get(node, key), *x;
    size_t i;
    if (!json_is_array(list))
        return fail(c, ERR_FORMAT, "%s Sequence without a %s list", what, key);
    json_array_foreach(list, i, x)
    {
        int rc = parse(c, h, x);
        if (rc)
            return rc;
    }
    return 0;
}

static int get_bool(json_t *o, const char *key, int dflt)
{
    json_t *v = json_object_get(o, key);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

static char *dup_str(json_t *v, size_t *len)
{
    *len = json_string_length(v);
    char *d = malloc(*len + 1);
    if (d)
        memcpy(d, json_string_value(v), *len + 1);
    return d;
}

static int add_norm(load_ctx *c, struct tok_hf *h, hf_norm nm)
{
    if (h->n_norms == MAX_NORMS) {
        free(nm.a);
        free(nm.b);
        return fail(c, ERR_FORMAT, "normalizer has too many steps", 0, 0);
    }
    h->norm[h->n_norms++] = nm;
    return 0;
}

static int parse_normalizer(load_ctx *c, struct tok_hf *h, json_t *n)
{
    if (!n || json_is_null(n))
        return 0;
    const char *ty = type_of(n);
    hf_norm nm = { 0 };
    if (ty && (strcmp(ty, "NFC") == 0 || strcmp(ty, "NFKC") == 0)) {
        nm.kind = ty[2] == 'C' ? NM_NFC : NM_NFKC;
        return add_norm(c, h, nm);
    }
    if (ty && strcmp(ty, "Prepend") == 0) {
        json_t *v = json_object_get(n, "prepend");
        if (!json_is_string(v))
            return fail(c, ERR_FORMAT, "normalizer Prepend without a 'prepend' string", 0, 0);
        nm.kind = NM_PREPEND;
        if (!(nm.a = dup_str(v, &nm.al)))
            return fail(c, ERR_NOMEM, "out of memory", 0, 0);
        return add_norm(c, h, nm);
    }
    if (ty && strcmp(ty, "Replace") == 0) {
        json_t *pat = json_object_get(n, "pattern"), *content = json_object_get(n, "content");
        json_t *str = json_is_object(pat) ? json_object_get(pat, "String") : NULL;
        if (json_is_object(pat) && json_object_get(pat, "Regex"))
            return fail(c, ERR_FORMAT, "normalizer Replace with a Regex pattern is unsupported "
                        "(only a String pattern)", 0, 0);
        if (!json_is_string(str) || json_string_length(str) == 0 || !json_is_string(content))
            return fail(c, ERR_FORMAT, "normalizer Replace needs a non-empty String pattern and a "
                        "content string", 0, 0);
        nm.kind = NM_REPLACE;
        nm.a = dup_str(str, &nm.al);
        nm.b = dup_str(content, &nm.bl);
        if (!nm.a || !nm.b) {
            free(nm.a);
            free(nm.b);
            return fail(c, ERR_NOMEM, "out of memory", 0, 0);
        }
        return add_norm(c, h, nm);
    }
    if (ty && strcmp(ty, "Strip") == 0) {
        nm.kind = NM_STRIP;
        nm.left = get_bool(n, "strip_left", 1);
        nm.right = get_bool(n, "strip_right", 1);
        return add_norm(c, h, nm);
    }
    if (ty && strcmp(ty, "Sequence") == 0)
        return parse_sequence(c, h, n, "normalizer", "normalizers", parse_normalizer);
    return fail(c, ERR_FORMAT, "unsupported normalizer type '%s' (supported: NFC, NFKC, Prepend, "
                "Replace, Strip, Sequence)", ty ? ty : "?", 0);
}

/* Run the normalizer chain over s[0..n): *out is s itself (nothing changed)
 * or a malloc'd buffer the caller frees (*owned = 1). 0 or ERR_NOMEM. */
static int normalize(const struct tok_hf *h, const char *s, size_t n, char **out, size_t *on,
                     int *owned)
{
    char *cur = (char *)s;
    size_t cl = n;
    int own = 0;
    for (int k = 0; k < h->n_norms; k++) {
        const hf_norm *nm = &h->norm[k];
        char *o = NULL;
        size_t ol = 0;
        if (nm->kind == NM_NFC || nm->kind == NM_NFKC) {
            if (nm->kind == NM_NFC && tok_nfc_quick(cur, cl))
                continue;
            if ((nm->kind == NM_NFC ? tok_nfc : tok_nfkc)(cur, cl, &o, &ol) != 0)
                o = NULL, ol = 1;
        } else if (nm->kind == NM_PREPEND) {
            if (cl == 0)
                continue;
            if ((o = malloc(nm->al + cl + 1))) {
                memcpy(o, nm->a, nm->al);
                memcpy(o + nm->al, cur, cl);
                ol = nm->al + cl;
            }
        } else if (nm->kind == NM_REPLACE) {
            size_t hits = 0;
            for (size_t i = 0; i + nm->al <= cl;)
                if (!memcmp(cur + i, nm->a, nm->al)) {
                    hits++;
                    i += nm->al;
                } else {
                    i++;
                }
            if (!hits)
                continue;
            if ((o = malloc(cl + hits * nm->bl + 1))) {
                for (size_t i = 0; i < cl;)
                    if (i + nm->al <= cl && !memcmp(cur + i, nm->a, nm->al)) {
                        memcpy(o + ol, nm->b, nm->bl);
                        ol += nm->bl;
                        i += nm->al;
                    } else {
                        o[ol++] = cur[i++];
                    }
            }
        } else { /* NM_STRIP: White_Space, as Rust's char::is_whitespace */
            size_t a = 0, b = cl;
            while (nm->left && a < b) {
                int l;
                if (!tok_uc_is_space(tok_utf8_next((const unsigned char *)cur + a, b - a, &l)))
                    break;
                a += (size_t)l;
            }
            while (nm->right && b > a) {
                size_t j = b - 1;
                while (j > a && ((unsigned char)cur[j] & 0xC0) == 0x80 && b - j < 4)
                    j--;
                int l;
                uint32_t cp = tok_utf8_next((const unsigned char *)cur + j, b - j, &l);
                if ((size_t)l != b - j || !tok_uc_is_space(cp))
                    break;
                b = j;
            }
            if (a == 0 && b == cl)
                continue;
            if ((o = malloc(b - a + 1))) {
                memcpy(o, cur + a, b - a);
                ol = b - a;
            }
        }
        if (!o) {
            if (own)
                free(cur);
            return ERR_NOMEM;
        }
        o[ol] = '\0';
        if (own)
            free(cur);
        cur = o;
        cl = ol;
        own = 1;
    }
    *out = cur;
    *on = cl;
    *owned = own;
    return 0;
}

static int add_step(load_ctx *c, struct tok_hf *h, hf_step s)
{
    if (h->n_steps == MAX_STEPS)
        return fail(c, ERR_FORMAT, "pre_tokenizer has too many steps", 0, 0);
    h->step[h->n_steps++] = s;
    return 0;
}

static int parse_pretok(load_ctx *c, struct tok_hf *h, json_t *p)
{
    if (!p || json_is_null(p))
        return 0;
    const char *ty = type_of(p);
    if (!ty)
        return fail(c, ERR_FORMAT, "pre_tokenizer without a type", 0, 0);
    if (strcmp(ty, "Sequence") == 0)
        return parse_sequence(c, h, p, "pre_tokenizer", "pretokenizers", parse_pretok);
    hf_step s = { 0 };
    if (strcmp(ty, "ByteLevel") == 0) {
        s.kind = ST_BYTELEVEL;
        s.add_prefix_space = get_bool(p, "add_prefix_space", 1);
        s.use_regex = get_bool(p, "use_regex", 1);
        return add_step(c, h, s);
    }
    if (strcmp(ty, "Metaspace") == 0) {
        json_t *r = json_object_get(p, "replacement"), *ps = json_object_get(p, "prepend_scheme");
        if (!json_is_string(r) || json_string_length(r) == 0 || json_string_length(r) > 4)
            return fail(c, ERR_FORMAT, "pre_tokenizer Metaspace without a one-character replacement",
                        0, 0);
        s.kind = ST_METASPACE;
        s.rep_len = json_string_length(r);
        memcpy(s.rep, json_string_value(r), s.rep_len);
        s.split = get_bool(p, "split", 1);
        if (json_is_string(ps)) {
            const char *v = json_string_value(ps);
            s.prepend = !strcmp(v, "always") ? 2 : !strcmp(v, "first") ? 1 : !strcmp(v, "never") ? 0 : -1;
            if (s.prepend < 0)
                return fail(c, ERR_FORMAT, "pre_tokenizer Metaspace: unknown prepend_scheme '%s'", v, 0);
        } else { /* older files: add_prefix_space */
            s.prepend = get_bool(p, "add_prefix_space", 1) ? 2 : 0;
        }
        return add_step(c, h, s);
    }
    if (strcmp(ty, "Digits") == 0) {
        s.kind = ST_DIGITS;
        s.individual = get_bool(p, "individual_digits", 0);
        return add_step(c, h, s);
    }
    if (strcmp(ty, "Split") == 0) {
        json_t *pat = json_object_get(p, "pattern");
        json_t *re = json_is_object(pat) ? json_object_get(pat, "Regex") : NULL;
        if (!json_is_string(re))
            return fail(c, ERR_FORMAT, "pre_tokenizer Split: only a Regex pattern is supported", 0,
                        0);
        const char *src = json_string_value(re);
        if (!tok_pattern_lookup(src, &s.pat)) {
            char shown[80];
            snprintf(shown, sizeof shown, "%.60s%s", src, strlen(src) > 60 ? "..." : "");
            return fail(c, ERR_FORMAT,
                        "pre_tokenizer Split: unknown regex '%s' (known: GPT-2, Llama 3, Qwen2)",
                        shown, 0);
        }
        json_t *beh = json_object_get(p, "behavior");
        if (!json_is_string(beh) || strcmp(json_string_value(beh), "Isolated") != 0)
            return fail(c, ERR_FORMAT, "pre_tokenizer Split: behavior '%s' unsupported (only Isolated)",
                        json_is_string(beh) ? json_string_value(beh) : "?", 0);
        if (get_bool(p, "invert", 0))
            return fail(c, ERR_FORMAT, "pre_tokenizer Split: invert is unsupported", 0, 0);
        s.kind = ST_SPLIT;
        return add_step(c, h, s);
    }
    return fail(c, ERR_FORMAT, "unsupported pre_tokenizer type '%s'", ty, 0);
}

static int id_of_special(load_ctx *c, json_t *specials, const char *name, int **ids, int *n)
{
    json_t *sp = json_object_get(specials, name);
    json_t *list = json_is_object(sp) ? json_object_get(sp, "ids") : NULL;
    if (!json_is_array(list))
        return fail(c, ERR_FORMAT, "post_processor: special token '%s' has no ids", name, 0);
    size_t i;
    json_t *x;
    json_array_foreach(list, i, x)
    {
        if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) >= MAX_ID)
            return fail(c, ERR_FORMAT, "post_processor: bad id for special token '%s'", name, 0);
        int *a = realloc(*ids, (size_t)(*n + 1) * sizeof *a);
        if (!a)
            return fail(c, ERR_NOMEM, "out of memory", 0, 0);
        *ids = a;
        a[(*n)++] = (int)json_integer_value(x);
    }
    return 0;
}

static int parse_post(load_ctx *c, struct tok_hf *h, json_t *p)
{
    if (!p || json_is_null(p))
        return 0;
    const char *ty = type_of(p);
    if (ty && strcmp(ty, "ByteLevel") == 0)
        return 0; /* only trims offsets */
    if (ty && strcmp(ty, "Sequence") == 0)
        return parse_sequence(c, h, p, "post_processor", "processors", parse_post);
    if (ty && strcmp(ty, "TemplateProcessing") == 0) {
        json_t *single = json_object_get(p, "single"), *specials = json_object_get(p, "special_tokens");
        if (!json_is_array(single))
            return fail(c, ERR_FORMAT, "post_processor TemplateProcessing without 'single'", 0, 0);
        if (h->n_prefix || h->n_suffix)
            return fail(c, ERR_FORMAT, "post_processor has two TemplateProcessing steps", 0, 0);
        int seen_a = 0;
        size_t i;
        json_t *x;
        json_array_foreach(single, i, x)
        {
            json_t *sp = json_object_get(x, "SpecialToken");
            json_t *sq = json_object_get(x, "Sequence");
            if (json_is_object(sq)) {
                if (seen_a)
                    return fail(c, ERR_FORMAT, "post_processor template has two sequences", 0, 0);
                seen_a = 1;
            } else if (json_is_object(sp) && json_is_string(json_object_get(sp, "id"))) {
                const char *name = json_string_value(json_object_get(sp, "id"));
                int rc = seen_a ? id_of_special(c, specials, name, &h->suffix, &h->n_suffix)
                                : id_of_special(c, specials, name, &h->prefix, &h->n_prefix);
                if (rc)
                    return rc;
            } else {
                return fail(c, ERR_FORMAT, "post_processor template: unknown item", 0, 0);
            }
        }
        if (!seen_a)
            return fail(c, ERR_FORMAT, "post_processor template has no $A sequence", 0, 0);
        return 0;
    }
    return fail(c, ERR_FORMAT, "unsupported post_processor type '%s'", ty ? ty : "?", 0);
}

/* Collect (id, string) of the vocab and added tokens, build pieces + map. */
static int build_vocab(load_ctx *c, tok *t, json_t *vocab, json_t *added)
{
    struct tok_hf *h = t->hf;
    long max_id = -1;
    const char *key;
    json_t *val;
    json_object_foreach(vocab, key, val)
    {
        if (!json_is_integer(val) || json_integer_value(val) < 0 ||
            json_integer_value(val) >= MAX_ID)
            return fail(c, ERR_FORMAT, "model.vocab: bad id for token '%s'", key, 0);
        if (json_integer_value(val) > max_id)
            max_id = (long)json_integer_value(val);
    }
    size_t i;
    json_t *x;
    if (added && !json_is_array(added))
        return fail(c, ERR_FORMAT, "added_tokens is not a list", 0, 0);
    if (added) {
        h->added = calloc(json_array_size(added) + 1, sizeof *h->added);
        if (!h->added)
            return fail(c, ERR_NOMEM, "out of memory", 0, 0);
        json_array_foreach(added, i, x)
        {
            json_t *id = json_object_get(x, "id"), *content = json_object_get(x, "content");
            if (!json_is_integer(id) || json_integer_value(id) < 0 ||
                json_integer_value(id) >= MAX_ID || !json_is_string(content) ||
                json_string_length(content) == 0)
                return fail(c, ERR_FORMAT, "added_tokens: entry without a valid id and content", 0, 0);
            hf_added *a = &h->added[h->n_added++];
            a->len = json_string_length(content);
            a->content = malloc(a->len + 1);
            if (!a->content)
                return fail(c, ERR_NOMEM, "out of memory", 0, 0);
            memcpy(a->content, json_string_value(content), a->len + 1);
            a->id = (int)json_integer_value(id);
            a->lstrip = get_bool(x, "lstrip", 0);
            a->rstrip = get_bool(x, "rstrip", 0);
            a->single_word = get_bool(x, "single_word", 0);
            a->special = get_bool(x, "special", 0);
            a->normalized = get_bool(x, "normalized", !a->special);
            a->ncontent = a->content;
            a->nlen = a->len;
            if (a->id > max_id)
                max_id = a->id;
        }
    }
    if (max_id < 0)
        return fail(c, ERR_FORMAT, "empty vocabulary", 0, 0);
    /* Real files number their tokens densely; a few gaps are harmless, but the
     * per-id tables must stay proportional to what the file holds. */
    size_t entries = json_object_size(vocab) + (size_t)h->n_added;
    if ((size_t)max_id >= entries + MAX_ID_GAPS) {
        char msg[96];
        snprintf(msg, sizeof msg, "%ld for %zu tokens", max_id, entries);
        return fail(c, ERR_FORMAT, "token ids leave too many unused: largest id %s", msg, 0);
    }
    int n = (int)max_id + 1;
    t->n_vocab = n;
    size_t arena = 1;
    json_object_foreach(vocab, key, val) arena += strlen(key) + 1;
    for (int k = 0; k < h->n_added; k++)
        arena += h->added[k].len + 1;
    t->arena = malloc(arena);
    t->off = calloc((size_t)n, sizeof *t->off); /* 0 = the empty string at arena[0] */
    t->len = calloc((size_t)n, sizeof *t->len);
    uint8_t *skip = malloc((size_t)n);
    if (!t->arena || !t->off || !t->len || !skip) {
        free(skip);
        return fail(c, ERR_NOMEM, "out of memory", 0, 0);
    }
    memset(skip, 1, (size_t)n);
    t->arena[0] = '\0';
    size_t ap = 1;
    json_object_foreach(vocab, key, val)
    {
        int id = (int)json_integer_value(val);
        if (!skip[id]) {
            free(skip);
            return fail(c, ERR_FORMAT, "model.vocab: id of '%s' used twice", key, 0);
        }
        size_t kl = strlen(key);
        long dl = h->spm ? -1 : bytelevel_decode(c->cp_to_byte, key, kl, t->arena + ap);
        if (h->spm) {
            memcpy(t->arena + ap, key, kl);
            dl = (long)kl;
            skip[id] = 0;
        } else if (dl < 0) { /* not byte-level text: keep it as written, out of BPE's reach */
            memcpy(t->arena + ap, key, kl);
            dl = (long)kl;
            skip[id] = 2;
        } else {
            skip[id] = 0;
        }
        t->arena[ap + (size_t)dl] = '\0';
        t->off[id] = (uint32_t)ap;
        t->len[id] = (uint32_t)dl;
        ap += (size_t)dl + 1;
    }
    /* Added tokens not in the model vocab get their content as the piece. */
    for (int k = 0; k < h->n_added; k++) {
        hf_added *a = &h->added[k];
        if (skip[a->id] == 0)
            continue;
        memcpy(t->arena + ap, a->content, a->len + 1);
        t->off[a->id] = (uint32_t)ap;
        t->len[a->id] = (uint32_t)a->len;
        ap += a->len + 1;
        skip[a->id] = 0;
    }
    for (int k = 0; k < n; k++) {
        if (skip[k] == 2)
            skip[k] = 1;
        if (t->len[k] > t->max_len)
            t->max_len = t->len[k];
    }
    int rc = tok_strmap_build(&t->map, t->arena, t->off, t->len, n, skip);
    free(skip);
    if (rc)
        return fail(c, ERR_NOMEM, "out of memory", 0, 0);
    for (int b = 0; b < 256; b++) {
        char ch = (char)b;
        h->byte_id[b] = tok_strmap_get(&t->map, &ch, 1);
        char hex[8];
        snprintf(hex, sizeof hex, "<0x%02X>", (unsigned)b);
        h->byte_tok[b] = tok_strmap_get(&t->map, hex, 6);
    }
    return 0;
}

static int merge_part_id(load_ctx *c, const tok *t, const char *s, size_t n, char *buf, int rank)
{
    long dl = (long)n;
    if (t->hf->spm)
        memcpy(buf, s, n);
    else
        dl = bytelevel_decode(c->cp_to_byte, s, n, buf);
    int id = dl < 0 ? -1 : tok_strmap_get(&t->map, buf, (size_t)dl);
    if (id < 0) {
        char r[32], shown[80];
        snprintf(r, sizeof r, "%d", rank);
        snprintf(shown, sizeof shown, "%.*s", (int)(n < 60 ? n : 60), s);
        fail(c, ERR_FORMAT, "merge %s uses '%s', which is not in the vocab", r, shown);
    }
    return id;
}

static int build_merges(load_ctx *c, tok *t, json_t *merges)
{
    struct tok_hf *h = t->hf;
    if (!json_is_array(merges))
        return fail(c, ERR_FORMAT, "model.merges is missing or not a list", 0, 0);
    size_t nm = json_array_size(merges);
    if (nm >= MAX_ID)
        return fail(c, ERR_FORMAT, "too many merges", 0, 0);
    if (tok_pairmap_init(&h->merges, nm) != 0)
        return fail(c, ERR_NOMEM, "out of memory", 0, 0);
    char *buf = malloc(3 * (size_t)t->max_len + 64);
    size_t bufcap = 3 * (size_t)t->max_len + 64;
    if (!buf)
        return fail(c, ERR_NOMEM, "out of memory", 0, 0);
    size_t i;
    json_t *x;
    int rc = 0;
    json_array_foreach(merges, i, x)
    {
        const char *a, *b;
        size_t al, bl;
        if (json_is_string(x)) {
            a = json_string_value(x);
            const char *sp = strchr(a, ' ');
            if (!sp || strchr(sp + 1, ' ')) {
                char r[32];
                snprintf(r, sizeof r, "%zu", i);
                rc = fail(c, ERR_FORMAT, "merge %s is not two tokens separated by one space", r, 0);
                break;
            }
            al = (size_t)(sp - a);
            b = sp + 1;
            bl = json_string_length(x) - al - 1;
        } else if (json_is_array(x) && json_array_size(x) == 2 &&
                   json_is_string(json_array_get(x, 0)) && json_is_string(json_array_get(x, 1))) {
            a = json_string_value(json_array_get(x, 0));
            al = json_string_length(json_array_get(x, 0));
            b = json_string_value(json_array_get(x, 1));
            bl = json_string_length(json_array_get(x, 1));
        } else {
            char r[32];
            snprintf(r, sizeof r, "%zu", i);
            rc = fail(c, ERR_FORMAT, "merge %s is neither \"a b\" nor [\"a\", \"b\"]", r, 0);
            break;
        }
        if (al + bl + 1 > bufcap) {
            rc = fail(c, ERR_FORMAT, "a merge is longer than any vocab token", 0, 0);
            break;
        }
        int ia = merge_part_id(c, t, a, al, buf, (int)i);
        int ib = ia < 0 ? -1 : merge_part_id(c, t, b, bl, buf, (int)i);
        if (ia < 0 || ib < 0) {
            rc = c->e ? c->e->code : ERR_FORMAT;
            break;
        }
        memcpy(buf, t->arena + t->off[ia], t->len[ia]);
        memcpy(buf + t->len[ia], t->arena + t->off[ib], t->len[ib]);
        int im = tok_strmap_get(&t->map, buf, (size_t)t->len[ia] + t->len[ib]);
        if (im < 0) {
            char r[32];
            snprintf(r, sizeof r, "%zu", i);
            rc = fail(c, ERR_FORMAT, "merge %s: the merged token is not in the vocab", r, 0);
            break;
        }
        if (tok_pairmap_put(&h->merges, ia, ib, (int)i, im) != 0) {
            rc = fail(c, ERR_NOMEM, "out of memory", 0, 0);
            break;
        }
    }
    free(buf);
    return rc;
}

static int parse_model(load_ctx *c, tok *t, json_t *root)
{
    struct tok_hf *h = t->hf;
    json_t *model = json_object_get(root, "model");
    if (!json_is_object(model))
        return fail(c, ERR_FORMAT, "no model object", 0, 0);
    const char *ty = type_of(model);
    if (ty && strcmp(ty, "BPE") != 0)
        return fail(c, ERR_FORMAT, "model type '%s' unsupported (only BPE)", ty, 0);
    json_t *vocab = json_object_get(model, "vocab");
    if (!json_is_object(vocab))
        return fail(c, ERR_FORMAT, "model.vocab is missing or not an object", 0, 0);
    json_t *drop = json_object_get(model, "dropout");
    if (drop && !json_is_null(drop) && !(json_is_number(drop) && json_number_value(drop) == 0))
        return fail(c, ERR_FORMAT, "BPE dropout is unsupported", 0, 0);
    const char *opt[] = { "continuing_subword_prefix", "end_of_word_suffix" };
    for (int k = 0; k < 2; k++) {
        json_t *v = json_object_get(model, opt[k]);
        if (v && !json_is_null(v) && !(json_is_string(v) && json_string_length(v) == 0))
            return fail(c, ERR_FORMAT, "BPE %s is unsupported", opt[k], 0);
    }
    h->ignore_merges = get_bool(model, "ignore_merges", 0);
    h->byte_fallback = get_bool(model, "byte_fallback", 0);
    h->fuse_unk = get_bool(model, "fuse_unk", 0);
    int rc = build_vocab(c, t, vocab, json_object_get(root, "added_tokens"));
    if (rc)
        return rc;
    h->unk = -1;
    json_t *unk = json_object_get(model, "unk_token");
    if (json_is_string(unk)) {
        h->unk = tok_strmap_get(&t->map, json_string_value(unk), json_string_length(unk));
        if (h->unk < 0)
            return fail(c, ERR_FORMAT, "unk_token '%s' is not in the vocab", json_string_value(unk), 0);
    }
    return build_merges(c, t, json_object_get(model, "merges"));
}

static int find_added(const tok *t, const char *name)
{
    for (int k = 0; k < t->hf->n_added; k++)
        if (strcmp(t->hf->added[k].content, name) == 0)
            return t->hf->added[k].id;
    return -1;
}

/* 1 if the pre_tokenizer (or a Sequence in it) has a ByteLevel step. */
static int has_bytelevel(json_t *p)
{
    const char *ty = type_of(p);
    if (!ty)
        return 0;
    if (!strcmp(ty, "ByteLevel"))
        return 1;
    json_t *list = json_object_get(p, "pretokenizers"), *x;
    size_t i;
    if (!strcmp(ty, "Sequence") && json_is_array(list))
        json_array_foreach(list, i, x) if (has_bytelevel(x)) return 1;
    return 0;
}

/* After parsing: normalized added-token patterns, the match tables, and
 * what tok_decode needs. */
static int finish(load_ctx *c, tok *t)
{
    struct tok_hf *h = t->hf;
    for (int k = 0; k < h->n_steps; k++) {
        int bl = h->step[k].kind == ST_BYTELEVEL;
        if (bl && k + 1 < h->n_steps)
            return fail(c, ERR_FORMAT, "pre_tokenizer has ByteLevel before its last step", 0, 0);
        if (!h->spm && h->step[k].kind == ST_METASPACE)
            return fail(c, ERR_FORMAT, "pre_tokenizer mixes Metaspace and ByteLevel", 0, 0);
    }
    for (int k = 0; k < h->n_added; k++) {
        hf_added *a = &h->added[k];
        if (a->normalized) {
            char *o;
            size_t ol;
            int owned;
            if (normalize(h, a->content, a->len, &o, &ol, &owned) != 0)
                return fail(c, ERR_NOMEM, "out of memory", 0, 0);
            if (ol == 0) { /* normalized away: never matches */
                if (owned)
                    free(o);
                continue;
            }
            a->ncontent = o;
            a->nlen = ol;
        }
        h->added_first[a->normalized][(unsigned char)a->ncontent[0]] = 1;
    }
    t->attr = calloc((size_t)t->n_vocab, 1);
    if (!t->attr)
        return fail(c, ERR_NOMEM, "out of memory", 0, 0);
    for (int k = 0; k < h->n_added; k++)
        if (h->added[k].special)
            t->attr[h->added[k].id] |= TOK_A_CONTROL;
    if (h->spm) {
        for (int id = 0; id < t->n_vocab; id++)
            if (tok_byte_piece(t->arena + t->off[id], t->len[id]) >= 0)
                t->attr[id] |= TOK_A_BYTE;
        for (int k = 0; k < h->n_norms; k++) {
            const hf_norm *nm = &h->norm[k];
            if (nm->kind == NM_PREPEND)
                t->strip_lead = 1;
            if (nm->kind == NM_REPLACE && nm->al == 1 && nm->a[0] == ' ' && nm->bl < sizeof t->meta) {
                memcpy(t->meta, nm->b, nm->bl);
                t->meta_len = nm->bl;
            }
        }
        for (int k = 0; k < h->n_steps; k++)
            if (h->step[k].kind == ST_METASPACE) {
                memcpy(t->meta, h->step[k].rep, h->step[k].rep_len);
                t->meta_len = h->step[k].rep_len;
                t->strip_lead |= h->step[k].prepend != 0;
            }
    }
    return 0;
}

/* BOS/EOS that tokenizer.json leaves unnamed, from the tokenizer_config.json
 * beside it ("eos_token": "</s>" or {"content": ...}), as transformers reads
 * them. Only fills what is unknown; what tok_encode adds is unchanged. */
static void config_specials(tok *t, const char *path)
{
    if (t->bos >= 0 && t->eos >= 0)
        return;
    const char *slash = strrchr(path, '/');
    char cp[4200];
    snprintf(cp, sizeof cp, "%.*stokenizer_config.json", slash ? (int)(slash - path + 1) : 0, path);
    json_t *cfg = json_load_file(cp, JSON_DECODE_INT_AS_REAL, NULL); /* model_max_length: 1e30 */
    if (!cfg)
        return;
    const char *keys[2] = { "bos_token", "eos_token" };
    int *dst[2] = { &t->bos, &t->eos };
    for (int k = 0; k < 2; k++) {
        json_t *v = json_object_get(cfg, keys[k]);
        if (json_is_object(v))
            v = json_object_get(v, "content");
        if (*dst[k] < 0 && json_is_string(v))
            *dst[k] = tok_strmap_get(&t->map, json_string_value(v), json_string_length(v));
    }
    json_decref(cfg);
}

tok *tok_load_hf(const char *path, mx_error *e)
{
    char *buf;
    size_t size;
    if (fm_read_all(path, &buf, &size, e) != 0)
        return NULL;
    json_error_t je;
    json_t *root = json_loadb(buf, size, 0, &je);
    free(buf);
    if (!root) {
        err_set(e, ERR_FORMAT, "%s: not valid JSON (line %d, column %d: %s)", path, je.line,
                je.column, je.text);
        return NULL;
    }
    tok *t = tok_hf_from_json(root, path, e);
    json_decref(root);
    if (t)
        config_specials(t, path);
    return t;
}

tok *tok_hf_from_json(json_t *root, const char *path, mx_error *e)
{
    load_ctx c = { .path = path, .e = e };
    for (int k = 0; k < 324; k++)
        c.cp_to_byte[k] = -1;
    for (unsigned b = 0; b < 256; b++)
        c.cp_to_byte[byte_to_cp(b)] = (int16_t)b;
    tok *t = tok_new(TOK_KIND_HF, path, e);
    struct tok_hf *h = calloc(1, sizeof *h);
    int rc = 0;
    if (!t || !h) {
        free(h);
        rc = t ? err_set(e, ERR_NOMEM, "%s: out of memory", path) : ERR_NOMEM;
        goto done;
    }
    t->hf = h;
    if (!json_is_object(root)) {
        rc = fail(&c, ERR_FORMAT, "top level is not an object", 0, 0);
        goto done;
    }
    h->spm = !has_bytelevel(json_object_get(root, "pre_tokenizer"));
    if ((rc = parse_model(&c, t, root)) != 0)
        goto done;
    if ((rc = parse_normalizer(&c, h, json_object_get(root, "normalizer"))) != 0)
        goto done;
    if ((rc = parse_pretok(&c, h, json_object_get(root, "pre_tokenizer"))) != 0)
        goto done;
    if ((rc = finish(&c, t)) != 0)
        goto done;
    if ((rc = parse_post(&c, h, json_object_get(root, "post_processor"))) != 0)
        goto done;
    for (int j = 0; j < h->n_prefix + h->n_suffix; j++) {
        int id = j < h->n_prefix ? h->prefix[j] : h->suffix[j - h->n_prefix];
        if (id >= t->n_vocab) {
            rc = fail(&c, ERR_FORMAT, "post_processor uses an id beyond the vocab", 0, 0);
            goto done;
        }
    }
    /* tokenizer.json does not name BOS/EOS: BOS is what the template puts
     * first; EOS the template's last token, else a conventional end token. */
    t->bos = h->n_prefix ? h->prefix[0] : -1;
    t->eos = h->n_suffix ? h->suffix[h->n_suffix - 1] : -1;
    const char *ends[] = { "<|endoftext|>", "<|end_of_text|>", "</s>", "<eos>" };
    for (int k = 0; k < 4 && t->eos < 0; k++)
        t->eos = find_added(t, ends[k]);
done:
    if (rc) {
        tok_free(t);
        return NULL;
    }
    return t;
}

/* ----------------------------------------------------------------- encoding */

typedef struct ivec {
    int *a;
    size_t n, cap;
} ivec;

static int ivec_push(ivec *v, int x)
{
    if (v->n == v->cap) {
        int *a = tok_grow(v->a, &v->cap, sizeof *a, 256);
        if (!a)
            return ERR_NOMEM;
        v->a = a;
    }
    v->a[v->n++] = x;
    return 0;
}

typedef struct enc {
    const tok *t;
    ivec out;
    int32_t *sym;
    size_t sym_cap;
    tok_merge_ws ws;
    mx_error *e;
} enc;

static int hf_pair(const void *vctx, int a, int b, float *key, int *merged)
{
    const struct tok_hf *h = vctx;
    int rank;
    if (!tok_pairmap_get(&h->merges, a, b, &rank, merged))
        return 0;
    *key = (float)rank;
    return 1;
}

static int sym_reserve(enc *x, size_t n)
{
    if (n <= x->sym_cap)
        return 0;
    int32_t *s = realloc(x->sym, n * sizeof *s);
    if (!s)
        return err_set(x->e, ERR_NOMEM, "out of memory");
    x->sym = s;
    x->sym_cap = n;
    return 0;
}

/* The library's initial symbols of a SentencePiece-style word: one per
 * character (an invalid byte counts as one); a character outside the vocab
 * becomes its <0xNN> tokens when byte_fallback has them all, else <unk>
 * (consecutive ones fused with fuse_unk; a pending <unk> is only written
 * when a known character or the end comes, as the library does), else it is
 * dropped. Returns the symbol count. */
static long spm_symbols(enc *x, const char *w, size_t n)
{
    const tok *t = x->t;
    const struct tok_hf *h = t->hf;
    long m = 0;
    int pending = 0;
    for (size_t i = 0; i < n;) {
        int l;
        tok_utf8_next((const unsigned char *)w + i, n - i, &l);
        int id = tok_strmap_get(&t->map, w + i, (size_t)l);
        if (id >= 0) {
            if (pending)
                x->sym[m++] = h->unk;
            pending = 0;
            x->sym[m++] = id;
            i += (size_t)l;
            continue;
        }
        if (h->byte_fallback) {
            int ok = 1;
            for (int k = 0; k < l && ok; k++)
                ok = h->byte_tok[(unsigned char)w[i + k]] >= 0;
            if (ok) {
                for (int k = 0; k < l; k++)
                    x->sym[m++] = h->byte_tok[(unsigned char)w[i + k]];
                i += (size_t)l;
                continue;
            }
        }
        if (h->unk >= 0) {
            if (pending && !h->fuse_unk)
                x->sym[m++] = h->unk;
            pending = 1;
        }
        i += (size_t)l;
    }
    if (pending)
        x->sym[m++] = h->unk;
    return m;
}

/* BPE of one pre-tokenized word (raw bytes). */
static int bpe_word(enc *x, const char *w, size_t n)
{
    const tok *t = x->t;
    const struct tok_hf *h = t->hf;
    if (h->ignore_merges) {
        int id = tok_strmap_get(&t->map, w, n);
        if (id >= 0)
            return ivec_push(&x->out, id) ? err_set(x->e, ERR_NOMEM, "out of memory") : 0;
    }
    /* byte fallback can give up to 4 symbols per 4-byte character: n bounds it */
    if (sym_reserve(x, n + 1))
        return ERR_NOMEM;
    long m = 0;
    if (h->spm) {
        m = spm_symbols(x, w, n);
    } else {
        int prev_unk = 0;
        for (size_t i = 0; i < n; i++) {
            unsigned char b = (unsigned char)w[i];
            int id = h->byte_id[b];
            if (id < 0 && h->byte_fallback)
                id = h->byte_tok[b];
            if (id < 0 && h->unk >= 0) {
                if (h->fuse_unk && prev_unk)
                    continue;
                id = h->unk;
                prev_unk = 1;
            } else {
                prev_unk = 0;
            }
            if (id >= 0) /* with neither fallback nor unk, the byte is dropped (as HF does) */
                x->sym[m++] = id;
        }
    }
    m = tok_merge_seg(&x->ws, x->sym, m, hf_pair, h, x->e);
    if (m < 0)
        return (int)m;
    for (long i = 0; i < m; i++)
        if (ivec_push(&x->out, x->sym[i]))
            return err_set(x->e, ERR_NOMEM, "out of memory");
    return 0;
}

/* Metaspace: ' ' -> the replacement, the prepend scheme, then (split) a cut
 * before every replacement (MergedWithNext). */
static int run_steps(enc *x, int k, const char *s, size_t n, int first);

static int metaspace(enc *x, int k, const hf_step *st, const char *s, size_t n, int first)
{
    size_t spaces = 0;
    for (size_t i = 0; i < n; i++)
        spaces += s[i] == ' ';
    char *b = malloc(n + (spaces + 1) * st->rep_len + 1);
    if (!b)
        return err_set(x->e, ERR_NOMEM, "out of memory");
    size_t bl = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == ' ') {
            memcpy(b + bl, st->rep, st->rep_len);
            bl += st->rep_len;
        } else {
            b[bl++] = s[i];
        }
    int starts = bl >= st->rep_len && !memcmp(b, st->rep, st->rep_len);
    if (bl > 0 && !starts && (st->prepend == 2 || (st->prepend == 1 && first))) {
        memmove(b + st->rep_len, b, bl);
        memcpy(b, st->rep, st->rep_len);
        bl += st->rep_len;
    }
    int rc = 0;
    if (!st->split) {
        rc = run_steps(x, k + 1, b, bl, first);
    } else {
        size_t start = 0;
        for (size_t i = 1; i + st->rep_len <= bl && !rc; i++)
            if (!memcmp(b + i, st->rep, st->rep_len)) {
                rc = run_steps(x, k + 1, b + start, i - start, first && start == 0);
                start = i;
            }
        if (!rc)
            rc = run_steps(x, k + 1, b + start, bl - start, first && start == 0);
    }
    free(b);
    return rc;
}

/* Apply pre-tokenizer steps k.. to the piece s[0..n), then BPE each word.
 * first: the piece starts the original text (Metaspace prepend_scheme first). */
static int run_steps(enc *x, int k, const char *s, size_t n, int first)
{
    const struct tok_hf *h = x->t->hf;
    if (n == 0)
        return 0;
    if (k == h->n_steps)
        return bpe_word(x, s, n);
    const hf_step *st = &h->step[k];
    int rc = 0;
    if (st->kind == ST_METASPACE)
        return metaspace(x, k, st, s, n, first);
    if (st->kind == ST_SPLIT) {
        for (size_t i = 0; i < n && !rc;) {
            size_t l = tok_pretok_match(st->pat, s + i, n - i);
            rc = run_steps(x, k + 1, s + i, l, first && i == 0);
            i += l;
        }
        return rc;
    }
    if (st->kind == ST_DIGITS) {
        /* Digits: \p{N} isolated one by one, or as runs. */
        size_t start = 0;
        for (size_t i = 0; i < n && !rc;) {
            int l;
            uint32_t cp = tok_utf8_next((const unsigned char *)s + i, n - i, &l);
            if (!tok_uc_is_number(cp)) {
                i += (size_t)l;
                continue;
            }
            rc = run_steps(x, k + 1, s + start, i - start, first && start == 0);
            size_t j = i + (size_t)l;
            while (!st->individual && j < n) {
                int l2;
                if (!tok_uc_is_number(tok_utf8_next((const unsigned char *)s + j, n - j, &l2)))
                    break;
                j += (size_t)l2;
            }
            if (!rc)
                rc = run_steps(x, k + 1, s + i, j - i, first && i == 0);
            i = start = j;
        }
        return rc ? rc : run_steps(x, k + 1, s + start, n - start, first && start == 0);
    }
    /* ByteLevel: optional prefix space, then the GPT-2 regex if use_regex. */
    char *tmp = NULL;
    if (st->add_prefix_space && s[0] != ' ') {
        tmp = malloc(n + 1);
        if (!tmp)
            return err_set(x->e, ERR_NOMEM, "out of memory");
        tmp[0] = ' ';
        memcpy(tmp + 1, s, n);
        s = tmp;
        n++;
    }
    if (st->use_regex) {
        for (size_t i = 0; i < n && !rc;) {
            size_t l = tok_pretok_match(TOK_PAT_GPT2, s + i, n - i);
            rc = run_steps(x, k + 1, s + i, l, first && i == 0);
            i += l;
        }
    } else {
        rc = run_steps(x, k + 1, s, n, first);
    }
    free(tmp);
    return rc;
}

static int is_word_char(uint32_t cp)
{
    return cp == '_' || tok_uc_is_letter(cp) || tok_uc_is_number(cp);
}

/* Code point ending just before byte i (i > 0). */
static uint32_t cp_before(const char *s, size_t i)
{
    size_t j = i - 1;
    while (j > 0 && ((unsigned char)s[j] & 0xC0) == 0x80 && i - j < 4)
        j--;
    int l;
    uint32_t cp = tok_utf8_next((const unsigned char *)s + j, i - j, &l);
    return (size_t)l == i - j ? cp : 0xFFFD;
}

/* The longest added token of pass p matching at i, or -1. */
static int added_at(const struct tok_hf *h, int p, const char *s, size_t n, size_t i)
{
    int best = -1;
    for (int k = 0; k < h->n_added; k++) {
        const hf_added *a = &h->added[k];
        const char *c = p ? a->ncontent : a->content;
        size_t cl = p ? a->nlen : a->len;
        if (a->normalized != p || cl == 0 || cl > n - i || (unsigned char)c[0] != (unsigned char)s[i] ||
            (best >= 0 && (p ? h->added[best].nlen : h->added[best].len) >= cl) ||
            memcmp(c, s + i, cl) != 0)
            continue;
        best = k;
    }
    return best;
}

/* single_word: the match must not touch a word character on either side. */
static int single_word_ok(const char *s, size_t n, size_t start, size_t end)
{
    int l;
    if (start > 0 && is_word_char(cp_before(s, start)))
        return 0;
    return end >= n || !is_word_char(tok_utf8_next((const unsigned char *)s + end, n - end, &l));
}

static size_t space_len_at(const char *s, size_t n, size_t i)
{
    size_t j = i;
    while (j < n) {
        int l;
        if (!tok_uc_is_space(tok_utf8_next((const unsigned char *)s + j, n - j, &l)))
            break;
        j += (size_t)l;
    }
    return j - i;
}

static int piece(enc *x, int p, const char *s, size_t n, int first);

/* Split s[0..n) on the added tokens of pass p (leftmost-longest), handing
 * the text between them to piece(). */
static int scan_added(enc *x, int p, const char *text, size_t len, int first)
{
    const struct tok_hf *h = x->t->hf;
    int rc = 0;
    size_t seg = 0;
    for (size_t i = 0; i < len && !rc;) {
        int k = h->added_first[p][(unsigned char)text[i]] ? added_at(h, p, text, len, i) : -1;
        if (k < 0) {
            i++;
            continue;
        }
        const hf_added *a = &h->added[k];
        size_t start = i, end = i + (p ? a->nlen : a->len);
        if (a->single_word && !single_word_ok(text, len, start, end)) {
            i = end; /* like the library: a discarded match is skipped whole */
            continue;
        }
        if (a->lstrip)
            while (start > seg && tok_uc_is_space(cp_before(text, start))) {
                size_t j = start - 1;
                while (j > seg && ((unsigned char)text[j] & 0xC0) == 0x80)
                    j--;
                start = j;
            }
        if (a->rstrip)
            end += space_len_at(text, len, end);
        rc = piece(x, p, text + seg, start - seg, first && seg == 0);
        if (!rc && ivec_push(&x->out, a->id))
            rc = err_set(x->e, ERR_NOMEM, "out of memory");
        i = seg = end;
    }
    if (!rc)
        rc = piece(x, p, text + seg, len - seg, first && seg == 0);
    return rc;
}

/* Text between added tokens: after the raw pass, normalize and look for the
 * normalized added tokens; after that, pre-tokenize + BPE. */
static int piece(enc *x, int p, const char *s, size_t n, int first)
{
    if (n == 0)
        return 0;
    if (p == 1)
        return run_steps(x, 0, s, n, first);
    char *o;
    size_t ol;
    int owned;
    if (normalize(x->t->hf, s, n, &o, &ol, &owned) != 0)
        return err_set(x->e, ERR_NOMEM, "out of memory");
    int rc = scan_added(x, 1, o, ol, first);
    if (owned)
        free(o);
    return rc;
}

long tok_encode_hf(const tok *t, const char *text, size_t len, int **out, mx_error *e)
{
    const struct tok_hf *h = t->hf;
    enc x = { .t = t, .e = e };
    int rc = 0;
    for (int k = 0; k < h->n_prefix && !rc; k++)
        rc = ivec_push(&x.out, h->prefix[k]);
    if (!rc)
        rc = scan_added(&x, 0, text, len, 1);
    for (int k = 0; k < h->n_suffix && !rc; k++)
        rc = ivec_push(&x.out, h->suffix[k]);
    free(x.sym);
    tok_merge_ws_free(&x.ws);
    if (rc) {
        if (rc == ERR_NOMEM && e && e->code != ERR_NOMEM)
            err_set(e, ERR_NOMEM, "out of memory");
        free(x.out.a);
        return rc;
    }
    if (!x.out.a && !(x.out.a = malloc(sizeof *x.out.a)))
        return err_set(e, ERR_NOMEM, "out of memory");
    *out = x.out.a;
    return (long)x.out.n;
}
