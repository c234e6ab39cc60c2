/* Workbench command parsing and completion candidates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "ui/ui_cmd.h"
#include "ui/ui_cmdline.h"

static void test_parse_ok(void **state)
{
    (void)state;
    ui_cmd c;
    char err[256];
    assert_int_equal(ui_cmd_parse("  budget 4.25 ", &c, err, sizeof err), 0);
    assert_int_equal(c.id, UI_CMD_BUDGET);
    assert_true(c.number == 4.25);
    assert_int_equal(ui_cmd_parse("pin model.layers.0.self_attn.q_proj mxfp8", &c, err, sizeof err), 0);
    assert_int_equal(c.id, UI_CMD_PIN);
    assert_int_equal(c.argc, 2);
    assert_string_equal(c.argv[0], "model.layers.0.self_attn.q_proj");
    assert_string_equal(c.argv[1], "mxfp8");
    assert_int_equal(ui_cmd_parse("group gateup off", &c, err, sizeof err), 0);
    assert_int_equal(c.flag, 0);
    assert_int_equal(ui_cmd_parse("group qkv on", &c, err, sizeof err), 0);
    assert_int_equal(c.flag, 1);
    assert_int_equal(ui_cmd_parse("export '/tmp/a b.json' --to llama-cpp", &c, err, sizeof err), 0);
    assert_string_equal(c.argv[0], "/tmp/a b.json");
    assert_int_equal(c.to_llama, 1);
    assert_int_equal(ui_cmd_parse("export x.json --to=json", &c, err, sizeof err), 0);
    assert_int_equal(c.to_llama, 0);
    assert_int_equal(ui_cmd_parse("score --method=fisher", &c, err, sizeof err), 0);
    assert_string_equal(c.argv[1], "fisher");
    assert_int_equal(ui_cmd_parse("score", &c, err, sizeof err), 0);
    assert_int_equal(ui_cmd_parse("q", &c, err, sizeof err), 0);
    assert_int_equal(c.id, UI_CMD_QUIT);
    assert_int_equal(ui_cmd_parse("load-scores \"x y\"", &c, err, sizeof err), 0);
    assert_string_equal(c.argv[0], "x y");
}

static void test_parse_blank(void **state)
{
    (void)state;
    ui_cmd c;
    char err[256];
    assert_int_equal(ui_cmd_parse("", &c, err, sizeof err), 1);
    assert_int_equal(ui_cmd_parse("   \t", &c, err, sizeof err), 1);
    assert_int_equal(ui_cmd_parse("# budget 3", &c, err, sizeof err), 1);
}

static void test_parse_errors(void **state)
{
    (void)state;
    ui_cmd c;
    char err[256];
    assert_int_equal(ui_cmd_parse("frobnicate", &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown command 'frobnicate'"));
    assert_int_equal(ui_cmd_parse("budget", &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "usage: budget"));
    assert_int_equal(ui_cmd_parse("budget abc", &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "'abc'"));
    assert_int_equal(ui_cmd_parse("budget -1", &c, err, sizeof err), -1);
    assert_int_equal(ui_cmd_parse("budget nan", &c, err, sizeof err), -1);
    assert_int_equal(ui_cmd_parse("budget 4 5", &c, err, sizeof err), -1);
    assert_int_equal(ui_cmd_parse("group attn on", &c, err, sizeof err), -1);
    assert_int_equal(ui_cmd_parse("group qkv maybe", &c, err, sizeof err), -1);
    assert_int_equal(ui_cmd_parse("anneal sgd", &c, err, sizeof err), -1);
    /* anneal's options: whole numbers, steps at least 1, each with its value */
    assert_int_equal(ui_cmd_parse("anneal dmx --steps 40 --seed 0 --refine 0", &c, err, sizeof err), 0);
    assert_int_equal(c.steps, 40);
    assert_int_equal(c.seed, 0);
    assert_int_equal(c.refine, 0);
    assert_int_equal(c.argc, 1);
    assert_int_equal(ui_cmd_parse("anneal gamma", &c, err, sizeof err), 0);
    assert_int_equal(c.steps, -1);
    assert_int_equal(c.seed, -1);
    assert_int_equal(ui_cmd_parse("anneal dmx --steps 0", &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "--steps needs a whole number, not '0'"));
    assert_int_equal(ui_cmd_parse("anneal dmx --seed x1", &c, err, sizeof err), -1);
    assert_int_equal(ui_cmd_parse("anneal dmx --seed", &c, err, sizeof err), -1);
    assert_int_equal(ui_cmd_parse("anneal dmx --lr 3", &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "usage: anneal"));
    assert_int_equal(ui_cmd_parse("use", &c, err, sizeof err), -1);
    assert_int_equal(ui_cmd_parse("keep a b", &c, err, sizeof err), -1);
    assert_int_equal(ui_cmd_parse("cands now", &c, err, sizeof err), -1);
    assert_int_equal(ui_cmd_parse("score --method hessian", &c, err, sizeof err), -1);
    assert_int_equal(ui_cmd_parse("score kl", &c, err, sizeof err), -1);
    assert_int_equal(ui_cmd_parse("export f --to gguf", &c, err, sizeof err), -1);
    assert_int_equal(ui_cmd_parse("export f --frm json", &c, err, sizeof err), -1);
    assert_int_equal(ui_cmd_parse("pin 'unterminated mxfp4", &c, err, sizeof err), -1);
    assert_int_equal(ui_cmd_parse("eval now", &c, err, sizeof err), -1);
}

