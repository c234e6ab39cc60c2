/* Tokenizer tests. The llama2.c encoder is checked token-for-token against a
 * plain re-implementation of llama2.c's encode() (quadratic merge loop,
 * bsearch over the sorted vocab) on real and synthetic vocabularies. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/tok.h"
#include "src/tok_internal.h" /* to switch off segment cutting in one test */
#include "src/tok_unicode.h"
#include "tests/file_bytes.h"
#include "tests/testmodel.h"

/* ------------------------------------------------------------------ helpers */

static const char *data_dir(void)
{
    const char *d = getenv("MXALLOC_DATA");
    return d && *d ? d : "../shared/data";
}

static char *data_path(const char *rel)
{
    static char buf[4][1024];
    static int k;
    char *p = buf[k++ & 3];
    snprintf(p, 1024, "%s/%s", data_dir(), rel);
    return p;
}

static int have_file(const char *p)
{
    return access(p, R_OK) == 0;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static char tmpdir[256];

static int setup_tmp(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_tok.XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    return 0;
}

static int teardown_tmp(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *tmp_path(const char *name)
{
    static char p[4][512];
    static int k;
    char *s = p[k++ & 3];
    snprintf(s, 512, "%s/%s", tmpdir, name);
    return s;
}

/* --------------------------------------------- llama2.c tokenizer.bin writer */

typedef struct vocab_spec {
    int n, cap;
    char **piece;
    int *plen;
    float *score;
} vocab_spec;

static void vs_add(vocab_spec *v, const char *p, int len, float score)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 512;
        v->piece = realloc(v->piece, (size_t)v->cap * sizeof *v->piece);
        v->plen = realloc(v->plen, (size_t)v->cap * sizeof *v->plen);
        v->score = realloc(v->score, (size_t)v->cap * sizeof *v->score);
    }
    v->piece[v->n] = malloc((size_t)len + 1);
    memcpy(v->piece[v->n], p, (size_t)len);
    v->piece[v->n][len] = '\0';
    v->plen[v->n] = len;
    v->score[v->n] = score;
    v->n++;
}

static void vs_free(vocab_spec *v)
{
    for (int i = 0; i < v->n; i++)
        free(v->piece[i]);
    free(v->piece);
    free(v->plen);
    free(v->score);
    memset(v, 0, sizeof *v);
}

/* The NUL-terminated pieces[0..n), all with the same score. */
static void vs_adds(vocab_spec *v, const char *const *pieces, int n, float score)
{
    for (int i = 0; i < n; i++)
        vs_add(v, pieces[i], (int)strlen(pieces[i]), score);
}

/* The llama2.c layout: <unk>, <s>, </s>, then the 256 byte tokens. */
static void vs_base(vocab_spec *v)
{
    vs_add(v, "<unk>", 5, 0);
    vs_add(v, "\n<s>\n", 5, 0);
    vs_add(v, "\n</s>\n", 6, 0);
    for (int b = 0; b < 256; b++) {
        char s[8];
        snprintf(s, sizeof s, "<0x%02X>", b);
        vs_add(v, s, 6, 0);
    }
}

static void vs_write(const vocab_spec *v, const char *path)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    int32_t maxlen = 1;
    for (int i = 0; i < v->n; i++)
        if (v->plen[i] > maxlen)
            maxlen = v->plen[i];
    fwrite(&maxlen, 4, 1, f);
    for (int i = 0; i < v->n; i++) {
        int32_t l = v->plen[i];
        fwrite(&v->score[i], 4, 1, f);
        fwrite(&l, 4, 1, f);
        fwrite(v->piece[i], 1, (size_t)l, f);
    }
    assert_int_equal(fclose(f), 0);
}

/* tok_load_llama2c that must succeed; vs_write_load writes v there first. */
static tok *l2c_ok(const char *path, int vocab)
{
    mx_error e = { 0 };
    tok *t = tok_load_llama2c(path, vocab, &e);
    if (!t)
        fail_msg("load %s: %s", path, e.msg);
    return t;
}

static tok *vs_write_load(const vocab_spec *v, const char *path, int vocab)
{
    vs_write(v, path);
    return l2c_ok(path, vocab);
}

/* ------------------------------------------ the reference: llama2.c encode() */

typedef struct ref_entry {
    const char *str;
    int id;
} ref_entry;

typedef struct ref_tok {
    int n;
    char **vocab;
    float *scores;
    int max_len;
    ref_entry *sorted;
} ref_tok;

static int ref_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Parse a tokenizer.bin the way llama2.c's build_tokenizer does. */
static void ref_load(ref_tok *r, const char *path, int vocab_size)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    int32_t maxlen;
    assert_int_equal(fread(&maxlen, 4, 1, f), 1);
    r->n = vocab_size;
    r->max_len = maxlen;
    r->vocab = calloc((size_t)vocab_size, sizeof *r->vocab);
    r->scores = calloc((size_t)vocab_size, sizeof *r->scores);
    r->sorted = calloc((size_t)vocab_size, sizeof *r->sorted);
    for (int i = 0; i < vocab_size; i++) {
        int32_t len;
        assert_int_equal(fread(&r->scores[i], 4, 1, f), 1);
        assert_int_equal(fread(&len, 4, 1, f), 1);
        r->vocab[i] = malloc((size_t)len + 1);
        assert_int_equal(fread(r->vocab[i], 1, (size_t)len, f), (size_t)len);
        r->vocab[i][len] = '\0';
        r->sorted[i].str = r->vocab[i];
        r->sorted[i].id = i;
    }
    fclose(f);
    qsort(r->sorted, (size_t)vocab_size, sizeof *r->sorted, ref_cmp);
}

static void ref_free(ref_tok *r)
{
    for (int i = 0; i < r->n; i++)
        free(r->vocab[i]);
    free(r->vocab);
    free(r->scores);
    free(r->sorted);
}

static int ref_lookup(const ref_tok *r, const char *s)
{
    const char *key = s;
    const ref_entry *hit = bsearch(&key, r->sorted, (size_t)r->n, sizeof *r->sorted, ref_cmp);
    return hit ? hit->id : -1;
}

/* llama2.c encode(t, text, bos=1, eos=0). The merge loop is llama2.c's
 * (best score by strict '>' scanning left to right, then shift the array);
 * the only change is that each pair's merge id is cached and recomputed for
 * the two pairs a merge touches, which gives identical results. */
static int ref_encode(const ref_tok *r, const char *text, int *tokens)
{
    char *str_buffer = malloc((size_t)r->max_len * 2 + 3);
    size_t str_len = 0;
    int n = 0;
    tokens[n++] = 1;
    if (text[0] != '\0')
        tokens[n++] = ref_lookup(r, " ");
    for (const char *c = text; *c != '\0'; c++) {
        if ((*c & 0xC0) != 0x80)
            str_len = 0;
        str_buffer[str_len++] = *c;
        str_buffer[str_len] = '\0';
        if ((*(c + 1) & 0xC0) == 0x80 && str_len < 4)
            continue;
        int id = ref_lookup(r, str_buffer);
        if (id != -1) {
            tokens[n++] = id;
        } else {
            for (size_t i = 0; i < str_len; i++)
                tokens[n++] = (unsigned char)str_buffer[i] + 3;
        }
        str_len = 0;
    }
    /* As in llama2.c, BOS takes part in the merge loop like any token. */
    int *pair = malloc(((size_t)n + 1) * sizeof *pair);
#define PAIR_ID(i)                                                                               \
    (sprintf(str_buffer, "%s%s", r->vocab[tokens[i]], r->vocab[tokens[(i) + 1]]),              \
     ref_lookup(r, str_buffer))
    for (int i = 0; i < n - 1; i++)
        pair[i] = PAIR_ID(i);
    for (;;) {
        float best_score = -1e10f;
        int best_id = -1, best_idx = -1;
        for (int i = 0; i < n - 1; i++) {
            int id = pair[i];
            if (id != -1 && r->scores[id] > best_score) {
                best_score = r->scores[id];
                best_id = id;
                best_idx = i;
            }
        }
        if (best_idx == -1)
            break;
        tokens[best_idx] = best_id;
        for (int i = best_idx + 1; i < n - 1; i++)
            tokens[i] = tokens[i + 1];
        for (int i = best_idx + 1; i < n - 2; i++)
            pair[i] = pair[i + 1];
        n--;
        if (best_idx > 0)
            pair[best_idx - 1] = PAIR_ID(best_idx - 1);
        if (best_idx < n - 1)
            pair[best_idx] = PAIR_ID(best_idx);
    }
#undef PAIR_ID
    free(pair);
    free(str_buffer);
    return n;
}

/* Encode text (NUL-free) with both and compare token for token. */
static void check_same(const tok *t, const ref_tok *r, const char *text, size_t len)
{
    char *z = malloc(len + 1);
    memcpy(z, text, len);
    z[len] = '\0';
    int *want = malloc((len + 3) * sizeof *want);
    int nw = ref_encode(r, z, want);
    int *got = NULL;
    mx_error e = { 0 };
    long ng = tok_encode(t, text, len, &got, &e);
    if (ng != nw) {
        fprintf(stderr, "count mismatch: got %ld want %d for %zu bytes (%s)\n", ng, nw, len,
                e.msg);
        fail();
    }
    for (int i = 0; i < nw; i++)
        if (got[i] != want[i]) {
            fprintf(stderr, "token %d differs: got %d want %d (%zu bytes)\n", i, got[i], want[i],
                    len);
            fail();
        }
    free(got);
    free(want);
    free(z);
}

