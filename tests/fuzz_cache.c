/* libFuzzer target: a score file through cache_read (src/cache.c). A table it
 * accepts must be usable: every module's layer and kind within bounds of the
 * table, names NUL-terminated. The input is the file; when its reserved
 * header byte (offset 12) is 'F' the target first repairs the header (payload
 * length, xxh64 checksum, reserved 0) so that mutations of the payload get
 * past the checksum. */
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "kernels/tf.h"
#include "src/cache.h"
#include "tests/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = fuzz_path(0, "x.scores");
    if (size >= 32 && data[12] == 'F') {
        uint8_t *d = malloc(size);
        if (!d)
            return 0;
        memcpy(d, data, size);
        uint64_t plen = size - 32, sum = XXH64(d + 32, plen, 0);
        memset(d + 12, 0, 4);
        for (int i = 0; i < 8; i++) {
            d[16 + i] = (uint8_t)(plen >> (8 * i));
            d[24 + i] = (uint8_t)(sum >> (8 * i));
        }
        fuzz_spill(p, d, size);
        free(d);
    } else {
        fuzz_spill(p, data, size);
    }
    score_table t;
    mx_error e = {0};
    if (fuzz_check_msg(cache_read(p, &t, &e), &e))
        return 0;
    if (t.n_modules < 0 || t.n_formats < 0 || t.n_formats > MX_NFORMATS)
        abort();
    for (int i = 0; i < t.n_modules; i++) {
        const score_module *m = &t.modules[i];
        if (memchr(m->name, 0, sizeof m->name) == NULL)
            abort();
        if (m->layer < 0 || m->layer >= t.n_modules || m->kind < 0 || m->kind >= TF_NLIN)
            abort(); /* per-layer tables are sized by the module count (issue 10 item 2) */
    }
    (void)score_table_find(&t, "model.layers.0.mlp.down_proj");
    score_table_free(&t);
    return 0;
}
