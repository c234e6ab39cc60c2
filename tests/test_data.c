/* The real data files for cmocka tests (see test_data.h). */
#include "tests/test_data.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cmocka.h>

void need_data(char *buf, size_t len, const char *rel)
{
    const char *d = getenv("MXALLOC_DATA");
    if (!d || !*d)
        d = "../shared/data";
    snprintf(buf, len, "%s/%s", d, rel);
    struct stat st;
    if (stat(buf, &st) != 0) {
        fprintf(stderr, "SKIP: %s absent (set MXALLOC_DATA)\n", rel);
        skip();
    }
}

tok *load_stories260k(model *m, char *mp, size_t mp_len)
{
    char tp[4096];
    need_data(mp, mp_len, "tinystories-260k/stories260K.bin");
    need_data(tp, sizeof tp, "tinystories-260k/tok512.bin");
    mx_error e = {0};
    if (model_load(mp, m, &e))
        fail_msg("%s", e.msg);
    tok *tk = tok_load_llama2c(tp, m->cfg.vocab_size, &e);
    if (!tk)
        fail_msg("%s", e.msg);
    return tk;
}
