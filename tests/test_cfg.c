/* The assignment config: save/load round trip, unknown keys, bad input,
 * checks against a module list. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "src/cfg.h"
#include "tests/test_tmp.h"

static void write_text(const char *path, const char *s)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(s, f);
    fclose(f);
}

static void test_round_trip(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/a.json", tmp_dir);
    mx_cfg c, r;
    mx_error e = {0};
    cfg_init(&c);
    snprintf(c.model, sizeof c.model, "stories260K.bin");
    c.budget_bits = 4.5;
    c.avg_bits = 4.4921875;
    c.projected_ppl = 12.25;
    snprintf(c.score_method, sizeof c.score_method, "kl");
    snprintf(c.score_key, sizeof c.score_key, "00ff");
    assert_int_equal(cfg_set_format(&c, "model.layers.0.self_attn.q_proj", MX_FP4_E2M1, &e), 0);
    assert_int_equal(cfg_set_format(&c, "model.layers.0.mlp.down_proj", MX_BF16, &e), 0);
    assert_int_equal(cfg_set_format(&c, "model.layers.0.self_attn.q_proj", MX_FP6_E2M3, &e), 0);
    assert_int_equal(c.n_formats, 2);
    assert_int_equal(cfg_set_pin(&c, "model.layers.0.mlp.down_proj", MX_BF16, &e), 0);
    c.target = MX_TARGET_LLAMA_CPP;
    assert_int_equal(cfg_set_shape(&c, "model.layers.0.mlp.down_proj", 64, 172, &e), 0);
    assert_int_equal(cfg_set_shape(&c, "model.layers.9.mlp.up_proj", 4, 4, &e), ERR_ARG);
    assert_int_equal(cfg_set_shape(&c, "model.layers.0.mlp.down_proj", 0, 172, &e), ERR_ARG);
    assert_int_equal(cfg_save(path, &c, &e), 0);
    assert_int_equal(cfg_load(path, &r, &e), 0);
    assert_string_equal(r.model, "stories260K.bin");
    assert_true(r.budget_bits == 4.5 && r.avg_bits == 4.4921875 && r.projected_ppl == 12.25);
    assert_int_equal(r.block, 32);
    assert_string_equal(r.scale_mode, "ocp-floor");
    assert_string_equal(r.rounding, "nearest-even");
    assert_string_equal(r.score_method, "kl");
    assert_string_equal(r.score_key, "00ff");
    assert_int_equal(r.n_formats, 2);
    assert_int_equal(r.formats[cfg_find(&r, "model.layers.0.self_attn.q_proj")].fmt, MX_FP6_E2M3);
    assert_int_equal(r.formats[cfg_find(&r, "model.layers.0.mlp.down_proj")].fmt, MX_BF16);
    assert_int_equal(r.n_pins, 1);
    assert_int_equal(cfg_find(&r, "nope"), -1);
    /* the target and the shapes survive; a module without a shape has none */
    assert_int_equal(r.target, MX_TARGET_LLAMA_CPP);
    const cfg_item *d = &r.formats[cfg_find(&r, "model.layers.0.mlp.down_proj")];
    assert_true(d->rows == 64 && d->cols == 172);
    assert_int_equal(r.formats[cfg_find(&r, "model.layers.0.self_attn.q_proj")].cols, 0);
    cfg_free(&r);
    /* rounding "gptq" and its calibration windows survive */
    snprintf(c.rounding, sizeof c.rounding, "gptq");
    snprintf(c.gptq_text, sizeof c.gptq_text, "0123456789abcdef");
    c.gptq_ctx = 128;
    c.gptq_tokens = 1024;
    assert_int_equal(cfg_save(path, &c, &e), 0);
    assert_int_equal(cfg_load(path, &r, &e), 0);
    assert_string_equal(r.rounding, "gptq");
    assert_string_equal(r.gptq_text, "0123456789abcdef");
    assert_true(r.gptq_ctx == 128 && r.gptq_tokens == 1024);
    cfg_free(&r);
    cfg_free(&c);
}