/* ------------------------------------------------------------ llama2.c tests */

#define SKIP_IF_ABSENT(p)                                                                        \
    do {                                                                                         \
        if (!have_file(p)) {                                                                     \
            fprintf(stderr, "SKIP: %s absent (set MXALLOC_DATA)\n", p);                        \
            skip();                                                                              \
        }                                                                                        \
    } while (0)

static void test_tinystories_800(void **state)
{
    (void)state;
    const char *tp = data_path("tinystories-260k/tok512.bin");
    const char *xp = data_path("tinystories-text/tinystories_sample_30k.txt");
    SKIP_IF_ABSENT(tp);
    SKIP_IF_ABSENT(xp);
    mx_error e = { 0 };
    tok *t = tok_load_llama2c(tp, 512, &e);
    assert_non_null(t);
    assert_int_equal(tok_vocab_size(t), 512);
    assert_int_equal(tok_bos(t), 1);
    assert_int_equal(tok_eos(t), 2);
    assert_string_equal(tok_piece(t, 0), "<unk>");
    assert_string_equal(tok_piece(t, 3 + 'A'), "<0x41>");
    assert_string_equal(tok_piece(t, 512), "");
    assert_string_equal(tok_piece(t, -1), "");
    assert_int_equal(tok_id(t, " ", 1), 410);
    size_t n;
    char *text = fb_slurp(xp, &n);
    assert_true(n > 800);
    int *ids = NULL;
    /* SOURCE.md: the first 800 chars are 381 tokens, 382 with BOS. */
    long k = tok_encode(t, text, 800, &ids, &e);
    assert_int_equal(k, 382);
    assert_int_equal(ids[0], 1);
    free(ids);
    ref_tok r;
    ref_load(&r, tp, 512);
    check_same(t, &r, text, 800);
    check_same(t, &r, text, n); /* the whole 30 KB sample */
    ref_free(&r);
    free(text);
    tok_free(t);
}

static void check_wikitext(const char *tokfile, int vocab)
{
    const char *tp = data_path(tokfile);
    const char *xp = data_path("wikitext-2/wiki.test.raw");
    SKIP_IF_ABSENT(tp);
    SKIP_IF_ABSENT(xp);
    mx_error e = { 0 };
    tok *t = tok_load_llama2c(tp, vocab, &e);
    assert_non_null(t);
    ref_tok r;
    ref_load(&r, tp, vocab);
    size_t n;
    char *text = fb_slurp(xp, &n);
    /* Pieces at several offsets; cuts may split UTF-8 sequences on purpose. */
    const size_t offs[] = { 0, 1, 99999, 400001, 777777, 1200003 };
    for (size_t i = 0; i < sizeof offs / sizeof *offs; i++) {
        size_t o = offs[i] < n ? offs[i] : 0;
        size_t l = n - o < 5000 ? n - o : 5000;
        check_same(t, &r, text + o, l);
    }
    /* The whole file: no reference (quadratic), but decoding must give the text. */
    int *ids = NULL;
    long k = tok_encode(t, text, n, &ids, &e);
    assert_true(k > 2);
    assert_int_equal(ids[0], 1);
    char *dec = malloc(n + 2);
    size_t dl = 0;
    for (long i = 1; i < k; i++) {
        const char *p = tok_piece(t, ids[i]);
        if (ids[i] >= 3 && ids[i] < 259) {
            dec[dl++] = (char)(ids[i] - 3);
        } else {
            size_t pl = strlen(p);
            assert_true(dl + pl <= n + 1);
            memcpy(dec + dl, p, pl);
            dl += pl;
        }
    }
    assert_int_equal(dl, n + 1);
    assert_int_equal(dec[0], ' ');
    assert_memory_equal(dec + 1, text, n);
    free(dec);
    /* Cutting into independent segments must not change the result: encode
     * again with the cut table switched off (one segment, one big heap). */
    assert_non_null(t->bigram);
    uint8_t *bg = t->bigram;
    t->bigram = NULL;
    int *ids1 = NULL;
    long k1 = tok_encode(t, text, n, &ids1, &e);
    t->bigram = bg;
    assert_int_equal(k1, k);
    assert_memory_equal(ids1, ids, (size_t)k * sizeof *ids);
    free(ids1);
    free(ids);
    ref_free(&r);
    free(text);
    tok_free(t);
}

static void test_wikitext_tok512(void **state)
{
    (void)state;
    check_wikitext("tinystories-260k/tok512.bin", 512);
}

static void test_wikitext_llama2(void **state)
{
    (void)state;
    check_wikitext("llama2-tokenizer/tokenizer.bin", 32000);
}

/* Random bytes (no NUL) biased towards UTF-8 structure: ASCII, lead bytes,
 * runs of continuation bytes, 4-byte emoji, stray invalid bytes. */
static size_t random_text(char *buf, size_t cap, const char *alphabet)
{
    size_t n = 0;
    size_t want = rnd() % cap;
    while (n + 4 < want) {
        uint32_t k = rnd() % 10;
        if (alphabet) {
            buf[n++] = alphabet[rnd() % strlen(alphabet)];
        } else if (k < 4) {
            buf[n++] = (char)(' ' + rnd() % 95);
        } else if (k == 4) {
            memcpy(buf + n, "\xF0\x9F\x98\x80", 4); /* U+1F600 */
            n += 4;
        } else if (k == 5) {
            memcpy(buf + n, "\xC3\xA9", 2); /* é */
            n += 2;
        } else if (k == 6) {
            buf[n++] = (char)(0x80 + rnd() % 64); /* stray continuation */
        } else if (k == 7) {
            buf[n++] = (char)(0xC0 + rnd() % 64); /* lead byte, maybe unfinished */
        } else if (k == 8) {
            buf[n++] = '\n';
        } else {
            buf[n++] = (char)(1 + rnd() % 255);
        }
    }
    return n;
}

static void test_random_tok512(void **state)
{
    (void)state;
    const char *tp = data_path("tinystories-260k/tok512.bin");
    SKIP_IF_ABSENT(tp);
    mx_error e = { 0 };
    tok *t = tok_load_llama2c(tp, 512, &e);
    assert_non_null(t);
    ref_tok r;
    ref_load(&r, tp, 512);
    char buf[600];
    for (int it = 0; it < 400; it++) {
        size_t n = random_text(buf, sizeof buf, NULL);
        check_same(t, &r, buf, n);
    }
    ref_free(&r);
    tok_free(t);
}

/* A synthetic vocab with many score ties, overlapping merges, multi-byte
 * pieces, a -0.0/0.0 tie, an unmergeable -1e10 piece and a NaN piece. */
static void build_tie_vocab(vocab_spec *v)
{
    vs_base(v);
    vs_add(v, " ", 1, -5);
    /* Single characters must be pieces to merge: byte-fallback tokens are
     * "<0xNN>" strings and only merge where llama2.c would (see "<0x" below). */
    const char *one[] = { "a", "b", "<", "0", "x", "4", "1", ">", "\xC3" };
    vs_adds(v, one, (int)(sizeof one / sizeof *one), -10);
    const char *two[] = { "aa", "ab", "ba", "bb", " a", " b", "a ", "\xC3\xA9" "a" };
    vs_adds(v, two, (int)(sizeof two / sizeof *two), -1);
    vs_add(v, "aaa", 3, -1);
    vs_add(v, "aab", 3, -1);
    vs_add(v, "aba", 3, -0.0f);
    vs_add(v, "bab", 3, 0.0f);
    vs_add(v, "abab", 4, -2);
    vs_add(v, "aaaa", 4, -1);
    vs_add(v, " aa", 3, -1);
    vs_add(v, "bbb", 3, -1e10f);   /* never merged by llama2.c */
    vs_add(v, "bbbb", 4, NAN);     /* never merged either */
    vs_add(v, "\xC3\xA9", 2, -3);  /* é */
    vs_add(v, "\xF0\x9F\x98\x80", 4, -3);
    vs_add(v, "\xF0\x9F\x98\x80\xF0\x9F\x98\x80", 8, -1);
    vs_add(v, "<0x", 3, -1); /* "<0x" + "41>" gives the piece "<0x41>": byte token 'A' */
    vs_add(v, "<0", 2, -1);
    vs_add(v, "41>", 3, -1);
    vs_add(v, "41", 2, -1);
}

/* build_tie_vocab written to tmp_path(name), which it returns. */
static const char *tie_vocab_file(vocab_spec *v, const char *name)
{
    build_tie_vocab(v);
    const char *p = tmp_path(name);
    vs_write(v, p);
    return p;
}

static void test_ties_synthetic(void **state)
{
    (void)state;
    vocab_spec v = { 0 };
    const char *p = tie_vocab_file(&v, "ties.bin");
    mx_error e = { 0 };
    tok *t = l2c_ok(p, v.n);
    ref_tok r;
    ref_load(&r, p, v.n);
    char buf[300];
    for (int it = 0; it < 3000; it++) {
        size_t n = random_text(buf, it < 1500 ? 24 : sizeof buf, it % 3 == 2 ? NULL : "ab a<0x41>");
        check_same(t, &r, buf, n);
    }
    const char *fixed[] = { "", "a", "aaaa", "aaaaa", "abababab", "<0x41>", "bbbbbbb",
                            "\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80", "\x80\x80\x80\x80\x80",
                            "\xC3\xA9\xA9\xA9\xA9\xA9", "a\x80\x80\x80\x80" };
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        check_same(t, &r, fixed[i], strlen(fixed[i]));
    /* Hand-checked: " " a a a a: " a" and "aa" tie at -1, leftmost " a" wins;
     * then " aa" and "aa" tie, " aa" wins; then "aa": BOS, " aa", "aa". */
    int *ids = NULL;
    long k = tok_encode(t, "aaaa", 4, &ids, &e);
    assert_int_equal(k, 3);
    assert_string_equal(tok_piece(t, ids[1]), " aa");
    assert_string_equal(tok_piece(t, ids[2]), "aa");
    free(ids);
    /* llama2.c merges "<0x" and "41>" into the byte token of 'A'. */
    k = tok_encode(t, "<0x41>", 6, &ids, &e);
    assert_int_equal(k, 3);
    assert_int_equal(ids[2], 'A' + 3);
    free(ids);
    ref_free(&r);
    tok_free(t);
    vs_free(&v);
}

