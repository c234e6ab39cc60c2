/* Scoring time per 1K calibration tokens (kl, fisher and fisher-out) on synthetic models
 * shaped like stories260K, SmolLM2-135M, Qwen3-0.6B, Llama-3.2-1B and
 * Llama-3-8B, window 256, against the plain forward pass measured in the same
 * run (tf_forward + tf_nll): the ratio says how many forward passes one
 * scoring method costs. From SmolLM2 on, the kl pass would take too long for
 * a benchmark: it scores the 7 modules of the middle block (one module from
 * the 0.6B on) and extrapolates by forward cost (block units, as the progress
 * bar counts). Llama-3-8B is measured with 1 and 2 of its 32 blocks and
 * extrapolated along that line. Also forward+backward tokens/s (the Fisher
 * pass's core), and, up to SmolLM2, what GPTQ (score --gptq) adds: its second
 * moments and factors, and quantizing every module once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_clock.h"
#include "bench/bench_shapes.h"
#include "kernels/tf_backward.h"
#include "src/gptq_set.h"
#include "src/score.h"
#include "tests/tf_rand.h"

#define WINDOW 256

static const char *kind_name[TF_NLIN] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                         "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj",
                                         "mlp.down_proj"};

/* A model view over a tf_rand_model (no file behind it). */
static int wrap(model *m, tf_rand_model *rm)
{
    memset(m, 0, sizeof *m);
    m->cfg = rm->c;
    m->weights = rm->w;
    m->n_modules = rm->c.n_layers * TF_NLIN;
    m->modules = calloc((size_t)m->n_modules, sizeof *m->modules);
    if (!m->modules)
        return -1;
    snprintf(m->path, sizeof m->path, "synthetic");
    for (int l = 0; l < rm->c.n_layers; l++)
        for (int k = 0; k < TF_NLIN; k++) {
            model_module *mm = &m->modules[l * TF_NLIN + k];
            snprintf(mm->name, sizeof mm->name, "model.layers.%d.%s", l, kind_name[k]);
            mm->layer = l;
            mm->kind = k;
            tf_linear_shape(&rm->c, k, &mm->rows, &mm->cols);
            mm->params = (int64_t)mm->rows * mm->cols;
            mm->w = (float *)rm->w.layers[l].lin[k];
        }
    return 0;
}

static double fwd_units(const tf_config *c, int from)
{
    double d = c->dim, qd = (double)c->n_heads * c->head_dim, kd = (double)c->n_kv_heads * c->head_dim;
    double block = d * (qd + 2 * kd) + qd * d + 3 * d * c->hidden_dim;
    return (c->n_layers - from) + (double)c->vocab_size * d / block;
}

/* Forward passes' worth of every module's kl pass (from its block on), in
 * units of one whole forward. */
static double kl_units(const tf_config *c)
{
    return TF_NLIN * (c->n_layers * fwd_units(c, 0) - (double)c->n_layers * (c->n_layers - 1) / 2) / fwd_units(c, 0);
}

/* Seconds of one score_compute of method meth over the tokens. */
static int time_method(const model *m, const int *tokens, int ntok, score_opts *o, score_method meth, double *secs)
{
    score_table tab;
    mx_error e = {0};
    o->methods = 1u << meth;
    double t0 = bench_now();
    if (score_compute(m, tokens, ntok, o, &tab, &e)) {
        fprintf(stderr, "bench_score: %s: %s\n", score_method_name(meth), e.msg);
        return 1;
    }
    *secs = bench_now() - t0;
    score_table_free(&tab);
    return 0;
}

enum { KL_ALL, KL_BLOCK, KL_MODULE }; /* which modules kl scores (the rest extrapolated) */

typedef struct costs {
    double fwd, kl, fi, fo; /* seconds per 1K tokens */
    double fb_rate;         /* forward+backward tokens/s */
} costs;

static void print_costs(const char *label, const costs *r, int kl_extrapolated, const char *note)
{
    printf("%-22s fwd %8.3f s/1K tok | kl %9.2f s/1K tok (%6.0f fwd)%s | fisher %7.2f s/1K tok "
           "(%5.1f fwd) | fisher-out %7.2f s/1K tok (%5.1f fwd) | fwd+bwd %8.0f tok/s%s\n",
           label, r->fwd, r->kl, r->kl / r->fwd, kl_extrapolated ? " [extrapolated]" : "", r->fi, r->fi / r->fwd, r->fo,
           r->fo / r->fwd, r->fb_rate, note);
    fflush(stdout);
}

