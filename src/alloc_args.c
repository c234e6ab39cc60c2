/* The command-line options `mxalloc alloc` and `mxalloc sweep` share. */
#include "src/alloc_setup.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char alloc_common_help[] =
    "  --pin NAME=FMT      fix a module's format (repeatable)\n"
    "  --formats LIST      comma-separated candidate formats (default: all in the score file)\n"
    "  --group G[,G]       share one format per layer: qkv (q,k,v) and/or gateup (gate,up)\n"
    "  --max-bytes N       also limit the total weight size (bytes, scales included)\n"
    "  --method M          ilp (exact, default) or greedy (the sensitivity-ranked baseline)\n"
    "  --score-method S    kl, fisher or gamma (default: the first the score file has)\n"
    "  --calibrate         fit the projection to the measured uniform-format losses\n"
    "                      (the default when the score file has them; then an error if not)\n"
    "  --no-calibrate      take the scores at face value (projection factor 1)\n"
    "  --time-limit S      stop the solver after S seconds with the best answer found\n";

static int parse_double(const char *prog, const char *opt, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno) {
        fprintf(stderr, "%s: %s: not a number: '%s'\n", prog, opt, s);
        return 2;
    }
    *out = v;
    return 0;
}

int alloc_take_value(const char *prog, const char *opt, int argc, char **argv, int *i, const char **out)
{
    const char *a = argv[*i];
    size_t n = strlen(opt);
    if (strncmp(a, opt, n) || (a[n] && a[n] != '='))
        return 0;
    if (a[n] == '=')
        *out = a + n + 1;
    else if (*i + 1 < argc)
        *out = argv[++*i];
    else {
        fprintf(stderr, "%s: %s needs a value\n", prog, opt);
        return 2;
    }
    return 1;
}

int alloc_parse_common(const char *prog, int argc, char **argv, int *i, alloc_opts *o)
{
    const char *a = argv[*i];
    static const char *const with_value[] = {"--pin", "--formats", "--group", "--max-bytes", "--method",
                                             "--score-method", "--time-limit"};
    const char *val = NULL;
    for (size_t k = 0; k < sizeof with_value / sizeof *with_value; k++) {
        int r = alloc_take_value(prog, with_value[k], argc, argv, i, &val);
        if (r == 2)
            return 2;
        if (r) {
            a = with_value[k];
            break;
        }
    }
    if (!strcmp(a, "--no-calibrate")) {
        o->calibrate = 0;
        return 1;
    }
    if (!strcmp(a, "--calibrate")) {
        o->calibrate = 1;
        return 1;
    }
    if (!val)
        return 0;
    if (!strcmp(a, "--pin")) {
        const char *eq = strrchr(val, '=');
        mx_format f;
        if (!eq || eq == val) {
            fprintf(stderr, "%s: --pin wants NAME=FMT, got '%s'\n", prog, val);
            return 2;
        }
        if (mx_format_parse(eq + 1, &f)) {
            fprintf(stderr, "%s: --pin %s: unknown format '%s'\n", prog, val, eq + 1);
            return 3;
        }
        alloc_pin *np = realloc(o->pins, (size_t)(o->n_pins + 1) * sizeof *np);
        if (!np) {
            fprintf(stderr, "%s: out of memory\n", prog);
            return 2;
        }
        o->pins = np;
        /* the name is the text before '=' (argv is writable) */
        ((char *)eq)[0] = 0;
        o->pins[o->n_pins++] = (alloc_pin){val, f};
        return 1;
    }
    if (!strcmp(a, "--formats")) {
        char *copy = strdup(val);
        if (!copy)
            return 2;
        o->formats_mask = 0;
        for (char *save, *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            mx_format f;
            if (mx_format_parse(t, &f)) {
                fprintf(stderr, "%s: --formats: unknown format '%s'\n", prog, t);
                free(copy);
                return 3;
            }
            o->formats_mask |= 1u << f;
        }
        free(copy);
        if (!o->formats_mask) {
            fprintf(stderr, "%s: --formats: empty list\n", prog);
            return 2;
        }
        return 1;
    }
    if (!strcmp(a, "--group")) {
        char *copy = strdup(val);
        if (!copy)
            return 2;
        for (char *save, *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (!strcmp(t, "qkv"))
                o->group_qkv = 1;
            else if (!strcmp(t, "gateup"))
                o->group_gateup = 1;
            else {
                fprintf(stderr, "%s: --group: unknown group '%s' (qkv, gateup)\n", prog, t);
                free(copy);
                return 2;
            }
        }
        free(copy);
        return 1;
    }
    if (!strcmp(a, "--max-bytes")) {
        if (parse_double(prog, a, val, &o->max_bytes))
            return 2;
        if (!(o->max_bytes > 0) || isinf(o->max_bytes)) {
            fprintf(stderr, "%s: --max-bytes must be a positive number\n", prog);
            return 2;
        }
        return 1;
    }
    if (!strcmp(a, "--method")) {
        if (!strcmp(val, "ilp"))
            o->greedy = 0;
        else if (!strcmp(val, "greedy"))
            o->greedy = 1;
        else {
            fprintf(stderr, "%s: --method: '%s' is not ilp or greedy\n", prog, val);
            return 2;
        }
        return 1;
    }
    if (!strcmp(a, "--score-method")) {
        score_method m;
        if (score_method_parse(val, &m)) {
            fprintf(stderr, "%s: --score-method: '%s' is not kl, fisher or gamma\n", prog, val);
            return 2;
        }
        o->score_method = (int)m;
        return 1;
    }
    if (!strcmp(a, "--time-limit")) {
        if (parse_double(prog, a, val, &o->time_limit_s))
            return 2;
        if (!(o->time_limit_s > 0) || isinf(o->time_limit_s)) {
            fprintf(stderr, "%s: --time-limit must be a positive number of seconds\n", prog);
            return 2;
        }
        return 1;
    }
    return 0;
}