static void test_empty_and_nul(void **state)
{
    (void)state;
    vocab_spec v = { 0 };
    const char *p = tie_vocab_file(&v, "empty.bin");
    mx_error e = { 0 };
    tok *t = l2c_ok(p, v.n);
    int *ids = NULL;
    assert_int_equal(tok_encode(t, "", 0, &ids, &e), 1);
    assert_int_equal(ids[0], 1);
    free(ids);
    assert_int_equal(tok_encode(t, NULL, 0, &ids, &e), 1);
    free(ids);
    /* Like llama2.c's C string, the text ends at a NUL. */
    assert_int_equal(tok_encode(t, "ab\0ab", 5, &ids, &e), 3);
    assert_string_equal(tok_piece(t, ids[1]), " a"); /* ties " a"/"ab": leftmost */
    assert_string_equal(tok_piece(t, ids[2]), "b");
    free(ids);
    assert_int_equal(tok_encode(t, "\0ab", 3, &ids, &e), 1);
    free(ids);
    tok_free(t);
    vs_free(&v);
}

/* No " " piece: the dummy prefix falls back to the byte token of ' '. */
static void test_no_space_piece(void **state)
{
    (void)state;
    vocab_spec v = { 0 };
    vs_base(&v);
    vs_add(&v, "h", 1, -2);
    vs_add(&v, "i", 1, -2);
    vs_add(&v, "hi", 2, -1);
    const char *p = tmp_path("nospace.bin");
    mx_error e = { 0 };
    tok *t = vs_write_load(&v, p, -1);
    assert_int_equal(tok_vocab_size(t), 262);
    int *ids = NULL;
    assert_int_equal(tok_encode(t, "hi!", 3, &ids, &e), 4);
    assert_int_equal(ids[1], ' ' + 3);
    assert_int_equal(ids[2], 261);
    assert_int_equal(ids[3], '!' + 3);
    free(ids);
    tok_free(t);
    vs_free(&v);
    /* A vocab too small for byte fallback: a clear error, not a bad id. */
    vocab_spec w = { 0 };
    const char *tiny[] = { "<unk>", "<s>", "</s>", " " };
    vs_adds(&w, tiny, 4, 0);
    t = vs_write_load(&w, p, 4);
    assert_int_equal(tok_encode(t, " ", 1, &ids, &e), 3);
    free(ids);
    e.msg[0] = '\0';
    assert_true(tok_encode(t, "x", 1, &ids, &e) < 0);
    assert_null(ids);
    assert_non_null(strstr(e.msg, "byte"));
    tok_free(t);
    vs_free(&w);
}

/* tok_open picks the loader by the name: the same llama2.c bytes load from
 * a .bin name and are read (and rejected) as tokenizer.json from a .json name;
 * without a name it is MODEL_PATH/tokenizer.json. */
static void test_open_by_name(void **state)
{
    (void)state;
    vocab_spec v = { 0 };
    vs_base(&v);
    vs_add(&v, "hi", 2, -1);
    const char *bin = tmp_path("open.bin"), *json = tmp_path("open.json");
    vs_write(&v, bin);
    vs_write(&v, json);
    vs_free(&v);
    mx_error e = { 0 };
    tok *t = tok_open(bin, "/nonexistent-model", -1, &e);
    assert_non_null(t);
    assert_int_equal(tok_vocab_size(t), 260);
    /* the window BOS: BOS, else EOS, else none */
    assert_true(tok_bos(t) >= 0);
    assert_int_equal(tok_window_bos(t), tok_bos(t));
    assert_int_equal(tok_set_special(t, -1, 2), 0);
    assert_int_equal(tok_window_bos(t), 2);
    assert_int_equal(tok_set_special(t, -1, -1), 0);
    assert_int_equal(tok_window_bos(t), -1);
    tok_free(t);
    assert_null(tok_open(json, NULL, -1, &e));
    assert_non_null(strstr(e.msg, "open.json"));
    assert_null(tok_open(NULL, tmpdir, -1, &e));
    assert_non_null(strstr(e.msg, "tokenizer.json"));
    assert_null(tok_open(NULL, NULL, -1, &e));
    assert_int_equal(e.code, ERR_ARG);
    unlink(bin);
    unlink(json);
}

static void expect_load_fail(const char *path, int vocab, const char *what)
{
    mx_error e = { 0 };
    tok *t = tok_load_llama2c(path, vocab, &e);
    if (t) {
        fprintf(stderr, "loaded %s (%s) but should not have\n", path, what);
        tok_free(t);
        fail();
    }
    assert_true(e.code < 0);
    assert_non_null(strstr(e.msg, path));
    assert_null(strchr(e.msg, '\n'));
}

static void test_truncated_corrupt(void **state)
{
    (void)state;
    vocab_spec v = { 0 };
    const char *p = tie_vocab_file(&v, "full.bin"), *q = tmp_path("cut.bin");
    size_t n;
    char *b = fb_slurp(p, &n);
    for (size_t cut = 0; cut < n; cut++) {
        fb_spill(q, b, cut);
        expect_load_fail(q, v.n, "truncated");
    }
    /* Corrupt lengths and header. */
    char *c = malloc(n);
    int32_t bad[] = { -1, 1000, INT32_MAX };
    for (size_t i = 0; i < 3; i++) {
        memcpy(c, b, n);
        memcpy(c + 4 + 4, &bad[i], 4); /* token 0's length */
        fb_spill(q, c, n);
        expect_load_fail(q, v.n, "bad length");
    }
    int32_t badmax[] = { 0, -7, 1 << 30 };
    for (size_t i = 0; i < 3; i++) {
        memcpy(c, b, n);
        memcpy(c, &badmax[i], 4);
        fb_spill(q, c, n);
        expect_load_fail(q, v.n, "bad max_token_length");
    }
    free(c);
    expect_load_fail(tmp_path("missing.bin"), 10, "missing");
    expect_load_fail(tmpdir, 10, "a directory");
    expect_load_fail(p, v.n + 1, "vocab larger than the file");
    /* A smaller vocab_size reads a prefix, as llama2.c does. */
    mx_error e = { 0 };
    tok *t = tok_load_llama2c(p, 270, &e);
    assert_non_null(t);
    assert_int_equal(tok_vocab_size(t), 270);
    tok_free(t);
    free(b);
    vs_free(&v);
}

static void test_truncated_real(void **state)
{
    (void)state;
    const char *tp = data_path("tinystories-260k/tok512.bin");
    SKIP_IF_ABSENT(tp);
    size_t n;
    char *b = fb_slurp(tp, &n);
    const char *q = tmp_path("tok512_cut.bin");
    for (size_t cut = 0; cut < n; cut++) {
        fb_spill(q, b, cut);
        expect_load_fail(q, 512, "truncated tok512");
    }
    free(b);
}


/* ------------------------------------------------------ HF tokenizer.json */

#include <jansson.h>

/* Raw bytes -> byte-level text (static buffer, rotated). */
static const char *bl(const char *raw)
{
    static char buf[4][256];
    static int k;
    char *o = buf[k++ & 3];
    tm_byte_level(raw, o, sizeof buf[0]);
    return o;
}

/* A BPE model whose vocab holds the 256 bytes at id = byte value. */
static json_t *hf_model(json_t **vocab, json_t **merges)
{
    json_t *m = json_object();
    *vocab = json_object();
    *merges = json_array();
    for (int b = 1; b < 256; b++) {
        char raw[2] = { (char)b, 0 };
        json_object_set_new(*vocab, bl(raw), json_integer(b));
    }
    json_object_set_new(*vocab, "\xC4\x80", json_integer(0)); /* byte 0 is U+0100 */
    json_object_set_new(m, "type", json_string("BPE"));
    json_object_set_new(m, "dropout", json_null());
    json_object_set_new(m, "unk_token", json_null());
    json_object_set_new(m, "vocab", *vocab);
    json_object_set_new(m, "merges", *merges);
    return m;
}

/* Merge raw a + raw b, adding the result to the vocab as id. */
static void hf_merge(json_t *vocab, json_t *merges, const char *a, const char *b, int id, int pair)
{
    char ab[128];
    snprintf(ab, sizeof ab, "%s%s", a, b);
    json_object_set_new(vocab, bl(ab), json_integer(id));
    if (pair) {
        json_array_append_new(merges, json_pack("[ss]", bl(a), bl(b)));
    } else {
        char m[300];
        snprintf(m, sizeof m, "%s %s", bl(a), bl(b));
        json_array_append_new(merges, json_string(m));
    }
}

/* hf_merge for each pair in turn, ids from first_id on. */
static void hf_merges(json_t *vocab, json_t *merges, const char *const (*ab)[2], int n, int first_id, int pair)
{
    for (int i = 0; i < n; i++)
        hf_merge(vocab, merges, ab[i][0], ab[i][1], first_id + i, pair);
}

