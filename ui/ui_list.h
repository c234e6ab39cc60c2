/* The module list view's order: every module of the score table sorted by
 * one column, as htop and ncdu sort theirs. Pure, unit-tested. */
#ifndef MXALLOC_UI_LIST_H
#define MXALLOC_UI_LIST_H

#include "ui/ui_state.h"

typedef enum ui_list_key {
    UI_LIST_LAYER = 0, /* layer, then kind: the grid's order */
    UI_LIST_NAME,
    UI_LIST_PARAMS,
    UI_LIST_BITS,      /* bits of the current allocation's format */
    UI_LIST_SCORE,     /* the viewed format's score under the current method */
    UI_LIST_NKEYS
} ui_list_key;

/* "layer", "name", "params", "bits", "score". */
const char *ui_list_key_name(ui_list_key k);
/* The direction a column sorts in first: 1 (largest first) for params, bits
 * and score, 0 for layer and name. */
int ui_list_key_desc(ui_list_key k);
/* order[0..n_modules) = the module indices sorted by key (desc: largest
 * first); ties and reversed ties keep the grid's order; modules without a
 * value (NAN score, no allocation) go last either way. view_fmt: the format
 * whose score UI_LIST_SCORE reads. */
void ui_list_sort(const ui_state *s, ui_list_key key, int desc, mx_format view_fmt, int *order);

#endif
