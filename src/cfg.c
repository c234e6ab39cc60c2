/* Reading and writing the assignment config (JSON via jansson). */
#include "src/cfg.h"
#include "src/cfg_internal.h"

#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gptq.h"
#include "src/file_map.h"
#include "src/file_write.h"
#include "src/module_name.h"

void cfg_init(mx_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->budget_bits = NAN;
    c->avg_bits = NAN;
    c->projected_ppl = NAN;
    c->block = MX_BLOCK;
    snprintf(c->scale_mode, sizeof c->scale_mode, "ocp-floor");
    snprintf(c->rounding, sizeof c->rounding, "nearest-even");
}

void cfg_free(mx_cfg *c)
{
    free(c->formats);
    free(c->pins);
    cfg_prune_free(c);
    cfg_init(c);
}

static int items_find(const cfg_item *it, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(it[i].name, name))
            return i;
    return -1;
}

static int items_set(cfg_item **it, int *n, const char *name, mx_format f, mx_error *e)
{
    if (strlen(name) >= CFG_NAME_MAX)
        return err_set(e, ERR_ARG, "module name too long: %.60s...", name);
    if ((unsigned)f >= MX_NFORMATS)
        return err_set(e, ERR_ARG, "invalid format %d for %s", (int)f, name);
    int i = items_find(*it, *n, name);
    if (i < 0) {
        cfg_item *grown = realloc(*it, (size_t)(*n + 1) * sizeof *grown);
        if (!grown)
            return err_set(e, ERR_NOMEM, "out of memory");
        *it = grown;
        i = (*n)++;
        memset(&(*it)[i], 0, sizeof **it);
        snprintf((*it)[i].name, CFG_NAME_MAX, "%s", name);
    }
    (*it)[i].fmt = f;
    return 0;
}

int cfg_set_format(mx_cfg *c, const char *name, mx_format f, mx_error *e)
{
    return items_set(&c->formats, &c->n_formats, name, f, e);
}

int cfg_set_pin(mx_cfg *c, const char *name, mx_format f, mx_error *e)
{
    return items_set(&c->pins, &c->n_pins, name, f, e);
}

int cfg_find(const mx_cfg *c, const char *name)
{
    return items_find(c->formats, c->n_formats, name);
}

int cfg_set_shape(mx_cfg *c, const char *name, int rows, int cols, mx_error *e)
{
    int i = cfg_find(c, name);
    if (i < 0)
        return err_set(e, ERR_ARG, "shape of %s, which the config does not list", name);
    if (rows <= 0 || cols <= 0)
        return err_set(e, ERR_ARG, "%s: shape %d x %d is not positive", name, rows, cols);
    c->formats[i].rows = rows;
    c->formats[i].cols = cols;
    return 0;
}

/* "shapes": {NAME: [ROWS, COLS]} for modules "formats" lists. */
static int load_shapes(json_t *obj, mx_cfg *c, mx_error *e)
{
    if (!json_is_object(obj))
        return err_set(e, ERR_FORMAT, "\"shapes\" is not an object");
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        char name[CFG_NAME_MAX];
        if (module_name_canonical(k, name, sizeof name))
            return err_set(e, ERR_FORMAT, "\"shapes\": module name too long: %.60s...", k);
        json_t *r = json_array_get(v, 0), *cl = json_array_get(v, 1);
        if (!json_is_array(v) || json_array_size(v) != 2 || !json_is_integer(r) || !json_is_integer(cl) ||
            json_integer_value(r) <= 0 || json_integer_value(cl) <= 0 ||
            json_integer_value(r) > INT_MAX || json_integer_value(cl) > INT_MAX)
            return err_set(e, ERR_FORMAT, "\"shapes\": %s is not [ROWS, COLS] of positive integers", name);
        int i = cfg_find(c, name);
        if (i < 0)
            return err_set(e, ERR_FORMAT, "\"shapes\": %s is not in \"formats\"", name);
        c->formats[i].rows = (int)json_integer_value(r);
        c->formats[i].cols = (int)json_integer_value(cl);
    }
    return 0;
}

