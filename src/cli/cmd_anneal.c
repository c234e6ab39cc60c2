/* mxalloc anneal: differentiable format search (dMX or GAMMA) on a
 * calibration text; writes the assignment config and GAMMA's score table. */
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
#include "solver/gamma.h"
#include "solver/search.h"
#include "src/cache.h"
#include "src/cfg.h"
#include "src/cli/cli.h"
#include "src/cli/cmd.h"
#include "src/corpus.h"
#include "src/eval.h"
#include "src/gptq_set.h"
#include "src/model.h"
#include "src/prune.h"
#include "src/score.h"
#include "src/tok.h"

#define ANNEAL_CTX_CAP 256
#define ANNEAL_DEFAULT_LEVELS "1,0.75,0.5,0.25,0" /* as mxalloc prune's */

/* The one piece of process state a signal handler may touch. */
static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mxalloc anneal MODEL [--tokenizer FILE] --text CALIB --budget B\n"
            "                      [--search dmx|gamma] [--loss kl|ce] [--steps N] [--lr X]\n"
            "                      [--t0 X --tmin X] [--lambda X] [--rho X] [--seed N]\n"
            "                      [--tokens N] [--ctx N] [--formats LIST] [--every K]\n"
            "                      [--init-scores FILE] [--refine N] [--out CFG.json]\n"
            "                      [--scores-out FILE] [--gptq]\n"
            "                      [--prune [--levels LIST]] [--json]\n\n"
            "Differentiable search for one MX format per linear module at an average of B\n"
            "bits per weight (scales included). Every module is a soft mixture of its\n"
            "fake-quantized copies; only the mixture parameters are learned (Adam) on the\n"
            "calibration windows, the weights stay frozen. The result never exceeds B.\n\n"
            "  --search dmx      one annealed offset per module over the formats ordered by\n"
            "                    bits (default); gamma: per-module preference logits with an\n"
            "                    augmented Lagrangian on the expected bits\n"
            "  --loss kl|ce      KL to the fp32 model's next-token distribution (gamma's\n"
            "                    default) or cross-entropy on the text (dmx's default)\n"
            "  --steps N         optimisation steps, one window each (default 200)\n"
            "  --lr X            Adam learning rate (default 0.1)\n"
            "  --t0, --tmin X    temperature schedule, exponential (dmx 3 -> 0.05,\n"
            "                    gamma 1 -> 0.3)\n"
            "  --lambda X        dmx budget penalty lambda*(E[bits]-B)^2 (default 20)\n"
            "  --rho X           gamma initial penalty (default 10)\n"
            "  --seed N          window-order seed (default 1)\n"
            "  --tokens N        calibration tokens at most (whole windows; default all)\n"
            "  --ctx N           window length (default min(256, model context))\n"
            "  --formats LIST    candidates, comma separated (default the six MX formats)\n"
            "  --every K         a progress line every K steps (default steps/20)\n"
            "  --init-scores F   start from the integer-program solution of a score file\n"
            "                    (mxalloc score: kl, else fisher, else gamma scores) at the\n"
            "                    budget instead of the uniform mixture matching it\n"
            "  --refine N        then refine the assignment with at most N exact evaluations\n"
            "                    of the calibration cross-entropy (single-module changes\n"
            "                    combined by the integer program; never worse, within B;\n"
            "                    0 = off; default 400)\n"
            "  --out FILE        write the assignment config (JSON)\n"
            "  --scores-out FILE write GAMMA's score table (for alloc/sweep/tui)\n"
            "  --gptq            the MX candidates quantized by GPTQ with the second moments\n"
            "                    of these calibration windows (score --gptq); the config then\n"
            "                    needs this text (ppl/quantize --gptq-text)\n"
            "  --prune           choose per module a format AND per block how much\n"
            "                    of the attention (GQA groups) and of the MLP (channels) to\n"
            "                    keep (units ranked as mxalloc prune ranks them); B counts the\n"
            "                    unpruned weights; the groups' shared level is solved exactly\n"
            "                    at the end (dmx: an offset per module over the formats and\n"
            "                    one per group over the levels); no refinement; the config\n"
            "                    gets a \"prune\" section\n"
            "  --levels LIST     kept fractions with --prune (default " ANNEAL_DEFAULT_LEVELS ";\n"
            "                    0 skips the sublayer)\n"
            "  --json            print the result as JSON on stdout\n"
            "Ctrl-C stops the search early; the assignment reached is still written.\n");
}

