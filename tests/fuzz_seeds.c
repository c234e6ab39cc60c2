/* Seed corpora of the fuzz targets: valid example files of every kind each
 * target reads, written by the test writers (tests/testmodel.c, cache_write,
 * cfg_save) plus a few hand-made ones (quantized GGUF with tokenizer
 * metadata, tokenizer.bin, SentencePiece-style tokenizer.json). Every seed is
 * loaded back with the reader it is for: a seed the reader refuses is an error
 * (exit 1), so a regression that rejects valid files shows here.
 *   fuzz_seeds DIR    writes DIR/<target>/<seed> for every target */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernels/ggml_quant.h"
#include "src/cache.h"
#include "src/cfg.h"
#include "src/hw_table.h"
#include "src/tok.h"
#include "src/tok_export.h"
#include "tests/fuzz_models.h"
#include "tests/fuzz_util.h"
#include "tests/score_fixture.h"

static const char *out_dir;
static char scratch[4096];
static int failures;

/* ---- small helpers ---------------------------------------------------------- */

typedef struct buf {
    unsigned char *p;
    size_t n, cap;
} buf;

static void b_put(buf *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->n + n)
            cap *= 2;
        unsigned char *p = realloc(b->p, cap);
        if (!p)
            abort();
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void b_u32(buf *b, uint32_t v) { b_put(b, &v, 4); } /* little-endian hosts only */
static void b_u64(buf *b, uint64_t v) { b_put(b, &v, 8); }
static void b_f32(buf *b, float v) { b_put(b, &v, 4); }
static void b_str(buf *b, const char *s) { b_put(b, s, strlen(s)); }

static void slurp(const char *path, buf *b)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        abort();
    char tmp[1 << 16];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        b_put(b, tmp, n);
    fclose(f);
}

static const char *scr(const char *name)
{
    static char p[4400];
    snprintf(p, sizeof p, "%s/%s", scratch, name);
    return p;
}

/* Write one seed: DIR/target/name. */
static void seed(const char *target, const char *name, const void *d, size_t n)
{
    char p[4400];
    snprintf(p, sizeof p, "%s/%s", out_dir, target);
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/%s/%s", out_dir, target, name);
    fuzz_spill(p, d, n);
}

static void seed_file(const char *target, const char *name, const char *path)
{
    buf b = {0};
    slurp(path, &b);
    seed(target, name, b.p, b.n);
    free(b.p);
}

static void bad_seed(const char *target, const char *name, const char *msg)
{
    fprintf(stderr, "fuzz_seeds: %s/%s is refused by its reader: %s\n", target, name, msg);
    failures++;
}

static void check_model(const char *target, const char *name, const char *path)
{
    model m;
    mx_error e = {0};
    if (model_load(path, &m, &e))
        bad_seed(target, name, e.msg);
    else
        model_free(&m);
}

static const char sample_text[] =
    "Once upon a time, there was a little girl named Lily. She liked the sun.\n"
    "\"Hello!\" said Tim, 3 times... caf\xc3\xa9 \xe2\x96\x81 \xf0\x9f\x98\x80\t<s></s>";

/* ---- models ------------------------------------------------------------------ */

static void seeds_llama2c(void)
{
    tm_model t, u;
    fuzz_hf_model(&t);
    tf_config c = t.cfg;
    if (tm_random(&u, MODEL_ARCH_LLAMA, &c, 0, 3))
        abort();
    const char *p = scr("m.bin");
    const struct { const tm_model *m; int v; const char *name; } s[] = {
        {&t, 0, "legacy_tied"}, {&t, 1, "v1_tied"}, {&u, 0, "legacy_untied"}, {&u, 1, "v1_untied"}};
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
        if (tm_write_llama2c(s[i].m, p, s[i].v, NULL))
            abort();
        check_model("fuzz_llama2c", s[i].name, p);
        seed_file("fuzz_llama2c", s[i].name, p);
    }
    tm_free(&t);
    tm_free(&u);
}