static json_t *hf_added(int id, const char *content, int lstrip, int rstrip, int single_word)
{
    return json_pack("{si ss sb sb sb sb sb}", "id", id, "content", content, "single_word",
                     single_word, "lstrip", lstrip, "rstrip", rstrip, "normalized", 0, "special", 1);
}

static json_t *bytelevel(int add_prefix_space, int use_regex)
{
    return json_pack("{ss sb sb sb}", "type", "ByteLevel", "add_prefix_space", add_prefix_space,
                     "trim_offsets", 1, "use_regex", use_regex);
}

static json_t *split_re(const char *re)
{
    return json_pack("{ss s{ss} ss sb}", "type", "Split", "pattern", "Regex", re, "behavior",
                     "Isolated", "invert", 0);
}

static json_t *template_bos(const char *name, int id)
{
    return json_pack("{ss s[{s{ss si}}, {s{ss si}}] s[{s{ss si}}, {s{ss si}}, {s{ss si}}] s{s{ss s[i] s[s]}}}",
                     "type", "TemplateProcessing", "single", "SpecialToken", "id", name, "type_id", 0,
                     "Sequence", "id", "A", "type_id", 0, "pair", "SpecialToken", "id", name,
                     "type_id", 0, "Sequence", "id", "A", "type_id", 0, "Sequence", "id", "B",
                     "type_id", 1, "special_tokens", name, "id", name, "ids", id, "tokens", name);
}

static const char *GPT2_RE =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
static const char *LLAMA3_RE = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
                               "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char *QWEN_RE = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
                             "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

static tok *hf_write_load(json_t *root, const char *name)
{
    const char *p = tmp_path(name);
    assert_int_equal(json_dump_file(root, p, JSON_INDENT(1)), 0);
    json_decref(root);
    mx_error e = { 0 };
    tok *t = tok_load_hf(p, &e);
    if (!t)
        fprintf(stderr, "load failed: %s\n", e.msg);
    assert_non_null(t);
    return t;
}

static void expect_ids(const tok *t, const char *text, size_t len, const int *want, long n)
{
    int *got = NULL;
    mx_error e = { 0 };
    long k = tok_encode(t, text, len, &got, &e);
    if (k != n) {
        fprintf(stderr, "'%.*s': got %ld ids, want %ld (%s):", (int)len, text, k, n, e.msg);
        for (long i = 0; i < k; i++)
            fprintf(stderr, " %d", got[i]);
        fprintf(stderr, "\n");
        fail();
    }
    for (long i = 0; i < n; i++)
        if (got[i] != want[i]) {
            fprintf(stderr, "'%.*s': id %ld is %d, want %d\n", (int)len, text, i, got[i], want[i]);
            fail();
        }
    free(got);
}
#define EXPECT(t, text, ...)                                                                    \
    do {                                                                                        \
        const int w_[] = { __VA_ARGS__ };                                                       \
        expect_ids(t, text, strlen(text), w_, (long)(sizeof w_ / sizeof *w_));                   \
    } while (0)

/* GPT-2 layout: ByteLevel(use_regex) alone, "a b" merges, ByteLevel post-processor. */
static json_t *gpt2_json(int add_prefix_space)
{
    json_t *vocab, *merges, *root = json_object();
    json_object_set_new(root, "model", hf_model(&vocab, &merges));
    static const char *const ab[][2] = { /* ids 256.. */
        { " ", "t" }, { "h", "e" }, { " t", "he" }, { "i", "s" }, { " ", "is" },
        { "'", "s" }, { "1", "2" }, { " ", " " },   { "\n", "\n" } };
    hf_merges(vocab, merges, ab, (int)(sizeof ab / sizeof *ab), 256, 0);
    json_object_set_new(vocab, "<|endoftext|>", json_integer(265));
    json_object_set_new(root, "added_tokens", json_pack("[o]", hf_added(265, "<|endoftext|>", 0, 0, 0)));
    json_object_set_new(root, "normalizer", json_null());
    json_object_set_new(root, "pre_tokenizer", bytelevel(add_prefix_space, 1));
    json_object_set_new(root, "post_processor", bytelevel(1, 1));
    return root;
}

static void test_hf_gpt2(void **state)
{
    (void)state;
    tok *t = hf_write_load(gpt2_json(0), "gpt2.json");
    assert_int_equal(tok_vocab_size(t), 266);
    assert_int_equal(tok_bos(t), -1);
    assert_int_equal(tok_eos(t), 265);
    assert_string_equal(tok_piece(t, 258), " the");
    assert_string_equal(tok_piece(t, 264), "\n\n");
    assert_string_equal(tok_piece(t, 265), "<|endoftext|>");
    assert_int_equal(tok_id(t, " the", 4), 258);
    /* Pieces: the | cat | 's | 12 | is | \n\n_ | _the (the last space of a run
     * goes to the next word); merges by rank inside each. */
    EXPECT(t, "the cat's 12 is\n\n  the", 116, 257, 32, 99, 97, 116, 261, 32, 262, 260, 264, 32, 258);
    EXPECT(t, "hi<|endoftext|>the", 104, 105, 265, 116, 257);
    EXPECT(t, "<|endoftext|><|endoftext|>", 265, 265);
    EXPECT(t, "<|endoftext", 60, 124, 101, 110, 100, 111, 102, 116, 101, 120, 116);
    EXPECT(t, "  ", 263);        /* whitespace at the end stays one piece */
    EXPECT(t, "a  b", 97, 32, 32, 98); /* "a", " ", " b": no "  " piece to merge */
    EXPECT(t, "'S", 39, 83);     /* GPT-2 contractions are case-sensitive */
    EXPECT(t, "\xff\xfe", 255, 254); /* invalid UTF-8 bytes pass through */
    int *ids = NULL;
    mx_error e = { 0 };
    assert_int_equal(tok_encode(t, "", 0, &ids, &e), 0);
    free(ids);
    tok_free(t);
    /* add_prefix_space: " " is prepended to the text (and to each added-token gap). */
    t = hf_write_load(gpt2_json(1), "gpt2p.json");
    EXPECT(t, "the", 258);
    EXPECT(t, "is<|endoftext|>is", 260, 265, 260);
    tok_free(t);
}

/* Qwen2/3 layout: NFC, Split(Qwen regex) + ByteLevel(no regex), pair merges, BOS template. */
static void test_hf_qwen(void **state)
{
    (void)state;
    json_t *vocab, *merges, *root = json_object();
    json_object_set_new(root, "model", hf_model(&vocab, &merges));
    static const char *const ab[][2] = { /* ids 256.., as pairs */
        { "H", "e" }, { "l", "l" }, { "He", "ll" }, { "Hell", "o" },
        { " ", "w" }, { "\xC3", "\xA9" } /* é */, { " ", "\n" }, { "'", "M" } };
    hf_merges(vocab, merges, ab, (int)(sizeof ab / sizeof *ab), 256, 1);
    json_object_set_new(root, "added_tokens",
                        json_pack("[o,o]", hf_added(264, "<bos>", 0, 0, 0),
                                  hf_added(265, "<|im_end|>", 0, 0, 0)));
    json_object_set_new(root, "normalizer", json_pack("{ss}", "type", "NFC"));
    json_object_set_new(root, "pre_tokenizer",
                        json_pack("{ss s[o,o]}", "type", "Sequence", "pretokenizers",
                                  split_re(QWEN_RE), bytelevel(0, 0)));
    json_object_set_new(root, "post_processor", template_bos("<bos>", 264));
    tok *t = hf_write_load(root, "qwen.json");
    assert_int_equal(tok_bos(t), 264);
    /* Hello | _world | 1 | _\n\n | I | 'M | _café (NFC of e + U+0301) | <|im_end|> */
    EXPECT(t, "Hello world1 \n\nI'M cafe\xCC\x81<|im_end|>", 264, 259, 260, 111, 114, 108, 100, 49,
           262, 10, 73, 263, 32, 99, 97, 102, 261, 265);
    EXPECT(t, "caf\xC3\xA9", 264, 99, 97, 102, 261);
    EXPECT(t, "12", 264, 49, 50); /* one digit per piece */
    EXPECT(t, "", 264);
    tok_free(t);
}

/* Llama 3 layout: Llama-3 regex, ignore_merges, Sequence[ByteLevel, Template] post-processor. */
static void test_hf_llama3(void **state)
{
    (void)state;
    for (int ignore = 0; ignore < 2; ignore++) {
        json_t *vocab, *merges, *root = json_object();
        json_t *model = hf_model(&vocab, &merges);
        json_object_set_new(model, "ignore_merges", json_boolean(ignore));
        json_object_set_new(root, "model", model);
        json_object_set_new(vocab, bl(" x"), json_integer(256)); /* reachable only whole */
        json_object_set_new(vocab, "123", json_integer(257));
        hf_merge(vocab, merges, "!", "!", 258, 0);
        json_object_set_new(root, "added_tokens",
                            json_pack("[o,o]", hf_added(259, "<|begin_of_text|>", 0, 0, 0),
                                      hf_added(260, "<|end_of_text|>", 0, 0, 0)));
        json_object_set_new(root, "pre_tokenizer",
                            json_pack("{ss s[o,o]}", "type", "Sequence", "pretokenizers",
                                      split_re(LLAMA3_RE), bytelevel(0, 0)));
        json_object_set_new(root, "post_processor",
                            json_pack("{ss s[o,o]}", "type", "Sequence", "processors", bytelevel(1, 0),
                                      template_bos("<|begin_of_text|>", 259)));
        tok *t = hf_write_load(root, "llama3.json");
        assert_int_equal(tok_bos(t), 259);
        assert_int_equal(tok_eos(t), 260);
        /* Go | _ | 123 | 45 | !!\n | _ | _x | .Yz */
        if (ignore)
            EXPECT(t, "Go 12345!!\n  x.Yz", 259, 71, 111, 32, 257, 52, 53, 258, 10, 32, 256, 46, 89,
                   122);
        else
            EXPECT(t, "Go 12345!!\n  x.Yz", 259, 71, 111, 32, 49, 50, 51, 52, 53, 258, 10, 32, 32,
                   120, 46, 89, 122);
        tok_free(t);
    }
}

