/* The score cache file: round trip (standard errors included), every
 * truncation, bit flips, stale and older versions, atomic writes, the cache
 * directory. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <xxhash.h>

#include "kernels/tf.h"
#include "src/cache.h"
#include "tests/test_tmp.h"

static void make_table(score_table *t, int n)
{
    assert_int_equal(score_table_alloc(t, n), 0);
    snprintf(t->model, sizeof t->model, "/models/test model.bin");
    snprintf(t->key, sizeof t->key, "0123456789abcdef");
    t->model_hash = 0xfeedfacecafebeefull;
    t->methods = (1u << SCORE_KL) | (1u << SCORE_FISHER);
    t->n_formats = 3;
    t->formats[0] = MX_FP4_E2M1;
    t->formats[1] = MX_FP8_E4M3;
    t->formats[2] = MX_BF16;
    t->calib_tokens = 123456789012L;
    t->ctx = 256;
    t->fp32_loss = 2.25;
    t->uniform_loss[MX_FP4_E2M1] = 2.5;
    for (int i = 0; i < n; i++) {
        score_module *m = &t->modules[i];
        snprintf(m->name, sizeof m->name, "model.layers.%d.mlp.down_proj", i);
        m->layer = i;
        m->kind = 6;
        m->rows = 64 + i;
        m->cols = 172;
        m->params = (int64_t)m->rows * m->cols;
        m->bits[MX_FP4_E2M1] = 4.25 + i * 1e-3;
        m->score[SCORE_KL][MX_FP4_E2M1] = -1e-5 * i;   /* negative scores survive */
        m->score[SCORE_FISHER][MX_BF16] = 1e-300;
        m->kld[MX_FP8_E4M3] = 0.5 / (i + 1);
        m->se[SCORE_KL][MX_FP4_E2M1] = 3e-6 * (i + 1);
        m->se[SCORE_FISHER][MX_BF16] = 0.0;
        m->kld_se[MX_FP8_E4M3] = 0.01 / (i + 1); /* the rest stays NAN: unknown */
    }
    t->anchors[t->n_anchors++] = (score_anchor){.method = SCORE_KL, .bits = 5.5, .score_sum = 0.03, .loss = 2.3};
    t->anchors[t->n_anchors++] = (score_anchor){.method = SCORE_FISHER, .bits = 4.5, .score_sum = 0, .loss = 2.4};
    t->gptq = 1;
    t->text_hash = 0xd856efa1efd2f0a0ull;
}

static int same_double(double a, double b)
{
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

static void assert_same(const score_table *a, const score_table *b)
{
    assert_string_equal(a->model, b->model);
    assert_string_equal(a->key, b->key);
    assert_true(a->model_hash == b->model_hash);
    assert_int_equal(a->methods, b->methods);
    assert_int_equal(a->n_formats, b->n_formats);
    for (int i = 0; i < a->n_formats; i++)
        assert_int_equal(a->formats[i], b->formats[i]);
    assert_true(a->calib_tokens == b->calib_tokens);
    assert_int_equal(a->ctx, b->ctx);
    assert_true(same_double(a->fp32_loss, b->fp32_loss));
    for (int f = 0; f < MX_NFORMATS; f++)
        assert_true(same_double(a->uniform_loss[f], b->uniform_loss[f]));
    assert_int_equal(a->gptq, b->gptq);
    assert_true(a->text_hash == b->text_hash);
    assert_int_equal(a->n_anchors, b->n_anchors);
    for (int i = 0; i < a->n_anchors; i++) {
        assert_int_equal(a->anchors[i].method, b->anchors[i].method);
        assert_true(same_double(a->anchors[i].bits, b->anchors[i].bits));
        assert_true(same_double(a->anchors[i].score_sum, b->anchors[i].score_sum));
        assert_true(same_double(a->anchors[i].loss, b->anchors[i].loss));
    }
    assert_int_equal(a->n_modules, b->n_modules);
    for (int i = 0; i < a->n_modules; i++) {
        const score_module *x = &a->modules[i], *y = &b->modules[i];
        assert_string_equal(x->name, y->name);
        assert_int_equal(x->layer, y->layer);
        assert_int_equal(x->kind, y->kind);
        assert_int_equal(x->rows, y->rows);
        assert_int_equal(x->cols, y->cols);
        assert_true(x->params == y->params);
        for (int f = 0; f < MX_NFORMATS; f++) {
            assert_true(same_double(x->bits[f], y->bits[f]));
            assert_true(same_double(x->kld[f], y->kld[f]));
            assert_true(same_double(x->kld_se[f], y->kld_se[f]));
            for (int s = 0; s < SCORE_NMETHODS; s++) {
                assert_true(same_double(x->score[s][f], y->score[s][f]));
                assert_true(same_double(x->se[s][f], y->se[s][f]));
            }
        }
    }
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc(*n);
    assert_int_equal(fread(p, 1, *n, f), *n);
    fclose(f);
    return p;
}

static void spit(const char *path, const unsigned char *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

static void test_round_trip(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/a.scores", tmp_dir);
    score_table t, r;
    make_table(&t, 5);
    mx_error e = {0};
    assert_int_equal(cache_write(path, &t, &e), 0);
    assert_int_equal(cache_read(path, &r, &e), 0);
    assert_same(&t, &r);
    assert_true(r.modules[2].se[SCORE_KL][MX_FP4_E2M1] == 3e-6 * 3);
    assert_true(isnan(r.modules[2].se[SCORE_KL][MX_FP8_E4M3]));
    assert_true(r.modules[1].kld_se[MX_FP8_E4M3] == 0.01 / 2);
    score_table_free(&r);
    /* an empty table round-trips too */
    score_table z;
    score_table_init(&z);
    assert_int_equal(cache_write(path, &z, &e), 0);
    assert_int_equal(cache_read(path, &r, &e), 0);
    assert_int_equal(r.n_modules, 0);
    score_table_free(&r);
    score_table_free(&t);
}

/* Little-endian reads and writes of the layout src/cache.c documents. */
static uint32_t le32(const unsigned char *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static void put32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> 8 * i); }
static void put64(unsigned char *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> 8 * i); }