static void seeds_hf(void)
{
    tm_model t;
    fuzz_hf_model(&t);
    const tm_dtype dts[] = {TM_BF16, TM_F16, TM_F32};
    const char *dn[] = {"bf16", "f16", "f32"};
    char dir[4400], p[4500], name[64];
    for (int i = 0; i < 3; i++) {
        snprintf(dir, sizeof dir, "%s/hf_%s", scratch, dn[i]);
        tm_model r;
        fuzz_hf_model(&r);
        tm_round(&r, dts[i]);
        if (tm_write_hf(&r, dir, dts[i], 1, NULL))
            abort();
        tm_free(&r);
        check_model("fuzz_safetensors", dn[i], dir);
        snprintf(p, sizeof p, "%s/model.safetensors", dir);
        seed_file("fuzz_safetensors", dn[i], p);
        if (i == 0) {
            snprintf(p, sizeof p, "%s/config.json", dir);
            seed_file("fuzz_hf_config", "llama", p);
        }
    }
    /* Sharded: index + shards joined with FUZZ_SPLIT, the target's layout. */
    for (int shards = 2; shards <= 3; shards++) {
        snprintf(dir, sizeof dir, "%s/hf_sh%d", scratch, shards);
        if (tm_write_hf(&t, dir, TM_BF16, shards, NULL))
            abort();
        snprintf(name, sizeof name, "shards%d", shards);
        check_model("fuzz_safetensors_sharded", name, dir);
        buf b = {0};
        snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
        slurp(p, &b);
        for (int i = 1; i <= shards; i++) {
            b_str(&b, FUZZ_SPLIT);
            snprintf(p, sizeof p, "%s/model-%05d-of-%05d.safetensors", dir, i, shards);
            slurp(p, &b);
        }
        seed("fuzz_safetensors_sharded", name, b.p, b.n);
        free(b.p);
    }
    tm_free(&t);
}

/* ---- GGUF: the test writer's files, and hand-made quantized ones -------------- */

enum { GV_U32 = 4, GV_I32 = 5, GV_F32 = 6, GV_BOOL = 7, GV_STRING = 8, GV_ARRAY = 9 };

static void g_str(buf *b, const char *s)
{
    b_u64(b, strlen(s));
    b_str(b, s);
}
static void g_key(buf *b, const char *k, uint32_t type)
{
    g_str(b, k);
    b_u32(b, type);
}
/* An array key: n elements of type (GV_STRING: char *, GV_F32: float,
 * GV_I32: int) from v. */
static void g_array(buf *b, const char *k, uint32_t type, int n, const void *v)
{
    g_key(b, k, GV_ARRAY);
    b_u32(b, type);
    b_u64(b, (uint64_t)n);
    for (int i = 0; i < n; i++)
        if (type == GV_STRING)
            g_str(b, ((char *const *)v)[i]);
        else if (type == GV_F32)
            b_f32(b, ((const float *)v)[i]);
        else
            b_u32(b, (uint32_t)((const int *)v)[i]);
}

typedef struct gtensor {
    char name[64];
    uint64_t ne0, ne1; /* ne1 0: 1-D */
    uint32_t type;
} gtensor;

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint8_t rnd_byte(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint8_t)(rng >> 33);
}

/* A GGUF v3 file of config c with the linear and embedding tensors in the
 * types of `types` (round-robin over the 2-D tensors whose rows are a whole
 * number of blocks; others F32) and tokenizer metadata tk (may be NULL; an
 * empty tk->pre is not written). Block bytes are random with every byte
 * <= 0x3f, so every F16 scale or E8M0 exponent is finite: the weights are
 * garbage but valid. */
