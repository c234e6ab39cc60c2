/* Test helper (not installed): write a synthetic score file for a model so the
 * workbench tests can run before real scoring exists. The "score" of module m
 * in format f is the relative squared error of fake-quantizing its weights,
 * ||W - Q_f(W)||^2 / ||W||^2, scaled by a per-layer factor (deeper = less
 * sensitive) -- deterministic and ordered like real sensitivities. With
 * --text the fp32 and uniform losses are measured with eval_perplexity.
 * usage: ui_fake_scores MODEL OUT [TOKENIZER TEXT] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/mx.h"
#include "src/score_table.h"
#include "src/cache.h"
#include "src/eval.h"
#include "src/model.h"
#include "src/tok.h"

static double measure(const model *m, const int *tok, long n, int bos, const mx_format *fm)
{
    eval_qweights q;
    mx_error e = {0};
    eval_result r;
    if (eval_qweights_init(&q, m, fm, NULL, &e))
        return NAN;
    int rc = eval_perplexity(&m->cfg, &q.w, tok, n, bos, 128, 2048, NULL, NULL, &r, &e);
    eval_qweights_free(&q);
    return rc ? NAN : r.nll;
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 5) {
        fprintf(stderr, "usage: ui_fake_scores MODEL OUT [TOKENIZER TEXT]\n");
        return 2;
    }
    model m;
    mx_error e = {0};
    if (model_load(argv[1], &m, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    score_table t;
    if (score_table_alloc(&t, m.n_modules))
        return 1;
    snprintf(t.model, sizeof t.model, "%s", argv[1]);
    t.model_hash = m.content_hash;
    snprintf(t.key, sizeof t.key, "synthetic%016llx", (unsigned long long)m.content_hash);
    t.methods = 1u << SCORE_KL | 1u << SCORE_FISHER;
    t.n_formats = MX_NFORMATS;
    for (int f = 0; f < MX_NFORMATS; f++)
        t.formats[f] = (mx_format)f;
    t.ctx = 128;
    t.calib_tokens = 2048;
    t.fp32_loss = 1.5;
    for (int i = 0; i < m.n_modules; i++) {
        const model_module *mm = &m.modules[i];
        score_module *s = &t.modules[i];
        snprintf(s->name, sizeof s->name, "%s", mm->name);
        s->layer = mm->layer;
        s->kind = mm->kind;
        s->rows = mm->rows;
        s->cols = mm->cols;
        s->params = mm->params;
        size_t n = (size_t)mm->rows * mm->cols;
        float *q = malloc(n * sizeof *q);
        double norm = 0;
        for (size_t k = 0; k < n; k++)
            norm += (double)mm->w[k] * mm->w[k];
        for (int f = 0; f < MX_NFORMATS; f++) {
            mx_fake_quant((mx_format)f, mm->w, q, (size_t)mm->rows, (size_t)mm->cols);
            double err = 0;
            for (size_t k = 0; k < n; k++)
                err += ((double)mm->w[k] - q[k]) * ((double)mm->w[k] - q[k]);
            double sc = err / (norm > 0 ? norm : 1) * (0.5 / (1 + mm->layer)) * (mm->kind == 6 ? 2.0 : 1.0);
            s->bits[f] = mx_bits_per_weight((mx_format)f, (size_t)mm->rows, (size_t)mm->cols);
            s->score[SCORE_KL][f] = sc;
            s->score[SCORE_FISHER][f] = 0.8 * sc;
        }
        free(q);
    }
    if (argc == 5) {
        tok *tk = tok_load_llama2c(argv[3], m.cfg.vocab_size, &e);
        FILE *fp = tk ? fopen(argv[4], "rb") : NULL;
        if (!fp) {
            fprintf(stderr, "cannot open tokenizer or text\n");
            return 1;
        }
        char *buf = malloc(1 << 16);
        size_t len = fread(buf, 1, (1 << 16) - 1, fp);
        fclose(fp);
        int *ids;
        long n = tok_encode(tk, buf, len, &ids, &e);
        free(buf);
        if (n < 2) {
            fprintf(stderr, "%s\n", e.msg);
            return 1;
        }
        mx_format *fm = malloc((size_t)m.n_modules * sizeof *fm);
        for (int i = 0; i < m.n_modules; i++)
            fm[i] = MX_FP32;
        t.fp32_loss = measure(&m, ids + 1, n - 1, tok_bos(tk), fm);
        for (int f = 0; f < MX_NFORMATS; f++) {
            for (int i = 0; i < m.n_modules; i++)
                fm[i] = (mx_format)f;
            t.uniform_loss[f] = measure(&m, ids + 1, n - 1, tok_bos(tk), fm);
        }
        free(fm);
        free(ids);
        tok_free(tk);
    }
    int rc = cache_write(argv[2], &t, &e);
    if (rc)
        fprintf(stderr, "%s\n", e.msg);
    score_table_free(&t);
    model_free(&m);
    return rc ? 1 : 0;
}
