/* The tiny models the fuzz targets and their seeds share (tests/fuzz_models.h). */
#include "tests/fuzz_models.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz_util.h"

void fuzz_hf_model(tm_model *t)
{
    tf_config c = {.dim = 8, .hidden_dim = 12, .n_layers = 1, .n_heads = 2, .n_kv_heads = 1,
                   .head_dim = 4, .vocab_size = 6, .max_seq = 4, .rope_theta = 10000.0f,
                   .norm_eps = 1e-5f, .rope_style = TF_ROPE_INTERLEAVED};
    if (tm_random(t, MODEL_ARCH_LLAMA, &c, 1, 1))
        abort();
}

static void copy_file(const char *from, const char *to)
{
    FILE *f = fopen(from, "rb");
    if (!f)
        abort();
    char buf[1 << 16];
    size_t n, total = 0;
    char *all = NULL;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        char *p = realloc(all, total + n);
        if (!p)
            abort();
        all = p;
        for (size_t i = 0; i < n; i++)
            all[total + i] = buf[i];
        total += n;
    }
    fclose(f);
    fuzz_spill(to, all, total);
    free(all);
}

static void write_hf_file(const char *name, const char *to)
{
    char dir[4096], p[4200];
    if (tm_tmpdir(dir, sizeof dir) < 0)
        abort();
    tm_model t;
    fuzz_hf_model(&t);
    if (tm_write_hf(&t, dir, TM_BF16, 1, NULL))
        abort();
    tm_free(&t);
    snprintf(p, sizeof p, "%s/%s", dir, name);
    copy_file(p, to);
    tm_rmtree(dir);
}

void fuzz_hf_fixed(const char *name)
{
    static int done;
    if (!done) {
        write_hf_file(name, fuzz_path(0, name));
        done = 1;
    }
}

int fuzz_hf_one(const char *fuzzed, const uint8_t *data, size_t size)
{
    fuzz_hf_fixed(strcmp(fuzzed, "config.json") ? "config.json" : "model.safetensors");
    fuzz_spill(fuzz_path(0, fuzzed), data, size);
    fuzz_model(fuzz_dir());
    return 0;
}
