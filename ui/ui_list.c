/* The module list's sort (ui_list.h). */
#include "ui/ui_list.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *ui_list_key_name(ui_list_key k)
{
    static const char *const names[UI_LIST_NKEYS] = {"layer", "name", "params", "bits", "score"};
    return k >= 0 && k < UI_LIST_NKEYS ? names[k] : "?";
}

int ui_list_key_desc(ui_list_key k)
{
    return k == UI_LIST_PARAMS || k == UI_LIST_BITS || k == UI_LIST_SCORE;
}

/* qsort has no context argument: sort records that carry their own keys. */
typedef struct rec {
    const char *name;
    double v;  /* the numeric key; NAN: none */
    long grid; /* layer * 64 + kind: the tie-break */
    int m;
} rec;

/* By the key (desc reverses it), modules without a value last, then the grid's order. */
static int cmp(const rec *a, const rec *b, int desc)
{
    if (!a->name && isnan(a->v) != isnan(b->v))
        return isnan(a->v) ? 1 : -1;
    int c = a->name ? strcmp(a->name, b->name) : isnan(a->v) ? 0 : (a->v > b->v) - (a->v < b->v);
    c = (c > 0) - (c < 0);
    if (c)
        return desc ? -c : c;
    return (a->grid > b->grid) - (a->grid < b->grid);
}

static int cmp_asc(const void *a, const void *b)
{
    return cmp(a, b, 0);
}

static int cmp_desc(const void *a, const void *b)
{
    return cmp(a, b, 1);
}

void ui_list_sort(const ui_state *s, ui_list_key key, int desc, mx_format view_fmt, int *order)
{
    int n = s->t.n_modules;
    rec *r = malloc((size_t)(n > 0 ? n : 1) * sizeof *r);
    if (!r) { /* no room to sort: the grid's order, which the table keeps */
        for (int i = 0; i < n; i++)
            order[i] = i;
        return;
    }
    for (int i = 0; i < n; i++) {
        const score_module *sm = &s->t.modules[i];
        int f = s->solved ? s->choice[i] : -1;
        r[i] = (rec){.name = key == UI_LIST_NAME ? sm->name : NULL,
                     .v = key == UI_LIST_PARAMS ? (double)sm->params
                        : key == UI_LIST_BITS   ? (f >= 0 ? sm->bits[f] : NAN)
                        : key == UI_LIST_SCORE  ? sm->score[s->method][view_fmt]
                                                : (double)sm->layer * 64 + sm->kind,
                     .grid = (long)sm->layer * 64 + sm->kind,
                     .m = i};
    }
    qsort(r, (size_t)n, sizeof *r, desc ? cmp_desc : cmp_asc);
    for (int i = 0; i < n; i++)
        order[i] = r[i].m;
    free(r);
}