static void write_gguf(const char *path, model_arch arch, const tf_config *c, int tied,
                       const uint32_t *types, int n_types, const tok_vocab *tk)
{
    const char *a = arch == MODEL_ARCH_QWEN3 ? "qwen3" : "llama";
    static const char *const lin[TF_NLIN] = {"attn_q", "attn_k", "attn_v", "attn_output",
                                             "ffn_gate", "ffn_up", "ffn_down"};
    gtensor ts[64];
    int nt = 0;
#define T1(NM, N) (snprintf(ts[nt].name, 64, "%s", NM), ts[nt].ne0 = (N), ts[nt].ne1 = 0, nt++)
#define T2(NM, R, C) (snprintf(ts[nt].name, 64, "%s", NM), ts[nt].ne0 = (C), ts[nt].ne1 = (R), nt++)
    char nm[64];
    T2("token_embd.weight", c->vocab_size, c->dim);
    for (int l = 0; l < c->n_layers; l++) {
        snprintf(nm, sizeof nm, "blk.%d.attn_norm.weight", l);
        T1(nm, c->dim);
        if (arch == MODEL_ARCH_QWEN3) {
            snprintf(nm, sizeof nm, "blk.%d.attn_q_norm.weight", l);
            T1(nm, c->head_dim);
            snprintf(nm, sizeof nm, "blk.%d.attn_k_norm.weight", l);
            T1(nm, c->head_dim);
        }
        for (int k = 0; k < TF_NLIN; k++) {
            int r, cc;
            tf_linear_shape(c, k, &r, &cc);
            snprintf(nm, sizeof nm, "blk.%d.%s.weight", l, lin[k]);
            T2(nm, r, cc);
        }
        snprintf(nm, sizeof nm, "blk.%d.ffn_norm.weight", l);
        T1(nm, c->dim);
    }
    T1("output_norm.weight", c->dim);
    if (!tied)
        T2("output.weight", c->vocab_size, c->dim);
#undef T1
#undef T2
    int q = 0;
    for (int i = 0; i < nt; i++) {
        ts[i].type = GQ_F32;
        if (!ts[i].ne1)
            continue;
        for (int tries = 0; tries < n_types; tries++) {
            const gq_traits *tr = gq_traits_of(types[q++ % n_types]);
            if (tr && ts[i].ne0 % (uint64_t)tr->block == 0) {
                ts[i].type = (uint32_t)tr->type;
                break;
            }
        }
    }

    buf b = {0};
    char k[128];
    int n_kv = 11 + (arch == MODEL_ARCH_QWEN3) + (tk ? 4 + (tk->pre[0] != 0) + (tk->scores != NULL) +
                                                  (tk->types != NULL) + (tk->n_merges > 0) : 0);
    b_str(&b, "GGUF");
    b_u32(&b, 3);
    b_u64(&b, (uint64_t)nt);
    b_u64(&b, (uint64_t)n_kv);
#define KEY(S) (snprintf(k, sizeof k, "%s.%s", a, S), k)
    g_key(&b, "general.architecture", GV_STRING);
    g_str(&b, a);
    g_key(&b, "general.alignment", GV_U32);
    b_u32(&b, 32);
    const struct { const char *s; uint32_t v; } u[] = {
        {"context_length", (uint32_t)c->max_seq}, {"embedding_length", (uint32_t)c->dim},
        {"block_count", (uint32_t)c->n_layers}, {"feed_forward_length", (uint32_t)c->hidden_dim},
        {"attention.head_count", (uint32_t)c->n_heads},
        {"attention.head_count_kv", (uint32_t)c->n_kv_heads},
        {"rope.dimension_count", (uint32_t)c->head_dim}};
    for (size_t i = 0; i < sizeof u / sizeof u[0]; i++) {
        g_key(&b, KEY(u[i].s), GV_U32);
        b_u32(&b, u[i].v);
    }
    g_key(&b, KEY("attention.layer_norm_rms_epsilon"), GV_F32);
    b_f32(&b, c->norm_eps);
    g_key(&b, KEY("rope.freq_base"), GV_F32);
    b_f32(&b, c->rope_theta);
    if (arch == MODEL_ARCH_QWEN3) {
        g_key(&b, KEY("attention.key_length"), GV_U32);
        b_u32(&b, (uint32_t)c->head_dim);
    }
#undef KEY
    if (tk) {
        g_key(&b, "tokenizer.ggml.model", GV_STRING);
        g_str(&b, tk->model);
        if (tk->pre[0]) {
            g_key(&b, "tokenizer.ggml.pre", GV_STRING);
            g_str(&b, tk->pre);
        }
        g_array(&b, "tokenizer.ggml.tokens", GV_STRING, tk->n, tk->tokens);
        if (tk->scores)
            g_array(&b, "tokenizer.ggml.scores", GV_F32, tk->n, tk->scores);
        if (tk->types)
            g_array(&b, "tokenizer.ggml.token_type", GV_I32, tk->n, tk->types);
        if (tk->n_merges > 0)
            g_array(&b, "tokenizer.ggml.merges", GV_STRING, tk->n_merges, tk->merges);
        g_key(&b, "tokenizer.ggml.bos_token_id", GV_U32);
        b_u32(&b, (uint32_t)tk->bos);
        g_key(&b, "tokenizer.ggml.eos_token_id", GV_U32);
        b_u32(&b, (uint32_t)tk->eos);
    }
    uint64_t off = 0, sizes[64];
    for (int i = 0; i < nt; i++) {
        const gq_traits *tr = gq_traits_of(ts[i].type);
        uint64_t rows = ts[i].ne1 ? ts[i].ne1 : 1;
        sizes[i] = gq_row_bytes(tr, ts[i].ne0) * rows;
        g_str(&b, ts[i].name);
        b_u32(&b, ts[i].ne1 ? 2 : 1);
        b_u64(&b, ts[i].ne0);
        if (ts[i].ne1)
            b_u64(&b, ts[i].ne1);
        b_u32(&b, ts[i].type);
        b_u64(&b, off);
        off += (sizes[i] + 31) / 32 * 32;
    }
    static const unsigned char zeros[32];
    b_put(&b, zeros, (32 - b.n % 32) % 32);
    for (int i = 0; i < nt; i++) {
        if (ts[i].type == GQ_F32) { /* norms near 1, the rest small */
            uint64_t n = sizes[i] / 4;
            for (uint64_t j = 0; j < n; j++)
                b_f32(&b, (ts[i].ne1 ? 0.0f : 1.0f) + (float)(rnd_byte() - 128) / 1024.0f);
        } else {
            for (uint64_t j = 0; j < sizes[i]; j++) {
                uint8_t v = rnd_byte() & 0x3f;
                b_put(&b, &v, 1);
            }
        }
        b_put(&b, zeros, (32 - sizes[i] % 32) % 32);
    }
    fuzz_spill(path, b.p, b.n);
    free(b.p);
}

