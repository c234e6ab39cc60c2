/* Reference perplexity for tests/ppl_real.sh: the same windows as
 * eval_perplexity (BOS + ctx-1 tokens in, ctx targets), scored by the float64
 * token-by-token reference (tests/ref_forward.c), with every block linear
 * fake-quantized to FORMAT when given (the same copies `mxalloc ppl --format`
 * uses, evaluated in double).
 * usage: ppl_ref MODEL TOKENIZER TEXT CTX [FORMAT [MAX_TOKENS]]
 * prints {"tokens": N, "windows": N, "nll": X, "ppl": Y}
 * TOKENIZER is a llama2.c tokenizer.bin or a tokenizer.json (BOS, else EOS,
 * starts a window, as in `mxalloc ppl`).
 * Also: ppl_ref --convert SRC DST hf|gguf  (tests/testmodel.h's converter, F32)
 *       ppl_ref --make-hf DIR  (a tiny random Llama HF directory with a
 *                               byte-level BPE tokenizer.json, no BOS token) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/mx.h"
#include "src/eval.h"
#include "src/model.h"
#include "src/tok.h"
#include "tests/ref_forward.h"
#include "tests/testmodel.h"

static int die(const char *msg)
{
    fprintf(stderr, "ppl_ref: %s\n", msg);
    return 1;
}

static int convert(int argc, char **argv)
{
    if (argc != 5 || (strcmp(argv[4], "hf") && strcmp(argv[4], "gguf")))
        return die("usage: ppl_ref --convert SRC DST hf|gguf");
    mx_error e = {0};
    if (tm_convert(argv[2], argv[3], strcmp(argv[4], "hf") ? TM_FMT_GGUF : TM_FMT_HF, TM_F32, &e))
        return die(e.msg);
    return 0;
}

static int make_hf(const char *dir)
{
    static const char *const merges[][2] = {{" ", "t"}, {"h", "e"}, {" t", "he"}, {"a", "n"},
                                           {" ", "a"}, {"i", "n"}, {"o", "n"}, {"e", "r"}};
    int nm = (int)(sizeof merges / sizeof merges[0]);
    tf_config c = {.dim = 32, .hidden_dim = 64, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2,
                   .head_dim = 8, .vocab_size = 256 + nm + 1, .max_seq = 64,
                   .rope_theta = 10000.0f, .norm_eps = 1e-5f, .rope_style = TF_ROPE_HALF};
    mx_error e = {0};
    tm_model t;
    char path[4200];
    if (tm_random(&t, MODEL_ARCH_LLAMA, &c, 1, 5))
        return die("out of memory");
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    int rc = tm_write_hf(&t, dir, TM_F32, 1, &e);
    if (!rc)
        rc = tm_write_bpe_tokenizer(path, merges, nm, &e);
    tm_free(&t);
    return rc ? die(e.msg) : 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--convert"))
        return convert(argc, argv);
    if (argc == 3 && !strcmp(argv[1], "--make-hf"))
        return make_hf(argv[2]);
    if (argc < 5)
        return die("usage: ppl_ref MODEL TOKENIZER TEXT CTX [FORMAT [MAX_TOKENS]]");
    int ctx = atoi(argv[4]);
    mx_format f = MX_FP32;
    if (argc > 5 && mx_format_parse(argv[5], &f))
        return die("unknown format");
    long max_tokens = argc > 6 ? atol(argv[6]) : 0;
    mx_error e = {0};
    model m;
    if (model_load(argv[1], &m, &e))
        return die(e.msg);
    size_t tl = strlen(argv[2]);
    tok *tk = tl >= 5 && !strcmp(argv[2] + tl - 5, ".json")
                  ? tok_load_hf(argv[2], &e)
                  : tok_load_llama2c(argv[2], m.cfg.vocab_size, &e);
    if (!tk)
        return die(e.msg);
    FILE *fp = fopen(argv[3], "rb");
    if (!fp)
        return die("cannot open the text");
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *text = malloc((size_t)len + 1);
    if (!text || fread(text, 1, (size_t)len, fp) != (size_t)len)
        return die("cannot read the text");
    fclose(fp);
    int *ids;
    long n = tok_encode(tk, text, (size_t)len, &ids, &e);
    if (n < 0)
        return die(e.msg);
    int bos = tok_bos(tk) >= 0 ? tok_bos(tk) : tok_eos(tk);
    long skip = n > 0 && ids[0] == tok_bos(tk) ? 1 : 0;
    mx_format *fmts = malloc(sizeof *fmts * (size_t)m.n_modules);
    for (int i = 0; i < m.n_modules; i++)
        fmts[i] = f;
    eval_qweights q;
    if (eval_qweights_init(&q, &m, fmts, NULL, &e))
        return die(e.msg);
    long nw = eval_window_count(n - skip, ctx, max_tokens);
    if (nw == 0)
        return die("fewer tokens than one window");
    int *in = malloc(sizeof(int) * (size_t)ctx), *tgt = malloc(sizeof(int) * (size_t)ctx);
    double sum = 0;
    for (long k = 0; k < nw; k++) {
        eval_window_tokens(ids + skip, k, ctx, bos, in, tgt);
        double s = ref_nll_sum(&m.cfg, &q.w, in, ctx, tgt);
        if (s < 0)
            return die("reference forward failed");
        sum += s;
    }
    double nll = sum / (double)(nw * ctx);
    printf("{\"tokens\": %ld, \"windows\": %ld, \"nll\": %.9g, \"ppl\": %.9g}\n", nw * ctx, nw,
           nll, exp(nll));
    free(in);
    free(tgt);
    eval_qweights_free(&q);
    free(fmts);
    free(ids);
    free(text);
    tok_free(tk);
    model_free(&m);
    return 0;
}