/* Measures c on kl_windows windows; prints the line unless out is given
 * (then fills it). kl scores the modules `subset` says; gptq adds its line. */
static int run(const char *label, const tf_config *c, int tied, int kl_windows, int subset, int gptq,
               costs *out)
{
    tf_rand_model rm;
    model m;
    if (tf_rand_model_init(&rm, c, tied, 42) || wrap(&m, &rm)) {
        fprintf(stderr, "bench_score: out of memory\n");
        return 1;
    }
    int nw = kl_windows, ntok = nw * WINDOW;
    int *tokens = malloc(sizeof(int) * (size_t)ntok);
    uint64_t s = 7;
    for (int i = 0; i < ntok; i++)
        tokens[i] = (int)((tf_rand_uniform(&s) * 0.5f + 0.5f) * (c->vocab_size - 1));

    /* Reference: plain forward + NLL over the same windows. */
    tf_ctx *t = tf_ctx_create(c, WINDOW, 0);
    int in[WINDOW], tgt[WINDOW];
    double t0 = bench_now();
    for (int k = 0; k < nw; k++) {
        memcpy(in + 1, tokens + k * WINDOW, sizeof(int) * (WINDOW - 1));
        in[0] = 1;
        memcpy(tgt, tokens + k * WINDOW, sizeof tgt);
        tf_forward(t, &rm.w, in, WINDOW, 0);
        tf_nll(t, &rm.w, tgt, NULL);
    }
    double fwd_per_k = (bench_now() - t0) / ntok * 1024;
    tf_ctx_free(t);

    /* forward + backward (all linear gradients), one window */
    tf_ctx *tk = tf_ctx_create(c, WINDOW, TF_KEEP_ACTS);
    tf_bwd *bw = tf_bwd_create(c, WINDOW);
    tf_grads g;
    double fb_rate = 0;
    if (tk && bw && !tf_grads_alloc(c, TF_GRAD_LINEAR, 0, &g)) {
        t0 = bench_now();
        tf_forward(tk, &rm.w, in, WINDOW, 0);
        tf_backward(bw, tk, &rm.w, NULL, tgt, 1.0f, &g, NULL, NULL);
        fb_rate = WINDOW / (bench_now() - t0);
        tf_grads_free(&g);
    }
    tf_bwd_free(bw);
    tf_ctx_free(tk);

    score_opts o;
    score_opts_init(&o);
    o.ctx = WINDOW;
    o.bos = 1;
    o.uniform = 0;
    unsigned char *only = NULL;
    double scale = 1.0;
    if (subset != KL_ALL) { /* the middle block's modules (or its first); extrapolate by forward cost */
        only = calloc((size_t)m.n_modules, 1);
        int mid = c->n_layers / 2;
        double all = 0, part = 0;
        for (int i = 0; i < m.n_modules; i++) {
            double u = fwd_units(c, m.modules[i].layer);
            all += u;
            if (m.modules[i].layer == mid && (subset == KL_BLOCK || m.modules[i].kind == 0)) {
                only[i] = 1;
                part += u;
            }
        }
        scale = all / part;
        o.only = only;
    }
    double kl_s, fi_s, fo_s;
    if (time_method(&m, tokens, ntok, &o, SCORE_KL, &kl_s))
        return 1;
    /* the fp32 pass is not part of the per-module cost: remove one forward per window */
    double kl_per_k = ((kl_s - fwd_per_k * ntok / 1024) * scale + fwd_per_k * ntok / 1024) /
                      ntok * 1024;

    o.only = NULL;
    if (time_method(&m, tokens, ntok, &o, SCORE_FISHER, &fi_s) ||
        time_method(&m, tokens, ntok, &o, SCORE_FISHER_OUT, &fo_s))
        return 1;
    double fi_per_k = fi_s / ntok * 1024, fo_per_k = fo_s / ntok * 1024;
    costs r = {fwd_per_k, kl_per_k, fi_per_k, fo_per_k, fb_rate};
    if (out)
        *out = r;
    else
        print_costs(label, &r, subset != KL_ALL, "");
    if (!gptq)
        goto done;

    /* GPTQ (score --gptq): the second moments and factors over these windows,
     * then every module quantized once in MXFP4, against rounding */
    gptq_set gs;
    mx_error ge = {0};
    t0 = bench_now();
    if (gptq_set_collect(&gs, &m, tokens, ntok, 1, WINDOW, 0, &ge)) {
        fprintf(stderr, "bench_score: gptq: %s\n", ge.msg);
        return 1;
    }
    double g_collect = bench_now() - t0, g_quant = 0, rtn = 0;
    size_t maxlen = 1;
    for (int i = 0; i < m.n_modules; i++)
        maxlen = (size_t)m.modules[i].rows * m.modules[i].cols > maxlen ? (size_t)m.modules[i].rows * m.modules[i].cols
                                                                         : maxlen;
    float *q = malloc(maxlen * sizeof *q);
    for (int i = 0; q && i < m.n_modules; i++) {
        t0 = bench_now();
        gptq_set_quant(&gs, &m, i, MX_FP4_E2M1, q, &ge);
        g_quant += bench_now() - t0;
        t0 = bench_now();
        mx_fake_quant(MX_FP4_E2M1, m.modules[i].w, q, (size_t)m.modules[i].rows, (size_t)m.modules[i].cols);
        rtn += bench_now() - t0;
    }
    free(q);
    gptq_set_free(&gs);

    printf("%-22s gptq: second moments + factors %.2f s (%d windows: %.1f fwd), every module in mxfp4 %.1f ms "
           "(rounding %.2f ms)\n", "", g_collect, nw, g_collect / (fwd_per_k * ntok / 1024), 1e3 * g_quant, 1e3 * rtn);
    fflush(stdout);
done:
    free(only);
    free(tokens);
    free(m.modules);
    tf_rand_model_free(&rm);
    return 0;
}