static char *xstrdup(const char *s)
{
    char *p = strdup(s);
    if (!p)
        abort();
    return p;
}

/* A SentencePiece-style vocabulary: <unk> <s> </s>, 256 byte tokens, pieces. */
static void spm_vocab(tok_vocab *g)
{
    static const char *const pieces[] = {"\xe2\x96\x81", "e", "t", "h", "a", "o", "n", "i",
                                         "\xe2\x96\x81t", "he", "\xe2\x96\x81the", "in",
                                         "\xe2\x96\x81" "a", "on", "\xe2\x96\x81on", "c", "ce"};
    int np = (int)(sizeof pieces / sizeof pieces[0]);
    snprintf(g->model, sizeof g->model, "llama");
    g->n = 3 + 256 + np;
    g->tokens = calloc((size_t)g->n, sizeof *g->tokens);
    g->scores = calloc((size_t)g->n, sizeof *g->scores);
    g->types = calloc((size_t)g->n, sizeof *g->types);
    if (!g->tokens || !g->scores || !g->types)
        abort();
    const char *sp[3] = {"<unk>", "<s>", "</s>"};
    for (int i = 0; i < 3; i++) {
        g->tokens[i] = xstrdup(sp[i]);
        g->types[i] = i == 0 ? 2 : 3;
    }
    char t[16];
    for (int i = 0; i < 256; i++) {
        snprintf(t, sizeof t, "<0x%02X>", i);
        g->tokens[3 + i] = xstrdup(t);
        g->types[3 + i] = 6;
    }
    for (int i = 0; i < np; i++) {
        g->tokens[259 + i] = xstrdup(pieces[i]);
        g->scores[259 + i] = -(float)i;
        g->types[259 + i] = 1;
    }
    g->bos = 1;
    g->eos = 2;
    g->unk = 0;
}

