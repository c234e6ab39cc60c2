/* Workbench responsiveness: the cost of one budget step (ilp_solve over the
 * score table + projection, what every key press in the workbench triggers)
 * against the greedy baseline on the same problem. Scores are synthetic
 * (relative fake-quantization error of the real stories260K weights), so the
 * problem has the real shape: 35 modules x 8 formats. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_clock.h"
#include "solver/ilp.h"
#include "ui/ui_state.h"

/* A table shaped like a 28-layer model (196 modules), the size of a real LLM. */
static void make_table(score_table *t, int layers)
{
    score_table_alloc(t, layers * 7);
    t->methods = 1u << SCORE_KL;
    t->n_formats = MX_NFORMATS;
    for (int f = 0; f < MX_NFORMATS; f++)
        t->formats[f] = (mx_format)f;
    t->fp32_loss = 2.0;
    unsigned s = 12345;
    for (int i = 0; i < t->n_modules; i++) {
        score_module *m = &t->modules[i];
        snprintf(m->name, sizeof m->name, "model.layers.%d.m%d", i / 7, i % 7);
        m->layer = i / 7;
        m->kind = i % 7;
        m->rows = 1024;
        m->cols = m->kind == 6 ? 2816 : 1024;
        m->params = (int64_t)m->rows * m->cols;
        for (int f = 0; f < MX_NFORMATS; f++) {
            s = s * 1103515245u + 12345u;
            double noise = 0.5 + (s >> 16) / 65536.0;
            int eb = mx_element_bits((mx_format)f);
            m->bits[f] = mx_bits_per_weight((mx_format)f, (size_t)m->rows, (size_t)m->cols);
            m->score[SCORE_KL][f] = f == MX_FP32 ? 0 : noise * pow(2.0, -eb) / (1 + m->layer % 5);
        }
    }
}

int main(void)
{
    const int sizes[] = {5, 28};
    for (int si = 0; si < 2; si++) {
        score_table t;
        make_table(&t, sizes[si]);
        ui_state s;
        ui_state_init(&s);
        s.time_limit_s = 0.04; /* as in the interactive workbench */
        mx_error e = {0};
        if (ui_state_set_table(&s, &t, "bench", &e)) {
            fprintf(stderr, "%s\n", e.msg);
            return 1;
        }
        int n = 0, limited = 0;
        double t0 = bench_now_ms(), worst = 0;
        for (double b = 4.5; b <= 8.0; b += 0.05, n++) {
            double a = bench_now_ms();
            s.budget = b;
            ui_state_solve(&s, NULL);
            double d = bench_now_ms() - a;
            limited += s.solved && !s.res.optimal;
            if (d > worst)
                worst = d;
        }
        double ilp_ms = (bench_now_ms() - t0) / n;
        /* reference: the greedy baseline on the same problem and budgets */
        ilp_problem p = {0};
        int nm = s.t.n_modules, nf = s.t.n_formats;
        double *params = malloc(nm * sizeof *params), *bits = malloc(nm * nf * sizeof *bits),
               *cost = malloc(nm * nf * sizeof *cost);
        int *ch = malloc(nm * sizeof *ch);
        for (int i = 0; i < nm; i++) {
            params[i] = (double)s.t.modules[i].params;
            for (int j = 0; j < nf; j++) {
                bits[i * nf + j] = s.t.modules[i].bits[s.t.formats[j]];
                cost[i * nf + j] = s.t.modules[i].score[SCORE_KL][s.t.formats[j]];
            }
        }
        p.n_modules = nm;
        p.n_formats = nf;
        p.params = params;
        p.bits = bits;
        p.cost = cost;
        t0 = bench_now_ms();
        int ng = 0;
        for (double b = 4.5; b <= 8.0; b += 0.05, ng++) {
            ilp_result r;
            p.budget_bits = b;
            ilp_greedy(&p, ch, &r, NULL);
        }
        double greedy_ms = (bench_now_ms() - t0) / ng;
        printf("modules %4d: budget step (ilp_solve + projection) %.3f ms mean, %.3f ms worst over %d steps;"
               " %d hit the 40 ms limit; greedy %.4f ms; ratio %.1fx; target < 50 ms\n",
               nm, ilp_ms, worst, n, limited, greedy_ms, ilp_ms / greedy_ms);
        fflush(stdout);
        free(params);
        free(bits);
        free(cost);
        free(ch);
        ui_state_free(&s);
        score_table_free(&t);
    }
    return 0;
}
