/* Synthetic score tables (see tests/score_fixture.h). */
#include "tests/score_fixture.h"

#include <stdio.h>
#include <string.h>

#include "kernels/mx.h"
#include "src/model.h"
#include "src/module_name.h"

int score_fixture_alloc(score_table *t, int layers, const int rows[TF_NLIN],
                        const int cols[TF_NLIN])
{
    int rc = score_table_alloc(t, layers * TF_NLIN);
    if (rc)
        return rc;
    for (int i = 0; i < t->n_modules; i++) {
        score_module *m = &t->modules[i];
        m->layer = i / TF_NLIN;
        m->kind = i % TF_NLIN;
        module_name_hf(m->layer, m->kind, m->name, sizeof m->name);
        m->rows = rows[m->kind];
        m->cols = cols[m->kind];
        m->params = (int64_t)m->rows * m->cols;
    }
    return 0;
}

double score_fixture_level(mx_format f)
{
    return f == MX_FP32 ? 0 : f == MX_FP8_E4M3 ? 1e-4 : f == MX_FP6_E2M3 ? 1e-3 : 1e-2;
}

int score_fixture_synthetic(score_table *t, const score_fixture_spec *spec)
{
    int rows[TF_NLIN], cols[TF_NLIN];
    for (int k = 0; k < TF_NLIN; k++) {
        rows[k] = 64;
        cols[k] = k == TF_DOWN ? spec->down_cols : 64;
    }
    int rc = score_fixture_alloc(t, spec->layers, rows, cols);
    if (rc)
        return rc;
    snprintf(t->model, sizeof t->model, "synthetic");
    t->methods = spec->methods;
    t->n_formats = spec->n_formats;
    for (int j = 0; j < spec->n_formats; j++)
        t->formats[j] = spec->formats[j];
    t->fp32_loss = 2.0;
    t->ctx = 64;
    for (int i = 0; i < t->n_modules; i++) {
        score_module *m = &t->modules[i];
        memset(m->name, 0, sizeof m->name); /* no byte of the HF name stays behind the new one */
        snprintf(m->name, sizeof m->name, "model.layers.%d.x.%s_proj", m->layer,
                 model_kind_label(m->kind));
        for (int j = 0; j < spec->n_formats; j++) {
            mx_format f = spec->formats[j];
            m->bits[f] = mx_bits_per_weight(f, (size_t)m->rows, (size_t)m->cols);
            double level = score_fixture_level(f);
            for (int s = 0; s < SCORE_NMETHODS; s++)
                if (spec->methods >> s & 1)
                    m->score[s][f] = spec->score ? spec->score(s, level, m->layer, m->kind) : level;
        }
    }
    return 0;
}
