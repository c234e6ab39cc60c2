/* Test helper for tests/hardening_cli.sh: write checksum-valid score files
 * whose contents are wrong (cache_write does not judge the table; cache_read
 * must), and a header declaring a huge payload.
 *   mkbad KIND OUT   KIND: layer-intmax, layer-1e8, dup-name, ctl-name,
 *                    huge-length, good */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "kernels/tf.h"
#include "src/cache.h"

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: mkbad KIND OUT\n");
        return 2;
    }
    const char *kind = argv[1], *out = argv[2];
    if (!strcmp(kind, "huge-length")) {
        unsigned char h[32] = {'M', 'X', 'S', 'C', 'O', 'R', 'E', 0, CACHE_VERSION};
        h[20] = 1; /* payload length 1 << 32 in a 32-byte file */
        FILE *f = fopen(out, "wb");
        if (!f || fwrite(h, 1, sizeof h, f) != sizeof h || fclose(f))
            return 1;
        return 0;
    }
    static const char *const names[TF_NLIN] = {"self_attn.q_proj", "self_attn.k_proj",
                                               "self_attn.v_proj", "self_attn.o_proj",
                                               "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"};
    const int layers = 2, n = layers * TF_NLIN;
    score_table t;
    if (score_table_alloc(&t, n))
        return 1;
    snprintf(t.model, sizeof t.model, "bad-%s", kind);
    snprintf(t.key, sizeof t.key, "00112233deadbeef");
    t.methods = 1u << SCORE_KL;
    t.n_formats = 2;
    t.formats[0] = MX_FP4_E2M1;
    t.formats[1] = MX_FP8_E4M3;
    t.ctx = 64;
    t.calib_tokens = 640;
    t.fp32_loss = 1.0;
    for (int m = 0; m < n; m++) {
        score_module *sm = &t.modules[m];
        snprintf(sm->name, sizeof sm->name, "model.layers.%d.%s", m / TF_NLIN, names[m % TF_NLIN]);
        sm->layer = m / TF_NLIN;
        sm->kind = m % TF_NLIN;
        sm->rows = sm->cols = 64;
        sm->params = 64 * 64;
        sm->bits[MX_FP4_E2M1] = 4.25;
        sm->bits[MX_FP8_E4M3] = 8.25;
        sm->score[SCORE_KL][MX_FP4_E2M1] = 0.01 * (m + 1);
        sm->score[SCORE_KL][MX_FP8_E4M3] = 0.0001 * (m + 1);
    }
    if (!strcmp(kind, "layer-intmax"))
        t.modules[3].layer = INT_MAX;
    else if (!strcmp(kind, "layer-1e8"))
        t.modules[3].layer = 100000000;
    else if (!strcmp(kind, "dup-name"))
        snprintf(t.modules[3].name, sizeof t.modules[3].name, "%s", t.modules[2].name);
    else if (!strcmp(kind, "ctl-name"))
        snprintf(t.modules[3].name, sizeof t.modules[3].name, "evil\n\x1b[2Jname");
    else if (strcmp(kind, "good")) {
        fprintf(stderr, "mkbad: unknown kind %s\n", kind);
        return 2;
    }
    mx_error e = {0};
    int rc = cache_write(out, &t, &e);
    if (rc)
        fprintf(stderr, "mkbad: %s\n", e.msg);
    score_table_free(&t);
    return rc ? 1 : 0;
}
