/* Forward + backward throughput (tokens/s) on synthetic models with the shapes
 * of SmolLM2-135M and stories260K, window 256. Reference measured in the same
 * run: plain cblas_sgemm on the model's own linear shapes, as GFLOP/s; the
 * backward's GEMM work is reported against it. Also checks the guarantee of
 * kernels/tf_backward.h: at this process's OpenBLAS thread count, repeated
 * runs and the kept-softmax and recompute paths give bitwise identical
 * gradients (exit 1 if not). Other OpenBLAS thread counts may round
 * differently (OpenBLAS's threaded sgemm does): not compared. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_clock.h"
#include "bench/bench_shapes.h"
#include "kernels/tf_backward.h"
#include "tests/tf_rand.h"

#define WINDOW 256

typedef struct timing {
    double wall, cpu; /* per window */
} timing;

/* Multiply-adds x2 of every linear (and lm_head) for one token's forward. */
static double linear_flops_per_token(const tf_config *c)
{
    double p = (double)c->vocab_size * c->dim;
    for (int k = 0; k < TF_NLIN; k++) {
        int r, cc;
        tf_linear_shape(c, k, &r, &cc);
        p += (double)c->n_layers * r * cc;
    }
    return 2.0 * p;
}

/* sgemm GFLOP/s over the model's linear shapes, forward-shaped (n x cols x rows). */
static double sgemm_rate(const tf_config *c, int reps)
{
    int rmax = c->vocab_size, cmax = c->hidden_dim > c->dim ? c->hidden_dim : c->dim;
    if (c->n_heads * c->head_dim > cmax)
        cmax = c->n_heads * c->head_dim;
    float *x = calloc((size_t)WINDOW * cmax, sizeof *x);
    float *w = calloc((size_t)rmax * cmax, sizeof *w);
    float *y = calloc((size_t)WINDOW * rmax, sizeof *y);
    if (!x || !w || !y) {
        free(x); free(w); free(y);
        return 0;
    }
    for (size_t i = 0; i < (size_t)rmax * cmax; i++)
        w[i] = (float)(i % 7) * 0.01f;
    double flops = 0, t0 = bench_now();
    for (int rep = 0; rep < reps; rep++) {
        for (int k = 0; k < TF_NLIN; k++) {
            int r, cc;
            tf_linear_shape(c, k, &r, &cc);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, WINDOW, r, cc, 1.0f, x, cc, w,
                        cc, 0.0f, y, r);
            flops += 2.0 * WINDOW * r * cc;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, WINDOW, c->vocab_size, c->dim, 1.0f,
                    x, c->dim, w, c->dim, 0.0f, y, c->vocab_size);
        flops += 2.0 * WINDOW * c->vocab_size * c->dim;
    }
    double dt = bench_now() - t0;
    free(x); free(w); free(y);
    return flops / dt * 1e-9;
}

static size_t lin_len(const tf_config *c, int k)
{
    int r, cc;
    tf_linear_shape(c, k, &r, &cc);
    return (size_t)r * cc;
}

static int grads_same(const tf_config *c, const tf_grads *a, const tf_grads *b)
{
    for (int l = 0; l < c->n_layers; l++)
        for (int k = 0; k < TF_NLIN; k++)
            if (memcmp(a->layers[l].lin[k], b->layers[l].lin[k], lin_len(c, k) * sizeof(float)))
                return 0;
    return 1;
}

/* Seconds per window of: forward + NLL, or forward + backward into g. */
static timing time_windows(tf_ctx *t, tf_bwd *b, const tf_weights *w, const int *tok,
                           int windows, const tf_grads *g, double *nll)
{
    double t0 = bench_now(), c0 = bench_cpu_now();
    for (int i = 0; i < windows; i++) {
        const int *x = tok + (size_t)i * WINDOW;
        if (tf_forward(t, w, x, WINDOW, 0)) {
            fprintf(stderr, "bench_backward: forward failed\n");
            exit(1);
        }
        if (!g) {
            *nll = tf_nll(t, w, x + 1, NULL) / WINDOW;
        } else if (tf_backward(b, t, w, x, x + 1, 1.0f, g, nll, NULL)) {
            fprintf(stderr, "bench_backward: backward failed\n");
            exit(1);
        }
    }
    return (timing){(bench_now() - t0) / windows, (bench_cpu_now() - c0) / windows};
}