/* SmolLM2 layout: Digits(individual) then ByteLevel(use_regex). */
static void test_hf_smollm2(void **state)
{
    (void)state;
    for (int v = 0; v < 3; v++) {
        json_t *vocab, *merges, *root = json_object();
        json_object_set_new(root, "model", hf_model(&vocab, &merges));
        hf_merge(vocab, merges, "a", "b", 256, 0);
        hf_merge(vocab, merges, " ", "1", 257, 0);
        json_t *pre = v == 0 ? bytelevel(0, 1)
                             : json_pack("{ss s[{ss sb},o]}", "type", "Sequence", "pretokenizers", "type",
                                         "Digits", "individual_digits", 1, bytelevel(v == 2, 1));
        json_object_set_new(root, "pre_tokenizer", pre);
        tok *t = hf_write_load(root, "smol.json");
        if (v == 0)
            EXPECT(t, "ab 12", 256, 257, 50); /* ab | _12 */
        else if (v == 1)
            EXPECT(t, "ab 12", 256, 32, 49, 50); /* ab_ | 1 | 2, then ab | _ */
        else
            EXPECT(t, "ab 12", 32, 256, 32, 257, 32, 50); /* each piece gets its space */
        tok_free(t);
    }
}

/* lstrip / rstrip / single_word on added tokens; unk and dropped bytes. */
static void test_hf_added_unk(void **state)
{
    (void)state;
    json_t *vocab, *merges, *root = json_object();
    json_t *model = hf_model(&vocab, &merges);
    json_object_del(vocab, "z");
    json_object_set_new(root, "model", model);
    json_object_set_new(root, "added_tokens",
                        json_pack("[o,o,o,o]", hf_added(256, "<m>", 1, 1, 0), hf_added(257, "cat", 0, 0, 1),
                                  hf_added(258, "<m>x", 0, 0, 0), hf_added(259, "<unk>", 0, 0, 0)));
    json_object_set_new(root, "pre_tokenizer", bytelevel(0, 1));
    tok *t = hf_write_load(json_deep_copy(root), "added.json");
    EXPECT(t, "a <m> b", 97, 256, 98);   /* the spaces go into <m> */
    EXPECT(t, "a <m>xb", 97, 32, 258, 98); /* longest match wins (and has no lstrip) */
    EXPECT(t, "cat cats", 257, 32, 99, 97, 116, 115); /* single_word: not inside "cats" */
    EXPECT(t, "zaz", 97);                /* no 'z' in the vocab, no unk: dropped */
    tok_free(t);
    json_t *m = json_object_get(root, "model");
    json_object_set_new(m, "unk_token", json_string("<unk>"));
    json_object_set_new(m, "fuse_unk", json_true());
    json_object_set_new(json_object_get(m, "vocab"), "<unk>", json_integer(259));
    t = hf_write_load(root, "unk.json");
    EXPECT(t, "zzaz", 259, 97, 259);     /* fused unknowns */
    tok_free(t);
}

static void expect_hf_fail(const char *p, const char *needle)
{
    mx_error e = { 0 };
    tok *t = tok_load_hf(p, &e);
    if (t) {
        fprintf(stderr, "loaded %s but should not have (%s)\n", p, needle);
        tok_free(t);
        fail();
    }
    assert_non_null(strstr(e.msg, p));
    assert_null(strchr(e.msg, '\n'));
    if (needle && !strstr(e.msg, needle)) {
        fprintf(stderr, "message '%s' lacks '%s'\n", e.msg, needle);
        fail();
    }
}

static void hf_fail_case(json_t *root, const char *needle)
{
    const char *p = tmp_path("bad.json");
    assert_int_equal(json_dump_file(root, p, 0), 0);
    json_decref(root);
    expect_hf_fail(p, needle);
}

static void test_hf_errors(void **state)
{
    (void)state;
    expect_hf_fail(tmp_path("nope.json"), "cannot open");
    /* Every truncation of a valid file is invalid JSON: NULL and a message. */
    const char *p = tmp_path("full.json"), *q = tmp_path("cut.json");
    json_t *g = gpt2_json(0);
    assert_int_equal(json_dump_file(g, p, JSON_INDENT(1)), 0);
    json_decref(g);
    size_t n;
    char *b = fb_slurp(p, &n);
    char *last = strrchr(b, '}');
    for (size_t cut = 0; cut <= (size_t)(last - b); cut++) {
        fb_spill(q, b, cut);
        expect_hf_fail(q, NULL);
    }
    free(b);
    json_t *r;
    r = gpt2_json(0);
    json_object_set_new(r, "pre_tokenizer",
                        json_pack("{ss s[o,o]}", "type", "Sequence", "pretokenizers",
                                  split_re("\\w+|\\s+"), bytelevel(0, 0)));
    hf_fail_case(r, "unknown regex");
    r = gpt2_json(0);
    json_object_set_new(r, "pre_tokenizer", json_pack("{ss}", "type", "Metaspace"));
    hf_fail_case(r, "Metaspace");
    r = gpt2_json(0);
    json_object_set_new(json_object_get(r, "model"), "type", json_string("WordPiece"));
    hf_fail_case(r, "WordPiece");
    r = gpt2_json(0);
    json_array_append_new(json_object_get(json_object_get(r, "model"), "merges"), json_string("q \xC3\xA6"));
    hf_fail_case(r, "not in the vocab");
    r = gpt2_json(0);
    json_array_append_new(json_object_get(json_object_get(r, "model"), "merges"), json_string("abc"));
    hf_fail_case(r, "merge 9");
    r = gpt2_json(0);
    json_object_set_new(r, "normalizer", json_pack("{ss}", "type", "NFKD"));
    hf_fail_case(r, "NFKD");
    r = gpt2_json(0);
    json_object_set_new(r, "post_processor", json_pack("{ss}", "type", "RobertaProcessing"));
    hf_fail_case(r, "RobertaProcessing");
    r = gpt2_json(0);
    json_object_set_new(json_object_get(json_object_get(r, "model"), "vocab"), "dup", json_integer(5));
    hf_fail_case(r, "twice");
    /* Ids may leave gaps, but not so many that the tables outgrow the file. */
    r = gpt2_json(0);
    json_object_set_new(json_object_get(json_object_get(r, "model"), "vocab"), "far", json_integer(4000000));
    hf_fail_case(r, "too many unused");
    r = gpt2_json(0);
    json_object_set_new(json_object_get(json_object_get(r, "model"), "vocab"), "near", json_integer(60000));
    const char *pg = tmp_path("gap.json");
    assert_int_equal(json_dump_file(r, pg, 0), 0);
    json_decref(r);
    mx_error eg = { 0 };
    tok *tg = tok_load_hf(pg, &eg);
    assert_non_null(tg);
    assert_int_equal(tok_vocab_size(tg), 60001);
    tok_free(tg);
    r = gpt2_json(0);
    json_object_del(r, "model");
    hf_fail_case(r, "model");
    hf_fail_case(json_array(), "object");
    /* Wrong JSON types in every place the loader looks. */
    const char *paths[][2] = { { "model", "vocab" }, { "model", "merges" }, { "", "added_tokens" },
                               { "", "pre_tokenizer" }, { "", "post_processor" }, { "", "normalizer" } };
    json_t *junk[] = { json_integer(3), json_string("x"), json_pack("[i]", 1), json_pack("{si}", "type", 4),
                       json_pack("{ss}", "type", "Sequence"), json_pack("[{si}]", "id", 1) };
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++)
        for (size_t j = 0; j < sizeof junk / sizeof *junk; j++) {
            r = gpt2_json(0);
            json_t *at = paths[i][0][0] ? json_object_get(r, paths[i][0]) : r;
            json_object_set(at, paths[i][1], junk[j]);
            const char *p2 = tmp_path("junk.json");
            assert_int_equal(json_dump_file(r, p2, 0), 0);
            json_decref(r);
            mx_error e = { 0 };
            tok *t = tok_load_hf(p2, &e);
            if (t) { /* only harmless placements may load; they must still encode */
                int *ids = NULL;
                assert_true(tok_encode(t, "a b", 3, &ids, &e) >= 0);
                free(ids);
                tok_free(t);
            } else {
                assert_non_null(strstr(e.msg, p2));
            }
        }
    for (size_t j = 0; j < sizeof junk / sizeof *junk; j++)
        json_decref(junk[j]);
    /* A template naming a special token it does not define. */
    r = gpt2_json(0);
    json_t *tp = template_bos("<s>", 1);
    json_object_set_new(tp, "special_tokens", json_object());
    json_object_set_new(r, "post_processor", tp);
    hf_fail_case(r, "<s>");
    /* A template id beyond the vocab. */
    r = gpt2_json(0);
    json_object_set_new(r, "post_processor", template_bos("<s>", 1000));
    hf_fail_case(r, "beyond");
    /* Split with an unsupported behavior. */
    r = gpt2_json(0);
    json_t *sp = split_re(GPT2_RE);
    json_object_set_new(sp, "behavior", json_string("Removed"));
    json_object_set_new(r, "pre_tokenizer", json_pack("{ss s[o,o]}", "type", "Sequence",
                                                      "pretokenizers", sp, bytelevel(0, 0)));
    hf_fail_case(r, "Removed");
}