/* GPT-2 byte-level vocabulary: 256 byte symbols, merges, <|endoftext|>. */
static void bpe_vocab(tok_vocab *g)
{
    /* GPT-2's bytes_to_unicode: printable bytes map to themselves. */
    unsigned cp[256];
    int n = 0;
    for (int bt = 0; bt < 256; bt++)
        cp[bt] = (bt >= 33 && bt <= 126) || (bt >= 161 && bt <= 172) || (bt >= 174)
                     ? (unsigned)bt
                     : 256u + (unsigned)n++;
    static const char *const merges[][2] = {{"\xc4\xa0", "t"}, {"h", "e"}, {"\xc4\xa0t", "he"},
                                            {"i", "n"}, {"\xc4\xa0", "a"}, {"o", "n"}};
    int nm = (int)(sizeof merges / sizeof merges[0]);
    snprintf(g->model, sizeof g->model, "gpt2");
    snprintf(g->pre, sizeof g->pre, "qwen2");
    g->n = 256 + nm + 1;
    g->tokens = calloc((size_t)g->n, sizeof *g->tokens);
    g->merges = calloc((size_t)nm, sizeof *g->merges);
    if (!g->tokens || !g->merges)
        abort();
    for (int bt = 0; bt < 256; bt++) {
        char u[8] = {0};
        unsigned c = cp[bt];
        if (c < 0x80)
            u[0] = (char)c;
        else {
            u[0] = (char)(0xc0 | (c >> 6));
            u[1] = (char)(0x80 | (c & 0x3f));
        }
        g->tokens[bt] = xstrdup(u);
    }
    char t[64];
    for (int i = 0; i < nm; i++) {
        snprintf(t, sizeof t, "%s%s", merges[i][0], merges[i][1]);
        g->tokens[256 + i] = xstrdup(t);
        snprintf(t, sizeof t, "%s %s", merges[i][0], merges[i][1]);
        g->merges[i] = xstrdup(t);
    }
    g->n_merges = nm;
    g->tokens[256 + nm] = xstrdup("<|endoftext|>");
    g->bos = g->eos = 256 + nm;
    g->unk = -1;
}

static void check_gguf(const char *name, const char *path, int with_tok)
{
    check_model("fuzz_gguf", name, path);
    if (with_tok) {
        mx_error e = {0};
        tok *t = tok_open(NULL, path, 0, &e);
        if (!t)
            bad_seed("fuzz_gguf", name, e.msg);
        tok_free(t);
    }
    seed_file("fuzz_gguf", name, path);
}

static void seeds_gguf(void)
{
    const char *p = scr("m.gguf");
    tm_model t, q;
    fuzz_hf_model(&t);
    tf_config c = t.cfg;
    if (tm_random(&q, MODEL_ARCH_QWEN3, &c, 0, 2))
        abort();
    const struct { const tm_model *m; tm_dtype dt; const char *name; } s[] = {
        {&t, TM_F32, "llama_f32"}, {&t, TM_F16, "llama_f16"}, {&q, TM_BF16, "qwen3_bf16"}};
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
        if (tm_write_gguf(s[i].m, p, s[i].dt, NULL))
            abort();
        check_gguf(s[i].name, p, 0);
    }
    tm_free(&t);
    tm_free(&q);

    /* Classic 32-blocks, rows of 32: a llama with a SentencePiece vocabulary
     * and a qwen3 with a GPT-2 one. */
    tf_config c32 = {.dim = 32, .hidden_dim = 32, .n_layers = 1, .n_heads = 4, .n_kv_heads = 2,
                     .head_dim = 8, .vocab_size = 4, .max_seq = 16, .rope_theta = 10000.0f,
                     .norm_eps = 1e-5f, .rope_style = TF_ROPE_HALF};
    const uint32_t t32[] = {GQ_Q8_0, GQ_Q4_0, GQ_Q4_1, GQ_Q5_0, GQ_Q5_1, GQ_MXFP4, GQ_F16,
                            GQ_BF16};
    tok_vocab spm = {0}, bpe = {0};
    spm_vocab(&spm);
    bpe_vocab(&bpe);
    write_gguf(p, MODEL_ARCH_LLAMA, &c32, 1, t32, 8, &spm);
    check_gguf("llama_q32_spm", p, 1);
    write_gguf(p, MODEL_ARCH_QWEN3, &c32, 0, t32 + 3, 5, &bpe);
    check_gguf("qwen3_q32_bpe", p, 1);
    /* K-quants need rows of 256: one head of 2, a hidden size of 2. */
    tf_config c256 = {.dim = 256, .hidden_dim = 2, .n_layers = 1, .n_heads = 1, .n_kv_heads = 1,
                      .head_dim = 2, .vocab_size = 4, .max_seq = 16, .rope_theta = 1e6f,
                      .norm_eps = 1e-6f, .rope_style = TF_ROPE_HALF};
    const uint32_t tk[] = {GQ_Q2_K, GQ_Q3_K, GQ_Q4_K, GQ_Q5_K, GQ_Q6_K};
    write_gguf(p, MODEL_ARCH_QWEN3, &c256, 0, tk, 5, NULL);
    check_gguf("qwen3_kquants", p, 0);
    tok_vocab_free(&spm);
    tok_vocab_free(&bpe);
}

/* ---- tokenizers ------------------------------------------------------------- */

