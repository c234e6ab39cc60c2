/* libFuzzer target for the model loaders (not part of make check).
 *
 * Build (from the source tree, clang):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I. \
 *     tests/fuzz_model.c tests/testmodel.c src/model.c src/file_map.c src/load_llama2c.c \
 *     src/load_safetensors.c src/load_gguf.c src/err.c -ljansson -lxxhash -lm -o fuzz_model
 * Seeds (valid files of every kind, prefixed with their mode byte):
 *   mkdir corpus && FUZZ_MODEL_SEEDS=corpus ./fuzz_model
 * Run:
 *   ./fuzz_model -max_total_time=600 corpus
 *
 * Input: byte 0 picks the mode, the rest is the content.
 *   0: a single file (llama2.c legacy/v1 or GGUF, detected by model_load)
 *   1: model.safetensors in an HF directory with a fixed valid config.json
 *   2: config.json in an HF directory with a fixed valid model.safetensors */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/model.h"
#include "tests/testmodel.h"

static char dir_file[4096], dir_hf[4096];
static char p_file[4200], p_cfg[4200], p_st[4200];

static void spill(const char *path, const uint8_t *d, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (n && fwrite(d, 1, n, f) != n)
        abort();
    fclose(f);
}

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        abort();
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *d = malloc((size_t)sz + 1);
    if (!d || fread(d + 1, 1, (size_t)sz, f) != (size_t)sz)
        abort();
    fclose(f);
    *n = (size_t)sz + 1;
    return d;
}

/* Write one seed: mode byte + the bytes of `src`. */
static void seed(const char *out_dir, const char *name, int mode, const char *src)
{
    size_t n;
    uint8_t *d = slurp(src, &n);
    d[0] = (uint8_t)mode;
    char p[8400];
    snprintf(p, sizeof p, "%s/%s", out_dir, name);
    spill(p, d, n);
    free(d);
}

static void write_seeds(const char *out)
{
    char tmp[4096], p[4200], q[4300];
    if (tm_tmpdir(tmp, sizeof tmp) < 0)
        abort();
    tm_model t, s;
    /* Smaller than the presets so that mutations reach the tensor data. */
    tf_config c = {.dim = 8, .hidden_dim = 12, .n_layers = 1, .n_heads = 2, .n_kv_heads = 1,
                   .head_dim = 4, .vocab_size = 6, .max_seq = 4, .rope_theta = 10000.0f,
                   .norm_eps = 1e-5f, .rope_style = TF_ROPE_INTERLEAVED};
    tm_random(&t, MODEL_ARCH_LLAMA, &c, 1, 1);
    tm_random(&s, MODEL_ARCH_QWEN3, &c, 0, 2);
    snprintf(p, sizeof p, "%s/a.bin", tmp);
    tm_write_llama2c(&t, p, 0, NULL);
    seed(out, "legacy", 0, p);
    tm_write_llama2c(&t, p, 1, NULL);
    seed(out, "v1", 0, p);
    tm_write_gguf(&t, p, TM_F16, NULL);
    seed(out, "gguf_llama", 0, p);
    tm_write_gguf(&s, p, TM_F32, NULL);
    seed(out, "gguf_qwen3", 0, p);
    snprintf(p, sizeof p, "%s/hf", tmp);
    tm_write_hf(&t, p, TM_BF16, 1, NULL);
    snprintf(q, sizeof q, "%s/model.safetensors", p);
    seed(out, "safetensors", 1, q);
    snprintf(q, sizeof q, "%s/config.json", p);
    seed(out, "config", 2, q);
    tm_free(&t);
    tm_free(&s);
    tm_rmtree(tmp);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *seeds = getenv("FUZZ_MODEL_SEEDS");
    if (seeds) {
        write_seeds(seeds);
        exit(0);
    }
    if (tm_tmpdir(dir_file, sizeof dir_file) < 0 || tm_tmpdir(dir_hf, sizeof dir_hf) < 0)
        abort();
    snprintf(p_file, sizeof p_file, "%s/model.bin", dir_file);
    snprintf(p_cfg, sizeof p_cfg, "%s/config.json", dir_hf);
    snprintf(p_st, sizeof p_st, "%s/model.safetensors", dir_hf);
    /* The fixed halves of the HF modes: the seed model's config and weights. */
    tm_model t;
    tf_config c = {.dim = 8, .hidden_dim = 12, .n_layers = 1, .n_heads = 2, .n_kv_heads = 1,
                   .head_dim = 4, .vocab_size = 6, .max_seq = 4, .rope_theta = 10000.0f,
                   .norm_eps = 1e-5f, .rope_style = TF_ROPE_INTERLEAVED};
    tm_random(&t, MODEL_ARCH_LLAMA, &c, 1, 1);
    tm_write_hf(&t, dir_hf, TM_BF16, 1, NULL);
    tm_free(&t);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int mode = data[0] % 3;
    static uint8_t *fixed_cfg, *fixed_st;
    static size_t n_cfg, n_st;
    if (!fixed_cfg) { /* keep the valid halves to restore after each run */
        fixed_cfg = slurp(p_cfg, &n_cfg);
        fixed_st = slurp(p_st, &n_st);
    }
    const char *path = dir_hf;
    if (mode == 0) {
        spill(p_file, data + 1, size - 1);
        path = p_file;
    } else if (mode == 1) {
        spill(p_cfg, fixed_cfg + 1, n_cfg - 1);
        spill(p_st, data + 1, size - 1);
    } else {
        spill(p_cfg, data + 1, size - 1);
        spill(p_st, fixed_st + 1, n_st - 1);
    }
    model m;
    mx_error e = {0};
    if (model_load(path, &m, &e) == 0) {
        /* Touch every weight the view exposes: all must be finite and in bounds. */
        volatile float acc = 0;
        for (int i = 0; i < m.n_modules; i++)
            for (int64_t j = 0; j < m.modules[i].params; j++)
                acc += m.modules[i].w[j];
        for (int64_t j = 0; j < (int64_t)m.cfg.vocab_size * m.cfg.dim; j++)
            acc += m.weights.tok_emb[j] + m.weights.lm_head[j];
        (void)acc;
        model_free(&m);
    } else if (!e.msg[0] || strchr(e.msg, '\n')) {
        abort(); /* every failure has exactly one line of message */
    }
    return 0;
}