/* Copy n bytes from *in to *out, advancing both. */
static void take(const unsigned char **in, unsigned char **out, size_t n)
{
    memcpy(*out, *in, n);
    *in += n;
    *out += n;
}

/* Every per-format array of f64 (nf of them in the file): keep the first keep. */
static void take_formats(const unsigned char **in, unsigned char **out, uint32_t nf, uint32_t keep)
{
    take(in, out, 8 * keep);
    *in += 8 * (nf - keep);
}

/* A file of this build rewritten as a build with the first `keep` formats
 * wrote it (formats are only appended): ids and per-format arrays cut. */
static size_t as_older_build(const unsigned char *file, size_t n, unsigned char *out, uint32_t keep)
{
    const unsigned char *in = file + 32;
    unsigned char *o = out + 32;
    uint32_t nf = le32(in), nm = le32(in + 4);
    put32(o, keep);
    in += 4, o += 4;
    take(&in, &o, 4);                       /* methods count */
    take(&in, &o, 4 + le32(in));            /* model */
    take(&in, &o, 8);                       /* hash */
    take(&in, &o, 4 + le32(in));            /* key */
    take(&in, &o, 4);                       /* method mask */
    uint32_t nfc = le32(in);
    take(&in, &o, 4 + 4 * nfc);             /* candidates (all below keep here) */
    take(&in, &o, 8 + 4 + 8);               /* calib tokens, ctx, fp32 loss */
    take_formats(&in, &o, nf, keep);        /* uniform loss */
    uint32_t nmod = le32(in);
    take(&in, &o, 4);
    for (uint32_t i = 0; i < nmod; i++) {
        take(&in, &o, 4 + le32(in) + 16 + 8);  /* name, layer kind rows cols, params */
        for (uint32_t a = 0; a < 1 + 2 * nm + 2; a++)
            take_formats(&in, &o, nf, keep);   /* bits, score, se, kld, kld_se */
    }
    take(&in, &o, (size_t)(file + n - in)); /* anchors */
    size_t len = (size_t)(o - out);
    memcpy(out, file, 16);
    put64(out + 16, len - 32);
    put64(out + 24, XXH64(out + 32, len - 32, 0));
    return len;
}

