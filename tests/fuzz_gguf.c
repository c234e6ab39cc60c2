/* libFuzzer target: a GGUF file through the public entry points, so it covers
 * whatever they read: model_load (metadata, every tensor type the loader
 * dequantizes) and tok_open's GGUF tokenizer (tokenizer.ggml.* metadata),
 * which then encodes and decodes a fixed text. The input is the file. */
#include <string.h>

#include "src/tok.h"
#include "tests/fuzz_util.h"

static const char text[] = "Once upon a time, a tiny \xc3\xa9l\xc3\xa9phant said \"hi!\" 42 times.\n"
                           "  Tabs\tand\nnewlines, <s> and </s>, \xe2\x96\x81 and \xf0\x9f\x98\x80.";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = fuzz_path(0, "model.gguf");
    fuzz_spill(p, data, size);
    fuzz_model(p);
    mx_error e = {0};
    fuzz_tok_loaded(tok_open(NULL, p, 0, &e), &e, text, sizeof text - 1);
    return 0;
}
