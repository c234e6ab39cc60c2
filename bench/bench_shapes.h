/* The model shapes the benchmarks measure with seeded synthetic weights
 * (tests/tf_rand.h): the real models' configurations, one definition for
 * every bench. A bench measuring fewer blocks sets n_layers on its copy. */
#ifndef MXALLOC_BENCH_SHAPES_H
#define MXALLOC_BENCH_SHAPES_H

#include "kernels/tf.h"

static const tf_config BENCH_STORIES260K = {
    .dim = 64, .hidden_dim = 172, .n_layers = 5, .n_heads = 8, .n_kv_heads = 4, .head_dim = 8,
    .vocab_size = 512, .max_seq = 512, .rope_theta = 10000.0f, .norm_eps = 1e-5f,
    .rope_style = TF_ROPE_INTERLEAVED, .qk_norm = 0};
static const tf_config BENCH_STORIES15M = {
    .dim = 288, .hidden_dim = 768, .n_layers = 6, .n_heads = 6, .n_kv_heads = 6, .head_dim = 48,
    .vocab_size = 32000, .max_seq = 256, .rope_theta = 10000.0f, .norm_eps = 1e-5f,
    .rope_style = TF_ROPE_INTERLEAVED, .qk_norm = 0};
static const tf_config BENCH_SMOLLM2_135M = {
    .dim = 576, .hidden_dim = 1536, .n_layers = 30, .n_heads = 9, .n_kv_heads = 3, .head_dim = 64,
    .vocab_size = 49152, .max_seq = 8192, .rope_theta = 100000.0f, .norm_eps = 1e-5f,
    .rope_style = TF_ROPE_HALF, .qk_norm = 0};
static const tf_config BENCH_QWEN3_0_6B = {
    .dim = 1024, .hidden_dim = 3072, .n_layers = 28, .n_heads = 16, .n_kv_heads = 8, .head_dim = 128,
    .vocab_size = 151936, .max_seq = 40960, .rope_theta = 1000000.0f, .norm_eps = 1e-6f,
    .rope_style = TF_ROPE_HALF, .qk_norm = 1};
static const tf_config BENCH_LLAMA32_1B = {
    .dim = 2048, .hidden_dim = 8192, .n_layers = 16, .n_heads = 32, .n_kv_heads = 8, .head_dim = 64,
    .vocab_size = 128256, .max_seq = 131072, .rope_theta = 500000.0f, .norm_eps = 1e-5f,
    .rope_style = TF_ROPE_HALF, .qk_norm = 0};
static const tf_config BENCH_LLAMA3_8B = {
    .dim = 4096, .hidden_dim = 14336, .n_layers = 32, .n_heads = 32, .n_kv_heads = 8, .head_dim = 128,
    .vocab_size = 128256, .max_seq = 8192, .rope_theta = 500000.0f, .norm_eps = 1e-5f,
    .rope_style = TF_ROPE_HALF, .qk_norm = 0};

#endif