static int bench_model(const char *name, const tf_config *c, int tied, int windows)
{
    tf_rand_model m;
    if (tf_rand_model_init(&m, c, tied, 42)) {
        fprintf(stderr, "bench_backward: out of memory for %s\n", name);
        return 1;
    }
    /* windows + 1 tokens each: targets are the next tokens. */
    size_t ntok = (size_t)windows * WINDOW + 1;
    int *tok = malloc(ntok * sizeof *tok);
    uint64_t s = 7;
    for (size_t i = 0; i < ntok; i++)
        tok[i] = (int)((tf_rand_uniform(&s) * 0.5f + 0.5f) * (c->vocab_size - 1));
    tf_ctx *keep = tf_ctx_create(c, WINDOW, TF_KEEP_ACTS), *shared = tf_ctx_create(c, WINDOW, 0);
    tf_bwd *b = tf_bwd_create(c, WINDOW);
    tf_grads lin, lin2, lin3, all;
    if (!tok || !keep || !shared || !b || tf_grads_alloc(c, TF_GRAD_LINEAR, tied, &lin) ||
        tf_grads_alloc(c, TF_GRAD_LINEAR, tied, &lin2) ||
        tf_grads_alloc(c, TF_GRAD_LINEAR, tied, &lin3) ||
        tf_grads_alloc(c, TF_GRAD_LINEAR | TF_GRAD_NORMS | TF_GRAD_EMBED, tied, &all)) {
        fprintf(stderr, "bench_backward: out of memory for %s\n", name);
        return 1;
    }
    double nll;
    time_windows(keep, b, &m.w, tok, 1, &lin, &nll); /* warm-up: page in buffers */
    timing t_fwd = time_windows(shared, b, &m.w, tok, windows, NULL, &nll);
    timing t_keep = time_windows(keep, b, &m.w, tok, windows, &lin, &nll);
    timing t_shared = time_windows(shared, b, &m.w, tok, windows, &lin, &nll);
    timing t_all = time_windows(keep, b, &m.w, tok, windows, &all, &nll);

    /* Determinism: one window from zero, KEEP_ACTS, recompute path, KEEP_ACTS again. */
    tf_grads_zero(c, &lin);
    tf_grads_zero(c, &lin2);
    tf_grads_zero(c, &lin3);
    time_windows(keep, b, &m.w, tok, 1, &lin, &nll);
    time_windows(shared, b, &m.w, tok, 1, &lin2, &nll);
    time_windows(keep, b, &m.w, tok, 1, &lin3, &nll);
    int same_path = grads_same(c, &lin, &lin2), same_run = grads_same(c, &lin, &lin3);
    int same = same_path && same_run;

    double fl = linear_flops_per_token(c) * WINDOW;
    double rate = sgemm_rate(c, windows);
    printf("%s (dim %d, hidden %d, %d layers, %d/%d heads, vocab %d, window %d)\n", name, c->dim,
           c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads, c->vocab_size, WINDOW);
    const char *label[4] = {"forward + nll", "fwd + bwd, linear grads, kept",
                            "fwd + bwd, linear grads, recompute", "fwd + bwd, all grads, kept"};
    timing tm[4] = {t_fwd, t_keep, t_shared, t_all};
    for (int i = 0; i < 4; i++)
        printf("  %-35s %8.0f tok/s  %7.3f s/window (cpu %7.3f s)  %.2fx forward\n", label[i],
               WINDOW / tm[i].wall, tm[i].wall, tm[i].cpu, tm[i].wall / t_fwd.wall);
    printf("  reference sgemm on these shapes: %.1f GFLOP/s; fwd+bwd linear GEMMs alone would "
           "take %.3f s/window -> measured/ideal %.2f\n",
           rate, 3 * fl / (rate * 1e9), t_keep.wall / (3 * fl / (rate * 1e9)));
    printf("  gradients bitwise identical (OpenBLAS %d threads): across runs %s, kept vs "
           "recompute %s\n",
           openblas_get_num_threads(), same_run ? "yes" : "NO", same_path ? "yes" : "NO");

    tf_grads_free(&lin);
    tf_grads_free(&lin2);
    tf_grads_free(&lin3);
    tf_grads_free(&all);
    tf_bwd_free(b);
    tf_ctx_free(keep);
    tf_ctx_free(shared);
    free(tok);
    tf_rand_model_free(&m);
    return same ? 0 : 1;
}

int main(void)
{
    printf("threads: OpenBLAS %d, attention/cross-entropy: the context's persistent pool "
           "(online cores, at most 8 and n_heads)\n",
           openblas_get_num_threads());
    tf_config smol = BENCH_SMOLLM2_135M, s260 = BENCH_STORIES260K;
    int rc = bench_model("stories260K shapes", &s260, 1, 20);
    rc |= bench_model("SmolLM2-135M shapes", &smol, 1, 2);
    return rc;
}