static void test_minimal_and_unknown_keys(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/b.json", tmp_dir);
    write_text(path, "{\"formats\": {\"a\": \"MXFP4\", \"b\": \"mxfp8\"}, \"future\": [1, {\"x\": 2}],"
                     " \"scores\": {\"method\": \"fisher\", \"extra\": 1}}");
    mx_cfg c;
    mx_error e = {0};
    assert_int_equal(cfg_load(path, &c, &e), 0);
    assert_int_equal(c.n_formats, 2);
    assert_int_equal(c.formats[0].fmt, MX_FP4_E2M1);
    assert_int_equal(c.formats[1].fmt, MX_FP8_E4M3);
    assert_true(isnan(c.budget_bits) && isnan(c.projected_ppl));
    assert_string_equal(c.score_method, "fisher");
    cfg_free(&c);
}

static void expect_bad(const char *text, const char *needle)
{
    char path[512];
    snprintf(path, sizeof path, "%s/bad.json", tmp_dir);
    write_text(path, text);
    mx_cfg c;
    mx_error e = {0};
    assert_int_equal(cfg_load(path, &c, &e), ERR_FORMAT);
    assert_non_null(strstr(e.msg, path));
    if (!strstr(e.msg, needle))
        fail_msg("message '%s' lacks '%s'", e.msg, needle);
    assert_null(strchr(e.msg, '\n'));
    assert_null(strchr(e.msg, '\x1b'));
    assert_null(strstr(e.msg, ": :"));
    assert_int_equal(c.n_formats, 0);
    assert_null(c.formats);
}

static void test_bad(void **state)
{
    (void)state;
    expect_bad("{\"formats\": {\"a\": \"mxfp5\"}}", "unknown format 'mxfp5'");
    expect_bad("{\"model\": \"x\"}", "no \"formats\"");
    expect_bad("{\"formats\": {\"a\": 4}}", "not a string");
    expect_bad("{\"formats\": {\"a\": \"mxfp4\", \"a\": \"bf16\"}}", "");
    expect_bad("{\"formats\": {\"a\": \"mxfp4\"}", "");
    expect_bad("[1, 2]", "not a JSON object");
    expect_bad("{\"formats\": {}, \"budget_bits\": \"4\"}", "budget_bits");
    expect_bad("{\"formats\": {}, \"block\": 3.5}", "block");
    /* recorded parameters mxalloc does not implement are refused, not ignored */
    expect_bad("{\"formats\": {}, \"block\": 16}", "\"block\": 16 is not supported");
    expect_bad("{\"formats\": {}, \"scale_mode\": \"ceil\"}", "\"scale_mode\": 'ceil' is not supported");
    expect_bad("{\"formats\": {}, \"rounding\": \"stochastic\"}", "\"rounding\": 'stochastic'");
    /* rounding "gptq" needs its calibration windows, whole and consistent */
    expect_bad("{\"formats\": {}, \"rounding\": \"gptq\"}", "needs a \"gptq\" object");
    expect_bad("{\"formats\": {}, \"rounding\": \"gptq\", \"gptq\": {\"text_xxh64\": \"00\", \"ctx\": 8, "
               "\"tokens\": 64}}", "16 lowercase hex digits");
    expect_bad("{\"formats\": {}, \"rounding\": \"gptq\", \"gptq\": {\"text_xxh64\": \"0123456789abcdef\", "
               "\"ctx\": 8, \"tokens\": 4}}", "tokens >= ctx");
    expect_bad("{\"formats\": {}, \"rounding\": \"gptq\", \"gptq\": {\"text_xxh64\": \"0123456789abcdef\", "
               "\"ctx\": 8, \"tokens\": 64, \"damp\": 0.1}}", "\"damp\" 0.1 is not supported");
    /* one separator after the file name; raw bytes from the file escaped */
    expect_bad("{\"formats\": []}", "bad.json: \"formats\" is not an object");
    expect_bad("{\"formats\": {\"x\\n\\u001b[31m\": \"mxfp5\"}}", "for x\\x0a\\x1b[31m");
    expect_bad("{\"formats\": {\"a\\u0007\": 1}}", "a\\x07");
    /* shapes: [ROWS, COLS] of positive integers, of listed modules; a known target */
    expect_bad("{\"formats\": {\"a\": \"mxfp4\"}, \"shapes\": {\"a\": [4]}}", "\"shapes\": a is not [ROWS, COLS]");
    expect_bad("{\"formats\": {\"a\": \"mxfp4\"}, \"shapes\": {\"a\": [4, -1]}}", "positive integers");
    expect_bad("{\"formats\": {\"a\": \"mxfp4\"}, \"shapes\": {\"a\": [4, 1e10]}}", "positive integers");
    expect_bad("{\"formats\": {\"a\": \"mxfp4\"}, \"shapes\": {\"b\": [4, 4]}}", "b is not in \"formats\"");
    expect_bad("{\"formats\": {}, \"shapes\": []}", "\"shapes\" is not an object");
    expect_bad("{\"formats\": {}, \"target\": \"tpu\"}", "\"target\": 'tpu' is not mx or llama-cpp");
    mx_cfg c;
    mx_error e = {0};
    char path[512];
    snprintf(path, sizeof path, "%s/ok.json", tmp_dir);
    write_text(path, "{\"formats\": {}, \"block\": 32, \"scale_mode\": \"ocp-floor\","
                     " \"rounding\": \"nearest-even\"}");
    assert_int_equal(cfg_load(path, &c, &e), 0);
    cfg_free(&c);
    /* a directory or a device is not read (a FIFO would block, /dev/zero never ends) */
    assert_int_equal(cfg_load(tmp_dir, &c, &e), ERR_IO);
    assert_non_null(strstr(e.msg, "is a directory"));
    assert_int_equal(cfg_load("/dev/zero", &c, &e), ERR_IO);
    assert_int_equal(cfg_load("/nonexistent/c.json", &c, &e), ERR_IO);
    /* an unwritable destination leaves nothing behind */
    cfg_init(&c);
    snprintf(path, sizeof path, "%s/missing/c.json", tmp_dir);
    assert_int_equal(cfg_save(path, &c, &e), ERR_IO);
}