/* The pre-tokenizer regexes on tricky strings (pieces checked through a
 * vocab without merges: each byte is one id, so pieces show as byte runs
 * separated only by what the regex does; ByteLevel prefix spaces reveal them). */
static void test_hf_pretok_pieces(void **state)
{
    (void)state;
    /* With add_prefix_space after the Split, every piece not starting with a
     * space gets one: the count of 32s reveals the piece boundaries. */
    const struct {
        const char *re, *text;
        const char *pieces; /* pieces joined by '|' */
    } cases[] = {
        { GPT2_RE, "I'll don't WE'RE", "I|'ll| don|'t| WE|'|RE" },
        { GPT2_RE, "a\t\t\nb", "a|\t\t|\n|b" },
        { GPT2_RE, "x  \n", "x|  \n" },
        { GPT2_RE, "\xC3\xA9t\xC3\xA9 42\xC2\xB2!?", "\xC3\xA9t\xC3\xA9| 42\xC2\xB2|!?" },
        { LLAMA3_RE, "I'LL it's 2024", "I|'LL| it|'s| |202|4" },
        { LLAMA3_RE, "a \n\n b", "a| \n\n| b" },
        { LLAMA3_RE, "x.\r\n\r\ny", "x|.\r\n\r\n|y" },
        { LLAMA3_RE, "\"Hi\"", "\"Hi|\"" },
        { QWEN_RE, "v1.23", "v|1|.|2|3" },
        { QWEN_RE, "\xE4\xB8\xAD\xE6\x96\x87 ok", "\xE4\xB8\xAD\xE6\x96\x87| ok" },
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        json_t *vocab, *merges, *root = json_object();
        json_object_set_new(root, "model", hf_model(&vocab, &merges));
        json_object_set_new(root, "pre_tokenizer",
                            json_pack("{ss s[o,o]}", "type", "Sequence", "pretokenizers",
                                      split_re(cases[c].re), bytelevel(1, 0)));
        tok *t = hf_write_load(root, "pieces.json");
        /* Expected ids: each piece, prefixed by a space unless it starts with one. */
        int want[128];
        long nw = 0;
        const char *s = cases[c].pieces;
        int at_start = 1;
        for (; *s; s++) {
            if (*s == '|') {
                at_start = 1;
                continue;
            }
            if (at_start && *s != ' ')
                want[nw++] = ' ';
            at_start = 0;
            want[nw++] = (unsigned char)*s;
        }
        expect_ids(t, cases[c].text, strlen(cases[c].text), want, nw);
        tok_free(t);
    }
}

/* Random text (invalid UTF-8, emoji, combining marks, CR/LF runs) through the
 * GPT-2 and Llama-3 layouts: the pieces of the ids must spell the text back. */
static void test_hf_roundtrip_random(void **state)
{
    (void)state;
    for (int layout = 0; layout < 2; layout++) {
        json_t *root = gpt2_json(0);
        if (layout == 1) {
            json_object_set_new(root, "normalizer", json_pack("{ss}", "type", "NFC"));
            json_object_set_new(root, "pre_tokenizer",
                                json_pack("{ss s[o,o]}", "type", "Sequence", "pretokenizers",
                                          split_re(LLAMA3_RE), bytelevel(0, 0)));
        }
        tok *t = hf_write_load(root, "rt.json");
        char buf[400];
        for (int it = 0; it < 1500; it++) {
            size_t n = random_text(buf, sizeof buf, NULL);
            if (it % 5 == 0 && n + 3 < sizeof buf) { /* combining accent after a letter */
                memcpy(buf + n, "e\xCC\x81", 3);
                n += 3;
            }
            const char *want = buf;
            size_t wn = n;
            char *norm = NULL;
            if (layout == 1) {
                assert_int_equal(tok_nfc(buf, n, &norm, &wn), 0);
                want = norm;
            }
            int *ids = NULL;
            mx_error e = { 0 };
            long k = tok_encode(t, buf, n, &ids, &e);
            assert_true(k >= 0);
            char *dec = malloc(wn + 1);
            size_t dl = 0;
            for (long i = 0; i < k; i++) {
                const char *p = tok_piece(t, ids[i]);
                size_t pl = strlen(p);
                assert_true(dl + pl <= wn);
                memcpy(dec + dl, p, pl);
                dl += pl;
            }
            assert_int_equal(dl, wn);
            assert_memory_equal(dec, want, wn);
            free(dec);
            free(norm);
            free(ids);
        }
        tok_free(t);
    }
}

/* Random byte mutations of a tokenizer.bin and a tokenizer.json: loading
 * either fails with a message naming the file or gives a tokenizer that
 * encodes random text without trouble (ASan/UBSan watch). */
static void test_mutations(void **state)
{
    (void)state;
    vocab_spec v = { 0 };
    const char *p = tie_vocab_file(&v, "m.bin"), *q = tmp_path("mut");
    int nv = v.n;
    vs_free(&v);
    const char *j = tmp_path("m.json");
    json_t *g = gpt2_json(1);
    assert_int_equal(json_dump_file(g, j, 0), 0);
    json_decref(g);
    for (int kind = 0; kind < 2; kind++) {
        size_t n;
        char *orig = fb_slurp(kind ? j : p, &n);
        char *b = malloc(n);
        char text[200];
        for (int it = 0; it < 600; it++) {
            memcpy(b, orig, n);
            int flips = 1 + (int)(rnd() % 4);
            for (int f = 0; f < flips; f++)
                b[rnd() % n] = kind && rnd() % 2 ? "{}[]\",:0a \\"[rnd() % 11] : (char)rnd();
            fb_spill(q, b, n);
            mx_error e = { 0 };
            tok *t = kind ? tok_load_hf(q, &e) : tok_load_llama2c(q, rnd() % 2 ? -1 : nv, &e);
            if (!t) {
                assert_non_null(strstr(e.msg, q));
                continue;
            }
            for (int r = 0; r < 5; r++) {
                size_t tn = random_text(text, sizeof text, NULL);
                int *ids = NULL;
                long k = tok_encode(t, text, tn, &ids, &e);
                for (long i = 0; i < k; i++) {
                    assert_true(ids[i] >= 0 && ids[i] < tok_vocab_size(t));
                    (void)tok_piece(t, ids[i]);
                }
                free(ids);
            }
            tok_free(t);
        }
        free(b);
        free(orig);
    }
}

/* NFC against values computed with Python's unicodedata.normalize. */
static void test_nfc(void **state)
{
    (void)state;
    const struct {
        const char *in, *out;
        int quick; /* tok_nfc_quick's answer */
    } cases[] = {
        { "a\xCC\x87\xCC\xA3", "\xE1\xBA\xA1\xCC\x87", 0 },  /* reorder, then compose */
        { "\xE2\x84\xAB", "\xC3\x85", 0 },                   /* singleton: Angstrom sign */
        { "\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8", "\xEA\xB0\x81", 0 }, /* Hangul L V T */
        { "e\xCC\x81\xCC\x81", "\xC3\xA9\xCC\x81", 0 },      /* second accent is blocked */
        { "\xCD\x84", "\xCC\x88\xCC\x81", 0 },               /* non-starter decomposition */
        { "A\xCC\x8A\xCC\xA3", "\xE1\xBA\xA0\xCC\x8A", 0 },
        { "x\xCC\x80\xCC\x95\xCC\x80", "x\xCC\x80\xCC\x80\xCC\x95", 0 },
        { "caf\xC3\xA9 \xE4\xB8\xAD", "caf\xC3\xA9 \xE4\xB8\xAD", 1 },
        { "plain ascii", "plain ascii", 1 },
        { "bad \xFF\xC3 byte\xCC\x81s", "bad \xFF\xC3 byt\xC3\xA9s", 0 }, /* invalid bytes kept */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *in = cases[i].in;
        char *o;
        size_t ol;
        assert_int_equal(tok_nfc(in, strlen(in), &o, &ol), 0);
        assert_int_equal(ol, strlen(cases[i].out));
        assert_memory_equal(o, cases[i].out, ol);
        assert_int_equal(tok_nfc_quick(in, strlen(in)), cases[i].quick);
        free(o);
    }
    /* Classification spot checks. */
    assert_true(tok_uc_is_letter(0x4E2D));  /* CJK */
    assert_true(tok_uc_is_letter(0x01C5));  /* Lt */
    assert_false(tok_uc_is_letter(0x0301)); /* Mn is not \p{L} */
    assert_true(tok_uc_is_number(0x00B2));  /* No: superscript two */
    assert_true(tok_uc_is_number(0x2167));  /* Nl: Roman numeral */
    assert_true(tok_uc_is_number(0x0663));  /* Nd: Arabic-Indic */
    assert_true(tok_uc_is_space(0x3000) && tok_uc_is_space(0x85) && !tok_uc_is_space(0x200B));
}


/* ------------------------------------- SentencePiece-style tokenizer.json */

#define SP "\xE2\x96\x81" /* ▁ */

/* A SentencePiece-style BPE file: text vocab, merges by rank.
 * ids: 0 <unk> 1 <s> 2 </s> 3 ▁ 4 a 5 b 6 c 7 ▁a 8 bc 9 ▁abc 10 ab 11 aa
 *      12 <0x0A> 13 <0xC3> 14 <0xA9> 15 <x> (added, normalized) 16 c▁ 17 ▁cab
 * merges (rank): ▁ a (0), b c (1), ▁a bc (2), a b (3), a a (4), c ▁ (5). */
