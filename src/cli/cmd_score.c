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
#include <unistd.h>

#include "kernels/clock.h"
#include "kernels/mx.h"
#include "solver/alloc_setup.h"
#include "src/cache.h"
#include "src/cli/cli.h"
#include "src/cli/cli_mpi.h"
#include "src/cli/cmd.h"
#include "src/corpus.h"
#include "src/eval.h"
#include "src/file_write.h"
#include "src/gptq_set.h"
#include "src/model.h"
#include "src/score.h"
#include "src/uniform.h"
#include "src/tok.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mxalloc score MODEL [--tokenizer FILE] --text CALIB [--tokens N] [--ctx N]\n"
            "                     [--formats LIST] [--method kl|fisher|fisher-out|both|all] [--fisher-chunk N]\n"
            "                     [--mem-limit MIB] [--threads N] [--gptq] [--out FILE] [--force] [--json]\n\n"
            "For every linear module and candidate format, the increase in mean calibration\n"
            "loss (nats/token) when that module alone is fake-quantized. The result is a\n"
            "score file, cached under a key of every input; its path is printed.\nIt also holds the measured uniform-format losses and, per method,\nthe measured loss of the integer program's allocation at 4.5, 5.0, ... 8.0\nbits, which projections are fitted to.\n\n"
            "  --tokenizer FILE  tokenizer.json, tokenizer.model or llama2.c tokenizer.bin;\n"
            "                    default: the model's own (tokenizer.json or tokenizer.model\n"
            "                    in its directory, GGUF metadata, tokenizer.bin beside it)\n"
            "  --text CALIB      calibration text, tokenized as one string (required)\n"
            "  --tokens N        calibration tokens, whole windows (default %d; 0 = all)\n"
            "  --ctx N           window length (default: the model's maximum, at most %d)\n"
            "  --formats LIST    comma-separated candidates (default: the six MX formats;\n"
            "                    fp32 and bf16 may be listed)\n"
            "  --method M        kl (measured; the default, unless it would cost more than\n"
            "                    40 forward passes per window and format: then fisher-out),\n"
            "                    fisher (one pass, weight space),\n"
            "                    fisher-out (one pass, output space), both (kl and fisher),\n"
            "                    all, or a comma list\n"
            "                    (--score-method M: the same, as in alloc and scores)\n"
            "  --fisher-chunk N  targets per Fisher sample (default: the whole window), or\n"
            "                    'positions': squared per-position gradient terms\n"
            "  --mem-limit MIB   memory for cached activations (default 1024)\n"
            "  --threads N       kl: formats scored in parallel (default: one per core)\n"
            "  --gptq            quantize the MX candidates by GPTQ with the second moments\n"
            "                    of these calibration windows instead of rounding to nearest;\n"
            "                    alloc's configs then need this text (ppl/quantize --gptq-text)\n"
            "  --out FILE        write (or reuse) this file instead of the cache\n"
            "  --force           recompute even when a valid cached file exists\n"
            "  --json            print the summary as JSON\n\n"
            "mpirun -np N mxalloc score ... (built with ./configure --with-mpi) shares the\n"
            "calibration windows among N processes; the file is the one a single process\n"
            "with the same threads per process writes, byte for byte.\n",
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

typedef struct progress_state {
    int tty;
    double t0, last;
} progress_state;

