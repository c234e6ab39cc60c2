/* libFuzzer target: a llama2.c tokenizer.bin through tok_load_llama2c, then
 * encoding a fuzzed text. The input is cut at FUZZ_SPLIT (tests/fuzz_util.h):
 * part 0 is the file, part 1 the text, optional part 2 the vocabulary size
 * the model would pass (decimal; absent: 0 = every token in the file). */
#include <stdlib.h>
#include <string.h>

#include "src/tok.h"
#include "tests/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_part part[3];
    int n = fuzz_split(data, size, part, 3);
    const char *p = fuzz_path(0, "tokenizer.bin");
    fuzz_spill(p, part[0].p, part[0].n);
    int vocab = 0;
    if (n > 2) {
        char num[16] = {0};
        memcpy(num, part[2].p, part[2].n < 15 ? part[2].n : 15);
        long v = strtol(num, NULL, 10);
        vocab = v > 1 << 30 ? 1 << 30 : v < -1 ? -1 : (int)v;
    }
    mx_error e = {0};
    fuzz_tok_loaded(tok_load_llama2c(p, vocab, &e), &e, n > 1 ? (const char *)part[1].p : "",
                    n > 1 ? part[1].n : 0);
    return 0;
}