/* llama2.c tokenizer.bin: max_token_length, then per token score, len, bytes. */
static void seeds_tok_bin(void)
{
    tok_vocab g = {0};
    spm_vocab(&g);
    buf b = {0};
    uint32_t maxlen = 0;
    for (int i = 0; i < g.n; i++)
        maxlen = strlen(g.tokens[i]) > maxlen ? (uint32_t)strlen(g.tokens[i]) : maxlen;
    b_u32(&b, maxlen);
    for (int i = 0; i < g.n; i++) {
        /* llama2.c's vocabulary writes pieces with a plain space, not U+2581 */
        char t[64];
        snprintf(t, sizeof t, "%s", g.tokens[i]);
        char *m;
        while ((m = strstr(t, "\xe2\x96\x81"))) {
            *m = ' ';
            memmove(m + 1, m + 3, strlen(m + 3) + 1);
        }
        b_f32(&b, g.scores[i]);
        b_u32(&b, (uint32_t)strlen(t));
        b_str(&b, t);
    }
    const char *p = scr("tokenizer.bin");
    fuzz_spill(p, b.p, b.n);
    mx_error e = {0};
    tok *t = tok_load_llama2c(p, 0, &e);
    if (!t)
        bad_seed("fuzz_tok_bin", "spm", e.msg);
    tok_free(t);
    size_t base = b.n;
    b_str(&b, FUZZ_SPLIT);
    b_str(&b, sample_text);
    seed("fuzz_tok_bin", "spm_text", b.p, b.n);
    b_str(&b, FUZZ_SPLIT "100"); /* the model's vocabulary smaller than the file's */
    seed("fuzz_tok_bin", "spm_text_prefix", b.p, b.n);
    b.n = base;
    seed("fuzz_tok_bin", "spm_only", b.p, b.n);
    free(b.p);
    tok_vocab_free(&g);
}

static void tok_json_seed(const char *name, const char *path)
{
    mx_error e = {0};
    tok *t = tok_load_hf(path, &e);
    if (!t)
        bad_seed("fuzz_tok_json", name, e.msg);
    tok_free(t);
    buf b = {0};
    slurp(path, &b);
    b_str(&b, FUZZ_SPLIT);
    b_str(&b, sample_text);
    seed("fuzz_tok_json", name, b.p, b.n);
    free(b.p);
}

/* A SentencePiece-style BPE tokenizer.json (Llama 2 / TinyLlama layout):
 * byte fallback, a normalizer (Prepend + Replace) or a Metaspace pre-tokenizer. */
static void write_spm_json(const char *path, int metaspace)
{
    tok_vocab g = {0};
    spm_vocab(&g);
    json_t *vocab = json_object(), *merges = json_array(), *added = json_array();
    for (int i = 0; i < g.n; i++)
        json_object_set_new(vocab, g.tokens[i], json_integer(i));
    static const char *const mg[] = {"\xe2\x96\x81 t", "h e", "\xe2\x96\x81t he", "i n",
                                     "\xe2\x96\x81 a", "o n", "\xe2\x96\x81 on", "c e"};
    for (size_t i = 0; i < sizeof mg / sizeof mg[0]; i++)
        json_array_append_new(merges, json_string(mg[i]));
    for (int i = 0; i < 3; i++)
        json_array_append_new(added, json_pack("{s:i,s:s,s:b,s:b,s:b,s:b,s:b}", "id", i,
                                               "content", g.tokens[i], "single_word", 0, "lstrip",
                                               0, "rstrip", 0, "normalized", 0, "special", 1));
    json_t *norm = metaspace
                       ? json_null()
                       : json_pack("{s:s,s:[{s:s,s:s},{s:s,s:{s:s},s:s}]}", "type", "Sequence",
                                   "normalizers", "type", "Prepend", "prepend", "\xe2\x96\x81",
                                   "type", "Replace", "pattern", "String", " ", "content",
                                   "\xe2\x96\x81");
    json_t *pre = metaspace ? json_pack("{s:s,s:s,s:s,s:b}", "type", "Metaspace", "replacement",
                                        "\xe2\x96\x81", "prepend_scheme", "first", "split", 0)
                            : json_null();
    json_t *post = json_pack(
        "{s:s,s:[{s:{s:s,s:i}},{s:{s:s,s:i}}],s:[{s:{s:s,s:i}},{s:{s:s,s:i}},{s:{s:s,s:i}},{s:{s:s,s:i}}],"
        "s:{s:{s:s,s:[i],s:[s]}}}",
        "type", "TemplateProcessing", "single", "SpecialToken", "id", "<s>", "type_id", 0,
        "Sequence", "id", "A", "type_id", 0, "pair", "SpecialToken", "id", "<s>", "type_id", 0,
        "Sequence", "id", "A", "type_id", 0, "SpecialToken", "id", "<s>", "type_id", 1,
        "Sequence", "id", "B", "type_id", 1, "special_tokens", "<s>", "id", "<s>", "ids", 1,
        "tokens", "<s>");
    json_t *model = json_pack("{s:s,s:n,s:s,s:n,s:n,s:b,s:b,s:b,s:o,s:o}", "type", "BPE",
                              "dropout", "unk_token", "<unk>", "continuing_subword_prefix",
                              "end_of_word_suffix", "fuse_unk", 1, "byte_fallback", 1,
                              "ignore_merges", 0, "vocab", vocab, "merges", merges);
    json_t *root = json_pack("{s:s,s:n,s:n,s:o,s:o,s:o,s:o,s:n,s:o}", "version", "1.0",
                             "truncation", "padding", "added_tokens", added, "normalizer", norm,
                             "pre_tokenizer", pre, "post_processor", post, "decoder", "model",
                             model);
    if (!root || json_dump_file(root, path, JSON_INDENT(1)))
        abort();
    json_decref(root);
    tok_vocab_free(&g);
}

