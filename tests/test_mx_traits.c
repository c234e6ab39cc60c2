/* Unit tests of the format traits table (kernels/mx.h) and of module names
 * (src/module_name.h): every name, label and alias any printer produces parses
 * back to its format, labels are short and unique, the error text lists the
 * valid names, format lists, GGUF targets, and LAYER.KIND <-> HF names. */
#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kernels/mx.h"
#include "kernels/tf.h"
#include "src/module_name.h"

static void upper(const char *s, char *out, size_t n)
{
    size_t i = 0;
    for (; s[i] && i + 1 < n; i++)
        out[i] = (char)toupper((unsigned char)s[i]);
    out[i] = 0;
}

static void parses_to(const char *s, mx_format want)
{
    char up[64];
    mx_format f = MX_NFORMATS;
    if (mx_format_parse(s, &f) != 0 || f != want)
        fail_msg("'%s' does not parse to %s", s, mx_format_name(want));
    upper(s, up, sizeof up);
    f = MX_NFORMATS;
    if (mx_format_parse(up, &f) != 0 || f != want)
        fail_msg("'%s' does not parse to %s", up, mx_format_name(want));
}

/* Every spelling of every row parses back to that row (so no two rows share one). */
static void test_every_label_parses_back(void **state)
{
    (void)state;
    for (int i = 0; i < MX_NFORMATS; i++) {
        mx_format f = (mx_format)i;
        const mx_traits *t = mx_traits_of(f);
        assert_non_null(t);
        assert_string_equal(t->name, mx_format_name(f));
        assert_string_equal(t->label, mx_format_label(f));
        parses_to(mx_format_name(f), f);
        parses_to(mx_format_label(f), f);
        for (int a = 0; t->aliases[a]; a++)
            parses_to(t->aliases[a], f);
    }
    /* labels the old printers used (alloc tables, the workbench, the README) */
    static const struct {
        const char *s;
        mx_format f;
    } old[] = {{"f32", MX_FP32},  {"fp4", MX_FP4_E2M1},  {"i8", MX_INT8},      {"int8", MX_INT8},
               {"e2m1", MX_FP4_E2M1}, {"e4m3", MX_FP8_E4M3}, {"e5m2", MX_FP8_E5M2}, {"e3m2", MX_FP6_E3M2},
               {"e2m3", MX_FP6_E2M3}, {"mxfp8", MX_FP8_E4M3}, {"mxfp6", MX_FP6_E2M3}, {"mxfp4", MX_FP4_E2M1}};
    for (size_t i = 0; i < sizeof old / sizeof *old; i++)
        parses_to(old[i].s, old[i].f);
    assert_null(mx_traits_of(MX_NFORMATS));
    assert_string_equal(mx_format_label(MX_NFORMATS), "?");
}

/* Narrow columns: 4 characters (the mse rows: their base's label and '+'),
 * unique labels and glyphs. */
static void test_labels_short_and_unique(void **state)
{
    (void)state;
    for (int i = 0; i < MX_NFORMATS; i++) {
        const mx_traits *a = mx_traits_of((mx_format)i);
        if (a->scale_mode == MX_SCALE_MSE) {
            char want[8];
            snprintf(want, sizeof want, "%s+", mx_format_label(a->base));
            assert_string_equal(a->label, want);
        } else {
            assert_int_equal(strlen(a->label), 4);
            assert_int_equal(a->base, i);
        }
        assert_true(a->glyph > ' ' && a->glyph < 127);
        for (int j = 0; j < i; j++) {
            const mx_traits *b = mx_traits_of((mx_format)j);
            assert_string_not_equal(a->label, b->label);
            assert_true(a->glyph != b->glyph);
        }
    }
}

