/* mxalloc ppl: perplexity of a model on a text, in fp32, with every block
 * linear fake-quantized to one MX format, or with a per-module config. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernels/clock.h"
#include "kernels/mx.h"
#include "src/cfg.h"
#include "src/cli/cli.h"
#include "src/cli/cmd.h"
#include "src/corpus.h"
#include "src/eval.h"
#include "src/gptq_set.h"
#include "src/model.h"
#include "src/packed.h"
#include "src/stats.h"
#include "src/tok.h"

#define PPL_DEFAULT_CTX_CAP 2048

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mxalloc ppl MODEL [--tokenizer FILE] --text FILE [--ctx N]\n"
            "                   [--format F | --config CFG.json] [--max-tokens N]\n"
            "                   [--gptq-text FILE] [--packed [--repeat N]] [--json]\n\n"
            "Perplexity of MODEL on the text FILE, tokenized as one string, in consecutive\n"
            "non-overlapping windows of N tokens (the last partial window is dropped), each\n"
            "fed after a BOS token; every window token is scored once.\n\n"
            "  --tokenizer FILE  tokenizer.json, tokenizer.model or llama2.c tokenizer.bin;\n"
            "                    default: the model's own (tokenizer.json or tokenizer.model\n"
            "                    in its directory, GGUF metadata, tokenizer.bin beside it)\n"
            "  --text FILE       the evaluation text (required)\n"
            "  --ctx N           window length (default: the model's maximum context, at\n"
            "                    most %d)\n"
            "  --format F        fake-quantize every linear of the blocks to F (mxfp4_e2m1,\n"
            "                    mxfp8_e4m3, bf16, ...; not the embedding or lm_head)\n"
            "  --config FILE     per-module formats from a config JSON (\"formats\" object;\n"
            "                    modules not named stay fp32)\n"
            "  --max-tokens N    score at most N tokens (whole windows)\n"
            "  --gptq-text FILE  quantize the MX modules by GPTQ with the second moments of\n"
            "                    this calibration text (required by, and checked against, a\n"
            "                    config made from `score --gptq` scores; with --format, the\n"
            "                    windows of score's defaults); not with --packed\n"
            "  --packed          hold the linears packed (MX codes + E8M0 scales) and\n"
            "                    dequantize each, in row chunks, right before its GEMM; time\n"
            "                    the pass (the same nll to float rounding); prints us/token\n"
            "  --repeat N        with --packed: run the pass N times, report the median time\n"
            "  --json            print {\"tokens\", \"windows\", \"nll\", \"ppl\"} as JSON (with\n"
            "                    --packed also us_per_token, linear_us_per_token, tokens_per_s,\n"
            "                    packed_bytes, repeat)\n",
            PPL_DEFAULT_CTX_CAP);
}

typedef struct progress_state {
    int tty;
} progress_state;

static int show_progress(void *user, long done, long total)
{
    progress_state *p = user;
    if (p->tty) {
        int width = 30, fill = (int)(width * done / (total ? total : 1));
        fprintf(stderr, "\rppl [%.*s%*s] %ld/%ld windows", fill,
                "##############################", width - fill, "", done, total);
        if (done == total)
            fprintf(stderr, "\r%*s\r", 60, "");
        fflush(stderr);
    }
    return 0;
}

/* ppl --packed: the same windows through packed_model's linears, timed. */
static int ppl_packed(model *m, mx_format uniform, const char *cfg_path, const char *tok_path,
                      const char *text_path, int ctx, long max_tokens, int repeat, int json)
{
    mx_error e = {0};
    corpus cp = {0};
    packed_model pm = {0};
    tf_ctx *t = NULL;
    int rc = 1, have_pm = 0;
    double *tot = malloc(2 * sizeof(double) * (size_t)repeat), *lin = tot + repeat;
    mx_format *fmts = malloc(sizeof *fmts * (size_t)(m->n_modules ? m->n_modules : 1));
    if (!tot || !fmts) {
        fprintf(stderr, "mxalloc ppl: out of memory\n");
        goto out;
    }
    if (cli_module_formats(m, uniform, cfg_path, fmts, &e) || packed_model_init(&pm, m, fmts, &e) ||
        (have_pm = 1, corpus_load(&cp, m, tok_path, text_path, ctx, max_tokens, &e))) {
        fprintf(stderr, "mxalloc ppl: %s\n", e.msg);
        goto out;
    }
    if (!(t = tf_ctx_create(&m->cfg, ctx, 0))) {
        fprintf(stderr, "mxalloc ppl: out of memory for a %d-token workspace\n", ctx);
        goto out;
    }
    packed_model_attach(&pm, t);
    eval_result r;
    for (int k = 0; k < repeat; k++) {
        packed_model_reset_time(&pm);
        double t0 = clock_now_s();
        if (eval_perplexity_ctx(t, &m->weights, cp.tokens, cp.n_tokens, cp.bos, ctx, max_tokens, NULL,
                                NULL, &r, &e)) {
            fprintf(stderr, "mxalloc ppl: %s\n", e.msg);
            goto out;
        }
        tot[k] = clock_now_s() - t0;
        lin[k] = pm.lin_seconds;
    }
    double med = stats_median(tot, repeat), lmed = stats_median(lin, repeat);
    double us = 1e6 * med / (double)r.tokens, lus = 1e6 * lmed / (double)r.tokens;
    if (json)
        printf("{\"tokens\": %ld, \"windows\": %ld, \"nll\": %.9g, \"ppl\": %.9g, \"packed\": true, "
               "\"packed_bytes\": %zu, \"repeat\": %d, \"us_per_token\": %.6g, \"linear_us_per_token\": %.6g, "
               "\"tokens_per_s\": %.6g}\n",
               r.tokens, r.windows, r.nll, r.ppl, packed_model_bytes(&pm), repeat, us, lus, 1e6 / us);
    else
        printf("tokens  %ld\nwindows %ld (ctx %d)\nnll     %.6f\nppl     %.4f\n"
               "packed  %zu bytes (block linears)\n"
               "time    %.3f us/token (%.0f tokens/s), linears %.3f us/token; median of %d\n",
               r.tokens, r.windows, ctx, r.nll, r.ppl, packed_model_bytes(&pm), us, 1e6 / us, lus, repeat);
    rc = fflush(stdout) ? 1 : 0;
out:
    tf_ctx_free(t);
    if (have_pm)
        packed_model_free(&pm);
    corpus_free(&cp);
    free(fmts);
    free(tot);
    return rc;
}