static void seeds_tok_json(void)
{
    const char *p = scr("tokenizer.json");
    static const char *const merges[][2] = {{" ", "t"}, {"h", "e"}, {" t", "he"}, {"i", "n"},
                                            {" ", "a"}, {"o", "n"}, {"\xc3", "\xa9"}};
    if (tm_write_bpe_tokenizer(p, merges, 7, NULL))
        abort();
    tok_json_seed("bytelevel", p);
    write_spm_json(p, 0);
    tok_json_seed("spm_normalizer", p);
    write_spm_json(p, 1);
    tok_json_seed("spm_metaspace", p);
}

/* ---- score cache, config, script ------------------------------------------ */

static void seeds_cache(void)
{
    static const mx_format fmts[] = {MX_FP4_E2M1, MX_FP6_E2M3, MX_FP8_E4M3, MX_INT8};
    static const int rows[TF_NLIN] = {32, 32, 32, 32, 32, 32, 32};
    static const int cols[TF_NLIN] = {64, 64, 64, 64, 64, 64, 64};
    score_table t;
    if (score_fixture_alloc(&t, 2, rows, cols))
        abort();
    snprintf(t.model, sizeof t.model, "fuzz-seed");
    snprintf(t.key, sizeof t.key, "0123456789abcdef");
    t.model_hash = 42;
    t.methods = (1u << SCORE_KL) | (1u << SCORE_FISHER);
    t.n_formats = 4;
    for (int i = 0; i < 4; i++)
        t.formats[i] = fmts[i];
    t.calib_tokens = 512;
    t.ctx = 64;
    t.fp32_loss = 1.25;
    t.uniform_loss[MX_FP4_E2M1] = 1.5;
    for (int j = 0; j < t.n_modules; j++) {
        score_module *m = &t.modules[j];
        for (int i = 0; i < 4; i++) {
            m->bits[fmts[i]] = mx_bits_per_weight(fmts[i], 32, 64);
            m->score[SCORE_KL][fmts[i]] = 0.01 / (i + 1) / (m->kind + 1);
            m->score[SCORE_FISHER][fmts[i]] = 0.02 / (i + 1) / (m->layer + 1);
            m->kld[fmts[i]] = 0.005 / (i + 1);
            /* standard errors (file version 3); gamma's and fisher-out's stay NAN */
            m->se[SCORE_KL][fmts[i]] = 0.002 / (i + 1);
            m->se[SCORE_FISHER][fmts[i]] = 0.004 / (i + 1);
            m->kld_se[fmts[i]] = 0.0005 / (i + 1);
        }
    }
    const char *p = scr("x.scores");
    mx_error e = {0};
    if (cache_write(p, &t, &e))
        bad_seed("fuzz_cache", "table", e.msg);
    score_table_free(&t);
    score_table r;
    if (cache_read(p, &r, &e))
        bad_seed("fuzz_cache", "table", e.msg);
    else
        score_table_free(&r);
    buf b = {0};
    slurp(p, &b);
    seed("fuzz_cache", "table", b.p, b.n);
    if (b.n >= 32) /* the same with the target's repair marker (see fuzz_cache.c) */
        b.p[12] = 'F';
    seed("fuzz_cache", "table_repair", b.p, b.n);
    free(b.p);
}

