/* The tokenizer a GGUF file carries (src/tok_gguf.c): llama (SentencePiece)
 * and gpt2 (byte-level BPE) vocabularies written by the test GGUF writer,
 * encoded end to end, and one-line refusals of what is not supported. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/tok.h"
#include "tests/test_tmp.h"
#include "tests/testmodel.h"

static char g_path[300];

static void write_with(const tm_gguf_vocab *v)
{
    tm_model t;
    assert_int_equal(tm_make(&t, TM_SMOLLM, 3), 0);
    tm_gguf_opts o = {.type = GQ_F32, .vocab = v};
    mx_error e = {0};
    if (tm_write_gguf_opts(&t, g_path, &o, &e) < 0)
        fail_msg("write: %s", e.msg);
    tm_free(&t);
}

static void expect_ids(const tm_gguf_vocab *v, const char *text, const int *want, long n_want)
{
    write_with(v);
    mx_error e = {0};
    tok *t = tok_load_gguf(g_path, &e);
    if (!t)
        fail_msg("tok_load_gguf: %s", e.msg);
    int *ids;
    long n = tok_encode(t, text, strlen(text), &ids, &e);
    assert_int_equal(n, n_want);
    for (long i = 0; i < n; i++)
        assert_int_equal(ids[i], want[i]);
    free(ids);
    tok_free(t);
}

static void expect_refused(const tm_gguf_vocab *v, const char *why)
{
    write_with(v);
    mx_error e = {0};
    tok *t = tok_load_gguf(g_path, &e);
    if (t) {
        tok_free(t);
        fail_msg("loaded, expected a refusal (%s)", why);
    }
    if (!strstr(e.msg, why) || !strstr(e.msg, "v.gguf") || strchr(e.msg, '\n'))
        fail_msg("message \"%s\" lacks \"%s\"", e.msg, why);
}

static const char *const spm_tokens[] = {"<unk>", "<s>", "</s>", "\xe2\x96\x81", "h", "e", "l", "o",
                                         "\xe2\x96\x81h", "\xe2\x96\x81he", "\xe2\x96\x81hel",
                                         "\xe2\x96\x81hell", "\xe2\x96\x81hello"};
static const float spm_scores[] = {0, 0, 0, -10, -11, -12, -13, -14, -5, -4, -3, -2, -1};
static const int spm_types[] = {2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};

static tm_gguf_vocab spm(void)
{
    tm_gguf_vocab v = {.model = "llama", .n = 13, .tokens = spm_tokens, .scores = spm_scores,
                       .types = spm_types, .bos = 1, .eos = 2, .unk = 0, .pad = -1, .add_bos = -1,
                       .add_eos = -1, .add_space_prefix = -1};
    return v;
}

static void test_llama_vocab(void **state)
{
    (void)state;
    tm_gguf_vocab v = spm();
    static const int want[] = {1, 12}; /* BOS, "▁hello" (prefix space added) */
    expect_ids(&v, "hello", want, 2);
    v.add_bos = 0;
    expect_ids(&v, "hello", want + 1, 1);
}

static void test_gpt2_vocab(void **state)
{
    (void)state;
    static const char *const toks[] = {"h", "e", "l", "o", "he", "ll", "hell", "hello", "<|endoftext|>"};
    static const char *const merges[] = {"h e", "l l", "he ll", "hell o"};
    static const int types[] = {1, 1, 1, 1, 1, 1, 1, 1, 3};
    tm_gguf_vocab v = {.model = "gpt2", .pre = "gpt-2", .n = 9, .tokens = toks, .types = types,
                       .n_merges = 4, .merges = merges, .bos = 8, .eos = 8, .unk = -1, .pad = -1,
                       .add_bos = 0, .add_eos = -1, .add_space_prefix = -1};
    static const int want[] = {7, 6};
    expect_ids(&v, "hellohell", want, 2);
    v.merges = NULL;
    expect_refused(&v, "a gpt2 tokenizer needs tokenizer.ggml.merges");
}

static void test_refusals(void **state)
{
    (void)state;
    tm_gguf_vocab v = spm();
    v.model = "bert";
    expect_refused(&v, "tokenizer model \"bert\" not supported (supported: llama, gpt2)");
    v = spm();
    v.bos = 13;
    expect_refused(&v, "tokenizer.ggml.bos_token_id = 13 is outside the vocabulary (13 tokens)");
    /* a model file without tokenizer.ggml.model */
    tm_model t;
    assert_int_equal(tm_make(&t, TM_SMOLLM, 3), 0);
    mx_error e = {0};
    assert_int_equal(tm_write_gguf(&t, g_path, TM_F32, &e), 0);
    tm_free(&t);
    assert_null(tok_load_gguf(g_path, &e));
    assert_non_null(strstr(e.msg, "no tokenizer in the file (no tokenizer.ggml.model)"));
}

/* The group's directory, and the one file path every test writes. */
static int setup(void **state)
{
    if (tmp_setup(state) < 0)
        return -1;
    snprintf(g_path, sizeof g_path, "%s/v.gguf", tmp_dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama_vocab),
        cmocka_unit_test(test_gpt2_vocab),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, setup, tmp_teardown);
}
