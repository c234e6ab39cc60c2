/* The config's "prune" section: which units of which groups are kept. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/cfg_internal.h"
#include "src/prune.h"

static int prune_find(const mx_cfg *c, const char *name)
{
    for (int i = 0; i < c->n_prune; i++)
        if (!strcmp(c->prune[i].name, name))
            return i;
    return -1;
}

/* Take ownership of keep[n] (ascending, checked by the caller). */
static int prune_put(mx_cfg *c, const char *name, int units, int *keep, int n, mx_error *e)
{
    if (strlen(name) >= CFG_NAME_MAX) {
        free(keep);
        return err_set(e, ERR_ARG, "group name too long: %.60s...", name);
    }
    int i = prune_find(c, name);
    if (i < 0) {
        cfg_prune *grown = realloc(c->prune, (size_t)(c->n_prune + 1) * sizeof *grown);
        if (!grown) {
            free(keep);
            return err_set(e, ERR_NOMEM, "out of memory");
        }
        c->prune = grown;
        i = c->n_prune++;
        snprintf(c->prune[i].name, CFG_NAME_MAX, "%s", name);
    } else
        free(c->prune[i].keep);
    c->prune[i].units = units;
    c->prune[i].n_keep = n;
    c->prune[i].keep = keep;
    return 0;
}

int cfg_set_prune(mx_cfg *c, const char *name, int units, const unsigned char *keep, mx_error *e)
{
    if (units < 1)
        return err_set(e, ERR_ARG, "%s: %d units", name, units);
    int *k = malloc((size_t)units * sizeof *k), n = 0;
    if (!k)
        return err_set(e, ERR_NOMEM, "out of memory");
    for (int u = 0; u < units; u++)
        if (keep[u])
            k[n++] = u;
    return prune_put(c, name, units, k, n, e);
}

void cfg_prune_free(mx_cfg *c)
{
    for (int i = 0; i < c->n_prune; i++)
        free(c->prune[i].keep);
    free(c->prune);
}

int cfg_prune_load(json_t *obj, mx_cfg *c, mx_error *e)
{
    if (!json_is_object(obj))
        return err_set(e, ERR_FORMAT, "\"prune\" is not an object");
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        json_t *u = json_object_get(v, "units"), *kp = json_object_get(v, "keep");
        if (!json_is_object(v) || !json_is_integer(u) || !json_is_array(kp) || json_integer_value(u) < 1 ||
            json_integer_value(u) > INT_MAX)
            return err_set(e, ERR_FORMAT, "\"prune\": %.60s is not {\"units\": N >= 1, \"keep\": [...]}", k);
        if (prune_find(c, k) >= 0)
            return err_set(e, ERR_FORMAT, "\"prune\": %.60s listed twice", k);
        int units = (int)json_integer_value(u);
        size_t n = json_array_size(kp);
        if (n > (size_t)units)
            return err_set(e, ERR_FORMAT, "\"prune\": %.60s keeps %zu of %d units", k, n, units);
        int *keep = malloc((n ? n : 1) * sizeof *keep);
        if (!keep)
            return err_set(e, ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
            json_t *x = json_array_get(kp, i);
            json_int_t val = json_is_integer(x) ? json_integer_value(x) : -1;
            if (val < 0 || val >= units || (i && val <= keep[i - 1])) {
                free(keep);
                return err_set(e, ERR_FORMAT, "\"prune\": %.60s: \"keep\" must list unit indices below %d, "
                               "ascending", k, units);
            }
            keep[i] = (int)val;
        }
        int rc = prune_put(c, k, units, keep, (int)n, e);
        if (rc)
            return rc;
    }
    return 0;
}

json_t *cfg_prune_json(const mx_cfg *c)
{
    json_t *o = json_object();
    for (int i = 0; o && i < c->n_prune; i++) {
        json_t *a = json_array();
        for (int j = 0; a && j < c->prune[i].n_keep; j++)
            if (json_array_append_new(a, json_integer(c->prune[i].keep[j]))) {
                json_decref(a);
                a = NULL;
            }
        json_t *g = a ? json_pack("{sisO}", "units", c->prune[i].units, "keep", a) : NULL;
        json_decref(a);
        if (!g || json_object_set_new(o, c->prune[i].name, g)) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

int cfg_refuse_prune(const mx_cfg *c, const char *path, const char *what, mx_error *e)
{
    if (!c->n_prune)
        return 0;
    return err_set(e, ERR_ARG, "%s prunes blocks (%s%s): %s does not apply pruning (ppl, generate and quantize to GGUF do)",
                   path && *path ? path : "the config", c->prune[0].name, c->n_prune > 1 ? ", ..." : "", what);
}

void cfg_prune_masks_free(unsigned char **masks, int n_groups)
{
    for (int g = 0; masks && g < n_groups; g++)
        free(masks[g]);
    free(masks);
}

int cfg_prune_masks(const mx_cfg *c, const model *m, unsigned char ***masks, mx_error *e)
{
    *masks = NULL;
    if (!c->n_prune)
        return 0;
    int ng = m->cfg.n_layers * PRUNE_NPARTS;
    unsigned char **out = calloc((size_t)ng, sizeof *out);
    if (!out)
        return err_set(e, ERR_NOMEM, "out of memory");
    for (int i = 0; i < c->n_prune; i++) {
        const cfg_prune *p = &c->prune[i];
        int g = -1;
        char name[CFG_NAME_MAX];
        for (int k = 0; k < ng && g < 0; k++) {
            prune_group_name(k / PRUNE_NPARTS, k % PRUNE_NPARTS, name, sizeof name);
            if (!strcmp(name, p->name))
                g = k;
        }
        int units = g < 0 ? 0 : prune_units(&m->cfg, g % PRUNE_NPARTS);
        if (g < 0 || units != p->units) {
            cfg_prune_masks_free(out, ng);
            if (g < 0)
                return err_set(e, ERR_FORMAT, "config for another model: no pruning group %s in %s", p->name,
                               m->path);
            return err_set(e, ERR_FORMAT, "config for another model: %s has %d units in %s, the config says %d",
                           p->name, units, m->path, p->units);
        }
        if (!(out[g] = calloc((size_t)units, 1))) {
            cfg_prune_masks_free(out, ng);
            return err_set(e, ERR_NOMEM, "out of memory");
        }
        for (int j = 0; j < p->n_keep; j++)
            out[g][p->keep[j]] = 1;
    }
    *masks = out;
    return 0;
}

int cfg_set_prune_masks(mx_cfg *c, const model *m, unsigned char *const *masks, mx_error *e)
{
    int rc = 0;
    for (int g = 0; masks && g < m->cfg.n_layers * PRUNE_NPARTS && !rc; g++)
        if (masks[g]) {
            char name[CFG_NAME_MAX];
            prune_group_name(g / PRUNE_NPARTS, g % PRUNE_NPARTS, name, sizeof name);
            rc = cfg_set_prune(c, name, prune_units(&m->cfg, g % PRUNE_NPARTS), masks[g], e);
        }
    return rc;
}
