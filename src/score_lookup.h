/* Finding score files already in the cache: the entry `mxalloc score` with
 * its defaults would write for a model and text, else the newest entry made
 * for the same weights. What the workbench opens without --scores. */
#ifndef MXALLOC_SCORE_LOOKUP_H
#define MXALLOC_SCORE_LOOKUP_H

#include <stddef.h>
#include <stdint.h>

#include "src/model.h"

/* The cache file `mxalloc score MODEL --text TEXT` writes with its defaults
 * (method kl, then kl+fisher, then fisher: the first that exists) for text
 * (text_len bytes) and its tokens (n_tokens ids, no leading BOS); bos is the
 * id fed before every window (tok_window_bos). 0 and its path in out, or -1
 * when none exists. */
int score_lookup_default(const model *m, const char *text, size_t text_len, const int *tokens, long n_tokens,
                         int bos, char *out, size_t len);

/* The newest readable score file in the cache for weights model_hash with
 * n_modules modules. 0 and its path in out, or -1 when there is none. */
int score_lookup_newest(uint64_t model_hash, int n_modules, char *out, size_t len);

#endif
