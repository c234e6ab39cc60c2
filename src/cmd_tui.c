/* `mxalloc tui MODEL` / `mxalloc MODEL`: parse arguments, hand off to ui/. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/cmd.h"
#include "ui/ui.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mxalloc tui MODEL [options]      (or: mxalloc MODEL [options])\n"
            "The interactive workbench: sensitivity heatmap, budget, Pareto plot, pins, eval.\n\n"
            "  --tokenizer FILE   tokenizer (llama2.c .bin or tokenizer.json); default beside MODEL\n"
            "  --text FILE        text for `eval` (measured perplexity)\n"
            "  --scores FILE      score file (default: the newest cached scores for MODEL)\n"
            "  --script FILE      run workbench commands from FILE ('-': stdin) without curses\n"
            "  --eval-tokens N    score at most N tokens in `eval` (default: the whole text)\n"
            "  --ctx N            eval window (default: the scores' context, else 256)\n"
            "  -h, --help         this help\n"
            "Keys and commands: see mxalloc(1), WORKBENCH, or press ? in the workbench.\n");
}

static int parse_long(const char *opt, const char *s, long lo, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo) {
        fprintf(stderr, "mxalloc tui: %s: '%s' is not an integer >= %ld\n", opt, s, lo);
        return -1;
    }
    *out = v;
    return 0;
}

int cmd_tui(int argc, char **argv)
{
    static const struct option opts[] = {
        {"tokenizer", required_argument, 0, 't'}, {"text", required_argument, 0, 'x'},
        {"scores", required_argument, 0, 's'},    {"script", required_argument, 0, 'S'},
        {"eval-tokens", required_argument, 0, 'n'}, {"ctx", required_argument, 0, 'c'},
        {"help", no_argument, 0, 'h'},            {0, 0, 0, 0},
    };
    ui_wb_opts o;
    memset(&o, 0, sizeof o);
    const char *script = NULL;
    long v;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 't': o.tokenizer_path = optarg; break;
        case 'x': o.text_path = optarg; break;
        case 's': o.scores_path = optarg; break;
        case 'S': script = optarg; break;
        case 'n':
            if (parse_long("--eval-tokens", optarg, 0, &v))
                return 2;
            o.eval_tokens = v;
            break;
        case 'c':
            if (parse_long("--ctx", optarg, 1, &v))
                return 2;
            o.ctx = (int)v;
            break;
        case 'h': usage(stdout); return 0;
        case ':':
            fprintf(stderr, "mxalloc tui: option '%s' needs an argument\n", argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "mxalloc tui: unknown option '%s'\n", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "mxalloc tui: expected one MODEL argument\n");
        usage(stderr);
        return 2;
    }
    o.model_path = argv[optind];

    ui_wb wb;
    mx_error e = {0};
    if (ui_wb_open(&wb, &o, ui_script_msg, NULL, &e)) {
        fprintf(stderr, "mxalloc: %s\n", e.msg);
        ui_wb_close(&wb);
        return 1;
    }
    int status;
    if (script) {
        if (!ui_state_has_scores(&wb.st) && wb.scores_hint[0])
            fprintf(stderr, "mxalloc: %s\n", wb.scores_hint);
        status = ui_script_run(&wb, script);
    } else {
        status = ui_app_run(&wb);
    }
    ui_wb_close(&wb);
    return status;
}