/* A score file of a build before the mse formats reads, its new formats NAN. */
static void test_older_build_file(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/old.scores", tmp_dir);
    score_table t, r;
    make_table(&t, 4);
    mx_error e = {0};
    assert_int_equal(cache_write(path, &t, &e), 0);
    size_t n;
    unsigned char *p = slurp(path, &n), *old = malloc(n);
    assert_non_null(old);
    size_t len = as_older_build(p, n, old, MX_FP4_E2M1 + 1);
    assert_true(len < n);
    spit(path, old, len);
    assert_int_equal(cache_read(path, &r, &e), 0);
    assert_same(&t, &r);
    for (int f = MX_FP4_E2M1 + 1; f < MX_NFORMATS; f++)
        assert_true(isnan(r.modules[1].bits[f]) && isnan(r.modules[1].score[SCORE_KL][f]));
    score_table_free(&r);
    /* fewer formats than the OCP ones: no build wrote that */
    spit(path, old, as_older_build(p, n, old, MX_FP4_E2M1));
    assert_int_not_equal(cache_read(path, &r, &e), 0);
    assert_non_null(strstr(e.msg, "recompute the scores"));
    free(p);
    free(old);
    score_table_free(&t);
}

static void test_truncation_and_flips(void **state)
{
    (void)state;
    char path[512], bad[512];
    snprintf(path, sizeof path, "%s/b.scores", tmp_dir);
    snprintf(bad, sizeof bad, "%s/bad.scores", tmp_dir);
    score_table t, r;
    make_table(&t, 3);
    mx_error e = {0};
    assert_int_equal(cache_write(path, &t, &e), 0);
    size_t n;
    unsigned char *p = slurp(path, &n);
    for (size_t k = 0; k < n; k++) {
        spit(bad, p, k);
        int rc = cache_read(bad, &r, &e);
        if (rc != ERR_FORMAT)
            fail_msg("truncation at %zu of %zu accepted (rc %d)", k, n, rc);
        assert_null(strchr(e.msg, '\n'));
        assert_non_null(strstr(e.msg, bad));
    }
    /* one flipped bit anywhere: magic, version, length, checksum or payload */
    for (size_t k = 0; k < n; k++) {
        int bit = (int)(k * 5 % 8);
        p[k] ^= (unsigned char)(1 << bit);
        spit(bad, p, n);
        if (cache_read(bad, &r, &e) != ERR_FORMAT)
            fail_msg("bit flip at byte %zu accepted", k);
        p[k] ^= (unsigned char)(1 << bit);
    }
    /* trailing garbage */
    unsigned char *q = malloc(n + 1);
    memcpy(q, p, n);
    q[n] = 0;
    spit(bad, q, n + 1);
    assert_int_equal(cache_read(bad, &r, &e), ERR_FORMAT);
    free(q);
    /* a newer version, and an older one (3: no standard errors) are refused
     * with the cure: recompute (what `score` does when it sees this) */
    for (int v = 0; v < 2; v++) {
        p[8] = (unsigned char)(v ? CACHE_VERSION - 1 : CACHE_VERSION + 1);
        spit(bad, p, n);
        assert_int_equal(cache_read(bad, &r, &e), ERR_FORMAT);
        char want[64];
        snprintf(want, sizeof want, "version %d, this mxalloc reads version %d", p[8], CACHE_VERSION);
        assert_non_null(strstr(e.msg, want));
        assert_non_null(strstr(e.msg, "recompute the scores"));
        assert_int_equal(r.n_modules, 0);
    }
    free(p);
    assert_int_equal(cache_read("/nonexistent/x.scores", &r, &e), ERR_IO);
    score_table_free(&t);
}

static void test_atomic(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/no-such-tmp_dir/c.scores", tmp_dir);
    score_table t;
    make_table(&t, 2);
    mx_error e = {0};
    assert_int_equal(cache_write(path, &t, &e), ERR_IO);
    assert_non_null(strstr(e.msg, path));
    /* overwriting keeps a valid file and leaves no temp files */
    snprintf(path, sizeof path, "%s/c.scores", tmp_dir);
    assert_int_equal(cache_write(path, &t, &e), 0);
    t.ctx = 99;
    assert_int_equal(cache_write(path, &t, &e), 0);
    score_table r;
    assert_int_equal(cache_read(path, &r, &e), 0);
    assert_int_equal(r.ctx, 99);
    score_table_free(&r);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls %s | grep -q tmp", tmp_dir);
    assert_int_not_equal(system(cmd), 0);
    score_table_free(&t);
}