/* One glyph per format for the compact progress string (the traits table). */
static char format_letter(mx_format f)
{
    const mx_traits *t = mx_traits_of(f);
    return t ? t->glyph : '?';
}

typedef struct progress {
    int every;
    char *line; /* n_modules + 1 */
    char *kline; /* n_modules + 1: per module kept tenths ('+' all, '0' none), joint mode */
    double t_start;
} progress;

/* The per-module strings of an assignment: format glyphs ('.' where nothing
 * is kept) and, with keep, the kept fractions in tenths. */
static void progress_strings(progress *p, const search_event *ev)
{
    for (int m = 0; m < ev->n_modules; m++) {
        int k = ev->argmax[m];
        double kf = ev->keep ? ev->keep[k] : 1.0;
        p->line[m] = kf > 0 ? format_letter(ev->formats[k]) : '.';
        p->kline[m] = kf >= 1.0 ? '+' : (char)('0' + (int)floor(kf * 10.0));
    }
    p->line[ev->n_modules] = 0;
    p->kline[ev->n_modules] = 0;
}

static int on_event(void *user, const search_event *ev)
{
    progress *p = user;
    if (ev->refine_max > 0) { /* refinement: a line every 50 evaluations */
        if (ev->refine_evals % 50 == 0 || interrupted) {
            progress_strings(p, ev);
            fprintf(stderr, "refine %4d/%d  calib ce %.5f  bits %.3f  %s  (%.1fs)\n",
                    ev->refine_evals, ev->refine_max, ev->task_loss, ev->argmax_bits, p->line,
                    clock_now_s() - p->t_start);
        }
        return interrupted != 0;
    }
    if (ev->step % p->every == 0 || ev->step == ev->n_steps || interrupted) {
        progress_strings(p, ev);
        if (ev->method == SEARCH_DMX)
            fprintf(stderr, "step %4d/%d  T %.3f", ev->step, ev->n_steps, ev->temperature);
        else
            fprintf(stderr, "step %4d/%d  mu %+.3g rho %.3g", ev->step, ev->n_steps, ev->mu,
                    ev->rho);
        fprintf(stderr, "  task %.5f  reg %.2e  E[bits] %.3f  argmax %.3f  %s", ev->task_loss, ev->reg,
                ev->exp_bits, ev->argmax_bits, p->line);
        if (ev->keep)
            fprintf(stderr, "  keep %s", p->kline);
        fprintf(stderr, "  (%.1fs)\n", clock_now_s() - p->t_start);
    }
    return interrupted != 0;
}

/* [n_modules][n_formats in d's order] costs from a score file: per module by
 * name, the first method with finite scores for every candidate. */
static double *load_init_cost(const char *path, const model *m, const search_data *d,
                              mx_error *e)
{
    score_table t;
    if (cache_read(path, &t, e))
        return NULL;
    double *c = malloc(sizeof *c * (size_t)m->n_modules * d->n_formats);
    if (!c) {
        score_table_free(&t);
        err_set(e, ERR_NOMEM, "out of memory");
        return NULL;
    }
    for (int i = 0; i < m->n_modules; i++) {
        int j = score_table_find(&t, m->modules[i].name), found = 0;
        for (int meth = 0; j >= 0 && meth < SCORE_NMETHODS && !found; meth++) {
            found = 1;
            for (int k = 0; k < d->n_formats; k++) {
                double v = score_cost(&t.modules[j], (score_method)meth, d->formats[k]);
                found &= isfinite(v);
                c[(size_t)i * d->n_formats + k] = v;
            }
        }
        if (!found) {
            err_set(e, ERR_FORMAT, "%s: no scores for module %s in every candidate format", path,
                    m->modules[i].name);
            score_table_free(&t);
            free(c);
            return NULL;
        }
    }
    score_table_free(&t);
    return c;
}

/* The level of group g in an answer (its modules share it). */
static int group_level(const search_prune *sp, const int *level, int n_modules, int g)
{
    for (int i = 0; i < n_modules; i++)
        if (sp->group[i] == g)
            return level[i];
    return 0;
}

