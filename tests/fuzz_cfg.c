/* libFuzzer target: an assignment config (JSON) through cfg_load
 * (src/cfg.c). A config it accepts must print (cfg_to_json, cfg_to_text) and
 * what cfg_to_json prints must load again. The input is the file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/cfg.h"
#include "tests/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = fuzz_path(0, "cfg.json");
    fuzz_spill(p, data, size);
    mx_cfg c;
    mx_error e = {0};
    if (fuzz_check_msg(cfg_load(p, &c, &e), &e))
        return 0;
    char *js = cfg_to_json(&c, &e), *tx = cfg_to_text(&c, &e);
    if (!js || !tx)
        abort();
    const char *q = fuzz_path(1, "again.json");
    fuzz_spill(q, js, strlen(js));
    mx_cfg c2;
    mx_error e2 = {0};
    if (cfg_load(q, &c2, &e2) < 0) {
        fprintf(stderr, "fuzz_cfg: cfg_to_json output does not load: %s\n", e2.msg);
        abort();
    }
    if (c2.n_formats != c.n_formats || c2.n_pins != c.n_pins)
        abort();
    cfg_free(&c2);
    free(js);
    free(tx);
    cfg_free(&c);
    return 0;
}
