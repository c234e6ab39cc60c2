/* Accumulated search events for the live panel. */
#include "ui/ui_search.h"

#include <stdlib.h>
#include <string.h>

int ui_search_hist_init(ui_search_hist *h, int n_modules)
{
    memset(h, 0, sizeof *h);
    h->n_modules = n_modules;
    size_t n = n_modules > 0 ? (size_t)n_modules : 1;
    h->likely = malloc(n * sizeof *h->likely);
    h->stable = malloc(n * sizeof *h->stable);
    if (!h->likely || !h->stable) {
        ui_search_hist_free(h);
        return -1;
    }
    ui_search_hist_reset(h);
    return 0;
}

void ui_search_hist_reset(ui_search_hist *h)
{
    h->n = 0;
    for (int i = 0; i < h->n_modules; i++) {
        h->likely[i] = -1;
        h->stable[i] = 0;
    }
}

void ui_search_hist_free(ui_search_hist *h)
{
    free(h->step);
    free(h->loss);
    free(h->temp);
    free(h->bits);
    free(h->reg);
    free(h->likely);
    free(h->stable);
    memset(h, 0, sizeof *h);
}

static int grow(void **p, size_t elem, int cap)
{
    void *n = realloc(*p, elem * (size_t)cap);
    if (!n)
        return -1;
    *p = n;
    return 0;
}

int ui_search_hist_add(ui_search_hist *h, const ui_search_step *s)
{
    if (h->n == h->cap) {
        int cap = h->cap ? 2 * h->cap : 64;
        if (grow((void **)&h->step, sizeof *h->step, cap) || grow((void **)&h->loss, sizeof(double), cap) ||
            grow((void **)&h->temp, sizeof(double), cap) || grow((void **)&h->bits, sizeof(double), cap) ||
            grow((void **)&h->reg, sizeof(double), cap))
            return -1;
        h->cap = cap;
    }
    h->step[h->n] = s->step;
    h->loss[h->n] = s->task_loss;
    h->temp[h->n] = s->temperature;
    h->bits[h->n] = s->expected_bits;
    h->reg[h->n] = s->regularizer;
    h->n++;
    if (s->likely && s->n_modules == h->n_modules)
        for (int i = 0; i < h->n_modules; i++) {
            if (s->likely[i] == h->likely[i])
                h->stable[i]++;
            else {
                h->likely[i] = s->likely[i];
                h->stable[i] = 1;
            }
        }
    return 0;
}

int ui_search_settled(const ui_search_hist *h, int module)
{
    return module >= 0 && module < h->n_modules && h->likely[module] >= 0 &&
           h->stable[module] >= UI_SETTLE_STEPS;
}

int ui_search_n_settled(const ui_search_hist *h)
{
    int n = 0;
    for (int i = 0; i < h->n_modules; i++)
        n += ui_search_settled(h, i);
    return n;
}