static void seeds_cfg(void)
{
    mx_cfg c;
    cfg_init(&c);
    snprintf(c.model, sizeof c.model, "fuzz-seed");
    c.budget_bits = 5.5;
    c.avg_bits = 5.4;
    c.projected_ppl = 7.25;
    snprintf(c.score_method, sizeof c.score_method, "kl");
    snprintf(c.score_key, sizeof c.score_key, "0123456789abcdef");
    mx_error e = {0};
    if (cfg_set_format(&c, "model.layers.0.self_attn.q_proj", MX_FP4_E2M1, &e) ||
        cfg_set_format(&c, "model.layers.0.mlp.down_proj", MX_FP8_E4M3, &e) ||
        cfg_set_format(&c, "model.layers.1.mlp.up_proj", MX_INT8, &e) ||
        cfg_set_pin(&c, "model.layers.0.mlp.down_proj", MX_FP8_E4M3, &e))
        abort();
    const char *p = scr("cfg.json");
    if (cfg_save(p, &c, &e))
        bad_seed("fuzz_cfg", "full", e.msg);
    cfg_free(&c);
    mx_cfg r;
    if (cfg_load(p, &r, &e))
        bad_seed("fuzz_cfg", "full", e.msg);
    else
        cfg_free(&r);
    seed_file("fuzz_cfg", "full", p);
    static const char minimal[] = "{\"formats\": {\"model.layers.0.mlp.gate_proj\": \"mxfp6\"}}\n";
    seed("fuzz_cfg", "minimal", minimal, sizeof minimal - 1);
}

static void seeds_hw_table(void)
{
    static const char full[] = "# mxalloc hardware cost table\n# machine: x86_64, test cpu\n"
                               "mxfp4_e2m1 64 64 512 0.105 264320\nmxint8 64 172 512 0.2 494720 # note\n"
                               "fp32 32 64 512 0.07 197000\noverhead 512 62.5\n";
    static const char bad[] = "mxfp4 64 64 512 0.1 1\nmxfp4_e2m1 64 64 256 0.1 1\n";
    hw_table t;
    hw_table_init(&t);
    mx_error e = {0};
    if (hw_table_parse(&t, full, sizeof full - 1, "full", &e))
        bad_seed("fuzz_hw_table", "full", e.msg);
    hw_table_free(&t);
    seed("fuzz_hw_table", "full", full, sizeof full - 1);
    seed("fuzz_hw_table", "bad", bad, sizeof bad - 1);
}

static void seeds_script(void)
{
    static const char script[] =
        "# a workbench script\n"
        "budget 5.5\n"
        "pin model.layers.0.mlp.down_proj mxfp8_e4m3\n"
        "unpin all\n"
        "formats mxfp4,mxfp6_e2m3,mxfp8\n"
        "formats all\n"
        "group qkv on\n"
        "group gateup off\n"
        "method fisher\n"
        "score --method both\n"
        "anneal dmx\n"
        "eval\n"
        "generate 16 \"Once upon a time\"\n"
        "cancel\n"
        "export 'out file.json' --to llama-cpp\n"
        "load-scores x.scores\n"
        "show model.layers.0.self_attn.q_proj\n"
        "help\n"
        "   \n"
        "quit\n";
    seed("fuzz_script", "all_commands", script, sizeof script - 1);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_seeds DIR\n");
        return 2;
    }
    out_dir = argv[1];
    if (mkdir(out_dir, 0777) && access(out_dir, W_OK)) {
        fprintf(stderr, "fuzz_seeds: %s: cannot create\n", out_dir);
        return 1;
    }
    if (tm_tmpdir(scratch, sizeof scratch) < 0)
        return 1;
    seeds_llama2c();
    seeds_hf();
    seeds_gguf();
    seeds_tok_bin();
    seeds_tok_json();
    seeds_cache();
    seeds_cfg();
    seeds_script();
    seeds_hw_table();
    tm_rmtree(scratch);
    return failures ? 1 : 0;
}