int main(void)
{
    tf_config s260 = BENCH_STORIES260K, smol = BENCH_SMOLLM2_135M, qwen = BENCH_QWEN3_0_6B,
              l1b = BENCH_LLAMA32_1B, l8b = BENCH_LLAMA3_8B;
    l8b.n_layers = 1; /* then 2: the 32 extrapolated */
    printf("window %d, six MX formats; 'fwd' = plain forward + NLL in this run (reference)\n",
           WINDOW);
    if (run("stories260K-shaped", &s260, 1, 4, KL_ALL, 1, NULL) ||
        run("SmolLM2-135M-shaped", &smol, 1, 1, KL_BLOCK, 1, NULL) ||
        run("Qwen3-0.6B-shaped", &qwen, 1, 1, KL_MODULE, 0, NULL) ||
        run("Llama-3.2-1B-shaped", &l1b, 1, 1, KL_MODULE, 0, NULL))
        return 1;
    /* Llama-3-8B: 1 and 2 blocks; 32 along the line through them */
    costs one, two, full;
    if (run("", &l8b, 0, 1, KL_MODULE, 0, &one))
        return 1;
    l8b.n_layers = 2;
    if (run("", &l8b, 0, 1, KL_MODULE, 0, &two))
        return 1;
#define ALONG(x) (one.x + 31 * (two.x - one.x)) /* block 1's cost plus 31 more like block 2's */
    full.fwd = ALONG(fwd);
    /* kl is not linear in the blocks (each module's pass runs to the end):
     * its forward count scales with the summed per-module forward cost */
    tf_config l32 = l8b;
    l32.n_layers = 32;
    full.kl = two.kl / two.fwd * (kl_units(&l32) / kl_units(&l8b)) * full.fwd;
    full.fi = ALONG(fi);
    full.fo = ALONG(fo);
    full.fb_rate = 1.0 / (1.0 / one.fb_rate + 31 * (1.0 / two.fb_rate - 1.0 / one.fb_rate)); /* time per token */
#undef ALONG
    print_costs("Llama-3-8B-shaped", &full, 1, " [1 and 2 of 32 blocks measured, extrapolated]");
    return 0;
}