int cmd_ppl(int argc, char **argv)
{
    static const struct option opts[] = {
        {"tokenizer", required_argument, NULL, 't'}, {"text", required_argument, NULL, 'x'},
        {"ctx", required_argument, NULL, 'c'},       {"format", required_argument, NULL, 'f'},
        {"config", required_argument, NULL, 'g'},    {"max-tokens", required_argument, NULL, 'm'},
        {"json", no_argument, NULL, 'j'},            {"help", no_argument, NULL, 'h'},
        {"packed", no_argument, NULL, 'p'},          {"repeat", required_argument, NULL, 'r'},
        {"gptq-text", required_argument, NULL, 'q'}, {NULL, 0, NULL, 0}};
    const char *tok_path = NULL, *text_path = NULL, *fmt_name = NULL, *cfg_path = NULL, *gptq_text = NULL;
    long ctx = 0, max_tokens = 0, repeat = 0;
    int json = 0, packed = 0, ch, started = 0;
    while ((ch = cli_getopt("mxalloc ppl", argc, argv, NULL, opts, &started)) != -1) {
        switch (ch) {
        case 't': tok_path = optarg; break;
        case 'x': text_path = optarg; break;
        case 'f': fmt_name = optarg; break;
        case 'g': cfg_path = optarg; break;
        case 'j': json = 1; break;
        case 'p': packed = 1; break;
        case 'q': gptq_text = optarg; break;
        case 'h': usage(stdout); return 0;
        case 'r':
            if (cli_long("mxalloc ppl", "--repeat", optarg, 1, 1000, &repeat))
                return 2;
            break;
        case 'c':
            if (cli_long("mxalloc ppl", "--ctx", optarg, 1, INT_MAX, &ctx))
                return 2;
            break;
        case 'm':
            if (cli_long("mxalloc ppl", "--max-tokens", optarg, 1, LONG_MAX, &max_tokens))
                return 2;
            break;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!cli_one_arg("mxalloc ppl", "MODEL", argc, argv, text_path ? NULL : "--text FILE is required")) {
        usage(stderr);
        return 2;
    }
    if (gptq_text && packed) {
        fprintf(stderr, "mxalloc ppl: --gptq-text does not go with --packed (the packed path rounds to nearest)\n");
        return 2;
    }
    if (repeat && !packed) {
        fprintf(stderr, "mxalloc ppl: --repeat needs --packed\n");
        return 2;
    }
    const char *model_path = argv[optind];
    mx_format uniform;
    if (cli_format_or_config("mxalloc ppl", fmt_name, cfg_path, &uniform))
        return 2;

    int rc = 1;
    mx_error e = {0};
    model m;
    corpus cp = {0};
    eval_qweights q = {0};
    gptq_set gs;
    int have_q = 0, have_g = 0;

    if (model_load(model_path, &m, &e)) {
        fprintf(stderr, "mxalloc ppl: %s\n", e.msg);
        return 1;
    }
    int max_ctx = m.cfg.max_seq;
    if (ctx == 0)
        ctx = max_ctx < PPL_DEFAULT_CTX_CAP ? max_ctx : PPL_DEFAULT_CTX_CAP;
    if (cli_ctx("mxalloc ppl", &m, ctx, max_tokens, "--max-tokens"))
        goto out;
    if (packed) {
        rc = ppl_packed(&m, uniform, cfg_path, tok_path, text_path, (int)ctx, max_tokens,
                        repeat ? (int)repeat : 1, json);
        goto out;
    }
    if ((rc = cli_gptq("mxalloc ppl", &m, cfg_path, gptq_text, tok_path, &gs, &have_g)))
        goto out;
    rc = 1;
    const tf_weights *w = cli_quant_weights(&m, uniform, cfg_path, have_g ? &gs : NULL, &q, &have_q, &e);
    if (!w) {
        fprintf(stderr, "mxalloc ppl: %s\n", e.msg);
        goto out;
    }

    if (corpus_load(&cp, &m, tok_path, text_path, (int)ctx, max_tokens, &e)) {
        fprintf(stderr, "mxalloc ppl: %s\n", e.msg);
        goto out;
    }
    progress_state ps = {isatty(STDERR_FILENO)};
    eval_result r;
    if (eval_perplexity(&m.cfg, w, cp.tokens, cp.n_tokens, cp.bos, (int)ctx, max_tokens,
                        show_progress, &ps, &r, &e)) {
        fprintf(stderr, "mxalloc ppl: %s\n", e.msg);
        goto out;
    }
    if (json)
        printf("{\"tokens\": %ld, \"windows\": %ld, \"nll\": %.9g, \"ppl\": %.9g}\n", r.tokens,
               r.windows, r.nll, r.ppl);
    else
        printf("tokens  %ld\nwindows %ld (ctx %ld)\nnll     %.6f\nppl     %.4f\n", r.tokens,
               r.windows, ctx, r.nll, r.ppl);
    rc = fflush(stdout) ? 1 : 0;
out:
    if (have_q)
        eval_qweights_free(&q);
    if (have_g)
        gptq_set_free(&gs);
    corpus_free(&cp);
    model_free(&m);
    return rc;
}