static double group_kept(const search_prune *sp, const int *level, int n_modules, int g)
{
    return (double)sp->kept[g * sp->n_levels + group_level(sp, level, n_modules, g)] / sp->units[g];
}

/* Fraction of the linear weights kept (params-weighted, before quantization). */
static double kept_weights(const search_prune *sp, const model *m, const int *level)
{
    double kept = 0.0, all = 0.0;
    for (int i = 0; i < m->n_modules; i++) {
        int r, c;
        prune_shape(m, i, sp->mask[sp->group[i] * sp->n_levels + level[i]], &r, &c, NULL, NULL);
        kept += (double)r * c;
        all += (double)m->modules[i].params;
    }
    return all > 0 ? kept / all : 1.0;
}

int cmd_anneal(int argc, char **argv)
{
    static const struct option opts[] = {
        {"tokenizer", required_argument, NULL, 'k'}, {"text", required_argument, NULL, 'x'},
        {"budget", required_argument, NULL, 'b'},    {"search", required_argument, NULL, 'M'},
        {"method", required_argument, NULL, 'M'}, /* the older spelling of --search */
        {"loss", required_argument, NULL, 'L'},      {"steps", required_argument, NULL, 's'},
        {"lr", required_argument, NULL, 'r'},        {"t0", required_argument, NULL, '0'},
        {"tmin", required_argument, NULL, '1'},      {"lambda", required_argument, NULL, 'l'},
        {"rho", required_argument, NULL, 'R'},       {"seed", required_argument, NULL, 'S'},
        {"tokens", required_argument, NULL, 'n'},    {"ctx", required_argument, NULL, 'c'},
        {"formats", required_argument, NULL, 'f'},   {"every", required_argument, NULL, 'e'},
        {"init-scores", required_argument, NULL, 'I'}, {"refine", required_argument, NULL, 'F'},
        {"gptq", no_argument, NULL, 'G'},            {"prune", no_argument, NULL, 'P'},
        {"levels", required_argument, NULL, 'V'},
        {"out", required_argument, NULL, 'o'},       {"scores-out", required_argument, NULL, 'O'},
        {"json", no_argument, NULL, 'j'},            {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *tok_path = NULL, *text_path = NULL, *out_path = NULL, *scores_path = NULL;
    const char *method_s = "dmx", *loss_s = NULL, *formats_s = NULL, *init_path = NULL;
    double budget = NAN, lr = NAN, t0 = NAN, tmin = NAN, lambda = NAN, rho = NAN;
    long steps = -1, seed = -1, refine = -1, tokens = 0, ctx = 0, every = 0;
    int json = 0, ch, started = 0, gptq = 0, have_g = 0, prune = 0, n_levels = 0;
    const char *levels_s = NULL;
    double levels[SEARCH_MAX_LEVELS];
    gptq_set gs;
    while ((ch = cli_getopt("mxalloc anneal", argc, argv, NULL, opts, &started)) != -1) {
        const char *name = NULL;
        int bad = 0;
        switch (ch) {
        case 'k': tok_path = optarg; break;
        case 'x': text_path = optarg; break;
        case 'M': method_s = optarg; break;
        case 'L': loss_s = optarg; break;
        case 'f': formats_s = optarg; break;
        case 'o': out_path = optarg; break;
        case 'O': scores_path = optarg; break;
        case 'I': init_path = optarg; break;
        case 'j': json = 1; break;
        case 'G': gptq = 1; break;
        case 'P': prune = 1; break;
        case 'V': levels_s = optarg; break;
        case 'h': usage(stdout); return 0;
        case 'b': name = "--budget"; bad = cli_parse_double(optarg, &budget) || budget <= 0; break;
        case 'r': name = "--lr"; bad = cli_parse_double(optarg, &lr) || lr <= 0; break;
        case '0': name = "--t0"; bad = cli_parse_double(optarg, &t0) || t0 <= 0; break;
        case '1': name = "--tmin"; bad = cli_parse_double(optarg, &tmin) || tmin <= 0; break;
        /* penalties above 1e6 only overflow (the search caps rho at 1e4 itself) */
        case 'l': name = "--lambda"; bad = cli_parse_double(optarg, &lambda) || lambda < 0 || lambda > 1e6; break;
        case 'R': name = "--rho"; bad = cli_parse_double(optarg, &rho) || rho <= 0 || rho > 1e6; break;
        case 's': name = "--steps"; bad = cli_parse_long(optarg, 1, &steps) || steps > INT_MAX; break;
        case 'F': name = "--refine"; bad = cli_parse_long(optarg, 0, &refine) || refine > INT_MAX; break;
        case 'S': name = "--seed"; bad = cli_parse_long(optarg, 0, &seed); break;
        case 'n': name = "--tokens"; bad = cli_parse_long(optarg, 1, &tokens); break;
        case 'c': name = "--ctx"; bad = cli_parse_long(optarg, 1, &ctx) || ctx > INT_MAX; break;
        case 'e': name = "--every"; bad = cli_parse_long(optarg, 1, &every) || every > INT_MAX; break;
        default:
            usage(stderr);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "mxalloc anneal: %s: bad value '%s'\n", name, optarg);
            return 2;
        }
    }
    if (!cli_one_arg("mxalloc anneal", "MODEL", argc, argv,
                     text_path && !isnan(budget) ? NULL : "--text FILE and --budget B are required")) {
        usage(stderr);
        return 2;
    }
    search_method method;
    search_loss loss;
    if (search_method_parse(method_s, &method)) {
        fprintf(stderr, "mxalloc anneal: --search: '%s' is not dmx or gamma\n", method_s);
        return 2;
    }
    if (!loss_s)
        loss_s = method == SEARCH_DMX ? "ce" : "kl";
    if (search_loss_parse(loss_s, &loss)) {
        fprintf(stderr, "mxalloc anneal: --loss: '%s' is not kl or ce\n", loss_s);
        return 2;
    }
    if (scores_path && method != SEARCH_GAMMA) {
        fprintf(stderr, "mxalloc anneal: --scores-out needs --search gamma\n");
        return 2;
    }
    if (levels_s && !prune) {
        fprintf(stderr, "mxalloc anneal: --levels needs --prune\n");
        return 2;
    }
    if (prune) {
        const char *why = gptq          ? "does not take --gptq (GPTQ does not apply to pruned modules)"
                          : scores_path ? "does not take --scores-out (the score table is per format)"
                          : init_path   ? "does not take --init-scores"
                          : refine > 0  ? "does not take --refine (no refinement over the joint choice)"
                                        : NULL;
        if (why) {
            fprintf(stderr, "mxalloc anneal: --prune %s\n", why);
            return 2;
        }
        if (cli_levels(levels_s ? levels_s : ANNEAL_DEFAULT_LEVELS, levels, &n_levels, SEARCH_MAX_LEVELS)) {
            fprintf(stderr, "mxalloc anneal: --levels: '%s' is not a list of 1..%d distinct fractions in [0, 1]\n",
                    levels_s ? levels_s : ANNEAL_DEFAULT_LEVELS, SEARCH_MAX_LEVELS);
            return 2;
        }
    }
    search_opts so;
    search_opts_init(&so, method);
    so.loss = loss;
    if (steps > 0)
        so.steps = (int)steps;
    if (!isnan(lr))
        so.lr = lr;
    if (!isnan(t0))
        so.t0 = t0;
    if (!isnan(tmin))
        so.tmin = tmin;
    if (!isnan(lambda))
        so.lambda = lambda;
    if (!isnan(rho))
        so.rho = rho;
    if (seed >= 0)
        so.seed = (uint64_t)seed;
    if (refine >= 0)
        so.refine = (int)refine;
    if (prune)
        so.refine = 0;
    if (so.tmin > so.t0) {
        fprintf(stderr, "mxalloc anneal: --tmin %g exceeds --t0 %g\n", so.tmin, so.t0);
        return 2;
    }
    search_data d;
    memset(&d, 0, sizeof d);
    if (formats_s) {
        if (cli_format_list("mxalloc anneal", "--formats", formats_s, d.formats, &d.n_formats))
            return 2;
    } else {
        d.n_formats = search_default_formats(d.formats, NULL);
    }
    d.budget = budget;

    int rc = 1;
    mx_error e = {0};
    model m;
    corpus cp = {0};
    int *in = NULL, *tgt = NULL;
    search_result r;
    memset(&r, 0, sizeof r);
    score_table st;
    score_table_init(&st);
    mx_cfg cfg;
    cfg_init(&cfg);
    progress pg = {0, NULL, NULL, clock_now_s()};
    double *init_cost = NULL;
    prune_plan plan = {0};
    search_prune sp;
    memset(&sp, 0, sizeof sp);
    struct sigaction sa, old_sa;
    int have_sig = 0;

    if (model_load(argv[optind], &m, &e)) {
        fprintf(stderr, "mxalloc anneal: %s\n", e.msg);
        return 1;
    }
    if (ctx == 0)
        ctx = m.cfg.max_seq < ANNEAL_CTX_CAP ? m.cfg.max_seq : ANNEAL_CTX_CAP;
    if (cli_ctx("mxalloc anneal", &m, ctx, tokens, "--tokens"))
        goto out;
    if (corpus_load(&cp, &m, tok_path, text_path, (int)ctx, tokens, &e)) {
        fprintf(stderr, "mxalloc anneal: %s\n", e.msg);
        goto out;
    }
    long nw = cp.n_windows;
    in = malloc(sizeof *in * (size_t)nw * ctx);
    tgt = malloc(sizeof *tgt * (size_t)nw * ctx);
    pg.line = malloc((size_t)m.n_modules + 1);
    pg.kline = malloc((size_t)m.n_modules + 1);
    if (!in || !tgt || !pg.line || !pg.kline) {
        fprintf(stderr, "mxalloc anneal: out of memory\n");
        goto out;
    }
    for (long k = 0; k < nw; k++)
        eval_window_tokens(cp.tokens, k, (int)ctx, cp.bos, in + k * ctx, tgt + k * ctx);
    d.cfg = &m.cfg;
    d.w = &m.weights;
    d.in = in;
    d.tgt = tgt;
    d.n_windows = nw;
    d.ctx = (int)ctx;
    uint64_t text_hash = score_hash_bytes(cp.text, cp.len);
    if (gptq) {
        if (gptq_set_collect(&gs, &m, cp.tokens, cp.n_tokens, cp.bos, (int)ctx, nw * ctx, &e)) {
            fprintf(stderr, "mxalloc anneal: --gptq: %s\n", e.msg);
            goto out;
        }
        have_g = 1;
        d.gptq = &gs;
    }
    if (prune) { /* units ranked on these windows, as mxalloc prune ranks them */
        if (prune_plan_collect(&plan, &m, cp.tokens, cp.n_tokens, cp.bos, (int)ctx, tokens, &e) ||
            search_prune_init(&sp, &m, &plan, levels, n_levels, d.formats, d.n_formats, &e)) {
            fprintf(stderr, "mxalloc anneal: --prune: %s\n", e.msg);
            goto out;
        }
        d.prune = &sp;
    }
    pg.every = every > 0 ? (int)every : (so.steps >= 20 ? so.steps / 20 : 1);
    so.on_event = on_event;
    so.user = &pg;

    if (init_path && !(init_cost = load_init_cost(init_path, &m, &d, &e))) {
        fprintf(stderr, "mxalloc anneal: %s\n", e.msg);
        goto out;
    }
    so.init_cost = init_cost;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    interrupted = 0;
    have_sig = sigaction(SIGINT, &sa, &old_sa) == 0;
    fprintf(stderr, "anneal: %s, %s loss, budget %.3f bits, %d steps over %ld windows of %ld;"
                    " letters:",
            search_method_name(method), search_loss_name(loss), budget, so.steps, nw, ctx);
    if (prune) {
        fprintf(stderr, " (joint with keep levels");
        for (int k = 0; k < n_levels; k++)
            fprintf(stderr, "%s%g", k ? "," : " ", levels[k]);
        fprintf(stderr, "; '.' = nothing kept, keep string in tenths, '+' = all)");
    }
    for (int k = 0; k < d.n_formats; k++)
        fprintf(stderr, " %c=%s", format_letter(d.formats[k]), mx_format_name(d.formats[k]));
    fprintf(stderr, "\n");
    double t_start = clock_now_s();
    int src = search_run(&d, &so, &r, &e);
    double secs = clock_now_s() - t_start;
    if (have_sig) {
        sigaction(SIGINT, &old_sa, NULL);
        have_sig = 0;
    }
    if (src) {
        fprintf(stderr, "mxalloc anneal: %s\n", e.msg);
        goto out;
    }
    double nll = NAN, nll32 = NAN;
    if (search_eval_pruned(&d, r.assign, r.level, so.threads, &nll, &e) ||
        search_eval_assignment(&d, NULL, so.threads, &nll32, &e)) {
        fprintf(stderr, "mxalloc anneal: %s\n", e.msg);
        goto out;
    }

    if (out_path) {
        snprintf(cfg.model, sizeof cfg.model, "%.255s", m.path);
        cfg.budget_bits = budget;
        cfg.avg_bits = r.avg_bits;
        if (gptq)
            cfg_set_gptq(&cfg, text_hash, (int)ctx, nw * ctx);
        for (int i = 0; i < m.n_modules; i++)
            if (cfg_set_format(&cfg, m.modules[i].name, r.assign[i], &e) ||
                cfg_set_shape(&cfg, m.modules[i].name, m.modules[i].rows, m.modules[i].cols, &e)) {
                fprintf(stderr, "mxalloc anneal: %s\n", e.msg);
                goto out;
            }
        if (prune) { /* the groups' masks at their levels (NULL: kept whole) */
            unsigned char **gm = calloc((size_t)sp.n_groups, sizeof *gm);
            for (int g = 0; gm && g < sp.n_groups; g++)
                gm[g] = sp.mask[g * sp.n_levels + group_level(&sp, r.level, m.n_modules, g)];
            int bad = !gm ? err_set(&e, ERR_NOMEM, "out of memory") : cfg_set_prune_masks(&cfg, &m, gm, &e);
            free(gm);
            if (bad) {
                fprintf(stderr, "mxalloc anneal: %s\n", e.msg);
                goto out;
            }
        }
        if (cfg_save(out_path, &cfg, &e)) {
            fprintf(stderr, "mxalloc anneal: %s\n", e.msg);
            goto out;
        }
    }
    if (scores_path) {
        if (gamma_export(&r, &m.cfg, &st, &e)) {
            fprintf(stderr, "mxalloc anneal: %s\n", e.msg);
            goto out;
        }
        snprintf(st.model, sizeof st.model, "%.255s", m.path);
        st.model_hash = m.content_hash;
        st.calib_tokens = nw * ctx;
        st.ctx = (int)ctx;
        st.fp32_loss = nll32;
        for (int i = 0; i < m.n_modules && i < st.n_modules; i++)
            snprintf(st.modules[i].name, sizeof st.modules[i].name, "%s", m.modules[i].name);
        st.gptq = gptq;
        st.text_hash = text_hash;
        score_key_input ki = {.model_hash = m.content_hash,
                              .text_hash = text_hash,
                              .tokens_hash = score_hash_bytes(in, sizeof *in * (size_t)nw * ctx),
                              .calib_tokens = nw * ctx,
                              .ctx = (int)ctx,
                              .methods = st.methods,
                              .n_formats = st.n_formats,
                              .formats = st.formats,
                              .gptq = gptq};
        char key[17];
        score_key(&ki, key);
        snprintf(st.key, sizeof st.key, "%s", key);
        if (cache_write(scores_path, &st, &e)) {
            fprintf(stderr, "mxalloc anneal: %s\n", e.msg);
            goto out;
        }
    }

    if (json) {
        /* through jansson: module names come from the model file and need escaping */
        json_t *j = json_object(), *f = json_object();
        json_object_set_new(j, "method", json_string(search_method_name(method)));
        json_object_set_new(j, "loss", json_string(search_loss_name(loss)));
        json_object_set_new(j, "budget_bits", json_real(budget));
        json_object_set_new(j, "avg_bits", json_real(r.avg_bits));
        json_object_set_new(j, "exp_bits", json_real(r.exp_bits));
        json_object_set_new(j, "steps", json_integer(r.steps_done));
        json_object_set_new(j, "cancelled", json_boolean(r.cancelled));
        json_object_set_new(j, "repaired", json_boolean(r.repaired));
        json_object_set_new(j, "filled", json_integer(r.filled));
        json_object_set_new(j, "refine_evals", json_integer(r.refine_evals));
        json_object_set_new(j, "refine_moves", json_integer(r.refine_moves));
        json_object_set_new(j, "calib_nll", isfinite(nll) ? json_real(nll) : json_null());
        json_object_set_new(j, "fp32_calib_nll", isfinite(nll32) ? json_real(nll32) : json_null());
        json_object_set_new(j, "seconds", json_real(secs));
        for (int i = 0; i < m.n_modules; i++)
            json_object_set_new(f, m.modules[i].name, json_string(mx_format_name(r.assign[i])));
        json_object_set_new(j, "formats", f);
        if (prune) {
            json_t *kj = json_object();
            for (int g = 0; g < sp.n_groups; g++) {
                char name[CFG_NAME_MAX];
                prune_group_name(g / PRUNE_NPARTS, g % PRUNE_NPARTS, name, sizeof name);
                json_object_set_new(kj, name, json_real(group_kept(&sp, r.level, m.n_modules, g)));
            }
            json_object_set_new(j, "kept", kj);
            json_object_set_new(j, "kept_weights", json_real(kept_weights(&sp, &m, r.level)));
        }
        char *txt = json_dumps(j, JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
        if (txt)
            printf("%s\n", txt);
        free(txt);
        json_decref(j);
    } else {
        int count[MX_NFORMATS] = {0};
        for (int i = 0; i < m.n_modules; i++)
            count[r.assign[i]]++;
        printf("method      %s (%s loss)%s\n", search_method_name(method),
               search_loss_name(loss), r.cancelled ? ", stopped early" : "");
        printf("steps       %d in %.1f s\n", r.steps_done, secs);
        printf("avg bits    %.4f (budget %.4f; E[bits] at the end %.4f)%s; %d upgrade%s with"
               " the rounding slack\n", r.avg_bits, budget, r.exp_bits,
               r.repaired ? ", repaired by the ILP" : "", r.filled, r.filled == 1 ? "" : "s");
        if (r.refine_evals > 0)
            printf("refine      %d evaluations, %d move%s: calib ce %.6f -> %.6f\n",
                   r.refine_evals, r.refine_moves, r.refine_moves == 1 ? "" : "s",
                   r.refine_nll0, r.refine_nll);
        printf("calib nll   %.6f (fp32 %.6f, ppl %.4f vs %.4f)\n", nll, nll32, exp(nll),
               exp(nll32));
        printf("formats    ");
        for (int k = 0; k < d.n_formats; k++)
            if (count[d.formats[k]])
                printf(" %s x%d", mx_format_name(d.formats[k]), count[d.formats[k]]);
        printf("\n");
        if (prune) {
            printf("kept        %.1f%% of the linear weights (one keep level per group, solved exactly)\n",
                   100.0 * kept_weights(&sp, &m, r.level));
            for (int g = 0; g < sp.n_groups; g++) {
                char name[CFG_NAME_MAX];
                prune_group_name(g / PRUNE_NPARTS, g % PRUNE_NPARTS, name, sizeof name);
                double frac = group_kept(&sp, r.level, m.n_modules, g);
                printf("  %-28s keep %3.0f%%", name, 100.0 * frac);
                for (int i = 0; i < m.n_modules; i++)
                    if (sp.group[i] == g)
                        printf("  %s %s", model_kind_label(m.modules[i].kind),
                               frac > 0 ? mx_format_name(r.assign[i]) : "-");
                printf("\n");
            }
        }
        if (out_path)
            printf("config      %s\n", out_path);
        if (scores_path)
            printf("scores      %s\n", scores_path);
    }
    rc = fflush(stdout) ? 1 : 0;
out:
    if (have_sig)
        sigaction(SIGINT, &old_sa, NULL);
    if (have_g)
        gptq_set_free(&gs);
    free(pg.line);
    free(pg.kline);
    free(init_cost);
    search_prune_free(&sp);
    prune_plan_free(&plan);
    search_result_free(&r);
    score_table_free(&st);
    cfg_free(&cfg);
    free(in);
    free(tgt);
    corpus_free(&cp);
    model_free(&m);
    return rc;
}
