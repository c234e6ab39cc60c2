/* mxalloc: dispatch to one subcommand per file (src/cmd_*.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "src/cli/cmd.h"

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
    {"quantize", cmd_quantize, "write the model in its assigned formats (GGUF or packed MX)"},
    {"prune", cmd_prune, "joint structured pruning and format choice at a budget (below 4.25 bits)"},
    {"anneal", cmd_anneal, "differentiable search (dMX or GAMMA)"},
    {"hwprofile", cmd_hwprofile, "time this machine's packed linears, write a latency cost table"},
    {"generate", cmd_generate, "greedy text generation (sanity check of a model or config)"},
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
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
}

/* Run with standard descriptors closed, a file opened later would get fd 1
 * and receive the output meant for stdout. Keep 0-2 taken: a closed stdout
 * becomes a read-only /dev/null, so writing to it still fails (and
 * finish() reports it). */
static void hold_std_fds(void)
{
    for (int fd = 0; fd <= 2; fd++)
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
            int n = open("/dev/null", fd == 2 ? O_WRONLY : O_RDONLY);
            if (n >= 0 && n != fd) {
                dup2(n, fd);
                close(n);
            }
        }
}

/* A full disk or closed pipe on stdout is an error like any other: one line,
 * exit 1 (checked once here for every command). */
static int finish(const char *cmd, int rc)
{
    int en = 0, bad = fflush(stdout) != 0;
    if (bad)
        en = errno;
    bad |= ferror(stdout) != 0;
    if (fclose(stdout) != 0) {
        if (!en)
            en = errno;
        bad = 1;
    }
    if (!bad)
        return rc;
    fprintf(stderr, "mxalloc%s%s: cannot write the output to standard output%s%s\n", cmd ? " " : "",
            cmd ? cmd : "", en ? ": " : "", en ? strerror(en) : "");
    return rc ? rc : 1;
}

int main(int argc, char **argv)
{
    hold_std_fds();
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *c = argv[1];
    if (!strcmp(c, "--help") || !strcmp(c, "-h") || !strcmp(c, "help")) {
        usage(stdout);
        return finish(NULL, 0);
    }
    if (!strcmp(c, "--version")) {
        printf("mxalloc %s\n", PACKAGE_VERSION);
        return finish(NULL, 0);
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(c, commands[i].name))
            return finish(commands[i].name, commands[i].run(argc - 1, argv + 1));
    if (c[0] == '-') {
        fprintf(stderr, "mxalloc: unknown option '%s'\n", c);
        usage(stderr);
        return 2;
    }
    /* Anything else is a model path: open the workbench on it. */
    if (strchr(c, '/') || strchr(c, '.'))
        return finish("tui", cmd_tui(argc, argv));
    fprintf(stderr, "mxalloc: unknown command '%s' (see mxalloc --help)\n", c);
    return 2;
}