static json_t *spm_json(int byte_fallback, int fuse_unk)
{
    json_t *v = json_pack("{si si si si si si si si si si si si si si si si si si}", "<unk>", 0, "<s>", 1,
                          "</s>", 2, SP, 3, "a", 4, "b", 5, "c", 6, SP "a", 7, "bc", 8, SP "abc", 9,
                          "ab", 10, "aa", 11, "<0x0A>", 12, "<0xC3>", 13, "<0xA9>", 14, "<x>", 15,
                          "c" SP, 16, SP "cab", 17);
    json_t *m = json_pack("[ssssss]", SP " a", "b c", SP "a bc", "a b", "a a", "c " SP);
    json_t *model = json_pack("{ss so so ss sb sb sb}", "type", "BPE", "vocab", v, "merges", m, "unk_token",
                              "<unk>", "byte_fallback", byte_fallback, "fuse_unk", fuse_unk,
                              "ignore_merges", 0);
    json_t *added = json_pack("[{si ss sb sb}, {si ss sb sb}, {si ss sb sb}, {si ss sb sb}]", "id", 0,
                              "content", "<unk>", "special", 1, "normalized", 0, "id", 1, "content", "<s>",
                              "special", 1, "normalized", 0, "id", 2, "content", "</s>", "special", 1,
                              "normalized", 0, "id", 15, "content", "<x>", "special", 0, "normalized", 1);
    json_t *norm = json_pack("{ss s[{ss ss}, {ss s{ss} ss}]}", "type", "Sequence", "normalizers", "type",
                             "Prepend", "prepend", SP, "type", "Replace", "pattern", "String", " ",
                             "content", SP);
    return json_pack("{so so so sn so}", "model", model, "added_tokens", added, "normalizer", norm,
                     "pre_tokenizer", "post_processor", template_bos("<s>", 1));
}

static json_t *metaspace(const char *scheme, int split)
{
    return json_pack("{ss ss ss sb}", "type", "Metaspace", "replacement", SP, "prepend_scheme", scheme,
                     "split", split);
}

static void expect_decode(const tok *t, const int *ids, long n, const char *want)
{
    char *d = NULL;
    mx_error e = { 0 };
    long k = tok_decode(t, ids, n, &d, &e);
    if (k != (long)strlen(want) || memcmp(d, want, (size_t)k) != 0) {
        fprintf(stderr, "decode: got '%s' (%ld), want '%s'\n", d ? d : e.msg, k, want);
        fail();
    }
    free(d);
}

static void test_hf_spm(void **state)
{
    (void)state;
    tok *t = hf_write_load(spm_json(1, 1), "spm.json");
    EXPECT(t, "abc", 1, 9);               /* ▁ a b c: ▁a, then bc, then ▁abc */
    EXPECT(t, "caaa", 1, 3, 6, 11, 4);    /* a a twice at rank 4: the leftmost first */
    EXPECT(t, "\xC3\xA9\n", 1, 3, 13, 14, 12); /* é and \n: byte fallback */
    EXPECT(t, "ab \xC3\xBC\xC3\xBC", 1, 7, 5, 3, 0); /* <0xBC> absent: <unk>, fused */
    EXPECT(t, "\xC3\xBC\xC3\xA9", 1, 3, 13, 14, 0); /* the pending <unk> is written last (library) */
    EXPECT(t, "a</s>b", 1, 7, 2, 3, 5);   /* special, not normalized: the raw text; each side ▁-prefixed */
    EXPECT(t, "a <x>", 1, 7, 15);         /* normalized added token: its pattern is "▁<x>" */
    EXPECT(t, "a<x>", 1, 7, 0);           /* "▁<x>" is not in "▁a<x>": chars, one fused <unk> */
    EXPECT(t, "", 1);
    const int d1[] = { 1, 9, 3, 13, 14, 12, 2 };
    expect_decode(t, d1, 7, "abc \xC3\xA9\n");
    tok_free(t);
    t = hf_write_load(spm_json(0, 1), "spm_nobf.json");
    EXPECT(t, "\xC3\xA9\n", 1, 3, 0);     /* no fallback: one fused <unk> */
    tok_free(t);
    t = hf_write_load(spm_json(0, 0), "spm_nofuse.json");
    EXPECT(t, "\xC3\xA9\n", 1, 3, 0, 0);
    tok_free(t);
    /* Strip, then Prepend/Replace; no post-processor: no BOS. */
    json_t *r = spm_json(1, 1);
    json_array_insert_new(json_object_get(json_object_get(r, "normalizer"), "normalizers"), 0,
                          json_pack("{ss sb sb}", "type", "Strip", "strip_left", 1, "strip_right", 1));
    json_object_set_new(r, "post_processor", json_null());
    t = hf_write_load(r, "spm_strip.json");
    EXPECT(t, "  ab \t", 7, 5);
    tok_free(t);
    /* Replace alone. */
    r = spm_json(1, 1);
    json_array_remove(json_object_get(json_object_get(r, "normalizer"), "normalizers"), 0);
    t = hf_write_load(r, "spm_repl.json");
    EXPECT(t, "a b", 1, 4, 3, 5);
    tok_free(t);
    /* ignore_merges: a whole word in the vocab is taken as is. */
    r = spm_json(1, 1);
    json_object_set_new(json_object_get(r, "model"), "ignore_merges", json_true());
    t = hf_write_load(r, "spm_ign.json");
    EXPECT(t, "cab", 1, 17);
    tok_free(t);
    r = spm_json(1, 1);
    t = hf_write_load(r, "spm_noign.json");
    EXPECT(t, "cab", 1, 3, 6, 10);
    tok_free(t);
    /* Metaspace instead of the normalizers: prepend schemes and split. */
    const struct {
        const char *scheme;
        int split;
        const char *text;
        int want[8], n;
    } ms[] = {
        { "always", 1, "c c", { 3, 6, 3, 6 }, 4 },  /* split before each ▁: no c▁ merge */
        { "always", 0, "c c", { 3, 16, 6 }, 3 },    /* one word: c▁ merges */
        { "never", 1, "ab", { 10 }, 1 },
        { "always", 1, "</s>ab", { 2, 7, 5 }, 3 },
        { "first", 1, "</s>ab", { 2, 10 }, 2 },     /* not at the start of the text: no ▁ */
        { "first", 1, "ab</s>ab", { 7, 5, 2, 10 }, 4 },
    };
    for (size_t i = 0; i < sizeof ms / sizeof *ms; i++) {
        r = spm_json(1, 1);
        json_object_set_new(r, "normalizer", json_null());
        json_object_set_new(r, "post_processor", json_null());
        json_object_set_new(r, "pre_tokenizer", metaspace(ms[i].scheme, ms[i].split));
        t = hf_write_load(r, "spm_meta.json");
        expect_ids(t, ms[i].text, strlen(ms[i].text), ms[i].want, ms[i].n);
        tok_free(t);
    }
    /* Refusals name the feature. */
    r = spm_json(1, 1);
    json_object_set_new(r, "normalizer", json_pack("{ss s{ss} ss}", "type", "Replace", "pattern", "Regex",
                                                   " +", "content", SP));
    hf_fail_case(r, "Regex");
    r = spm_json(1, 1);
    json_object_set_new(r, "normalizer", json_pack("{ss}", "type", "Lowercase"));
    hf_fail_case(r, "Lowercase");
    r = spm_json(1, 1);
    json_object_set_new(r, "pre_tokenizer", json_pack("{ss ss ss}", "type", "Metaspace", "replacement", SP,
                                                      "prepend_scheme", "sometimes"));
    hf_fail_case(r, "sometimes");
}

/* The real SentencePiece-style file of tinystories-656k (its model card). */
static void test_hf_spm_real(void **state)
{
    (void)state;
    const char *p = data_path("tinystories-656k/tokenizer.json");
    SKIP_IF_ABSENT(p);
    mx_error e = { 0 };
    tok *t = tok_load_hf(p, &e);
    assert_non_null(t);
    EXPECT(t, "Once upon a time", 1, 80, 147, 201, 282, 57);
    int *ids = NULL;
    long n = tok_encode(t, "a\rb", 3, &ids, &e);
    int unk = 0;
    for (long i = 0; i < n; i++)
        unk += ids[i] == 0;
    assert_int_equal(unk, 1); /* no <0xNN> tokens: "\r" is <unk> */
    free(ids);
    const int once[] = { 1, 80, 147, 201, 282, 57 };
    expect_decode(t, once, 6, "Once upon a time");
    assert_int_equal(tok_bos(t), 1);
    assert_int_equal(tok_eos(t), 2); /* <|end_story|>, named by tokenizer_config.json */
    tok_free(t);
}

/* tokenizer.model through libsentencepiece against llama2.c's tokenizer.bin
 * of the same vocabulary, on ordinary text (lines of the TinyStories and
 * wikitext samples). */
