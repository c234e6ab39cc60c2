/* mxalloc: dispatch to one subcommand per file (src/cmd_*.c). */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "src/cmd.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"info", cmd_info, "print a model's architecture and quantizable modules"},
    {"ppl", cmd_ppl, "measure perplexity (fp32, one format, or a config)"},
    {"mx", cmd_mx, "fake-quantize or pack raw float32 data in an MX format"},
    {"score", cmd_score, "compute per-module, per-format sensitivity scores"},
    {"scores", cmd_scores, "show a score file"},
    {"alloc", cmd_alloc, "solve the format assignment for a bit budget"},
    {"sweep", cmd_sweep, "print the Pareto table over a range of budgets"},
    {"export", cmd_export, "export a config for llama.cpp or as normalized JSON"},
    {"anneal", cmd_anneal, "differentiable search (dMX or GAMMA)"},
    {"tui", cmd_tui, "the interactive workbench (also: mxalloc MODEL)"},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: mxalloc COMMAND [ARGS]...   (mxalloc COMMAND --help for details)\n"
               "       mxalloc MODEL [--tokenizer FILE] [--text CALIB]   (the workbench)\n\n"
               "Mixed-precision assignment of OCP Microscaling (MX) formats to the linear\n"
               "layers of a language model.\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *c = argv[1];
    if (!strcmp(c, "--help") || !strcmp(c, "-h") || !strcmp(c, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(c, "--version")) {
        printf("mxalloc %s\n", PACKAGE_VERSION);
        return 0;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(c, commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    if (c[0] == '-') {
        fprintf(stderr, "mxalloc: unknown option '%s'\n", c);
        usage(stderr);
        return 2;
    }
    /* Anything else is a model path: open the workbench on it. */
    if (strchr(c, '/') || strchr(c, '.'))
        return cmd_tui(argc, argv);
    fprintf(stderr, "mxalloc: unknown command '%s' (see mxalloc --help)\n", c);
    return 2;
}