/* Read an object {NAME: FMT} into items; duplicates are an error. */
static int load_map(json_t *obj, const char *what, cfg_item **it, int *n, mx_error *e)
{
    if (!json_is_object(obj))
        return err_set(e, ERR_FORMAT, "\"%s\" is not an object", what);
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        if (!json_is_string(v))
            return err_set(e, ERR_FORMAT, "\"%s\": the format of %s is not a string", what, k);
        mx_format f;
        if (mx_format_parse(json_string_value(v), &f) != 0)
            return err_set(e, ERR_FORMAT, "\"%s\": unknown format '%s' for %s (%s)", what,
                           json_string_value(v), k, mx_format_valid_names(json_string_value(v)));
        /* LAYER.KIND ("0.q") is stored as the HF name every other reader matches */
        char name[CFG_NAME_MAX];
        if (module_name_canonical(k, name, sizeof name))
            return err_set(e, ERR_FORMAT, "\"%s\": module name too long: %.60s...", what, k);
        if (items_find(*it, *n, name) >= 0)
            return err_set(e, ERR_FORMAT, "\"%s\": module %s listed twice", what, name);
        int rc = items_set(it, n, name, f, e);
        if (rc)
            return rc;
    }
    return 0;
}

static int get_num(json_t *root, const char *key, double *out, mx_error *e)
{
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_number(v))
        return err_set(e, ERR_FORMAT, "\"%s\" is not a number", key);
    *out = json_number_value(v);
    return 0;
}

static int get_str(json_t *root, const char *key, char *out, size_t n, mx_error *e)
{
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return err_set(e, ERR_FORMAT, "\"%s\" is not a string", key);
    if (strlen(json_string_value(v)) >= n)
        return err_set(e, ERR_FORMAT, "\"%s\" is too long", key);
    snprintf(out, n, "%s", json_string_value(v));
    return 0;
}

/* The "gptq" object of a config with rounding "gptq" (src/cfg.h). */
static int load_gptq(json_t *g, mx_cfg *c, mx_error *e)
{
    if (!json_is_object(g))
        return err_set(e, ERR_FORMAT, "\"rounding\": \"gptq\" needs a \"gptq\" object (text_xxh64, ctx, tokens)");
    double ctx = NAN, tokens = NAN, damp = GPTQ_DEFAULT_DAMP;
    int rc = get_str(g, "text_xxh64", c->gptq_text, sizeof c->gptq_text, e);
    if (!rc)
        rc = get_num(g, "ctx", &ctx, e);
    if (!rc)
        rc = get_num(g, "tokens", &tokens, e);
    if (!rc)
        rc = get_num(g, "damp", &damp, e);
    if (rc)
        return rc;
    size_t n = strlen(c->gptq_text);
    if (n != 16 || strspn(c->gptq_text, "0123456789abcdef") != 16)
        return err_set(e, ERR_FORMAT, "\"gptq\": \"text_xxh64\" must be 16 lowercase hex digits");
    if (!(ctx >= 1 && ctx <= 1 << 20 && ctx == floor(ctx)) || !(tokens >= ctx && tokens <= 1e12 && tokens == floor(tokens)))
        return err_set(e, ERR_FORMAT, "\"gptq\": \"ctx\" and \"tokens\" must be whole numbers, tokens >= ctx >= 1");
    if (damp != GPTQ_DEFAULT_DAMP)
        return err_set(e, ERR_FORMAT, "\"gptq\": \"damp\" %.6g is not supported (mxalloc implements %g)", damp,
                       GPTQ_DEFAULT_DAMP);
    c->gptq_ctx = (int)ctx;
    c->gptq_tokens = (long)tokens;
    return 0;
}

