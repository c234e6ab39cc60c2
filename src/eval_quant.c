/* A fake-quantized weights view of a model: owned copies swapped in by pointer. */
#include "src/eval.h"

#include <stdlib.h>

#include "src/gptq_set.h"
#include "src/prune.h"

int eval_qweights_init(eval_qweights *q, const model *m, const mx_format *formats, const gptq_set *g,
                       mx_error *e)
{
    return eval_qweights_init_pruned(q, m, formats, g, NULL, e);
}

int eval_qweights_init_pruned(eval_qweights *q, const model *m, const mx_format *formats, const gptq_set *g,
                              unsigned char *const *masks, mx_error *e)
{
    q->copies = NULL;
    q->n = 0;
    int rc = model_weights_copy(m, &q->w, e);
    if (rc)
        return rc;
    q->copies = calloc((size_t)m->n_modules, sizeof *q->copies);
    if (!q->copies) {
        model_weights_free(&q->w);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    q->n = m->n_modules;
    for (int i = 0; i < m->n_modules; i++) {
        const model_module *mod = &m->modules[i];
        if ((unsigned)formats[i] >= MX_NFORMATS) {
            eval_qweights_free(q);
            return err_set(e, ERR_ARG, "%s: invalid format index %d", mod->name, (int)formats[i]);
        }
        const unsigned char *keep = masks ? masks[mod->layer * PRUNE_NPARTS + prune_part_of(mod->kind)] : NULL;
        if (formats[i] == MX_FP32 && !keep)
            continue;
        if (keep && g) {
            eval_qweights_free(q);
            return err_set(e, ERR_ARG, "%s is pruned: GPTQ does not apply to pruned modules", mod->name);
        }
        size_t cnt = (size_t)mod->rows * (size_t)mod->cols;
        float *cp = malloc(sizeof(float) * cnt);
        if (!cp) {
            eval_qweights_free(q);
            return err_set(e, ERR_NOMEM, "out of memory quantizing %s", mod->name);
        }
        q->copies[i] = cp;
        if ((rc = keep ? prune_apply(m, i, NULL, keep, formats[i], cp, e)
                       : gptq_set_quant(g, m, i, formats[i], cp, e))) {
            eval_qweights_free(q);
            return rc;
        }
        q->w.layers[mod->layer].lin[mod->kind] = cp;
    }
    return 0;
}

void eval_qweights_free(eval_qweights *q)
{
    if (q->copies)
        for (int i = 0; i < q->n; i++)
            free(q->copies[i]);
    free(q->copies);
    q->copies = NULL;
    q->n = 0;
    model_weights_free(&q->w);
}
