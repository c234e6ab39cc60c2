/* mxalloc ppl: perplexity of a model on a text, in fp32, with every block
 * linear fake-quantized to one MX format, or with a per-module config. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernels/mx.h"
#include "src/cfg.h"
#include "src/cli.h"
#include "src/cmd.h"
#include "src/corpus.h"
#include "src/eval.h"
#include "src/model.h"
#include "src/tok.h"

#define PPL_DEFAULT_CTX_CAP 2048

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mxalloc ppl MODEL [--tokenizer FILE] --text FILE [--ctx N]\n"
            "                   [--format F | --config CFG.json] [--max-tokens N] [--json]\n\n"
            "Perplexity of MODEL on the text FILE, tokenized as one string, in consecutive\n"
            "non-overlapping windows of N tokens (the last partial window is dropped), each\n"
            "fed after a BOS token; every window token is scored once.\n\n"
            "  --tokenizer FILE  tokenizer.bin (llama2.c) or tokenizer.json; required for\n"
            "                    llama2.c and GGUF models, default MODEL/tokenizer.json for HF\n"
            "  --text FILE       the evaluation text (required)\n"
            "  --ctx N           window length (default: the model's maximum context, at\n"
            "                    most %d)\n"
            "  --format F        fake-quantize every linear of the blocks to F (mxfp4_e2m1,\n"
            "                    mxfp8_e4m3, bf16, ...; not the embedding or lm_head)\n"
            "  --config FILE     per-module formats from a config JSON (\"formats\" object;\n"
            "                    modules not named stay fp32)\n"
            "  --max-tokens N    score at most N tokens (whole windows)\n"
            "  --json            print {\"tokens\", \"windows\", \"nll\", \"ppl\"} as JSON\n",
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

int cmd_ppl(int argc, char **argv)
{
    static const struct option opts[] = {
        {"tokenizer", required_argument, NULL, 't'}, {"text", required_argument, NULL, 'x'},
        {"ctx", required_argument, NULL, 'c'},       {"format", required_argument, NULL, 'f'},
        {"config", required_argument, NULL, 'g'},    {"max-tokens", required_argument, NULL, 'm'},
        {"json", no_argument, NULL, 'j'},            {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *tok_path = NULL, *text_path = NULL, *fmt_name = NULL, *cfg_path = NULL;
    long ctx = 0, max_tokens = 0;
    int json = 0, ch;
    optind = 0;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 't': tok_path = optarg; break;
        case 'x': text_path = optarg; break;
        case 'f': fmt_name = optarg; break;
        case 'g': cfg_path = optarg; break;
        case 'j': json = 1; break;
        case 'h': usage(stdout); return 0;
        case 'c':
            if (cli_parse_long(optarg, 1, &ctx) || ctx > INT_MAX) {
                fprintf(stderr, "mxalloc ppl: --ctx: '%s' is not a positive integer\n", optarg);
                return 2;
            }
            break;
        case 'm':
            if (cli_parse_long(optarg, 1, &max_tokens)) {
                fprintf(stderr, "mxalloc ppl: --max-tokens: '%s' is not a positive integer\n",
                        optarg);
                return 2;
            }
            break;
        default:
            if (optopt)
                fprintf(stderr, "mxalloc ppl: option needs a value or is unknown: '%s'\n",
                        argv[optind - 1]);
            else
                fprintf(stderr, "mxalloc ppl: unknown option '%s'\n", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, optind >= argc ? "mxalloc ppl: missing MODEL\n"
                                       : "mxalloc ppl: exactly one MODEL expected\n");
        usage(stderr);
        return 2;
    }
    if (!text_path) {
        fprintf(stderr, "mxalloc ppl: --text FILE is required\n");
        usage(stderr);
        return 2;
    }
    if (fmt_name && cfg_path) {
        fprintf(stderr, "mxalloc ppl: --format and --config are mutually exclusive\n");
        return 2;
    }
    const char *model_path = argv[optind];
    mx_format uniform = MX_FP32;
    if (fmt_name && mx_format_parse(fmt_name, &uniform)) {
        fprintf(stderr, "mxalloc ppl: --format: unknown format '%s'\n", fmt_name);
        return 1;
    }

    int rc = 1;
    mx_error e = {0};
    model m;
    corpus cp = {0};
    mx_format *fmts = NULL;
    eval_qweights q = {0};
    int have_q = 0;
    mx_cfg cfg;
    cfg_init(&cfg);

    if (model_load(model_path, &m, &e)) {
        fprintf(stderr, "mxalloc ppl: %s\n", e.msg);
        return 1;
    }
    if (!tok_path && m.file_kind != MODEL_FILE_HF) {
        fprintf(stderr, "mxalloc ppl: --tokenizer FILE is required for %s models\n",
                m.file_kind == MODEL_FILE_GGUF ? "GGUF" : "llama2.c");
        model_free(&m);
        return 2;
    }
    int max_ctx = m.cfg.max_seq;
    if (ctx == 0)
        ctx = max_ctx < PPL_DEFAULT_CTX_CAP ? max_ctx : PPL_DEFAULT_CTX_CAP;
    if (ctx > max_ctx) {
        fprintf(stderr, "mxalloc ppl: --ctx %ld exceeds the model's maximum context %d\n", ctx,
                max_ctx);
        goto out;
    }
    fmts = malloc(sizeof *fmts * (size_t)(m.n_modules ? m.n_modules : 1));
    if (!fmts) {
        fprintf(stderr, "mxalloc ppl: out of memory\n");
        goto out;
    }
    for (int i = 0; i < m.n_modules; i++)
        fmts[i] = uniform;
    if (cfg_path) {
        if (cfg_load(cfg_path, &cfg, &e) || cfg_formats_for_model(&cfg, &m, fmts, &e)) {
            fprintf(stderr, "mxalloc ppl: %s\n", e.msg);
            goto out;
        }
    }
    int any_q = 0;
    for (int i = 0; i < m.n_modules; i++)
        any_q |= fmts[i] != MX_FP32;
    const tf_weights *w = &m.weights;
    if (any_q) {
        if (eval_qweights_init(&q, &m, fmts, &e)) {
            fprintf(stderr, "mxalloc ppl: %s\n", e.msg);
            goto out;
        }
        have_q = 1;
        w = &q.w;
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
    cfg_free(&cfg);
    free(fmts);
    corpus_free(&cp);
    model_free(&m);
    return rc;
}
