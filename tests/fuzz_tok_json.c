/* libFuzzer target: a Hugging Face tokenizer.json (each layout tok_hf.c reads:
 * byte-level BPE, SentencePiece-style BPE) through tok_load_hf, then encoding
 * a fuzzed text. The input is cut at FUZZ_SPLIT (tests/fuzz_util.h): part 0
 * is the file, part 1 the text. */
#include "src/tok.h"
#include "tests/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_part part[2];
    int n = fuzz_split(data, size, part, 2);
    const char *p = fuzz_path(0, "tokenizer.json");
    fuzz_spill(p, part[0].p, part[0].n);
    mx_error e = {0};
    fuzz_tok_loaded(tok_load_hf(p, &e), &e, n > 1 ? (const char *)part[1].p : "",
                    n > 1 ? part[1].n : 0);
    return 0;
}
