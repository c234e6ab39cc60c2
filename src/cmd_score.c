/* mxalloc score: per-module, per-format sensitivity scores of a model on a
 * calibration text, cached by a key over every input. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kernels/mx.h"
#include "src/cache.h"
#include "src/cli.h"
#include "src/cmd.h"
#include "src/corpus.h"
#include "src/eval.h"
#include "src/model.h"
#include "src/score.h"
#include "src/tok.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mxalloc score MODEL [--tokenizer FILE] --text CALIB [--tokens N] [--ctx N]\n"
            "                     [--formats LIST] [--method kl|fisher|both] [--fisher-chunk N]\n"
            "                     [--mem-limit MIB] [--threads N] [--out FILE] [--force] [--json]\n\n"
            "For every linear module and candidate format, the increase in mean calibration\n"
            "loss (nats/token) when that module alone is fake-quantized. The result is a\n"
            "score file, cached under a key of every input; its path is printed.\n\n"
            "  --tokenizer FILE  tokenizer.bin (llama2.c) or tokenizer.json; required for\n"
            "                    llama2.c and GGUF models, default MODEL/tokenizer.json for HF\n"
            "  --text CALIB      calibration text, tokenized as one string (required)\n"
            "  --tokens N        calibration tokens, whole windows (default %d; 0 = all)\n"
            "  --ctx N           window length (default: the model's maximum, at most %d)\n"
            "  --formats LIST    comma-separated candidates (default: the six MX formats;\n"
            "                    fp32 and bf16 may be listed)\n"
            "  --method M        kl (measured, default), fisher (one pass), or both\n"
            "  --fisher-chunk N  targets per Fisher sample (default: the whole window), or\n"
            "                    'positions': squared per-position gradient terms\n"
            "  --mem-limit MIB   memory for cached activations (default 1024)\n"
            "  --threads N       kl: formats scored in parallel (default: one per core)\n"
            "  --out FILE        write (or reuse) this file instead of the cache\n"
            "  --force           recompute even when a valid cached file exists\n"
            "  --json            print the summary as JSON\n",
            SCORE_DEFAULT_TOKENS, SCORE_DEFAULT_CTX_CAP);
}

/* Set by SIGINT, read by the progress callback (a signal handler can only
 * talk through a static flag). */