static void test_ambiguous_and_error_text(void **state)
{
    (void)state;
    mx_format f = MX_INT8;
    assert_int_equal(mx_format_parse("fp8", &f), -1);
    assert_int_equal(mx_format_parse("fp6", &f), -1);
    assert_int_equal(mx_format_parse("e2", &f), -1);
    assert_int_equal(f, MX_INT8);
    assert_non_null(strstr(mx_format_valid_names("fp8"), "ambiguous"));
    assert_non_null(strstr(mx_format_valid_names("FP6"), "mxfp6_e3m2"));
    const char *v = mx_format_valid_names("bogus");
    for (int i = 0; i < MX_NFORMATS; i++) {
        const mx_traits *t = mx_traits_of((mx_format)i);
        assert_non_null(strstr(v, t->name));
        assert_non_null(strstr(v, t->label));
        for (int a = 0; t->aliases[a]; a++)
            assert_non_null(strstr(v, t->aliases[a]));
    }
    assert_ptr_equal(mx_format_valid_names(NULL), v);
}

/* The element spec columns agree with the codecs' constants. */
static void test_spec_columns(void **state)
{
    (void)state;
    for (int i = 0; i < MX_NFORMATS; i++) {
        mx_format f = (mx_format)i;
        const mx_traits *t = mx_traits_of(f);
        assert_int_equal(t->bits, mx_element_bits(f));
        assert_int_equal(t->block > 0, mx_is_block_format(f));
        if (mx_is_block_format(f)) {
            assert_int_equal(t->block, t->scale_type == MX_SCALE_E4M3_TENSOR ? MX_NVFP4_BLOCK : MX_BLOCK);
            assert_int_equal(t->emax, mx_emax_elem(f));
            assert_int_equal(1 + t->ebits + t->mbits + (t->base == MX_INT8), t->bits);
        } else {
            assert_int_equal(1 + t->ebits + t->mbits, t->bits);
        }
    }
    assert_true(mx_bits_per_weight(MX_FP4_E2M1, 4, 64) == 4.25);
    assert_true(mx_bits_per_weight(MX_FP4_E2M1, 4, 48) == 4.0 + 16.0 / 48.0);
    assert_true(mx_bits_per_weight(MX_BF16, 4, 48) == 16.0);
}

static void test_format_list(void **state)
{
    (void)state;
    mx_format out[MX_NFORMATS];
    char bad[32];
    assert_int_equal(mx_format_parse_list("e2m1,MXFP8,int8", out, bad, sizeof bad), 3);
    assert_int_equal(out[0], MX_FP4_E2M1);
    assert_int_equal(out[1], MX_FP8_E4M3);
    assert_int_equal(out[2], MX_INT8);
    assert_int_equal(mx_format_parse_list(",fp4,,", out, bad, sizeof bad), 1);
    assert_int_equal(mx_format_parse_list("fp4,nope", out, bad, sizeof bad), -1);
    assert_string_equal(bad, "nope");
    assert_int_equal(mx_format_parse_list("fp4,e2m1", out, bad, sizeof bad), -2);
    assert_string_equal(bad, "mxfp4_e2m1");
    assert_int_equal(mx_format_parse_list("", out, bad, sizeof bad), -3);
    assert_int_equal(mx_format_parse_list(",", out, bad, sizeof bad), -3);
    char longname[200];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    assert_int_equal(mx_format_parse_list(longname, out, bad, sizeof bad), -1);
    /* every format once, in table order */
    char all[256] = "";
    for (int i = 0; i < MX_NFORMATS; i++)
        snprintf(all + strlen(all), sizeof all - strlen(all), "%s%s", i ? "," : "", mx_format_label((mx_format)i));
    assert_int_equal(mx_format_parse_list(all, out, bad, sizeof bad), MX_NFORMATS);
    for (int i = 0; i < MX_NFORMATS; i++)
        assert_int_equal(out[i], i);
}