static void test_split(void **state)
{
    (void)state;
    char w[4][UI_CMD_ARGLEN];
    assert_int_equal(ui_cmd_split("a 'b c' d\"e f\"", w, 4), 3);
    assert_string_equal(w[1], "b c");
    assert_string_equal(w[2], "de f");
    assert_int_equal(ui_cmd_split("a b c d e", w, 4), -1);
    char longw[UI_CMD_ARGLEN + 10];
    memset(longw, 'x', sizeof longw - 1);
    longw[sizeof longw - 1] = 0;
    assert_int_equal(ui_cmd_split(longw, w, 4), -1);
}

static void test_names(void **state)
{
    (void)state;
    for (int i = 0; i < UI_CMD_COUNT; i++) {
        assert_non_null(ui_cmd_name((ui_cmd_id)i));
        const char *u = ui_cmd_usage((ui_cmd_id)i);
        assert_int_equal(strncmp(u, ui_cmd_name((ui_cmd_id)i), strlen(ui_cmd_name((ui_cmd_id)i))), 0);
    }
    assert_null(ui_cmd_name(UI_CMD_COUNT));
}

static void test_completion(void **state)
{
    (void)state;
    /* without a workbench: commands, formats and keyword arguments */
    assert_string_equal(ui_cmdline_candidate(NULL, "bu", 0, "bu", 0), "budget");
    assert_null(ui_cmdline_candidate(NULL, "bu", 0, "bu", 1));
    assert_string_equal(ui_cmdline_candidate(NULL, "e", 0, "e", 0), "eval");
    assert_string_equal(ui_cmdline_candidate(NULL, "e", 0, "e", 1), "export");
    assert_string_equal(ui_cmdline_candidate(NULL, "pin x mxfp4", 2, "mxfp4", 0), "mxfp4_e2m1");
    assert_string_equal(ui_cmdline_candidate(NULL, "formats fp32,mxfp6", 1, "mxfp6", 0), "mxfp6_e3m2");
    assert_string_equal(ui_cmdline_candidate(NULL, "formats fp32,mxfp6", 1, "mxfp6", 1), "mxfp6_e2m3");
    assert_string_equal(ui_cmdline_candidate(NULL, "group ", 1, "", 0), "qkv");
    assert_string_equal(ui_cmdline_candidate(NULL, "group qkv o", 2, "o", 1), "off");
    assert_string_equal(ui_cmdline_candidate(NULL, "export x --to ll", 3, "ll", 0), "llama-cpp");
    assert_string_equal(ui_cmdline_candidate(NULL, "anneal g", 1, "g", 0), "gamma");
    assert_string_equal(ui_cmdline_candidate(NULL, "unpin a", 1, "a", 0), "all");
    assert_null(ui_cmdline_candidate(NULL, "eval ", 1, "", 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_ok),   cmocka_unit_test(test_parse_blank), cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_split),      cmocka_unit_test(test_names),       cmocka_unit_test(test_completion),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