static int load_root(json_t *root, mx_cfg *c, mx_error *e)
{
    if (!json_is_object(root))
        return err_set(e, ERR_FORMAT, "not a JSON object");
    json_t *fm = json_object_get(root, "formats");
    if (!fm)
        return err_set(e, ERR_FORMAT, "no \"formats\" object");
    int rc = load_map(fm, "formats", &c->formats, &c->n_formats, e);
    json_t *pins = json_object_get(root, "pins");
    if (!rc && pins && !json_is_null(pins))
        rc = load_map(pins, "pins", &c->pins, &c->n_pins, e);
    json_t *pr = json_object_get(root, "prune");
    if (!rc && pr && !json_is_null(pr))
        rc = cfg_prune_load(pr, c, e);
    json_t *shapes = json_object_get(root, "shapes");
    if (!rc && shapes && !json_is_null(shapes))
        rc = load_shapes(shapes, c, e);
    char target[32] = "mx";
    if (!rc)
        rc = get_str(root, "target", target, sizeof target, e);
    if (!rc && mx_target_parse(target, &c->target))
        rc = err_set(e, ERR_FORMAT, "\"target\": '%s' is not mx or llama-cpp", target);
    if (!rc)
        rc = get_str(root, "model", c->model, sizeof c->model, e);
    if (!rc)
        rc = get_num(root, "budget_bits", &c->budget_bits, e);
    if (!rc)
        rc = get_num(root, "avg_bits", &c->avg_bits, e);
    if (!rc)
        rc = get_num(root, "projected_ppl", &c->projected_ppl, e);
    if (!rc)
        rc = get_str(root, "scale_mode", c->scale_mode, sizeof c->scale_mode, e);
    if (!rc)
        rc = get_str(root, "rounding", c->rounding, sizeof c->rounding, e);
    /* Recorded for other tools, but what they state must be what mxalloc
     * computes: a config asking for something else is refused, not ignored. */
    if (!rc) {
        double b = MX_BLOCK;
        rc = get_num(root, "block", &b, e);
        if (!rc && b != MX_BLOCK)
            rc = err_set(e, ERR_FORMAT, "\"block\": %.6g is not supported (mxalloc implements "
                         "blocks of %d)", b, MX_BLOCK);
        c->block = MX_BLOCK;
    }
    if (!rc && strcmp(c->scale_mode, "ocp-floor"))
        rc = err_set(e, ERR_FORMAT, "\"scale_mode\": '%s' is not supported (mxalloc implements "
                     "ocp-floor)", c->scale_mode);
    if (!rc && strcmp(c->rounding, "nearest-even") && strcmp(c->rounding, "gptq"))
        rc = err_set(e, ERR_FORMAT, "\"rounding\": '%s' is not supported (mxalloc implements "
                     "nearest-even and gptq)", c->rounding);
    if (!rc && !strcmp(c->rounding, "gptq"))
        rc = load_gptq(json_object_get(root, "gptq"), c, e);
    json_t *sc = json_object_get(root, "scores");
    if (!rc && sc && json_is_object(sc)) {
        rc = get_str(sc, "method", c->score_method, sizeof c->score_method, e);
        if (!rc)
            rc = get_str(sc, "key", c->score_key, sizeof c->score_key, e);
    }
    return rc;
}

int cfg_load(const char *path, mx_cfg *c, mx_error *e)
{
    cfg_init(c);
    char *text;
    size_t len;
    int rc = fm_read_all(path, &text, &len, e); /* a regular file only, bounded */
    if (rc)
        return rc;
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    free(text);
    if (!root)
        return err_set(e, ERR_FORMAT, "%s:%d: %s", path, je.line, je.text);
    rc = load_root(root, c, e);
    json_decref(root);
    if (rc) {
        cfg_free(c);
        err_prefix(e, "%s", path);
    }
    return rc;
}

static int set_num(json_t *o, const char *k, double v)
{
    if (isnan(v))
        return 0;
    return json_object_set_new(o, k, json_real(v));
}

static json_t *items_json(const cfg_item *it, int n)
{
    json_t *o = json_object();
    for (int i = 0; o && i < n; i++)
        if (json_object_set_new(o, it[i].name, json_string(mx_format_name(it[i].fmt)))) {
            json_decref(o);
            return NULL;
        }
    return o;
}