static void test_gguf_target(void **state)
{
    (void)state;
    mx_gguf_target g;
    assert_int_equal(mx_gguf_target_of(MX_FP4_E2M1, 64, &g), 0);
    assert_int_equal(g.type, 39);
    assert_true(g.bits == 4.25);
    assert_int_equal(mx_gguf_target_of(MX_FP4_E2M1, 48, &g), 0);
    assert_string_equal(g.name, "BF16");
    assert_int_equal(mx_gguf_target_of(MX_INT8, 32, &g), 0);
    assert_int_equal(g.type, 8);
    assert_true(g.bits == 8.5);
    assert_int_equal(mx_gguf_target_of(MX_INT8, 33, &g), 0);
    assert_int_equal(g.type, 30);
    assert_int_equal(mx_gguf_target_of(MX_FP32, 33, &g), 0);
    assert_int_equal(g.type, 0);
    for (mx_format f = MX_BF16; f < MX_FP4_E2M1; f++) {
        if (f == MX_INT8)
            continue;
        assert_int_equal(mx_gguf_target_of(f, 64, &g), 0);
        assert_int_equal(g.type, 30);
        assert_true(g.bits == 16.0);
    }
    assert_int_equal(mx_gguf_target_of(MX_NFORMATS, 64, &g), -1);
    /* a scale mode changes scale bytes, not the storage */
    for (int i = 0; i < MX_NFORMATS; i++) {
        mx_gguf_target a, b;
        mx_format f = (mx_format)i;
        assert_int_equal(mx_gguf_target_of(f, 64, &a), 0);
        assert_int_equal(mx_gguf_target_of(mx_format_base(f), 64, &b), 0);
        assert_int_equal(a.type, b.type);
        assert_true(mx_bits_per_weight(f, 3, 48) == mx_bits_per_weight(mx_format_base(f), 3, 48));
    }
}

/* "+mse" after any name of a block format; refused after fp32/bf16, twice, or
 * after an unknown mode. */