/* $XDG_CACHE_HOME set to xdg = tmp_dir/sub: cache_dir makes its directory in out. */
static void cache_dir_under(const char *sub, char *xdg, size_t xdg_len, char *out, size_t out_len)
{
    snprintf(xdg, xdg_len, "%s/%s", tmp_dir, sub);
    setenv("XDG_CACHE_HOME", xdg, 1);
    mx_error e = {0};
    assert_int_equal(cache_dir(out, out_len, &e), 0);
}

static void test_cache_dir(void **state)
{
    (void)state;
    char xdg[300], out[512], want[512];
    cache_dir_under("xdg/deeper", xdg, sizeof xdg, out, sizeof out);
    mx_error e = {0};
    snprintf(want, sizeof want, "%s/mxalloc", xdg);
    assert_string_equal(out, want);
    struct stat st;
    assert_int_equal(stat(out, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(cache_path_for_key("abc123", out, sizeof out, &e), 0);
    snprintf(want, sizeof want, "%s/mxalloc/abc123.scores", xdg);
    assert_string_equal(out, want);
    assert_int_equal(cache_path_for_key("../etc", out, sizeof out, &e), ERR_ARG);
    assert_int_equal(cache_path_for_key("", out, sizeof out, &e), ERR_ARG);
    /* fallback: $HOME/.cache/mxalloc (a relative XDG value is ignored) */
    setenv("XDG_CACHE_HOME", "relative", 1);
    setenv("HOME", tmp_dir, 1);
    assert_int_equal(cache_dir(out, sizeof out, &e), 0);
    snprintf(want, sizeof want, "%s/.cache/mxalloc", tmp_dir);
    assert_string_equal(out, want);
    assert_int_equal(cache_dir(out, 8, &e), ERR_ARG);
}

/* A checksum-valid file whose module table cannot be right: refused, with a
 * one-line message (no newline or ESC from the file). */
static void expect_bad(score_table *t, const char *what)
{
    char path[512];
    snprintf(path, sizeof path, "%s/tbl.scores", tmp_dir);
    mx_error e = {0};
    assert_int_equal(cache_write(path, t, &e), 0);
    score_table r;
    int rc = cache_read(path, &r, &e);
    if (rc != ERR_FORMAT)
        fail_msg("%s accepted (rc %d)", what, rc);
    assert_int_equal(r.n_modules, 0);
    assert_null(strchr(e.msg, '\n'));
    assert_null(strchr(e.msg, '\x1b'));
    assert_non_null(strstr(e.msg, path));
    assert_null(strstr(e.msg, ": :"));
}

static void test_bad_tables(void **state)
{
    (void)state;
    score_table t;
    make_table(&t, 4);
    t.modules[2].layer = 2147483647;
    expect_bad(&t, "layer INT_MAX");
    t.modules[2].layer = 100000000;
    expect_bad(&t, "layer 1e8");
    t.modules[2].layer = 4; /* as many layers as modules is impossible */
    expect_bad(&t, "layer = module count");
    t.modules[2].layer = -1;
    expect_bad(&t, "negative layer");
    t.modules[2].layer = 2;
    t.modules[1].kind = TF_NLIN;
    expect_bad(&t, "kind out of range");
    t.modules[1].kind = 0;
    t.modules[3].params = 5;
    expect_bad(&t, "params not rows x cols");
    t.modules[3].params = (int64_t)t.modules[3].rows * t.modules[3].cols;
    t.modules[3].rows = -64;
    t.modules[3].params = -64LL * t.modules[3].cols;
    expect_bad(&t, "negative rows");
    t.modules[3].rows = 64;
    t.modules[3].params = 64LL * t.modules[3].cols;
    snprintf(t.modules[3].name, sizeof t.modules[3].name, "%s", t.modules[1].name);
    expect_bad(&t, "duplicated module name");
    snprintf(t.modules[3].name, sizeof t.modules[3].name, "evil\n\x1b[2Jname");
    expect_bad(&t, "control characters in a name");
    snprintf(t.modules[3].name, sizeof t.modules[3].name, "model.layers.3.mlp.down_proj");
    snprintf(t.model, sizeof t.model, "model\x1b]0;title\x07");
    expect_bad(&t, "control characters in the model");
    snprintf(t.model, sizeof t.model, "ok");
    t.ctx = -1;
    expect_bad(&t, "negative ctx");
    t.ctx = 16;
    /* the projection's anchors (a known method, finite, non-negative) and the
     * standard errors (NAN or finite non-negative): one bad value at a time */
    t.anchors[1].method = SCORE_NMETHODS;
    expect_bad(&t, "anchor of an unknown method");
    t.anchors[1].method = SCORE_FISHER;
    const struct {
        double *v, bad;
        const char *what;
    } edits[] = {
        {&t.anchors[1].score_sum, -1e-3, "negative anchor score sum"},
        {&t.anchors[1].loss, NAN, "anchor loss NAN"},
        {&t.anchors[1].bits, 0, "anchor of 0 bits"},
        {&t.modules[1].se[SCORE_FISHER][MX_INT8], -1e-9, "negative standard error"},
        {&t.modules[1].se[SCORE_FISHER][MX_INT8], INFINITY, "infinite standard error"},
        {&t.modules[0].kld_se[MX_INT8], -0.5, "negative kld standard error"},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        double keep = *edits[i].v;
        *edits[i].v = edits[i].bad;
        expect_bad(&t, edits[i].what);
        *edits[i].v = keep;
    }
    /* and the fixed table is fine again */
    char path[512];
    snprintf(path, sizeof path, "%s/tbl.scores", tmp_dir);
    mx_error e = {0};
    score_table r;
    assert_int_equal(cache_write(path, &t, &e), 0);
    assert_int_equal(cache_read(path, &r, &e), 0);
    score_table_free(&r);
    score_table_free(&t);
}

/* A 32-byte file declaring a 4 GiB payload: refused from the file size, before
 * anything that large is allocated; non-regular files are refused too. */
static void test_declared_length(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/huge.scores", tmp_dir);
    unsigned char h[32] = {'M', 'X', 'S', 'C', 'O', 'R', 'E', 0, CACHE_VERSION};
    h[16 + 4] = 1; /* payload length 1 << 32 */
    spit(path, h, sizeof h);
    score_table r;
    mx_error e = {0};
    assert_int_equal(cache_read(path, &r, &e), ERR_FORMAT);
    assert_non_null(strstr(e.msg, "declares 4294967296 payload bytes, the file has 0"));
    assert_int_equal(cache_read(tmp_dir, &r, &e), ERR_IO);
    assert_non_null(strstr(e.msg, "is a directory"));
    char fifo[512];
    snprintf(fifo, sizeof fifo, "%s/s.fifo", tmp_dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    alarm(20); /* opening a FIFO used to wait for a writer */
    assert_int_equal(cache_read(fifo, &r, &e), ERR_IO);
    alarm(0);
    unlink(fifo);
    /* cache_is_score_file: what `score --out` checks before overwriting */
    assert_int_equal(cache_is_score_file(path), 1);
    snprintf(path, sizeof path, "%s/notes.txt", tmp_dir);
    spit(path, (const unsigned char *)"my notes\n", 9);
    assert_int_equal(cache_is_score_file(path), 0);
    assert_int_equal(cache_is_score_file(tmp_dir), 0);
    snprintf(path, sizeof path, "%s/absent", tmp_dir);
    assert_int_equal(cache_is_score_file(path), -1);
}

/* Temp files of killed writers in the cache directory go on the next run. */
static void test_cache_dir_stale(void **state)
{
    (void)state;
    char xdg[300], out[512], p[700];
    cache_dir_under("xdg2", xdg, sizeof xdg, out, sizeof out);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(0);
    waitpid(pid, NULL, 0);
    snprintf(p, sizeof p, "%s/0123456789abcdef.scores.tmp.%ld.Ab3dEf", out, (long)pid);
    spit(p, (const unsigned char *)"x", 1);
    char keep[700];
    snprintf(keep, sizeof keep, "%s/0123456789abcdef.scores", out);
    spit(keep, (const unsigned char *)"x", 1);
    cache_dir_under("xdg2", xdg, sizeof xdg, out, sizeof out); /* the next run */
    assert_int_not_equal(access(p, F_OK), 0);
    assert_int_equal(access(keep, F_OK), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_older_build_file),
        cmocka_unit_test(test_truncation_and_flips),
        cmocka_unit_test(test_atomic),
        cmocka_unit_test(test_cache_dir),
        cmocka_unit_test(test_bad_tables),
        cmocka_unit_test(test_declared_length),
        cmocka_unit_test(test_cache_dir_stale),
    };
    return cmocka_run_group_tests(tests, tmp_setup, tmp_teardown);
}
