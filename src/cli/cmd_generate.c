/* mxalloc generate: greedy continuation of a prompt, in fp32, with every block
 * linear fake-quantized to one MX format, or with a per-module config: the
 * quickest check that a model, or an allocation, still speaks. */
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "kernels/mx.h"
#include "src/cfg.h"
#include "src/cli/cli.h"
#include "src/cli/cmd.h"
#include "src/eval.h"
#include "src/generate.h"
#include "src/model.h"
#include "src/tok.h"

#define GEN_DEFAULT_TOKENS 32

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mxalloc generate MODEL [--tokenizer FILE] --prompt TEXT [-n N] [--ctx N]\n"
            "                        [--format F | --config CFG.json] [--json]\n\n"
            "Greedy decoding: continue TEXT with the most likely token, N times, and print\n"
            "the continuation. The quickest check that a model, or a chosen allocation,\n"
            "still speaks. The prompt starts a document as every perplexity window does\n"
            "(BOS, else EOS, first). Generation stops after N tokens, at EOS (or BOS: a\n"
            "new document), or when prompt + continuation fill the context.\n"
            "There is no KV cache: each new token reruns the whole window through the\n"
            "batched forward pass, which is fine for short samples of small models.\n\n"
            "  --tokenizer FILE  tokenizer.bin (llama2.c) or tokenizer.json; default: the\n"
            "                    one found with the model (MODEL/tokenizer.json for HF)\n"
            "  --prompt TEXT     the text to continue (required; may be empty)\n"
            "  -n N              tokens to generate at most (default %d)\n"
            "  --ctx N           longest window, prompt included (default: the model's\n"
            "                    maximum context)\n"
            "  --format F        fake-quantize every linear of the blocks to F (mxfp4_e2m1,\n"
            "                    mxfp8_e4m3, bf16, ...; not the embedding or lm_head)\n"
            "  --config FILE     per-module formats from a config JSON (as `mxalloc ppl`)\n"
            "  --json            print {\"prompt_ids\", \"ids\", \"text\", \"stop\"} as JSON\n"
            "                    (stop: length, eos, context)\n",
            GEN_DEFAULT_TOKENS);
}

/* JSON strings must be valid UTF-8: a byte token can end the text mid-character. */
static char *valid_utf8(const char *s, long n)
{
    char *out = malloc((size_t)n * 3 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (long i = 0; i < n;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, n - i, &cp);
        if (k > 0 && cp != 0) {
            memcpy(out + o, s + i, (size_t)k);
            o += (size_t)k;
            i += k;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3); /* U+FFFD, as the tokenizers library decodes */
            o += 3;
            i++;
        }
    }
    out[o] = '\0';
    return out;
}

static json_t *id_array(const int *ids, int n)
{
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++)
        json_array_append_new(a, json_integer(ids[i]));
    return a;
}

static int print_json(const gen_result *r, const char *text, long len)
{
    char *clean = valid_utf8(text, len);
    json_t *root = clean ? json_pack("{s:o,s:o,s:s,s:s}", "prompt_ids", id_array(r->ids, r->n_prompt),
                                     "ids", id_array(r->ids + r->n_prompt, r->n_new), "text", clean,
                                     "stop", gen_stop_name(r->stop))
                         : NULL;
    free(clean);
    if (!root) {
        fprintf(stderr, "mxalloc generate: out of memory\n");
        return 1;
    }
    int rc = json_dumpf(root, stdout, JSON_COMPACT);
    json_decref(root);
    putchar('\n');
    return rc == 0 ? 0 : 1;
}

int cmd_generate(int argc, char **argv)
{
    static const struct option opts[] = {
        {"tokenizer", required_argument, NULL, 't'}, {"prompt", required_argument, NULL, 'p'},
        {"ctx", required_argument, NULL, 'c'},       {"format", required_argument, NULL, 'f'},
        {"config", required_argument, NULL, 'g'},    {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},            {NULL, 0, NULL, 0}};
    const char *tok_path = NULL, *prompt = NULL, *fmt_name = NULL, *cfg_path = NULL;
    long n_new = GEN_DEFAULT_TOKENS, ctx = 0;
    int json = 0, ch, started = 0;
    while ((ch = cli_getopt("mxalloc generate", argc, argv, "n:", opts, &started)) != -1) {
        switch (ch) {
        case 't': tok_path = optarg; break;
        case 'p': prompt = optarg; break;
        case 'f': fmt_name = optarg; break;
        case 'g': cfg_path = optarg; break;
        case 'j': json = 1; break;
        case 'h': usage(stdout); return 0;
        case 'n':
            if (cli_long("mxalloc generate", "-n", optarg, 1, INT_MAX / 2, &n_new))
                return 2;
            break;
        case 'c':
            if (cli_long("mxalloc generate", "--ctx", optarg, 1, INT_MAX / 2, &ctx))
                return 2;
            break;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!cli_one_arg("mxalloc generate", "MODEL", argc, argv, prompt ? NULL : "--prompt TEXT is required")) {
        usage(stderr);
        return 2;
    }
    const char *model_path = argv[optind];
    mx_format uniform;
    /* an unknown --format name exits 1 here (tests/generate_cli.sh), unlike the
     * other commands' 2: left as it was */
    if (fmt_name && cfg_path) {
        fprintf(stderr, "mxalloc generate: --format and --config are mutually exclusive\n");
        return 2;
    }
    if (cli_format_or_config("mxalloc generate", fmt_name, cfg_path, &uniform))
        return 1;

    int rc = 1;
    mx_error e = {0};
    model m;
    tok *tk = NULL;
    eval_qweights q = {0};
    int have_q = 0;
    gen_result r = {0};
    char *text = NULL;

    if (model_load(model_path, &m, &e)) {
        fprintf(stderr, "mxalloc generate: %s\n", e.msg);
        return 1;
    }
    if (ctx > m.cfg.max_seq)
        fprintf(stderr, "mxalloc generate: warning: --ctx %ld exceeds the model's context %d\n", ctx,
                m.cfg.max_seq);
    /* the same fake-quantized view `mxalloc ppl --config` measures */
    const tf_weights *w = cli_quant_weights(&m, uniform, cfg_path, NULL, &q, &have_q, &e);
    if (!w) {
        fprintf(stderr, "mxalloc generate: %s\n", e.msg);
        goto out;
    }
    tk = tok_open(tok_path, model_path, m.cfg.vocab_size, &e);
    if (!tk) {
        fprintf(stderr, "mxalloc generate: %s\n", e.msg);
        goto out;
    }
    long len = gen_text(&m.cfg, w, tk, prompt, (int)n_new, (int)ctx, NULL, NULL, &r, &text, &e);
    if (len < 0) {
        fprintf(stderr, "mxalloc generate: %s\n", e.msg);
        goto out;
    }
    if (json) {
        if (print_json(&r, text, len))
            goto out;
    } else {
        fwrite(text, 1, (size_t)len, stdout);
        putchar('\n');
    }
    rc = fflush(stdout) ? 1 : 0;
out:
    free(text);
    gen_result_free(&r);
    if (tk)
        tok_free(tk);
    if (have_q)
        eval_qweights_free(&q);
    model_free(&m);
    return rc;
}
