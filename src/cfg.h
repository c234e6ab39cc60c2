/* The assignment config: a JSON file naming one MX format per module, plus
 * how it was obtained (budget, projected perplexity, score provenance).
 *   {"model": "...", "budget_bits": 4.5, "avg_bits": 4.49, "block": 32,
 *    "scale_mode": "ocp-floor", "rounding": "nearest-even",
 *    "formats": {"model.layers.0.self_attn.q_proj": "mxfp6_e2m3", ...},
 *    "pins": {NAME: FMT, ...}, "projected_ppl": 12.3,
 *    "scores": {"method": "kl", "key": "..."},
 *    "target": "llama-cpp", "shapes": {NAME: [ROWS, COLS], ...}}
 * "rounding" is "nearest-even" or "gptq": the MX modules were quantized by
 * GPTQ (kernels/gptq.h) with the second moments of a calibration text, named
 * by "gptq": {"text_xxh64": "16 hex digits", "ctx": 256, "tokens": 3584,
 * "damp": 0.01} (windows of ctx, tokens in all); applying such a config needs
 * that text again (`--gptq-text`).
 * Only "formats" is required when reading; unknown keys are ignored; "block",
 * "scale_mode" and "rounding", when present, must be what mxalloc implements
 * (32, "ocp-floor", "nearest-even" or "gptq"). "target" (default "mx") is what the
 * bits were counted for (alloc --target); "shapes" gives the weight shape of
 * listed modules, so an export can choose storage types per row width
 * without the model.
 * "prune" (written by `mxalloc prune`) removes structure: {GROUP: {"units": N,
 * "keep": [i, ...]}} with GROUP "model.layers.L.self_attn" (units: GQA groups)
 * or "model.layers.L.mlp" (units: intermediate channels), N the group's units
 * in the unpruned model and "keep" the kept ones, ascending (src/prune.h);
 * "keep": [] skips the sublayer. Only commands that apply pruning (ppl,
 * generate, quantize to GGUF) accept such a config; the others refuse it by
 * name. */
#ifndef MXALLOC_CFG_H
#define MXALLOC_CFG_H

#include "kernels/mx.h"
#include "kernels/err.h"
#include "src/model.h"
#include "src/score_table.h"

#define CFG_NAME_MAX 96

typedef struct cfg_item {
    char name[CFG_NAME_MAX];   /* module name (Hugging Face) */
    mx_format fmt;
    int rows, cols;            /* weight shape; 0 when not known */
} cfg_item;

typedef struct cfg_prune {
    char name[CFG_NAME_MAX];   /* pruning group (src/prune.h's prune_group_name) */
    int units;                 /* units of the unpruned group */
    int n_keep;
    int *keep;                 /* [n_keep] kept unit indices, ascending */
} cfg_prune;

typedef struct mx_cfg {
    char model[256];           /* "" when absent */
    double budget_bits;        /* NAN when absent */
    double avg_bits;           /* NAN when absent */
    int block;                 /* MX_BLOCK when absent */
    char scale_mode[32];       /* "ocp-floor" when absent */
    char rounding[32];         /* "nearest-even" when absent, or "gptq" */
    char gptq_text[17];        /* rounding "gptq": the calibration text's xxh64, hex */
    int gptq_ctx;              /* ... its windows' length */
    long gptq_tokens;          /* ... and tokens in all */
    double projected_ppl;      /* NAN when absent */
    char score_method[16];     /* "" when absent */
    char score_key[40];        /* "" when absent */
    mx_target target;          /* MX_TARGET_MX when absent */
    int n_formats;
    cfg_item *formats;         /* in file order (written in the order given) */
    int n_pins;
    cfg_item *pins;
    int n_prune;
    cfg_prune *prune;          /* in file order */
} mx_cfg;

/* An empty config with the defaults above (no allocation). */
void cfg_init(mx_cfg *c);
void cfg_free(mx_cfg *c);

