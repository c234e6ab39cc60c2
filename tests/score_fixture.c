/* Synthetic score tables (see tests/score_fixture.h). */
#include "tests/score_fixture.h"

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