char *cfg_to_json(const mx_cfg *c, mx_error *e)
{
    json_t *o = json_object();
    int bad = !o;
    if (!bad && c->model[0])
        bad |= json_object_set_new(o, "model", json_string(c->model));
    if (!bad) {
        bad |= set_num(o, "budget_bits", c->budget_bits);
        bad |= set_num(o, "avg_bits", c->avg_bits);
        bad |= json_object_set_new(o, "block", json_integer(c->block));
        bad |= json_object_set_new(o, "scale_mode", json_string(c->scale_mode));
        bad |= json_object_set_new(o, "rounding", json_string(c->rounding));
        if (!strcmp(c->rounding, "gptq"))
            bad |= json_object_set_new(o, "gptq", json_pack("{sssisIsf}", "text_xxh64", c->gptq_text, "ctx",
                                                            c->gptq_ctx, "tokens", (json_int_t)c->gptq_tokens,
                                                            "damp", GPTQ_DEFAULT_DAMP));
        bad |= json_object_set_new(o, "formats", items_json(c->formats, c->n_formats));
        if (c->n_pins)
            bad |= json_object_set_new(o, "pins", items_json(c->pins, c->n_pins));
        if (c->n_prune)
            bad |= json_object_set_new(o, "prune", cfg_prune_json(c));
        bad |= set_num(o, "projected_ppl", c->projected_ppl);
        if (c->target != MX_TARGET_MX)
            bad |= json_object_set_new(o, "target", json_string(mx_target_name(c->target)));
        json_t *sh = json_object();
        bad |= !sh;
        for (int i = 0; sh && i < c->n_formats; i++)
            if (c->formats[i].rows > 0) {
                json_t *a = json_pack("[ii]", c->formats[i].rows, c->formats[i].cols);
                bad |= !a || json_object_set_new(sh, c->formats[i].name, a);
            }
        if (sh && json_object_size(sh))
            bad |= json_object_set_new(o, "shapes", sh);
        else
            json_decref(sh);
        if (c->score_method[0] || c->score_key[0]) {
            json_t *s = json_object();
            if (!s)
                bad = 1;
            else {
                if (c->score_method[0])
                    bad |= json_object_set_new(s, "method", json_string(c->score_method));
                if (c->score_key[0])
                    bad |= json_object_set_new(s, "key", json_string(c->score_key));
                bad |= json_object_set_new(o, "scores", s);
            }
        }
    }
    char *txt = bad ? NULL : json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    json_decref(o);
    if (!txt)
        err_set(e, ERR_NOMEM, "cannot build the config JSON (out of memory or invalid text)");
    return txt;
}

char *cfg_to_text(const mx_cfg *c, mx_error *e)
{
    char *txt = cfg_to_json(c, e);
    if (!txt)
        return NULL;
    size_t n = strlen(txt);
    char *buf = realloc(txt, n + 2);
    if (!buf) {
        free(txt);
        err_set(e, ERR_NOMEM, "out of memory");
        return NULL;
    }
    buf[n] = '\n';
    buf[n + 1] = 0;
    return buf;
}

int cfg_save(const char *path, const mx_cfg *c, mx_error *e)
{
    char *buf = cfg_to_text(c, e);
    if (!buf)
        return e ? e->code : ERR_NOMEM;
    int rc = fw_write_atomic(path, buf, strlen(buf), e);
    free(buf);
    return rc;
}

int cfg_check_names(const mx_cfg *c, int n, const char *(*name_at)(const void *user, int i),
                    const void *user, const char *model_label, mx_error *e)
{
    /* Quadratic is fine: at most a few thousand modules, checked once. */
    const cfg_item *lists[2] = {c->formats, c->pins};
    int counts[2] = {c->n_formats, c->n_pins};
    for (int l = 0; l < 2; l++)
        for (int i = 0; i < counts[l]; i++) {
            int found = 0;
            for (int j = 0; j < n && !found; j++)
                found = !strcmp(name_at(user, j), lists[l][i].name);
            if (!found)
                return err_set(e, ERR_FORMAT, "config for another model: no module %s in %s",
                               lists[l][i].name, model_label && *model_label ? model_label : "the model");
        }
    return 0;
}

static const char *model_name_at(const void *user, int i)
{
    return ((const model *)user)->modules[i].name;
}

int cfg_check_model(const mx_cfg *c, const model *m, mx_error *e)
{
    return cfg_check_names(c, m->n_modules, model_name_at, m, m->path, e);
}

int cfg_formats_for_model(const mx_cfg *c, const model *m, mx_format *out, mx_error *e)
{
    int rc = cfg_check_model(c, m, e);
    if (rc)
        return rc;
    for (int i = 0; i < m->n_modules; i++) {
        int j = cfg_find(c, m->modules[i].name);
        out[i] = j >= 0 ? c->formats[j].fmt : MX_FP32;
    }
    return 0;
}

void cfg_set_scores(mx_cfg *c, const score_table *t, score_method m)
{
    snprintf(c->score_method, sizeof c->score_method, "%s", score_method_name(m));
    snprintf(c->score_key, sizeof c->score_key, "%s", t->key);
    if (t->gptq)
        cfg_set_gptq(c, t->text_hash, t->ctx, t->calib_tokens);
}

void cfg_set_gptq(mx_cfg *c, uint64_t text_hash, int ctx, long tokens)
{
    snprintf(c->rounding, sizeof c->rounding, "gptq");
    snprintf(c->gptq_text, sizeof c->gptq_text, "%016llx", (unsigned long long)text_hash);
    c->gptq_ctx = ctx;
    c->gptq_tokens = tokens;
}
