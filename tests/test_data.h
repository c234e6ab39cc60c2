/* The real data files under $MXALLOC_DATA (default ../shared/data) for cmocka
 * tests that skip, rather than fail, where the data is absent. */
#ifndef MXALLOC_TEST_DATA_H
#define MXALLOC_TEST_DATA_H

#include <stddef.h>

#include "src/model.h"
#include "src/tok.h"

/* The path of rel under the data directory in buf; skips the test when the
 * file is absent. */
void need_data(char *buf, size_t len, const char *rel);

/* stories260K and its tokenizer (tok512.bin): the model into m and its path
 * into mp, the tokenizer returned. Skips the test when either file is absent,
 * fails it when either does not load. */
tok *load_stories260k(model *m, char *mp, size_t mp_len);

#endif