/* Append a module's format (or a pin); replaces an existing entry of that name. */
int cfg_set_format(mx_cfg *c, const char *name, mx_format f, mx_error *e);
int cfg_set_pin(mx_cfg *c, const char *name, mx_format f, mx_error *e);

/* Record the weight shape of a listed module (ERR_ARG when not listed). */
int cfg_set_shape(mx_cfg *c, const char *name, int rows, int cols, mx_error *e);

/* Record a pruning group: keep[units] 0/1 (replaces an entry of that name). */
int cfg_set_prune(mx_cfg *c, const char *name, int units, const unsigned char *keep, mx_error *e);
/* ERR_ARG "CFG prunes blocks (GROUP ...): WHAT does not apply pruning" when c
 * has a "prune" section, else 0: for the commands that only read formats. */
int cfg_refuse_prune(const mx_cfg *c, const char *path, const char *what, mx_error *e);
/* Unit masks per pruning group of m (group layer * PRUNE_NPARTS + part):
 * masks[g] malloc'ed for a listed group, NULL otherwise; *masks NULL when the
 * config prunes nothing. ERR_FORMAT when a group is not one of m's or its
 * unit count differs. Free with cfg_prune_masks_free(masks, n_groups). */
int cfg_prune_masks(const mx_cfg *c, const model *m, unsigned char ***masks, mx_error *e);
void cfg_prune_masks_free(unsigned char **masks, int n_groups);
/* The inverse: a "prune" entry for every group g of m with masks[g] non-NULL
 * (masks[layer * PRUNE_NPARTS + part], prune_units(part) entries each). 0 or ERR_*. */
int cfg_set_prune_masks(mx_cfg *c, const model *m, unsigned char *const *masks, mx_error *e);

/* Index of a module in c->formats, or -1. */
int cfg_find(const mx_cfg *c, const char *name);

/* Read a config. Errors (ERR_IO, ERR_FORMAT) name the file and the reason:
 * not a regular file, bad JSON, missing "formats", a format name
 * mx_format_parse rejects, a duplicated module, an unsupported block, scale
 * mode or rounding. On error *c is left empty (nothing to free). */
int cfg_load(const char *path, mx_cfg *c, mx_error *e);

/* Write atomically (fw_write_atomic); NAN fields and
 * empty strings are left out. No file is created or changed on error. */
int cfg_save(const char *path, const mx_cfg *c, mx_error *e);

/* The config as a JSON text (malloc'ed, caller frees), same layout as cfg_save. */
char *cfg_to_json(const mx_cfg *c, mx_error *e);
/* The same with a final newline: exactly the bytes cfg_save writes. */
char *cfg_to_text(const mx_cfg *c, mx_error *e);

/* Provenance from the score table the formats were chosen from: method m,
 * the table's key and, for a table made by GPTQ (score --gptq), rounding
 * "gptq" with its calibration text's hash and windows. */
void cfg_set_scores(mx_cfg *c, const score_table *t, score_method m);
/* rounding "gptq" with the calibration text's xxh64 and windows. */
void cfg_set_gptq(mx_cfg *c, uint64_t text_hash, int ctx, long tokens);
/* Check the config's module names against a list of n names (name_at(user, i)):
 * a module the model lacks is ERR_FORMAT "config for another model: no module
 * NAME in MODEL". Modules the config does not list are allowed (they stay fp32). */
int cfg_check_names(const mx_cfg *c, int n, const char *(*name_at)(const void *user, int i),
                    const void *user, const char *model_label, mx_error *e);
/* Same, against a loaded model. */
int cfg_check_model(const mx_cfg *c, const model *m, mx_error *e);

/* Per-module formats for a model: out[i] for m->modules[i] (MX_FP32 when the
 * config does not list it). Fails like cfg_check_model. */
int cfg_formats_for_model(const mx_cfg *c, const model *m, mx_format *out, mx_error *e);

#endif
