/* Small helpers around the score table (pure data, no I/O). */
#include "src/score_table.h"
#include "kernels/names.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kernels/err.h"

static const char *const method_names[SCORE_NMETHODS] = {"kl", "fisher", "gamma", "fisher-out"};

const char *score_method_name(score_method m)
{
    return names_get(method_names, SCORE_NMETHODS, (int)m);
}

int score_method_parse(const char *s, score_method *out)
{
    int i = names_find(method_names, SCORE_NMETHODS, s);
    return i < 0 ? -1 : (*out = (score_method)i, 0);
}

void score_table_init(score_table *t)
{
    memset(t, 0, sizeof *t);
    t->fp32_loss = NAN;
    for (int f = 0; f < MX_NFORMATS; f++)
        t->uniform_loss[f] = NAN;
}

int score_table_alloc(score_table *t, int n_modules)
{
    score_table_init(t);
    if (n_modules < 0)
        return ERR_ARG;
    t->modules = calloc(n_modules ? (size_t)n_modules : 1, sizeof *t->modules);
    if (!t->modules)
        return ERR_NOMEM;
    t->n_modules = n_modules;
    for (int i = 0; i < n_modules; i++) {
        score_module *m = &t->modules[i];
        for (int f = 0; f < MX_NFORMATS; f++) {
            m->bits[f] = NAN;
            m->kld[f] = NAN;
            m->kld_se[f] = NAN;
            for (int s = 0; s < SCORE_NMETHODS; s++)
                m->score[s][f] = m->se[s][f] = NAN;
        }
    }
    return 0;
}

void score_table_free(score_table *t)
{
    free(t->modules);
    score_table_init(t);
}

int score_table_format_index(const score_table *t, mx_format f)
{
    for (int i = 0; i < t->n_formats; i++)
        if (t->formats[i] == f)
            return i;
    return -1;
}

int score_table_find(const score_table *t, const char *name)
{
    for (int i = 0; i < t->n_modules; i++)
        if (!strcmp(t->modules[i].name, name))
            return i;
    return -1;
}

int score_table_has(const score_table *t, score_method m)
{
    return (unsigned)m < SCORE_NMETHODS && (t->methods >> m & 1u);
}

double score_cost(const score_module *m, score_method s, mx_format f)
{
    if ((unsigned)s >= SCORE_NMETHODS || (unsigned)f >= MX_NFORMATS)
        return NAN;
    if (f == MX_FP32)
        return 0.0;
    double v = m->score[s][f];
    if (s == SCORE_KL && !isnan(v) && isfinite(m->kld[f]))
        v = m->kld[f];
    return isnan(v) ? v : v > 0 ? v : 0.0;
}