static int show_progress(void *user, const score_progress *p)
{
    progress_state *s = user;
    if (interrupted)
        return 1;
    if (!s->tty)
        return 0;
    int finished = p->done >= p->total;
    if (!finished && clock_now_s() - s->last < 0.1)
        return 0;
    s->last = clock_now_s();
    double el = clock_now_s() - s->t0, frac = p->total > 0 ? p->done / p->total : 1.0;
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

/* --method: kl, fisher, fisher-out, both (kl + fisher), all, or a comma list. */
static int parse_methods(const char *s, unsigned *out)
{
    unsigned m = 0;
    while (*s) {
        size_t len = strcspn(s, ",");
        char w[32];
        if (len == 0 || len >= sizeof w)
            return -1;
        memcpy(w, s, len);
        w[len] = 0;
        score_method one;
        if (!strcmp(w, "both"))
            m |= (1u << SCORE_KL) | (1u << SCORE_FISHER);
        else if (!strcmp(w, "all"))
            m |= (1u << SCORE_KL) | (1u << SCORE_FISHER) | (1u << SCORE_FISHER_OUT);
        else if (!score_method_parse(w, &one) && one != SCORE_GAMMA)
            m |= 1u << one;
        else
            return -1;
        s += len + (s[len] == ',');
    }
    *out = m;
    return m ? 0 : -1;
}

/* "kl", "fisher", "fisher-out", "both" (kl and fisher) or a comma list. */
typedef struct label { char s[64]; } label;
static label method_label(unsigned methods)
{
    label b = {"both"};
    if (methods == ((1u << SCORE_KL) | (1u << SCORE_FISHER)))
        return b;
    size_t n = 0;
    b.s[0] = 0;
    for (int s = 0; s < SCORE_NMETHODS; s++)
        if (methods >> s & 1u)
            n += (size_t)snprintf(b.s + n, sizeof b.s - n, "%s%s", n ? "," : "", score_method_name((score_method)s));
    return b;
}

static void print_summary(const score_table *t, const char *path, int cached, int json)
{
    if (json) {
        json_t *o = json_object(), *u = json_object();
        json_object_set_new(o, "path", json_string(path));
        json_object_set_new(o, "cached", json_boolean(cached));
        json_object_set_new(o, "key", json_string(t->key));
        json_object_set_new(o, "method", json_string(method_label(t->methods).s));
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
           cached ? "cached" : "computed", method_label(t->methods).s, t->n_modules, t->n_formats,
           t->calib_tokens, t->ctx);
    printf("fp32 loss %.6f nats/token\n", t->fp32_loss);
    printf("%-14s %8s %10s", "format", "bits", "uniform+");
    for (int s = 0; s < SCORE_NMETHODS; s++)
        if (score_table_has(t, (score_method)s))
            printf(" %10s", s == SCORE_KL ? "sum kl" : s == SCORE_FISHER ? "sum fisher" : "sum");
    printf("\n");
    for (int fi = 0; fi < t->n_formats; fi++) {
        mx_format f = t->formats[fi];
        double bits = uniform_avg_bits(t, f);
        printf("%-14s %8.3f %10.5f", mx_format_name(f), isnan(bits) ? 0.0 : bits,
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

/* The score file can be written (checked before the work): --out names a
 * regular file or nothing yet, in a writable directory, and never somebody
 * else's file (only a score file is replaced); else the cache directory is
 * usable. */
static int check_destination(const char *out_path)
{
    mx_error e = {0};
    char dir[4200];
    if (!out_path) {
        if (cache_dir(dir, sizeof dir, &e))
            goto bad;
        if (access(dir, W_OK | X_OK)) {
            err_set(&e, ERR_IO, "cache directory %s is not writable: %s", dir, strerror(errno));
            goto bad;
        }
        return 0;
    }
    if (fw_check_dest(out_path, &e))
        goto bad;
    if (cache_is_score_file(out_path) == 0) {
        err_set(&e, ERR_IO, "--out %s: the file exists and is not a score file (not overwriting it)",
                out_path);
        goto bad;
    }
    return 0;
bad:
    fprintf(stderr, "mxalloc score: %s\n", e.msg);
    return -1;
}

/* The command on this process; *shared is set once the processes exchange
 * results (a failure after that must stop the others). */
static int run_score(int argc, char **argv, shard *sh, int *shared)
{
    static const struct option opts[] = {
        {"tokenizer", required_argument, NULL, 't'}, {"text", required_argument, NULL, 'x'},
        {"tokens", required_argument, NULL, 'n'},    {"ctx", required_argument, NULL, 'c'},
        {"formats", required_argument, NULL, 'f'},   {"method", required_argument, NULL, 'm'},
        {"score-method", required_argument, NULL, 'm'},
        {"fisher-chunk", required_argument, NULL, 'k'},
        {"mem-limit", required_argument, NULL, 'M'}, {"out", required_argument, NULL, 'o'},
        {"threads", required_argument, NULL, 'T'},
        {"force", no_argument, NULL, 'F'},           {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},            {"gptq", no_argument, NULL, 'G'},
        {NULL, 0, NULL, 0}};
    const char *tok_path = NULL, *text_path = NULL, *out_path = NULL;
    long ctx = 0, max_tokens = SCORE_DEFAULT_TOKENS, chunk = 0, mem_mib = 0, threads = 0;
    int json = 0, force = 0, ch, gptq = 0, have_g = 0, method_given = 0;
    gptq_set gs;
    score_opts so;
    score_opts_init(&so);
    int started = 0;
    while ((ch = cli_getopt("mxalloc score", argc, argv, NULL, opts, &started)) != -1) {
        switch (ch) {
        case 't': tok_path = optarg; break;
        case 'x': text_path = optarg; break;
        case 'o': out_path = optarg; break;
        case 'j': json = 1; break;
        case 'F': force = 1; break;
        case 'G': gptq = 1; break;
        case 'h': usage(stdout); return 0;
        case 'f':
            if (cli_format_list("mxalloc score", "--formats", optarg, so.formats, &so.n_formats))
                return 2;
            break;
        case 'm':
            method_given = 1;
            if (parse_methods(optarg, &so.methods)) {
                fprintf(stderr, "mxalloc score: --method: '%s' is not kl, fisher, fisher-out, both (kl "
                        "and fisher), all, or a comma list of them\n", optarg);
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
            if (cli_long("mxalloc score", argv[optind - 1], optarg, ch == 'c' ? 1 : 0, INT_MAX, &v))
                return 2;
            *(ch == 'n'   ? &max_tokens
              : ch == 'c' ? &ctx
              : ch == 'k' ? &chunk
              : ch == 'T' ? &threads
                          : &mem_mib) = v;
            break;
        }
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!cli_one_arg("mxalloc score", "MODEL", argc, argv, text_path ? NULL : "--text CALIB is required")) {
        usage(stderr);
        return 2;
    }
    /* Before minutes of work: the result must have somewhere to go. */
    if (check_destination(out_path))
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
    if (ctx == 0)
        ctx = score_default_ctx(&m);
    if (cli_ctx("mxalloc score", &m, ctx, max_tokens, "--tokens"))
        goto out;
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
    double kl_cost = score_cost_forwards(&m, &so, SCORE_KL);
    int nq = 0;
    for (int i = 0; i < so.n_formats; i++)
        nq += so.formats[i] != MX_FP32;
    int lead = sh->rank == 0; /* only the first process prints and writes */
    if (!method_given && kl_cost > SCORE_KL_MAX_FORWARDS_PER_FORMAT * (nq ? nq : 1)) {
        so.methods = 1u << SCORE_FISHER_OUT;
        if (lead)
            fprintf(stderr, "mxalloc score: method fisher-out (%.1f forward passes per window): kl would cost %.0f "
                "on this model; --method kl forces it\n", score_cost_forwards(&m, &so, SCORE_FISHER_OUT), kl_cost);
    }
    double t_start = clock_now_s();
    if (gptq) { /* every process collects all windows: repeated, not shared */
        if (gptq_set_collect(&gs, &m, cp.tokens, cp.n_tokens, cp.bos, (int)ctx, max_tokens, &e)) {
            fprintf(stderr, "mxalloc score: --gptq: %s\n", e.msg);
            goto out;
        }
        have_g = 1;
        so.gptq = &gs;
    }

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
            if (lead)
                fprintf(stderr, "mxalloc score: %s; recomputing\n", e.msg);
        } else if (score_table_check(&t, &m, key, &so, &e)) {
            if (lead)
                fprintf(stderr, "mxalloc score: %s: %s; recomputing\n", path, e.msg);
        } else {
            rc = 0;
            if (!lead)
                goto out;
            fprintf(stderr, "mxalloc score: using cached scores %s\n", path);
            print_summary(&t, path, 1, json);
            rc = fflush(stdout) ? 1 : 0;
            goto out;
        }
        score_table_free(&t);
    }

    progress_state ps = {.tty = lead && isatty(STDERR_FILENO)};
    if (ps.tty) { /* what it will cost, before it starts */
        double f = 0.0;
        for (int s = 0; s < SCORE_NMETHODS; s++)
            if (so.methods >> s & 1u)
                f += score_cost_forwards(&m, &so, (score_method)s);
        fprintf(stderr, "mxalloc score: %s on %ld windows of %ld tokens: about %.0f forward passes per window\n",
                method_label(so.methods).s, eval_window_count(cp.n_tokens, (int)ctx, max_tokens), ctx, f);
    }
    ps.t0 = clock_now_s();
    so.progress = show_progress;
    so.user = &ps;
    so.anchor_alloc = alloc_setup_anchor; /* the projection's mixed anchors (solver/proj.h) */
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    interrupted = 0;
    sigaction(SIGINT, &sa, &old);
    if (sh->size > 1) {
        so.shard = sh;
        *shared = 1;
    }
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
    if (sh->size > 1) {
        /* the windows divide, the rest (loading, GPTQ, quantizing) repeats */
        double wall = clock_now_s() - t_start, sum, max;
        cli_mpi_reduce(sh, sh->window_s, &sum, &max);
        double one = wall - max + sum;
        if (lead)
            fprintf(stderr, "mxalloc score: %d processes: %.2f s; one process: about %.2f s (%.2fx)\n",
                    sh->size, wall, one, wall > 0 ? one / wall : 1.0);
        *shared = 0; /* no exchange after this: each process may finish alone */
    }
    if (!lead) {
        sigaction(SIGINT, &old, NULL);
        rc = 0;
        goto out;
    }
    /* Still catching SIGINT: a Ctrl-C now cannot cut the atomic write short. */
    snprintf(t.key, sizeof t.key, "%s", key);
    t.gptq = gptq;
    t.text_hash = score_hash_bytes(cp.text, cp.len);
    int wrc = cache_write(path, &t, &e);
    sigaction(SIGINT, &old, NULL);
    if (wrc) {
        fprintf(stderr, "mxalloc score: %s\n", e.msg);
        goto out;
    }
    print_summary(&t, path, 0, json);
    rc = fflush(stdout) ? 1 : 0;
out:
    if (have_g)
        gptq_set_free(&gs);
    score_table_free(&t);
    corpus_free(&cp);
    model_free(&m);
    return rc;
}

int cmd_score(int argc, char **argv)
{
    shard sh;
    if (cli_mpi_begin("mxalloc score", &sh))
        return 1;
    int shared = 0, rc = run_score(argc, argv, &sh, &shared);
    cli_mpi_end(&sh, rc == 0 || !shared);
    return rc;
}
