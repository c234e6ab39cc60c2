/* Seconds per differentiable-search step (one window of 256 tokens: mixture
 * build, forward, KL to the cached fp32 teacher, backward, per-format inner
 * products, relaxation gradient) for dMX and GAMMA on synthetic models shaped
 * like stories260K and SmolLM2-135M. Reference measured in the same run: one
 * plain fp32 forward + tf_backward of the same window (what any gradient step
 * costs); the ratio is the search's overhead. Wall and process CPU time are
 * both printed (other jobs may share the cores). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_clock.h"
#include "bench/bench_shapes.h"
#include "kernels/tf_backward.h"
#include "solver/search.h"
#include "tests/tf_rand.h"

#define WINDOW 256

static int bench(const char *label, const tf_config *c, int steps)
{
    tf_rand_model rm;
    if (tf_rand_model_init(&rm, c, 1, 7)) {
        fprintf(stderr, "%s: out of memory\n", label);
        return 1;
    }
    int *in = malloc(sizeof(int) * WINDOW * 2), *tgt = malloc(sizeof(int) * WINDOW * 2);
    uint64_t st = 3;
    for (int i = 0; i < 2 * WINDOW; i++) {
        in[i] = (int)((tf_rand_uniform(&st) + 1.0f) * 0.5f * (c->vocab_size - 1));
        tgt[i] = (int)((tf_rand_uniform(&st) + 1.0f) * 0.5f * (c->vocab_size - 1));
    }

    /* reference: fp32 forward + backward of the linears */
    tf_ctx *t = tf_ctx_create(c, WINDOW, TF_KEEP_ACTS);
    tf_bwd *b = tf_bwd_create(c, WINDOW);
    tf_grads g;
    if (!t || !b || tf_grads_alloc(c, TF_GRAD_LINEAR, 1, &g)) {
        fprintf(stderr, "%s: out of memory\n", label);
        return 1;
    }
    tf_forward(t, &rm.w, in, WINDOW, 0);
    tf_backward(b, t, &rm.w, in, tgt, 1.0f, &g, NULL, NULL); /* warm-up */
    double w0 = bench_now(), c0 = bench_cpu_now();
    for (int i = 0; i < steps; i++) {
        tf_forward(t, &rm.w, in, WINDOW, 0);
        tf_backward(b, t, &rm.w, in, tgt, 1.0f, &g, NULL, NULL);
    }
    double ref_w = (bench_now() - w0) / steps, ref_c = (bench_cpu_now() - c0) / steps;
    tf_grads_free(&g);
    tf_bwd_free(b);
    tf_ctx_free(t);
    printf("%-14s fp32 fwd+bwd        %8.4f s/window wall %8.4f s cpu\n", label, ref_w, ref_c);

    search_data d;
    memset(&d, 0, sizeof d);
    d.cfg = c;
    d.w = &rm.w;
    const mx_format fm[] = {MX_FP4_E2M1, MX_FP6_E2M3, MX_FP6_E3M2,
                            MX_INT8,     MX_FP8_E4M3, MX_FP8_E5M2};
    d.n_formats = 6;
    memcpy(d.formats, fm, sizeof fm);
    d.budget = 5.0;
    d.in = in;
    d.tgt = tgt;
    d.n_windows = 2;
    d.ctx = WINDOW;
    for (int method = 0; method < SEARCH_NMETHODS; method++) {
        search_opts o;
        search_opts_init(&o, (search_method)method);
        search_state *s;
        mx_error e;
        double s0 = bench_now();
        if (search_state_create(&d, &o, &s, &e)) {
            fprintf(stderr, "%s: %s\n", label, e.msg);
            return 1;
        }
        double setup = bench_now() - s0;
        int np;
        double *par = search_state_param(s, &np);
        for (int i = 0; i < np; i++)
            par[i] = method == SEARCH_DMX ? 1.3 : 0.0;
        double *grad = malloc(sizeof *grad * (size_t)np), task, reg;
        search_state_set(s, 1.0, 0.0, 10.0);
        /* warm-up: also fills the fp32 teacher cache of both windows */
        search_state_loss_grad(s, 0, &task, &reg, NULL, grad, &e);
        search_state_loss_grad(s, 1, &task, &reg, NULL, grad, &e);
        w0 = bench_now();
        c0 = bench_cpu_now();
        for (int i = 0; i < steps; i++)
            if (search_state_loss_grad(s, i % 2, &task, &reg, NULL, grad, &e)) {
                fprintf(stderr, "%s: %s\n", label, e.msg);
                return 1;
            }
        double sw = (bench_now() - w0) / steps, sc = (bench_cpu_now() - c0) / steps;
        printf("%-14s %-6s search step   %8.4f s/window wall %8.4f s cpu  (x%.2f of fp32 "
               "fwd+bwd; setup %.2f s)\n",
               label, search_method_name((search_method)method), sw, sc, sw / ref_w, setup);
        free(grad);
        search_state_free(s);
    }
    free(in);
    free(tgt);
    tf_rand_model_free(&rm);
    return 0;
}

int main(void)
{
    tf_config small = BENCH_STORIES260K, smol = BENCH_SMOLLM2_135M;
    if (bench("stories260K", &small, 20) || bench("SmolLM2-135M", &smol, 2))
        return 1;
    return 0;
}