static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* "a,b,c" -> formats; -1 with a message naming the bad entry. */
static int parse_formats(const char *list, score_opts *o)
{
    char buf[512];
    if (strlen(list) >= sizeof buf) {
        fprintf(stderr, "mxalloc score: --formats: list too long\n");
        return -1;
    }
    strcpy(buf, list);
    o->n_formats = 0;
    char *save = NULL;
    for (char *s = strtok_r(buf, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
        mx_format f;
        if (mx_format_parse(s, &f)) {
            fprintf(stderr, "mxalloc score: --formats: unknown format '%s'\n", s);
            return -1;
        }
        for (int i = 0; i < o->n_formats; i++)
            if (o->formats[i] == f) {
                fprintf(stderr, "mxalloc score: --formats: %s listed twice\n",
                        mx_format_name(f));
                return -1;
            }
        o->formats[o->n_formats++] = f;
    }
    if (o->n_formats == 0) {
        fprintf(stderr, "mxalloc score: --formats: empty list\n");
        return -1;
    }
    return 0;
}

typedef struct progress_state {
    int tty;
    struct timespec t0, last;
} progress_state;

static double seconds_since(const struct timespec *a)
{
    struct timespec b;
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (double)(b.tv_sec - a->tv_sec) + 1e-9 * (double)(b.tv_nsec - a->tv_nsec);
}

static int show_progress(void *user, const score_progress *p)
{
    progress_state *s = user;
    if (interrupted)
        return 1;
    if (!s->tty)
        return 0;
    int finished = p->done >= p->total;
    if (!finished && seconds_since(&s->last) < 0.1)
        return 0;
    clock_gettime(CLOCK_MONOTONIC, &s->last);
    double el = seconds_since(&s->t0), frac = p->total > 0 ? p->done / p->total : 1.0;
    double eta = frac > 0 ? el * (1.0 - frac) / frac : 0.0;
    int width = 24, fill = (int)(width * (frac > 1 ? 1 : frac));
    char what[64];
    if (p->module >= 0)
        snprintf(what, sizeof what, "%s module %d/%d", p->phase, p->module + 1, p->n_modules);
    else
        snprintf(what, sizeof what, "%s", p->phase);
    fprintf(stderr, "\rscore [%.*s%*s] %-22s %7.0f tok/s  ETA %3.0fm%02.0fs ", fill,
            "########################", width - fill, "", what, el > 0 ? p->tokens / el : 0.0,
            floor(eta / 60), fmod(eta, 60));
    fflush(stderr);
    return 0;
}

static const char *method_label(unsigned methods)
{
    unsigned both = (1u << SCORE_KL) | (1u << SCORE_FISHER);
    return (methods & both) == both ? "both"
           : methods & (1u << SCORE_KL) ? "kl"
                                        : "fisher";
}

static void print_summary(const score_table *t, const char *path, int cached, int json)
{
    if (json) {
        json_t *o = json_object(), *u = json_object();
        json_object_set_new(o, "path", json_string(path));
        json_object_set_new(o, "cached", json_boolean(cached));
        json_object_set_new(o, "key", json_string(t->key));
        json_object_set_new(o, "method", json_string(method_label(t->methods)));
        json_object_set_new(o, "modules", json_integer(t->n_modules));
        json_object_set_new(o, "calib_tokens", json_integer(t->calib_tokens));
        json_object_set_new(o, "ctx", json_integer(t->ctx));
        json_object_set_new(o, "fp32_loss", json_real(t->fp32_loss));
        for (int fi = 0; fi < t->n_formats; fi++) {
            double v = t->uniform_loss[t->formats[fi]];
            json_object_set_new(u, mx_format_name(t->formats[fi]),
                                isfinite(v) ? json_real(v) : json_null());
        }
        json_object_set_new(o, "uniform_loss", u);
        char *s = json_dumps(o, JSON_REAL_PRECISION(9));
        if (s)
            printf("%s\n", s);
        free(s);
        json_decref(o);
        return;
    }
    printf("%s\n", path);
    printf("%s scores (%s) of %d modules x %d formats; %ld calibration tokens, ctx %d\n",
           cached ? "cached" : "computed", method_label(t->methods), t->n_modules, t->n_formats,
           t->calib_tokens, t->ctx);
    printf("fp32 loss %.6f nats/token\n", t->fp32_loss);
    printf("%-12s %8s %10s", "format", "bits", "uniform+");
    for (int s = 0; s < SCORE_NMETHODS; s++)
        if (score_table_has(t, (score_method)s))
            printf(" %10s", s == SCORE_KL ? "sum kl" : s == SCORE_FISHER ? "sum fisher" : "sum");
    printf("\n");
    for (int fi = 0; fi < t->n_formats; fi++) {
        mx_format f = t->formats[fi];
        double bits = 0, params = 0;
        for (int i = 0; i < t->n_modules; i++) {
            bits += t->modules[i].bits[f] * (double)t->modules[i].params;
            params += (double)t->modules[i].params;
        }
        printf("%-12s %8.3f %10.5f", mx_format_name(f), params > 0 ? bits / params : 0.0,
               t->uniform_loss[f] - t->fp32_loss);
        for (int s = 0; s < SCORE_NMETHODS; s++) {
            if (!score_table_has(t, (score_method)s))
                continue;
            double sum = 0;
            for (int i = 0; i < t->n_modules; i++)
                sum += t->modules[i].score[s][f];
            printf(" %10.5f", sum);
        }
        printf("\n");
    }
}

/* The directory of path exists and is writable (checked before the work). */
static int check_writable(const char *path)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        strcpy(dir, ".");
    else if (slash == dir)
        dir[1] = 0;
    else
        *slash = 0;
    if (access(dir, W_OK | X_OK)) {
        fprintf(stderr, "mxalloc score: --out %s: directory %s is not writable (%s)\n", path,
                dir, strerror(errno));
        return -1;
    }
    return 0;
}

