/* Parsing of workbench command lines (shared by `:` and --script). */
#include "ui/ui_cmd.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/mx.h"

static const struct {
    const char *name;
    int min_args, max_args;
    const char *usage;
} specs[UI_CMD_COUNT] = {
    [UI_CMD_BUDGET] = {"budget", 1, 1, "budget B -- average bits per weight (scales included)"},
    [UI_CMD_PIN] = {"pin", 2, 2, "pin NAME FMT -- force a module (or LAYER.KIND, e.g. 3.down) to a format"},
    [UI_CMD_UNPIN] = {"unpin", 1, 1, "unpin NAME|all -- let the solver choose again"},
    [UI_CMD_FORMATS] = {"formats", 1, 1, "formats LIST|all -- allowed formats, comma-separated"},
    [UI_CMD_GROUP] = {"group", 2, 2, "group qkv|gateup on|off -- give q,k,v (gate,up) one shared format"},
    [UI_CMD_TARGET] = {"target", 1, 1, "target mx|llama-cpp -- count bits as packed MX or as the llama.cpp GGUF stores them"},
    [UI_CMD_LATENCY] = {"latency", 1, 1, "latency MS|off -- limit the predicted ms per token of the linears (--hw-table; { } step it)"},
    [UI_CMD_METHOD] = {"method", 1, 1, "method kl|fisher|fisher-out|gamma -- which scores drive the solver"},
    [UI_CMD_SCORE] = {"score", 0, 2, "score [--method kl|fisher|fisher-out|both] -- compute sensitivity scores"},
    [UI_CMD_ANNEAL] = {"anneal", 1, 7, "anneal dmx|gamma [--steps N] [--refine N] [--seed N] -- a differentiable search; its result becomes current"},
    [UI_CMD_PRUNE] = {"prune", 1, 2, "prune on|off|weight W -- prune heads/channels and choose formats together (budgets down to 2 bits)"},
    [UI_CMD_EVAL] = {"eval", 0, 0, "eval -- measure the perplexity of the current allocation"},
    [UI_CMD_GENERATE] = {"generate", 0, UI_CMD_MAXARGS, "generate [N] [PROMPT] -- a greedy sample of N tokens with the current allocation"},
    [UI_CMD_CANCEL] = {"cancel", 0, 0, "cancel -- stop the running background job"},
    [UI_CMD_EXPORT] = {"export", 1, 3, "export FILE [--to llama-cpp|json] -- write the allocation"},
    [UI_CMD_LOAD_SCORES] = {"load-scores", 1, 1, "load-scores FILE -- read a score file"},
    [UI_CMD_SHOW] = {"show", 0, 1, "show [NAME] -- print the allocation (or one module)"},
    [UI_CMD_KEEP] = {"keep", 0, 1, "keep [NAME] -- keep the current allocation as a candidate (default ilp@BUDGET)"},
    [UI_CMD_USE] = {"use", 1, 1, "use NAME|ilp -- make a kept candidate (or the solver's answer) current"},
    [UI_CMD_CANDS] = {"cands", 0, 0, "cands -- list the candidates: bits, projected and measured ppl"},
    [UI_CMD_FIND] = {"find", 1, 1, "find TEXT -- the next module whose name contains TEXT (/ types it; n, N repeat)"},
    [UI_CMD_STATUS] = {"status", 0, 0, "status -- the score file, method, text, formats, groups and target in use"},
    [UI_CMD_UNDO] = {"undo", 0, 0, "undo -- the budget, pins, formats, groups, method and target before the last edit (U)"},
    [UI_CMD_REDO] = {"redo", 0, 0, "redo -- what undo took back (Ctrl-R)"},
    [UI_CMD_HELP] = {"help", 0, 0, "help -- list the commands"},
    [UI_CMD_QUIT] = {"quit", 0, 0, "quit -- leave the workbench"},
};

const char *ui_cmd_name(ui_cmd_id id)
{
    return (unsigned)id < UI_CMD_COUNT ? specs[id].name : NULL;
}

const char *ui_cmd_usage(ui_cmd_id id)
{
    return (unsigned)id < UI_CMD_COUNT ? specs[id].usage : NULL;
}

