/* Shared by cfg.c and cfg_prune.c only: the "prune" section's JSON. */
#ifndef MXALLOC_CFG_INTERNAL_H
#define MXALLOC_CFG_INTERNAL_H

#include <jansson.h>

#include "src/cfg.h"

/* Read "prune" (obj non-NULL, not null) into c; ERR_FORMAT naming the problem. */
int cfg_prune_load(json_t *obj, mx_cfg *c, mx_error *e);
/* The section as a new JSON object, or NULL (out of memory). */
json_t *cfg_prune_json(const mx_cfg *c);
void cfg_prune_free(mx_cfg *c);

#endif