static void test_spm_model_vs_llama2c(void **state)
{
    (void)state;
    const char *mp = data_path("llama2-tokenizer/tokenizer.model");
    const char *bp = data_path("llama2-tokenizer/tokenizer.bin");
    const char *xp = data_path("tinystories-text/tinystories_sample_30k.txt");
    SKIP_IF_ABSENT(mp);
    SKIP_IF_ABSENT(bp);
    SKIP_IF_ABSENT(xp);
    mx_error e = { 0 };
    tok *m = tok_open(mp, NULL, -1, &e);
    assert_non_null(m);
    tok *b = tok_load_llama2c(bp, 32000, &e);
    assert_non_null(b);
    assert_int_equal(tok_vocab_size(m), 32000);
    assert_int_equal(tok_bos(m), 1);
    assert_int_equal(tok_eos(m), 2);
    size_t n;
    char *text = fb_slurp(xp, &n);
    int lines = 0;
    for (char *line = text, *end; line < text + n && lines < 400; line = end + 1) {
        end = memchr(line, '\n', (size_t)(text + n - line));
        if (!end)
            end = text + n;
        size_t len = (size_t)(end - line);
        if (len == 0)
            continue;
        int *a = NULL, *c = NULL;
        long na = tok_encode(m, line, len, &a, &e), nc = tok_encode(b, line, len, &c, &e);
        if (na != nc || memcmp(a, c, (size_t)na * sizeof *a) != 0) {
            fprintf(stderr, "line %d differs: '%.*s'\n", lines, (int)len, line);
            fail();
        }
        char *d = NULL;
        long dl = tok_decode(m, a, na, &d, &e);
        assert_int_equal(dl, (long)len);
        assert_memory_equal(d, line, len);
        free(d);
        free(a);
        free(c);
        lines++;
    }
    free(text);
    tok_free(m);
    tok_free(b);
}

/* tok_from_spec must refuse s with a message containing needle. */
static void spec_refused(const tok_spec *s, const char *name, const char *needle)
{
    mx_error e = { 0 };
    tok *t = tok_from_spec(s, name, &e);
    if (t) {
        tok_free(t);
        fail_msg("%s: accepted, but should be refused (%s)", name, needle);
    }
    assert_non_null(strstr(e.msg, needle));
}

/* lens[i] = strlen(s[i]): the lengths tok_spec wants beside its strings. */
static void str_lens(const char *const *s, size_t *lens, int n)
{
    for (int i = 0; i < n; i++)
        lens[i] = strlen(s[i]);
}

/* tok_from_spec that must succeed. */
static tok *spec_ok(const tok_spec *s, const char *name)
{
    mx_error e = { 0 };
    tok *t = tok_from_spec(s, name, &e);
    if (!t)
        fail_msg("%s: %s", name, e.msg);
    return t;
}

/* GGUF-style vocabularies (tok_spec), "llama" as llama.cpp's SPM tokenizer. */
static void test_spec_llama(void **state)
{
    (void)state;
    const char *tk[] = { "<unk>", "<s>", "</s>", SP, "a", "b", SP "a", "ab", SP "ab", "<0x0A>", "<u>", "aa" };
    const float sc[] = { 0, 0, 0, -5, -6, -6, -1, -2, -0.5f, 0, 0, -3 };
    const int ty[] = { 2, 3, 3, 1, 1, 1, 1, 1, 1, 6, 4, 1 };
    size_t lens[12];
    str_lens(tk, lens, 12);
    tok_spec s = { .model = "llama", .n_vocab = 12, .tokens = tk, .token_lens = lens, .scores = sc,
                   .types = ty, .bos = 1, .eos = 2, .unk = 0, .pad = -1, .add_bos = -1,
                   .add_eos = -1, .add_space_prefix = -1 };
    tok *t = spec_ok(&s, "spec.gguf");
    EXPECT(t, "ab", 1, 8);             /* ▁a (-1) before ab (-2), then ▁ab */
    EXPECT(t, "aaaa", 1, 6, 11, 4);    /* ▁a first; then aa (-3) at the leftmost place */
    EXPECT(t, "a\n", 1, 6, 9);         /* \n: its byte token */
    EXPECT(t, "\xC3\xA9", 1, 3, 0);    /* no byte tokens for é: unk */
    EXPECT(t, "a<u>b", 1, 6, 10, 3, 5); /* user-defined token; the text after it gets a ▁ again */
    EXPECT(t, "</s>", 1, 2);
    EXPECT(t, "", 1);
    const int d[] = { 1, 8, 9, 10, 3, 5, 2 };
    expect_decode(t, d, 7, "ab\n<u> b");
    tok_free(t);
    s.add_space_prefix = 0;
    s.add_bos = 0;
    s.add_eos = 1;
    t = spec_ok(&s, "spec.gguf");
    EXPECT(t, "ab", 7, 2);
    tok_free(t);
    /* Refusals: one line naming the problem. */
    s.model = "bert";
    spec_refused(&s, "spec.gguf", "bert");
    s.model = "llama";
    s.bos = 99;
    spec_refused(&s, "spec.gguf", "spec.gguf");
}

/* "gpt2": byte-level BPE with merges and a llama.cpp pre-tokenizer name. */
static void test_spec_gpt2(void **state)
{
    (void)state;
    const char *tk[] = { "a", "b", "\xC4\xA0", "\xC4\xA0" "a", "ab", "<|endoftext|>", "1", "2", "12" };
    const int ty[] = { 1, 1, 1, 1, 1, 3, 1, 1, 1 };
    const char *mg[] = { "\xC4\xA0 a", "a b", "1 2" };
    size_t lens[9], mlens[3];
    str_lens(tk, lens, 9);
    str_lens(mg, mlens, 3);
    tok_spec s = { .model = "gpt2", .pre = "gpt-2", .n_vocab = 9, .tokens = tk, .token_lens = lens,
                   .types = ty, .n_merges = 3, .merges = mg, .merge_lens = mlens, .bos = -1,
                   .eos = 5, .unk = -1, .pad = -1, .add_bos = -1, .add_eos = -1,
                   .add_space_prefix = -1 };
    tok *t = spec_ok(&s, "g.gguf");
    EXPECT(t, "a ab<|endoftext|>", 0, 3, 1, 5); /* " ab": Ġa first (rank 0), then no Ġa+b */
    EXPECT(t, "12", 8);
    const int d[] = { 0, 3, 1, 5 };
    expect_decode(t, d, 4, "a ab");
    assert_int_equal(tok_eos(t), 5);
    tok_free(t);
    s.pre = "smollm"; /* digits one by one: no 12 */
    t = spec_ok(&s, "g.gguf");
    EXPECT(t, "12", 6, 7);
    tok_free(t);
    s.pre = "llama-bpe"; /* adds BOS by default: none named */
    spec_refused(&s, "g.gguf", "BOS");
    s.bos = 5;
    t = spec_ok(&s, "g.gguf");
    EXPECT(t, "ab", 5, 4);
    tok_free(t);
    s.pre = "tekken";
    spec_refused(&s, "g.gguf", "tekken");
}

/* tok_open's one rule: explicit path by name, else what the model holds. */
static void test_open_discovery(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_tok_dir_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char p[600], q[600];
    mx_error e = { 0 };
    assert_null(tok_open(NULL, dir, -1, &e)); /* empty directory */
    assert_non_null(strstr(e.msg, "tokenizer.model"));
    snprintf(p, sizeof p, "%s/model.bin", dir);
    FILE *f = fopen(p, "wb");
    fputs("not a model", f);
    fclose(f);
    assert_null(tok_open(NULL, p, -1, &e));
    assert_non_null(strstr(e.msg, "a llama2.c checkpoint carries no tokenizer: pass --tokenizer FILE"));
    assert_non_null(strstr(e.msg, p));
    snprintf(q, sizeof q, "%s/tokenizer.json", dir);
    json_t *g = gpt2_json(0);
    assert_int_equal(json_dump_file(g, q, 0), 0);
    json_decref(g);
    tok *t = tok_open(NULL, dir, -1, &e); /* the directory's tokenizer.json */
    assert_non_null(t);
    assert_int_equal(tok_vocab_size(t), 266);
    tok_free(t);
    const char *bin = data_path("tinystories-260k/tok512.bin");
    if (have_file(bin)) {
        snprintf(q, sizeof q, "cp %s %s/tokenizer.bin", bin, dir);
        assert_int_equal(system(q), 0);
        t = tok_open(NULL, p, 512, &e); /* a tokenizer.bin beside the checkpoint */
        assert_non_null(t);
        assert_int_equal(tok_vocab_size(t), 512);
        tok_free(t);
    }
    snprintf(q, sizeof q, "rm -rf %s", dir);
    assert_int_equal(system(q), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tinystories_800),
        cmocka_unit_test(test_wikitext_tok512),
        cmocka_unit_test(test_wikitext_llama2),
        cmocka_unit_test(test_random_tok512),
        cmocka_unit_test(test_ties_synthetic),
        cmocka_unit_test(test_empty_and_nul),
        cmocka_unit_test(test_no_space_piece),
        cmocka_unit_test(test_truncated_corrupt),
        cmocka_unit_test(test_truncated_real),
        cmocka_unit_test(test_hf_gpt2),
        cmocka_unit_test(test_hf_qwen),
        cmocka_unit_test(test_hf_llama3),
        cmocka_unit_test(test_hf_smollm2),
        cmocka_unit_test(test_hf_added_unk),
        cmocka_unit_test(test_hf_errors),
        cmocka_unit_test(test_hf_pretok_pieces),
        cmocka_unit_test(test_nfc),
        cmocka_unit_test(test_hf_roundtrip_random),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_open_by_name),
        cmocka_unit_test(test_hf_spm),
        cmocka_unit_test(test_hf_spm_real),
        cmocka_unit_test(test_spm_model_vs_llama2c),
        cmocka_unit_test(test_spec_llama),
        cmocka_unit_test(test_spec_gpt2),
        cmocka_unit_test(test_open_discovery),
    };
    return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
