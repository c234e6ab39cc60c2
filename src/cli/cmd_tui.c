/* `mxalloc tui MODEL` / `mxalloc MODEL`: parse arguments, hand off to ui/. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/cli/cli.h"
#include "src/cli/cmd.h"
#include "ui/ui.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mxalloc tui MODEL [options]      (or: mxalloc MODEL [options])\n"
            "The interactive workbench: sensitivity heatmap, budget, Pareto plot, pins, eval.\n\n"
            "  --tokenizer FILE   tokenizer (llama2.c .bin or tokenizer.json); default beside MODEL\n"
            "  --text FILE        text for scoring, searches (first 4096 tokens) and `eval`\n"
            "  --scores FILE      score file (default: the cached scores for MODEL and TEXT, else the\n"
            "                     newest for MODEL; with none, a first run computes fisher scores)\n"
            "  --script FILE      run workbench commands from FILE ('-': stdin) without curses\n"
            "                     (no saved session is read or written)\n"
            "  --eval-tokens N    score at most N tokens in `eval` (default: the whole text)\n"
            "  --gptq-text FILE   scores made by `score --gptq`: their calibration text, so that\n"
            "                     `eval` and `generate` quantize as the scores did\n"
            "  --ctx N            eval window (default: the scores' context, else 256)\n"
            "  --target T         count bits as T stores them: mx (default) or llama-cpp (as alloc)\n"
            "  --hw-table FILE    a latency cost table (mxalloc hwprofile): show the predicted latency\n"
            "  --max-latency MS   also limit it (ms per token of the block linears; `latency`, { })\n"
            "  -h, --help         this help\n"
            "The session (budget, pins, formats, groups) is kept per score file and restored.\n"
            "L shows the modules as a list sorted by layer, name, size, bits or score (o, O).\n"
            "Keys and commands: man mxalloc (the mxalloc tui section), or press ? in the workbench.\n");
}

int cmd_tui(int argc, char **argv)
{
    static const struct option opts[] = {
        {"tokenizer", required_argument, 0, 't'}, {"text", required_argument, 0, 'x'},
        {"scores", required_argument, 0, 's'},    {"script", required_argument, 0, 'S'},
        {"eval-tokens", required_argument, 0, 'n'}, {"ctx", required_argument, 0, 'c'},
        {"target", required_argument, 0, 'T'},    {"help", no_argument, 0, 'h'},
        {"hw-table", required_argument, 0, 'H'},  {"max-latency", required_argument, 0, 'L'},
        {"gptq-text", required_argument, 0, 'G'},
        {0, 0, 0, 0},
    };
    ui_wb_opts o;
    memset(&o, 0, sizeof o);
    const char *script = NULL;
    long v;
    int c, started = 0;
    while ((c = cli_getopt("mxalloc tui", argc, argv, NULL, opts, &started)) != -1) {
        switch (c) {
        case 't': o.tokenizer_path = optarg; break;
        case 'x': o.text_path = optarg; break;
        case 'G': o.gptq_text = optarg; break;
        case 's': o.scores_path = optarg; break;
        case 'S': script = optarg; break;
        case 'n':
            if (cli_long("mxalloc tui", "--eval-tokens", optarg, 0, LONG_MAX, &v))
                return 2;
            o.eval_tokens = v;
            break;
        case 'c':
            if (cli_long("mxalloc tui", "--ctx", optarg, 1, INT_MAX, &v))
                return 2;
            o.ctx = (int)v;
            break;
        case 'T':
            if (mx_target_parse(optarg, &o.target)) {
                fprintf(stderr, "mxalloc tui: --target: '%s' is not mx or llama-cpp\n", optarg);
                return 2;
            }
            break;
        case 'H': o.hw_table_path = optarg; break;
        case 'L':
            if (cli_positive("mxalloc tui", "--max-latency", optarg, &o.max_latency_ms))
                return 2;
            break;
        case 'h': usage(stdout); return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!cli_one_arg("mxalloc tui", "MODEL", argc, argv, NULL)) {
        usage(stderr);
        return 2;
    }
    o.model_path = argv[optind];
    if (o.max_latency_ms > 0 && !o.hw_table_path) {
        fprintf(stderr, "mxalloc tui: --max-latency needs --hw-table FILE\n");
        return 2;
    }

    ui_wb wb;
    mx_error e = {0};
    if (ui_wb_open(&wb, &o, ui_script_msg, NULL, &e)) {
        fprintf(stderr, "mxalloc: %s\n", e.msg);
        ui_wb_close(&wb);
        return 1;
    }
    int status;
    if (script) {
        status = ui_script_run(&wb, script); /* prints the no-scores hint once the script opens */
    } else {
        status = ui_app_run(&wb);
    }
    ui_wb_close(&wb);
    return status;
}