static const char *const names[] = {"model.layers.0.mlp.up_proj", "model.layers.0.mlp.down_proj"};
static const char *name_at(const void *user, int i)
{
    (void)user;
    return names[i];
}

static void test_check_names(void **state)
{
    (void)state;
    mx_cfg c;
    mx_error e = {0};
    cfg_init(&c);
    assert_int_equal(cfg_set_format(&c, "model.layers.0.mlp.up_proj", MX_FP4_E2M1, &e), 0);
    assert_int_equal(cfg_check_names(&c, 2, name_at, NULL, "m.bin", &e), 0);
    assert_int_equal(cfg_set_format(&c, "model.layers.7.mlp.up_proj", MX_FP4_E2M1, &e), 0);
    assert_int_equal(cfg_check_names(&c, 2, name_at, NULL, "m.bin", &e), ERR_FORMAT);
    assert_string_equal(e.msg, "config for another model: no module model.layers.7.mlp.up_proj in m.bin");
    cfg_free(&c);
    /* against a model struct: unlisted modules stay fp32 */
    model_module mods[2] = {0};
    snprintf(mods[0].name, sizeof mods[0].name, "%s", names[0]);
    snprintf(mods[1].name, sizeof mods[1].name, "%s", names[1]);
    model m = {0};
    m.n_modules = 2;
    m.modules = mods;
    cfg_init(&c);
    assert_int_equal(cfg_set_format(&c, names[1], MX_FP6_E3M2, &e), 0);
    mx_format out[2];
    assert_int_equal(cfg_formats_for_model(&c, &m, out, &e), 0);
    assert_int_equal(out[0], MX_FP32);
    assert_int_equal(out[1], MX_FP6_E3M2);
    assert_int_equal(cfg_set_pin(&c, "other", MX_BF16, &e), 0);
    assert_int_equal(cfg_check_model(&c, &m, &e), ERR_FORMAT);
    cfg_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_minimal_and_unknown_keys),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_check_names),
    };
    return cmocka_run_group_tests(tests, tmp_setup, tmp_teardown);
}