static void test_scale_mode_names(void **state)
{
    (void)state;
    parses_to("mxfp4_e2m1+mse", MX_FP4_E2M1_MSE);
    parses_to("MXFP4+MSE", MX_FP4_E2M1_MSE);
    parses_to("fp4+mse", MX_FP4_E2M1_MSE);
    parses_to("e2m1+", MX_FP4_E2M1_MSE);
    parses_to("mxfp8+mse", MX_FP8_E4M3_MSE);
    parses_to("i8+mse", MX_INT8_MSE);
    parses_to("e3m2+mse", MX_FP6_E3M2_MSE);
    parses_to("mxfp4+ocp-floor", MX_FP4_E2M1);
    mx_format f = MX_INT8;
    const char *bad[] = {"fp32+mse", "bf16+mse", "mxfp4+mse+mse", "e2m1++", "+mse", "mxfp4+", "mxfp4+mean",
                         "e2m1++mse", "fp8+mse"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(mx_format_parse(bad[i], &f), -1);
    assert_int_equal(f, MX_INT8);
    assert_string_equal(mx_scale_mode_name(MX_SCALE_MSE), "mse");
    assert_string_equal(mx_scale_mode_name(MX_SCALE_OCP_FLOOR), "ocp-floor");
    assert_string_equal(mx_scale_mode_name(MX_NSCALE_MODES), "?");
    assert_int_equal(mx_format_scale_mode(MX_FP6_E2M3_MSE), MX_SCALE_MSE);
    assert_int_equal(mx_format_base(MX_FP6_E2M3_MSE), MX_FP6_E2M3);
    assert_non_null(strstr(mx_format_valid_names("bogus"), "+mse"));
}

/* What an allocation target counts: packed MX is mx_bits_per_weight; llama-cpp
 * is the GGUF storage, without the BF16 fallback of MXFP4/MXINT8. */
static void test_alloc_target(void **state)
{
    (void)state;
    mx_target t;
    assert_int_equal(mx_target_parse("llama-cpp", &t), 0);
    assert_int_equal(t, MX_TARGET_LLAMA_CPP);
    assert_int_equal(mx_target_parse("LLAMA.CPP", &t), 0);
    assert_int_equal(mx_target_parse("gguf", &t), 0);
    assert_int_equal(mx_target_parse("mx", &t), 0);
    assert_int_equal(t, MX_TARGET_MX);
    assert_int_equal(mx_target_parse("tpu", &t), -1);
    assert_string_equal(mx_target_name(MX_TARGET_LLAMA_CPP), "llama-cpp");
    assert_string_equal(mx_target_name(MX_NTARGETS), "?");
    for (int f = 0; f < MX_NFORMATS; f++)
        for (size_t cols = 170; cols < 260; cols += 3)
            assert_true(mx_target_bits(MX_TARGET_MX, (mx_format)f, 7, cols) ==
                        mx_bits_per_weight((mx_format)f, 7, cols));
    assert_true(mx_target_bits(MX_TARGET_LLAMA_CPP, MX_FP4_E2M1, 64, 64) == 4.25);
    assert_true(mx_target_bits(MX_TARGET_LLAMA_CPP, MX_INT8, 64, 64) == 8.5);
    assert_true(isnan(mx_target_bits(MX_TARGET_LLAMA_CPP, MX_FP4_E2M1, 64, 172)));
    assert_true(isnan(mx_target_bits(MX_TARGET_LLAMA_CPP, MX_INT8, 64, 172)));
    assert_true(mx_target_bits(MX_TARGET_LLAMA_CPP, MX_FP6_E2M3, 64, 172) == 16);
    assert_true(mx_target_bits(MX_TARGET_LLAMA_CPP, MX_FP8_E4M3, 64, 64) == 16);
    assert_true(mx_target_bits(MX_TARGET_LLAMA_CPP, MX_BF16, 64, 172) == 16);
    assert_true(mx_target_bits(MX_TARGET_LLAMA_CPP, MX_FP32, 64, 172) == 32);
    assert_true(isnan(mx_target_bits(MX_NTARGETS, MX_FP32, 64, 64)));
}

static void test_module_names(void **state)
{
    (void)state;
    char hf[128], sh[32], gg[64], canon[128];
    for (int layer = 0; layer < 12; layer += 11)
        for (int k = 0; k < TF_NLIN; k++) {
            int l2 = -1, k2 = -1;
            assert_int_equal(module_name_hf(layer, k, hf, sizeof hf), 0);
            assert_int_equal(module_name_short(layer, k, sh, sizeof sh), 0);
            assert_int_equal(module_name_gguf(layer, k, gg, sizeof gg), 0);
            assert_int_equal(module_name_split(hf, &l2, &k2), 0);
            assert_int_equal(l2, layer);
            assert_int_equal(k2, k);
            assert_int_equal(module_name_split(sh, &l2, &k2), 0);
            assert_int_equal(l2, layer);
            assert_int_equal(k2, k);
            assert_int_equal(module_name_canonical(sh, canon, sizeof canon), 0);
            assert_string_equal(canon, hf);
            assert_int_equal(module_name_canonical(hf, canon, sizeof canon), 0);
            assert_string_equal(canon, hf);
            assert_int_equal(module_name_kind_parse(module_name_kind_label(k)), k);
        }
    assert_int_equal(module_name_canonical("3.DOWN", canon, sizeof canon), 0);
    assert_string_equal(canon, "model.layers.3.mlp.down_proj");
    assert_int_equal(module_name_gguf(3, TF_O, gg, sizeof gg), 0);
    assert_string_equal(gg, "blk.3.attn_output");
    static const char *const bad[] = {"0.x", "x.q", "-1.q", "+1.q", " 1.q", "1.", ".q", "1q", "q",
                                      "model.layers.0.mlp.foo", "model.layers.x.mlp.up_proj",
                                      "model.layers.0.mlp.up_proj.weight", "99999999999999999999.q", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int l, k;
        if (!module_name_split(bad[i], &l, &k))
            fail_msg("'%s' split", bad[i]);
        /* not LAYER.KIND: copied unchanged (fails later as an unknown module) */
        assert_int_equal(module_name_canonical(bad[i], canon, sizeof canon), 0);
        assert_string_equal(canon, bad[i]);
    }
    assert_int_equal(module_name_canonical("0.q", canon, 10), -1);
    assert_int_equal(module_name_hf(0, TF_NLIN, hf, sizeof hf), -1);
    assert_int_equal(module_name_hf(-1, 0, hf, sizeof hf), -1);
    assert_int_equal(module_name_kind_parse("qq"), -1);
    assert_string_equal(module_name_kind_label(TF_NLIN), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_label_parses_back),
        cmocka_unit_test(test_labels_short_and_unique),
        cmocka_unit_test(test_scale_mode_names),
        cmocka_unit_test(test_ambiguous_and_error_text),
        cmocka_unit_test(test_spec_columns),
        cmocka_unit_test(test_format_list),
        cmocka_unit_test(test_gguf_target),
        cmocka_unit_test(test_alloc_target),
        cmocka_unit_test(test_module_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