int cmd_score(int argc, char **argv)
{
    static const struct option opts[] = {
        {"tokenizer", required_argument, NULL, 't'}, {"text", required_argument, NULL, 'x'},
        {"tokens", required_argument, NULL, 'n'},    {"ctx", required_argument, NULL, 'c'},
        {"formats", required_argument, NULL, 'f'},   {"method", required_argument, NULL, 'm'},
        {"fisher-chunk", required_argument, NULL, 'k'},
        {"mem-limit", required_argument, NULL, 'M'}, {"out", required_argument, NULL, 'o'},
        {"threads", required_argument, NULL, 'T'},
        {"force", no_argument, NULL, 'F'},           {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},            {NULL, 0, NULL, 0}};
    const char *tok_path = NULL, *text_path = NULL, *out_path = NULL;
    long ctx = 0, max_tokens = SCORE_DEFAULT_TOKENS, chunk = 0, mem_mib = 0, threads = 0;
    int json = 0, force = 0, ch;
    score_opts so;
    score_opts_init(&so);
    optind = 0;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 't': tok_path = optarg; break;
        case 'x': text_path = optarg; break;
        case 'o': out_path = optarg; break;
        case 'j': json = 1; break;
        case 'F': force = 1; break;
        case 'h': usage(stdout); return 0;
        case 'f':
            if (parse_formats(optarg, &so))
                return 2;
            break;
        case 'm':
            if (!strcmp(optarg, "kl"))
                so.methods = 1u << SCORE_KL;
            else if (!strcmp(optarg, "fisher"))
                so.methods = 1u << SCORE_FISHER;
            else if (!strcmp(optarg, "both"))
                so.methods = (1u << SCORE_KL) | (1u << SCORE_FISHER);
            else {
                fprintf(stderr, "mxalloc score: --method: '%s' is not kl, fisher or both\n",
                        optarg);
                return 2;
            }
            break;
        case 'k':
            if (!strcmp(optarg, "positions")) {
                chunk = SCORE_FISHER_POSITIONS;
                break;
            }
            /* fall through */
        case 'n':
        case 'c':
        case 'T':
        case 'M': {
            long v;
            if (cli_parse_long(optarg, ch == 'c' ? 1 : 0, &v) || v > INT_MAX) {
                fprintf(stderr, "mxalloc score: %s: '%s' is not a %s integer\n",
                        argv[optind - 1], optarg, ch == 'c' ? "positive" : "non-negative");
                return 2;
            }
            *(ch == 'n'   ? &max_tokens
              : ch == 'c' ? &ctx
              : ch == 'k' ? &chunk
              : ch == 'T' ? &threads
                          : &mem_mib) = v;
            break;
        }
        default:
            if (optopt)
                fprintf(stderr, "mxalloc score: option needs a value or is unknown: '%s'\n",
                        argv[optind - 1]);
            else
                fprintf(stderr, "mxalloc score: unknown option '%s'\n", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, optind >= argc ? "mxalloc score: missing MODEL\n"
                                       : "mxalloc score: exactly one MODEL expected\n");
        usage(stderr);
        return 2;
    }
    if (!text_path) {
        fprintf(stderr, "mxalloc score: --text CALIB is required\n");
        usage(stderr);
        return 2;
    }
    if (out_path && check_writable(out_path))
        return 1;

    int rc = 1;
    mx_error e = {0};
    model m;
    corpus cp = {0};
    score_table t;
    score_table_init(&t);
    if (model_load(argv[optind], &m, &e)) {
        fprintf(stderr, "mxalloc score: %s\n", e.msg);
        return 1;
    }
    if (!tok_path && m.file_kind != MODEL_FILE_HF) {
        fprintf(stderr, "mxalloc score: --tokenizer FILE is required for %s models\n",
                m.file_kind == MODEL_FILE_GGUF ? "GGUF" : "llama2.c");
        model_free(&m);
        return 2;
    }
    if (ctx == 0)
        ctx = score_default_ctx(&m);
    if (ctx > m.cfg.max_seq) {
        fprintf(stderr, "mxalloc score: --ctx %ld exceeds the model's maximum context %d\n", ctx,
                m.cfg.max_seq);
        goto out;
    }
    if (corpus_load(&cp, &m, tok_path, text_path, (int)ctx, max_tokens, &e)) {
        fprintf(stderr, "mxalloc score: %s\n", e.msg);
        goto out;
    }
    so.ctx = (int)ctx;
    so.bos = cp.bos;
    so.max_tokens = max_tokens;
    so.fisher_chunk = (int)chunk;
    so.mem_limit = mem_mib ? (size_t)mem_mib << 20 : 0;
    so.threads = (int)threads;

    char key[17], path[4200];
    score_key_for_text(&m, cp.text, cp.len, cp.tokens, cp.n_tokens, &so, key);
    if (out_path) {
        snprintf(path, sizeof path, "%s", out_path);
    } else if (cache_path_for_key(key, path, sizeof path, &e)) {
        fprintf(stderr, "mxalloc score: %s\n", e.msg);
        goto out;
    }
    if (!force && access(path, F_OK) == 0) {
        if (cache_read(path, &t, &e)) {
            fprintf(stderr, "mxalloc score: %s; recomputing\n", e.msg);
        } else if (score_table_check(&t, &m, key, &so, &e)) {
            fprintf(stderr, "mxalloc score: %s: %s; recomputing\n", path, e.msg);
        } else {
            fprintf(stderr, "mxalloc score: using cached scores %s\n", path);
            print_summary(&t, path, 1, json);
            rc = fflush(stdout) ? 1 : 0;
            goto out;
        }
        score_table_free(&t);
    }

    progress_state ps = {.tty = isatty(STDERR_FILENO)};
    clock_gettime(CLOCK_MONOTONIC, &ps.t0);
    ps.last.tv_sec = 0;
    ps.last.tv_nsec = 0;
    so.progress = show_progress;
    so.user = &ps;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    interrupted = 0;
    sigaction(SIGINT, &sa, &old);
    int src = score_compute(&m, cp.tokens, cp.n_tokens, &so, &t, &e);
    if (ps.tty)
        fprintf(stderr, "\r%*s\r", 79, "");
    if (src == ERR_CANCELLED) {
        sigaction(SIGINT, &old, NULL);
        fprintf(stderr, "mxalloc score: interrupted; no score file written\n");
        rc = 130;
        goto out;
    }
    if (src) {
        sigaction(SIGINT, &old, NULL);
        fprintf(stderr, "mxalloc score: %s\n", e.msg);
        goto out;
    }
    /* Still catching SIGINT: a Ctrl-C now cannot cut the atomic write short. */
    snprintf(t.key, sizeof t.key, "%s", key);
    int wrc = cache_write(path, &t, &e);
    sigaction(SIGINT, &old, NULL);
    if (wrc) {
        fprintf(stderr, "mxalloc score: %s\n", e.msg);
        goto out;
    }
    print_summary(&t, path, 0, json);
    rc = fflush(stdout) ? 1 : 0;
out:
    score_table_free(&t);
    corpus_free(&cp);
    model_free(&m);
    return rc;
}