int ui_cmd_split(const char *line, char words[][UI_CMD_ARGLEN], int max)
{
    int n = 0;
    const char *p = line;
    for (;;) {
        while (*p && isspace((unsigned char)*p))
            p++;
        if (!*p)
            return n;
        if (n == max)
            return -1;
        size_t len = 0;
        while (*p && !isspace((unsigned char)*p)) {
            if (*p == '"' || *p == '\'') {
                char q = *p++;
                while (*p && *p != q) {
                    if (len + 1 >= UI_CMD_ARGLEN)
                        return -1;
                    words[n][len++] = *p++;
                }
                if (*p != q)
                    return -1;
                p++;
            } else {
                if (len + 1 >= UI_CMD_ARGLEN)
                    return -1;
                words[n][len++] = *p++;
            }
        }
        words[n][len] = '\0';
        n++;
    }
}

static int fail(char *err, size_t len, const char *fmt, const char *a, const char *b)
{
    snprintf(err, len, fmt, a, b);
    return -1;
}

int ui_cmd_parse(const char *line, ui_cmd *out, char *err, size_t err_len)
{
    char words[UI_CMD_MAXARGS + 1][UI_CMD_ARGLEN];
    memset(out, 0, sizeof *out);
    const char *p = line;
    while (*p && isspace((unsigned char)*p))
        p++;
    if (!*p || *p == '#')
        return 1;
    int n = ui_cmd_split(p, words, UI_CMD_MAXARGS + 1);
    if (n < 0)
        return fail(err, err_len, "%s%s", "unterminated quote or too many/too long words", "");
    if (n == 0)
        return 1;
    const char *name = words[0];
    if (!strcmp(name, "q") || !strcmp(name, "exit"))
        name = "quit";
    int id = -1;
    for (int i = 0; i < UI_CMD_COUNT; i++)
        if (!strcmp(name, specs[i].name))
            id = i;
    if (id < 0)
        return fail(err, err_len, "unknown command '%s' (try: help)%s", words[0], "");
    int argc = n - 1;
    if (argc < specs[id].min_args || argc > specs[id].max_args)
        return fail(err, err_len, "usage: %s%s", specs[id].usage, "");
    out->id = (ui_cmd_id)id;
    out->argc = argc;
    for (int i = 0; i < argc; i++)
        memcpy(out->argv[i], words[i + 1], UI_CMD_ARGLEN);

    switch (out->id) {
    case UI_CMD_BUDGET: {
        char *end;
        errno = 0;
        double b = strtod(out->argv[0], &end);
        if (errno || end == out->argv[0] || *end || !isfinite(b) || b <= 0)
            return fail(err, err_len, "budget: '%s' is not a positive number of bits%s", out->argv[0], "");
        out->number = b;
        break;
    }
    case UI_CMD_LATENCY: {
        char *end;
        errno = 0;
        double ms = strtod(out->argv[0], &end);
        if (!strcmp(out->argv[0], "off"))
            ms = 0;
        else if (errno || end == out->argv[0] || *end || !isfinite(ms) || ms <= 0)
            return fail(err, err_len, "latency: '%s' is not a positive number of ms or off%s", out->argv[0], "");
        out->number = ms;
        break;
    }
    case UI_CMD_GROUP:
        if (strcmp(out->argv[0], "qkv") && strcmp(out->argv[0], "gateup"))
            return fail(err, err_len, "group: unknown group '%s' (qkv or gateup)%s", out->argv[0], "");
        if (!strcmp(out->argv[1], "on"))
            out->flag = 1;
        else if (!strcmp(out->argv[1], "off"))
            out->flag = 0;
        else
            return fail(err, err_len, "group: '%s' is not on or off%s", out->argv[1], "");
        break;
    case UI_CMD_PRUNE:
        if (!strcmp(out->argv[0], "weight") && argc == 2) {
            char *end;
            errno = 0;
            double w = strtod(out->argv[1], &end);
            if (errno || end == out->argv[1] || *end || !isfinite(w) || w <= 0)
                return fail(err, err_len, "prune weight: '%s' is not a positive number%s", out->argv[1], "");
            out->number = w;
        } else if ((!strcmp(out->argv[0], "on") || !strcmp(out->argv[0], "off")) && argc == 1)
            out->flag = !strcmp(out->argv[0], "on");
        else
            return fail(err, err_len, "usage: %s%s", specs[id].usage, "");
        break;
    case UI_CMD_TARGET: {
        mx_target t;
        if (mx_target_parse(out->argv[0], &t))
            return fail(err, err_len, "target: '%s' is not mx or llama-cpp%s", out->argv[0], "");
        out->flag = (int)t;
        break;
    }
    case UI_CMD_SCORE:
        if (argc == 1 && !strncmp(out->argv[0], "--method=", 9)) {
            memmove(out->argv[1], out->argv[0] + 9, UI_CMD_ARGLEN - 9);
            strcpy(out->argv[0], "--method");
            out->argc = argc = 2;
        }
        if (argc == 1 || (argc == 2 && strcmp(out->argv[0], "--method")))
            return fail(err, err_len, "usage: %s%s", specs[id].usage, "");
        if (argc == 2 && strcmp(out->argv[1], "kl") && strcmp(out->argv[1], "fisher") &&
            strcmp(out->argv[1], "fisher-out") && strcmp(out->argv[1], "both"))
            return fail(err, err_len, "score: unknown method '%s' (kl, fisher, fisher-out or both)%s",
                        out->argv[1], "");
        break;
    case UI_CMD_ANNEAL: {
        if (strcmp(out->argv[0], "dmx") && strcmp(out->argv[0], "gamma"))
            return fail(err, err_len, "anneal: unknown search '%s' (dmx or gamma)%s", out->argv[0], "");
        static const char *const opts[] = {"--steps", "--refine", "--seed"};
        long *dst[] = {&out->steps, &out->refine, &out->seed};
        out->steps = out->refine = out->seed = -1;
        for (int i = 1; i < argc; i += 2) {
            int k = 0;
            while (k < 3 && strcmp(out->argv[i], opts[k]))
                k++;
            if (k == 3 || i + 1 == argc)
                return fail(err, err_len, "usage: %s%s", specs[id].usage, "");
            char *end;
            errno = 0;
            long v = strtol(out->argv[i + 1], &end, 10);
            if (errno || *end || end == out->argv[i + 1] || v < (k == 0) || v > 1000000)
                return fail(err, err_len, "anneal: %s needs a whole number, not '%s'", opts[k], out->argv[i + 1]);
            *dst[k] = v;
        }
        out->argc = 1;
        break;
    }
    case UI_CMD_GENERATE: {
        /* an optional leading count, then the prompt's words joined by spaces */
        int first = 0;
        if (argc > 0 && isdigit((unsigned char)out->argv[0][0])) {
            char *end;
            errno = 0;
            long n = strtol(out->argv[0], &end, 10);
            if (errno || *end || n < 1 || n > 4096)
                return fail(err, err_len, "generate: '%s' is not a token count in 1..4096%s", out->argv[0], "");
            out->number = (double)n;
            first = 1;
        }
        char prompt[UI_CMD_ARGLEN] = "";
        size_t len = 0;
        for (int i = first; i < argc; i++) {
            size_t k = strlen(out->argv[i]);
            if (len + k + 2 > sizeof prompt)
                return fail(err, err_len, "generate: the prompt is too long%s%s", "", "");
            if (len)
                prompt[len++] = ' ';
            memcpy(prompt + len, out->argv[i], k + 1);
            len += k;
        }
        memset(out->argv, 0, sizeof out->argv);
        memcpy(out->argv[0], prompt, len + 1);
        out->argc = len ? 1 : 0;
        break;
    }
    case UI_CMD_METHOD:
        if (strcmp(out->argv[0], "kl") && strcmp(out->argv[0], "fisher") && strcmp(out->argv[0], "gamma") &&
            strcmp(out->argv[0], "fisher-out"))
            return fail(err, err_len, "method: unknown method '%s' (kl, fisher, fisher-out or gamma)%s",
                        out->argv[0], "");
        break;
    case UI_CMD_EXPORT: {
        const char *to = NULL;
        if (argc == 2) {
            if (strncmp(out->argv[1], "--to=", 5))
                return fail(err, err_len, "usage: %s%s", specs[id].usage, "");
            to = out->argv[1] + 5;
        } else if (argc == 3) {
            if (strcmp(out->argv[1], "--to"))
                return fail(err, err_len, "usage: %s%s", specs[id].usage, "");
            to = out->argv[2];
        }
        if (to && strcmp(to, "llama-cpp") && strcmp(to, "json"))
            return fail(err, err_len, "export: unknown target '%s' (llama-cpp or json)%s", to, "");
        out->to_llama = to && !strcmp(to, "llama-cpp");
        out->argc = 1;
        break;
    }
    default:
        break;
    }
    return 0;
}
