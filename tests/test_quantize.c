/* mxalloc quantize's writers: the GGML encoders (fp16/bf16, MXFP4 and Q8_0
 * blocks), the GGUF writer read back by src/gguf.c, and whole tiny models
 * written as GGUF and as packed MX directories from llama2.c, HF and GGUF
 * sources, loaded back by model_load to exactly the fake-quantized weights. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernels/ggml_quant.h"
#include "kernels/mx.h"
#include "src/gguf.h"
#include "src/gguf_write.h"
#include "src/model.h"
#include "src/model_priv.h"
#include "src/prune.h"
#include "src/quantize.h"
#include "src/tok.h"
#include "tests/testmodel.h"

static uint32_t bits_of(float f)
{
    uint32_t b;
    memcpy(&b, &f, 4);
    return b;
}

/* Equal bit for bit, except that -0 and +0 count as one (ggml's MXFP4 and
 * Q8_0 have a single zero). */
static void same_values(const float *a, const float *b, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (bits_of(a[i]) != bits_of(b[i]) && !(a[i] == 0.0f && b[i] == 0.0f))
            fail_msg("%s: element %zu: %a vs %a", what, i, (double)a[i], (double)b[i]);
}

static uint64_t rng_state = 12345;
static float frand(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((rng_state >> 40) & 0xffffff) / 16777216.0f * 2.0f - 1.0f;
}

/* ---------------------------------------------------------------- encoders */

static void test_half_encoders(void **state)
{
    (void)state;
    /* every half and bfloat16 pattern that is a finite number round-trips exactly */
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = gq_f16((uint16_t)h);
        int ex;
        if (isfinite(f)) {
            assert_int_equal(gq_to_f16(f, &ex), h);
            assert_true(ex);
        }
        uint32_t bb = h << 16;
        memcpy(&f, &bb, 4);
        if (isfinite(f)) {
            assert_int_equal(gq_to_bf16(f, &ex), h);
            assert_true(ex);
        }
    }
    int ex;
    /* inexact values: rounded to nearest even, flagged */
    assert_int_equal(gq_to_f16(1.0f + 1.0f / 4096, &ex), 0x3c00);
    assert_false(ex);
    assert_int_equal(gq_to_f16(1.0f + 3.0f / 2048, &ex), 0x3c02); /* tie to even */
    assert_int_equal(gq_to_f16(ldexpf(1.0f, -25), &ex), 0);      /* tie to even: 0 */
    assert_false(ex);
    assert_int_equal(gq_to_f16(ldexpf(1.0f, -26) * 3, &ex), 1);  /* 0.75 ulp -> 1 */
    assert_int_equal(gq_to_f16(65520.0f, &ex), 0x7c00);          /* overflow: Inf */
    assert_false(ex);
    assert_int_equal(gq_to_f16(65519.0f, &ex), 0x7bff);
    assert_int_equal(gq_to_bf16(1.0f + 1.0f / 256, &ex), 0x3f80); /* tie to even */
    assert_false(ex);
    assert_int_equal(gq_to_bf16(ldexpf(1.0f, -133), &ex), 0x0001); /* bf16 subnormal, exact */
    assert_true(ex);
    assert_int_equal(gq_to_bf16(ldexpf(1.0f, -140), &ex), 0);
    assert_false(ex);
}

/* MXFP4 blocks built from mx_pack's codes decode (ggml's way) to exactly
 * mx_fake_quant's values; MXINT8 as Q8_0 with d = 2^(e-133) likewise. */
static void test_blocks_match_fake_quant(void **state)
{
    (void)state;
    enum { R = 7, C = 96 };
    static float x[R * C], fq[R * C], back[R * C];
    static uint8_t pk[R * C * 2], blk[R * C * 2];
    for (int i = 0; i < R * C; i++)
        x[i] = frand() * ldexpf(1.0f, (i / 32) % 9 - 4);
    x[5] = 0.0f;
    x[6] = -1e-30f; /* rounds to -0 */
    for (int pass = 0; pass < 2; pass++) {
        mx_format f = pass ? MX_INT8 : MX_FP4_E2M1;
        const gq_traits *t = gq_traits_of(pass ? GQ_Q8_0 : GQ_MXFP4);
        mx_fake_quant(f, x, fq, R, C);
        mx_pack(f, x, R, C, pk);
        size_t rb = mx_packed_row_bytes(f, C), nb = C / 32;
        for (size_t r = 0; r < R; r++)
            for (size_t b = 0; b < nb; b++) {
                uint8_t e = pk[R * rb + r * nb + b], *o = blk + (r * nb + b) * (size_t)t->bytes;
                if (!pass) {
                    uint8_t codes[32];
                    for (int j = 0; j < 32; j++)
                        codes[j] = (uint8_t)(pk[r * rb + (b * 32 + (size_t)j) / 2] >> (4 * (j & 1)) & 0xf);
                    gq_put_mxfp4(e, codes, o);
                } else {
                    int ex;
                    uint16_t d = gq_to_f16(ldexpf(1.0f, e - 133), &ex);
                    assert_true(ex);
                    gq_put_q8_0(d, (const int8_t *)(pk + r * rb + b * 32), o);
                }
            }
        gq_dequantize(t, blk, back, R * C);
        same_values(fq, back, R * C, pass ? "Q8_0" : "MXFP4");
    }
}

/* ------------------------------------------------------------ GGUF writer */

static void test_gguf_writer_roundtrip(void **state)
{
    (void)state;
    char p[4200];
    tm_path(p, sizeof p, "w.gguf");
    gguf_writer w;
    gw_init(&w);
    mx_error e = {0};
    const char *strs[] = {"a", "", "hello world"};
    float fl[3] = {1.5f, -2.0f, 0.25f};
    int32_t in[3] = {-1, 0, 7};
    assert_int_equal(gw_str(&w, "k.str", "value"), 0);
    assert_int_equal(gw_u32(&w, "k.u32", 4000000000u), 0);
    assert_int_equal(gw_i32(&w, "k.i32", -5), 0);
    assert_int_equal(gw_f32(&w, "k.f32", 0.125f), 0);
    assert_int_equal(gw_bool(&w, "k.bool", 1), 0);
    assert_int_equal(gw_arr_str(&w, "k.strs", 3, strs, NULL), 0);
    assert_int_equal(gw_arr_f32(&w, "k.fl", 3, fl), 0);
    assert_int_equal(gw_arr_i32(&w, "k.in", 3, in), 0);
    float a[3 * 5];
    for (int i = 0; i < 15; i++)
        a[i] = (float)i;
    uint64_t ne[2] = {5, 3}, ne1[1] = {64};
    uint8_t q[2 * 17] = {0};
    assert_int_equal(gw_tensor(&w, "t.a", GQ_F32, 2, ne, a, sizeof a, &e), 0);
    assert_int_equal(gw_tensor(&w, "t.q", GQ_MXFP4, 1, ne1, q, sizeof q, &e), 0);
    /* a size that does not match the type and shape is refused */
    assert_int_equal(gw_tensor(&w, "t.bad", GQ_MXFP4, 1, ne1, q, 17, &e), ERR_ARG);
    assert_non_null(strstr(e.msg, "t.bad"));
    assert_int_equal(gw_write(&w, p, &e), 0);
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal((uint64_t)sb.st_size, gw_file_size(&w));
    gw_free(&w);

    gguf_file g;
    if (gguf_open(&g, p, &e) < 0)
        fail_msg("%s", e.msg);
    assert_int_equal(g.version, 3);
    const char *s;
    uint64_t sl;
    int64_t v;
    double d;
    assert_int_equal(gguf_str(&g, gguf_find(&g, "k.str"), &s, &sl), 0);
    assert_int_equal(sl, 5);
    assert_memory_equal(s, "value", 5);
    assert_int_equal(gguf_int(&g, gguf_find(&g, "k.u32"), &v), 0);
    assert_int_equal(v, 4000000000LL);
    assert_int_equal(gguf_int(&g, gguf_find(&g, "k.i32"), &v), 0);
    assert_int_equal(v, -5);
    assert_int_equal(gguf_float(&g, gguf_find(&g, "k.f32"), &d), 0);
    assert_true(d == 0.125);
    assert_int_equal(gguf_int(&g, gguf_find(&g, "k.bool"), &v), 0);
    assert_int_equal(v, 1);
    const char *ss[3];
    size_t sls[3];
    assert_int_equal(gguf_strings(&g, gguf_find(&g, "k.strs"), ss, sls), 0);
    assert_int_equal(sls[2], 11);
    assert_memory_equal(ss[2], "hello world", 11);
    assert_int_equal(sls[1], 0);
    float fb[3];
    int ib[3];
    assert_int_equal(gguf_floats(&g, gguf_find(&g, "k.fl"), fb), 0);
    assert_memory_equal(fb, fl, sizeof fl);
    assert_int_equal(gguf_ints(&g, gguf_find(&g, "k.in"), ib), 0);
    assert_int_equal(ib[0], -1);
    assert_int_equal(ib[2], 7);
    /* a raw value copies as it is */
    const uint8_t *rp;
    uint64_t rl;
    assert_int_equal(gguf_kv_raw(&g, gguf_find(&g, "k.strs"), &rp, &rl), 0);
    assert_int_equal(rl, 4 + 8 + (8 + 1) + (8 + 0) + (8 + 11));
    const gguf_tensor *t = gguf_tensor_find(&g, "t.a");
    assert_non_null(t);
    assert_int_equal(t->ne[0], 5);
    assert_int_equal(t->ne[1], 3);
    assert_int_equal(t->offset % GW_ALIGN, 0);
    assert_memory_equal(g.f.data + t->offset, a, sizeof a);
    t = gguf_tensor_find(&g, "t.q");
    assert_non_null(t);
    assert_int_equal(t->type, GQ_MXFP4);
    assert_int_equal(t->nbytes, 34);
    assert_int_equal(t->offset % GW_ALIGN, 0);
    gguf_close(&g);
}

/* --------------------------------------------------------- whole models */

static const mx_format cycle[] = {MX_FP4_E2M1, MX_INT8,     MX_FP6_E2M3, MX_FP6_E3M2,
                                  MX_FP8_E4M3, MX_FP8_E5M2, MX_BF16,     MX_FP32};

static int n_warn;
static void count_warn(void *user, const char *msg)
{
    (void)user;
    (void)msg;
    n_warn++;
}

/* Load out and compare every weight with src's fake-quantized one. */
static void expect_fake_quant(const model *src, const mx_format *f, const char *out, int exact_zero)
{
    model m;
    mx_error e = {0};
    if (model_load(out, &m, &e) < 0)
        fail_msg("load %s: %s", out, e.msg);
    assert_int_equal(m.cfg.rope_style, src->cfg.rope_style);
    assert_int_equal(m.n_modules, src->n_modules);
    assert_int_equal(m.trained_ctx, src->trained_ctx);
    assert_true(m.cfg.norm_eps == src->cfg.norm_eps);
    assert_true(m.cfg.rope_theta == src->cfg.rope_theta);
    for (int i = 0; i < m.n_modules; i++) {
        const model_module *a = &src->modules[i];
        size_t n = (size_t)a->rows * (size_t)a->cols;
        float *q = malloc(n * sizeof *q);
        assert_non_null(q);
        mx_fake_quant(f[i], a->w, q, (size_t)a->rows, (size_t)a->cols);
        if (exact_zero)
            assert_memory_equal(q, m.modules[i].w, n * sizeof *q);
        else
            same_values(q, m.modules[i].w, n, a->name);
        free(q);
    }
    const tf_config *c = &m.cfg;
    assert_memory_equal(m.weights.tok_emb, src->weights.tok_emb, (size_t)c->vocab_size * c->dim * 4);
    assert_memory_equal(m.weights.lm_head, src->weights.lm_head, (size_t)c->vocab_size * c->dim * 4);
    assert_memory_equal(m.weights.final_norm, src->weights.final_norm, (size_t)c->dim * 4);
    for (int l = 0; l < c->n_layers; l++)
        assert_memory_equal(m.weights.layers[l].attn_norm, src->weights.layers[l].attn_norm,
                            (size_t)c->dim * 4);
    model_free(&m);
}

static void quantize_both(const char *src_path, const char *tok_path, const char *tag, const char *text)
{
    model m;
    mx_error e = {0};
    if (model_load(src_path, &m, &e) < 0)
        fail_msg("load %s: %s", src_path, e.msg);
    tok *t = NULL;
    if (tok_path || m.file_kind != MODEL_FILE_GGUF) {
        t = tok_open(tok_path, src_path, m.cfg.vocab_size, &e);
        if (!t)
            fail_msg("tokenizer: %s", e.msg);
    }
    mx_format *f = malloc((size_t)m.n_modules * sizeof *f);
    assert_non_null(f);
    for (int i = 0; i < m.n_modules; i++)
        f[i] = cycle[i % 8];
    quant_opts o = {.tok = t, .tok_path = tok_path, .warn = count_warn};
    quant_stats st;
    char g[4200], d[4200];
    snprintf(g, sizeof g, "%s/%s.gguf", tm_dir, tag);
    snprintf(d, sizeof d, "%s/%s.mx", tm_dir, tag);
    if (quant_write_gguf(&m, f, &o, g, &st, &e) < 0)
        fail_msg("gguf: %s", e.msg);
    assert_true(st.lin_params > 0 && st.file_bytes > st.all_bytes);
    expect_fake_quant(&m, f, g, 0);
    /* the tokenizer written into the GGUF encodes as the source's does */
    if (t) {
        tok *t2 = tok_load_gguf(g, &e);
        if (!t2)
            fail_msg("gguf tokenizer: %s", e.msg);
        int *a, *b;
        long na = tok_encode(t, text, strlen(text), &a, &e), nb = tok_encode(t2, text, strlen(text), &b, &e);
        assert_int_equal(na, nb);
        assert_memory_equal(a, b, (size_t)na * sizeof *a);
        free(a);
        free(b);
        tok_free(t2);
    }
    if (quant_write_mx_dir(&m, f, &o, d, &st, &e) < 0)
        fail_msg("mx: %s", e.msg);
    expect_fake_quant(&m, f, d, 1);
    /* the packed bytes: MXFP4 at 4.25 bits, etc.; a second write into the
     * now non-empty directory is refused and leaves it alone */
    assert_int_equal(quant_write_mx_dir(&m, f, &o, d, &st, &e), ERR_IO);
    assert_non_null(strstr(e.msg, "not empty"));
    expect_fake_quant(&m, f, d, 1);
    free(f);
    tok_free(t);
    model_free(&m);
}

/* A preset test model written to path = tm_dir/name: llama2.c (legacy), an
 * F32 HF directory, or a GGUF with its 2-D weights as gguf_type. */
static void write_preset(tm_preset preset, uint64_t seed, tm_format fmt, int gguf_type, const char *name,
                         char *path, size_t n)
{
    tm_model t;
    mx_error e = {0};
    assert_int_equal(tm_make(&t, preset, seed), 0);
    tm_path(path, n, name);
    tm_gguf_opts o = {.type = gguf_type};
    int rc = fmt == TM_FMT_LLAMA2C ? tm_write_llama2c(&t, path, 0, &e)
             : fmt == TM_FMT_HF    ? tm_write_hf(&t, path, TM_F32, 1, &e)
                                   : tm_write_gguf_opts(&t, path, &o, &e);
    if (rc != 0)
        fail_msg("write %s: %s", path, e.msg);
    tm_free(&t);
}

static void test_model_llama2c(void **state)
{
    (void)state;
    char p[4200], tk[4200];
    write_preset(TM_LLAMA2C, 7, TM_FMT_LLAMA2C, 0, "l2c.bin", p, sizeof p);
    /* a llama2.c tokenizer.bin of 96 tokens: <unk>, <s>, </s>, then letters */
    tm_path(tk, sizeof tk, "tok.bin");
    FILE *f = fopen(tk, "wb");
    assert_non_null(f);
    int32_t maxlen = 8;
    fwrite(&maxlen, 4, 1, f);
    for (int i = 0; i < 96; i++) {
        char piece[16];
        /* (no byte pieces: the text below needs no byte fallback) */
        if (i < 3)
            snprintf(piece, sizeof piece, "%s", i == 0 ? "<unk>" : i == 1 ? "\n<s>\n" : "\n</s>\n");
        else if (i == 3)
            snprintf(piece, sizeof piece, " ");
        else if (i < 4 + 26)
            snprintf(piece, sizeof piece, "%c", 'a' + i - 4);
        else if (i < 4 + 52)
            snprintf(piece, sizeof piece, " %c", 'a' + i - 30);
        else
            snprintf(piece, sizeof piece, "%c%c", 'a' + (i - 55) % 26, 'a' + (i * 7) % 26);
        float score = -(float)i;
        int32_t len = (int32_t)strlen(piece);
        fwrite(&score, 4, 1, f);
        fwrite(&len, 4, 1, f);
        fwrite(piece, 1, (size_t)len, f);
    }
    fclose(f);
    quantize_both(p, tk, "l2c", "hello world hello there");
}

static void test_model_hf(void **state)
{
    (void)state;
    mx_error e = {0};
    char d[4200], tk[4300];
    write_preset(TM_SMOLLM, 9, TM_FMT_HF, 0, "hf", d, sizeof d);
    static const char *const merges[][2] = {{"h", "e"}, {"l", "l"}, {"he", "ll"}, {" ", "w"}, {"o", "r"}};
    snprintf(tk, sizeof tk, "%s/tokenizer.json", d);
    assert_int_equal(tm_write_bpe_tokenizer(tk, merges, 5, &e), 0);
    quantize_both(d, NULL, "hf", "hello world, hello\nthere");
}

static void test_model_gguf_source(void **state)
{
    (void)state;
    mx_error e = {0};
    char p[4200];
    write_preset(TM_QWEN3, 11, TM_FMT_GGUF, GQ_BF16, "src.gguf", p, sizeof p);
    quantize_both(p, NULL, "qwen", "");
    /* BF16 source: unquantized matrices stay BF16 */
    char g[4200];
    tm_path(g, sizeof g, "qwen.gguf");
    gguf_file gf;
    assert_int_equal(gguf_open(&gf, g, &e), 0);
    assert_int_equal(gguf_tensor_find(&gf, "token_embd.weight")->type, GQ_BF16);
    assert_int_equal(gguf_tensor_find(&gf, "blk.0.ffn_down.weight")->type, GQ_BF16); /* fp32 = as source */
    assert_int_equal(gguf_tensor_find(&gf, "blk.0.attn_q.weight")->type, GQ_MXFP4);
    assert_int_equal(gguf_tensor_find(&gf, "blk.0.attn_k.weight")->type, GQ_Q8_0);
    assert_non_null(gguf_find(&gf, "tokenizer.ggml.tokens"));
    gguf_close(&gf);
}

/* MXINT8 blocks whose scale fp16 cannot hold go to BF16 (exact) with a
 * warning; rows that are not whole blocks of 32 likewise. */
static void test_widening(void **state)
{
    (void)state;
    tm_model t;
    mx_error e = {0};
    char p[4200], g[4200];
    tf_config c = {.dim = 40, .hidden_dim = 64, .n_layers = 1, .n_heads = 2, .n_kv_heads = 1, .head_dim = 20,
                   .vocab_size = 64, .max_seq = 32, .norm_eps = 1e-5f, .rope_theta = 10000.0f,
                   .rope_style = TF_ROPE_HALF};
    assert_int_equal(tm_random(&t, MODEL_ARCH_LLAMA, &c, 1, 5), 0);
    for (int i = 0; i < 64 * 40; i++) /* gate: scales near 2^-40, below fp16's */
        t.layers[0].lin[TF_GATE][i] *= 1e-12f;
    tm_path(p, sizeof p, "wide");
    assert_int_equal(tm_write_hf(&t, p, TM_F32, 1, &e), 0);
    tm_free(&t);
    model m;
    assert_int_equal(model_load(p, &m, &e), 0);
    mx_format f[TF_NLIN];
    for (int i = 0; i < TF_NLIN; i++)
        f[i] = i == TF_GATE ? MX_INT8 : MX_FP4_E2M1;
    tm_path(g, sizeof g, "wide.gguf");
    /* a GGUF needs a tokenizer: the HF directory has none, so use a tiny one */
    char tk[4200];
    static const char *const merges[][2] = {{"a", "b"}};
    tm_path(tk, sizeof tk, "wide-tok.json");
    assert_int_equal(tm_write_bpe_tokenizer(tk, merges, 1, &e), 0);
    tok *tk1 = tok_open(tk, NULL, 0, &e);
    assert_non_null(tk1);
    quant_opts o = {.tok = tk1, .tok_path = tk, .warn = count_warn};
    quant_stats st;
    n_warn = 0;
    if (quant_write_gguf(&m, f, &o, g, &st, &e) < 0)
        fail_msg("%s", e.msg);
    assert_true(n_warn >= 2);
    /* q/k/v/gate/up rows are 40 wide, o 40, down 64: only down stays MXFP4 */
    assert_int_equal(st.n_widened, 6);
    gguf_file gf;
    assert_int_equal(gguf_open(&gf, g, &e), 0);
    assert_int_equal(gguf_tensor_find(&gf, "blk.0.ffn_down.weight")->type, GQ_MXFP4);
    assert_int_equal(gguf_tensor_find(&gf, "blk.0.ffn_gate.weight")->type, GQ_BF16);
    assert_int_equal(gguf_tensor_find(&gf, "blk.0.attn_q.weight")->type, GQ_BF16);
    gguf_close(&gf);
    expect_fake_quant(&m, f, g, 0);
    tok_free(tk1);
    model_free(&m);
}

/* ---------------------------------------------------------------- pruned */

/* Unit masks for m's groups: kind 0 the same counts in every layer (half the
 * GQA groups, the channels j % 3 != 0), kind 1 different ones with a group of
 * each part keeping nothing (layer 0 attention, the last layer's MLP).
 * Every group gets a mask (all kept is a mask too). */
static unsigned char **make_masks(const model *m, int kind)
{
    int L = m->cfg.n_layers, ng = L * PRUNE_NPARTS;
    unsigned char **k = calloc((size_t)ng, sizeof *k);
    assert_non_null(k);
    for (int l = 0; l < L; l++)
        for (int part = 0; part < PRUNE_NPARTS; part++) {
            int g = l * PRUNE_NPARTS + part, n = prune_units(&m->cfg, part);
            k[g] = calloc((size_t)n, 1);
            assert_non_null(k[g]);
            for (int u = 0; u < n; u++)
                if (kind == 0)
                    k[g][u] = part == PRUNE_ATTN ? u % 2 == 1 : u % 3 != 0;
                else if (part == PRUNE_ATTN)
                    k[g][u] = l > 0;
                else
                    k[g][u] = l < L - 1 && u % 2 == 0;
        }
    return k;
}

/* What the file holds for module i under keep: the kept submatrix of
 * prune_apply's output (a group keeping nothing: its unit 0, zeros). */
static float *kept_values(const model *m, int i, const unsigned char *keep, mx_format f, int *r, int *c)
{
    const model_module *mm = &m->modules[i];
    size_t R = (size_t)mm->rows, C = (size_t)mm->cols;
    int units = prune_units(&m->cfg, prune_part_of(mm->kind)), any = 0;
    for (int u = 0; u < units; u++)
        any |= keep[u];
    unsigned char *one = calloc((size_t)units, 1), *ron = malloc(R), *con = malloc(C);
    float *full = malloc(R * C * sizeof *full);
    mx_error e = {0};
    assert_true(one && ron && con && full);
    one[0] = 1;
    assert_int_equal(prune_apply(m, i, NULL, keep, f, full, &e), 0);
    prune_shape(m, i, any ? keep : one, r, c, ron, con);
    float *sub = malloc((size_t)*r * (size_t)*c * sizeof *sub + 1);
    assert_non_null(sub);
    size_t k = 0;
    for (size_t y = 0; y < R; y++)
        for (size_t x = 0; ron[y] && x < C; x++)
            if (con[x])
                sub[k++] = any ? full[y * C + x] : 0.0f;
    free(one);
    free(ron);
    free(con);
    free(full);
    return sub;
}

static void pruned_case(const char *src, int kind, const char *tag)
{
    model m;
    mx_error e = {0};
    if (model_load(src, &m, &e) < 0)
        fail_msg("load %s: %s", src, e.msg);
    const tf_config *c = &m.cfg;
    int rep = c->n_heads / c->n_kv_heads, L = c->n_layers;
    mx_format *f = malloc((size_t)m.n_modules * sizeof *f);
    assert_non_null(f);
    for (int i = 0; i < m.n_modules; i++)
        f[i] = cycle[(i + 3) % 8];
    unsigned char **k = make_masks(&m, kind);
    quant_opts o = {.warn = count_warn, .prune = k};
    quant_stats st;
    char g[4200], d[4200];
    snprintf(g, sizeof g, "%s/%s.gguf", tm_dir, tag);
    snprintf(d, sizeof d, "%s/%s.mx", tm_dir, tag);
    /* the MX layout refuses pruning, writing nothing */
    assert_int_equal(quant_write_mx_dir(&m, f, &o, d, &st, &e), ERR_ARG);
    assert_non_null(strstr(e.msg, "pruned"));
    assert_int_equal(access(d, F_OK), -1);
    int rc = quant_write_gguf(&m, f, &o, g, &st, &e);
    if (kind == 1 && m.arch == MODEL_ARCH_QWEN3) {
        /* llama.cpp's qwen3 has no per-layer shapes */
        assert_int_equal(rc, ERR_ARG);
        assert_non_null(strstr(e.msg, "qwen3"));
        assert_int_equal(access(g, F_OK), -1);
        goto done;
    }
    if (rc < 0)
        fail_msg("%s: %s", tag, e.msg);
    assert_int_equal(st.n_zero_units, kind == 1 ? 2 : 0);
    assert_true(st.lin_params < st.lin_params_full);
    /* metadata: per layer q heads, kv heads, channels */
    int heads[8], kv[8], ff[8], varies = 0;
    assert_true(L <= 8);
    for (int l = 0; l < L; l++) {
        int na = 0, nm = 0;
        for (int u = 0; u < c->n_kv_heads; u++)
            na += k[l * PRUNE_NPARTS + PRUNE_ATTN][u];
        for (int u = 0; u < c->hidden_dim; u++)
            nm += k[l * PRUNE_NPARTS + PRUNE_MLP][u];
        kv[l] = na ? na : 1;
        heads[l] = kv[l] * rep;
        ff[l] = nm ? nm : 1;
        varies |= l && (kv[l] != kv[0] || ff[l] != ff[0]);
    }
    assert_int_equal(varies, kind);
    gguf_file gf;
    if (gguf_open(&gf, g, &e) < 0)
        fail_msg("%s", e.msg);
    const char *arch;
    uint64_t al;
    assert_int_equal(gguf_str(&gf, gguf_find(&gf, "general.architecture"), &arch, &al), 0);
    const char *want = m.arch == MODEL_ARCH_QWEN3 ? "qwen3" : kind ? "deci" : "llama";
    assert_int_equal(al, strlen(want));
    assert_memory_equal(arch, want, al);
    static const char *const keys[3] = {"attention.head_count", "attention.head_count_kv", "feed_forward_length"};
    const int *vals[3] = {heads, kv, ff};
    for (int j = 0; j < 3; j++) {
        char key[96];
        snprintf(key, sizeof key, "%s.%s", want, keys[j]);
        const gguf_kv *kk = gguf_find(&gf, key);
        assert_non_null(kk);
        if (kind) { /* every one of them varies here: arrays */
            int got[8];
            assert_int_equal(kk->type, GGUF_ARRAY);
            assert_int_equal(kk->arr_n, (uint64_t)L);
            assert_int_equal(gguf_ints(&gf, kk, got), 0);
            assert_memory_equal(got, vals[j], (size_t)L * sizeof *got);
        } else {
            int64_t v;
            assert_int_equal(gguf_int(&gf, kk, &v), 0);
            assert_int_equal(v, vals[j][0]);
        }
    }
    char key[96];
    int64_t hd;
    snprintf(key, sizeof key, "%s.attention.key_length", want);
    assert_int_equal(gguf_int(&gf, gguf_find(&gf, key), &hd), 0);
    assert_int_equal(hd, c->head_dim);
    /* every linear: the pruned shape, its storage by the pruned row width,
     * and exactly the kept values prune_apply computes (q/k rows put back
     * from llama.cpp's per-head permutation, as the loader does) */
    int permute = m.arch == MODEL_ARCH_LLAMA && c->rope_style == TF_ROPE_HALF;
    static const char *const gn[TF_NLIN] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up",
                                            "ffn_down"};
    for (int i = 0; i < m.n_modules; i++) {
        const model_module *mm = &m.modules[i];
        int r, cc;
        const unsigned char *keep = k[mm->layer * PRUNE_NPARTS + prune_part_of(mm->kind)];
        float *want_v = kept_values(&m, i, keep, f[i], &r, &cc);
        char tn[64];
        snprintf(tn, sizeof tn, "blk.%d.%s.weight", mm->layer, gn[mm->kind]);
        const gguf_tensor *t = gguf_tensor_find(&gf, tn);
        assert_non_null(t);
        assert_int_equal(t->ne[0], (uint64_t)cc);
        assert_int_equal(t->ne[1], (uint64_t)r);
        mx_format b = mx_format_base(f[i]);
        if ((b == MX_FP4_E2M1 || b == MX_INT8) && cc % 32 == 0)
            assert_int_equal(t->type, b == MX_FP4_E2M1 ? GQ_MXFP4 : GQ_Q8_0);
        else if (f[i] != MX_FP32)
            assert_int_equal(t->type, GQ_BF16);
        float *got = malloc((size_t)r * (size_t)cc * sizeof *got + 1);
        assert_non_null(got);
        assert_int_equal(model_convert(got, gf.f.data + t->offset, (uint64_t)r * (uint64_t)cc, (int)t->type, g, tn,
                                       &e), 0);
        if (permute && (mm->kind == TF_Q || mm->kind == TF_K))
            assert_int_equal(model_rows_interleaved_to_half(got, r, cc, r / c->head_dim), 0);
        same_values(want_v, got, (size_t)r * (size_t)cc, tn);
        free(got);
        free(want_v);
    }
    gguf_close(&gf);
    /* same counts in every layer: model_load reads it back, to those values */
    if (kind == 0) {
        model b;
        if (model_load(g, &b, &e) < 0)
            fail_msg("load %s: %s", g, e.msg);
        assert_int_equal(b.cfg.n_heads, heads[0]);
        assert_int_equal(b.cfg.n_kv_heads, kv[0]);
        assert_int_equal(b.cfg.hidden_dim, ff[0]);
        assert_int_equal(b.cfg.head_dim, c->head_dim);
        for (int i = 0; i < m.n_modules; i++) {
            int r, cc;
            const model_module *mm = &m.modules[i];
            float *want_v = kept_values(&m, i, k[mm->layer * PRUNE_NPARTS + prune_part_of(mm->kind)], f[i], &r, &cc);
            assert_int_equal(b.modules[i].rows, r);
            assert_int_equal(b.modules[i].cols, cc);
            same_values(want_v, b.modules[i].w, (size_t)r * (size_t)cc, mm->name);
            free(want_v);
        }
        model_free(&b);
    }
done:
    for (int j = 0; j < L * PRUNE_NPARTS; j++)
        free(k[j]);
    free(k);
    free(f);
    model_free(&m);
}

/* A pruned config's GGUF: the kept rows and columns only, per-layer counts. */
static void test_pruned(void **state)
{
    (void)state;
    char p[4200];
    write_preset(TM_SMOLLM, 21, TM_FMT_GGUF, GQ_F32, "pr-llama.gguf", p, sizeof p);
    pruned_case(p, 0, "pr-llama-same");
    pruned_case(p, 1, "pr-llama-diff");
    write_preset(TM_QWEN3, 23, TM_FMT_GGUF, GQ_F32, "pr-qwen.gguf", p, sizeof p);
    pruned_case(p, 0, "pr-qwen-same");
    pruned_case(p, 1, "pr-qwen-diff");
}

/* Failures leave nothing behind. */
static void test_no_partial_output(void **state)
{
    (void)state;
    mx_error e = {0};
    char p[4200], out[4200];
    write_preset(TM_QWEN3, 13, TM_FMT_GGUF, GQ_F32, "np.gguf", p, sizeof p);
    model m;
    assert_int_equal(model_load(p, &m, &e), 0);
    mx_format f[64];
    for (int i = 0; i < m.n_modules; i++)
        f[i] = MX_FP4_E2M1;
    quant_opts o = {.tok = NULL};
    quant_stats st;
    snprintf(out, sizeof out, "%s/no-such-dir/x.gguf", tm_dir);
    assert_true(quant_write_gguf(&m, f, &o, out, &st, &e) < 0);
    snprintf(out, sizeof out, "%s/no-such-dir/x.mx", tm_dir);
    assert_true(quant_write_mx_dir(&m, f, &o, out, &st, &e) < 0);
    /* a file where the directory should go */
    assert_int_equal(quant_write_mx_dir(&m, f, &o, p, &st, &e), ERR_IO);
    assert_non_null(strstr(e.msg, "not a directory"));
    model_free(&m);
    /* only what the tests wrote is in the directory: no temporary files */
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "ls -a '%s' | grep -q tmp", tm_dir);
    assert_int_not_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_half_encoders),
        cmocka_unit_test(test_blocks_match_fake_quant),
        cmocka_unit_test(test_gguf_writer_roundtrip),
        cmocka_unit_test(test_model_llama2c),
        cmocka_unit_test(test_model_hf),
        cmocka_unit_test(test_model_gguf_source),
        cmocka_unit_test(test_widening),
        cmocka_unit_test(test_pruned),
        cmocka_unit_test(test_no_partial_output),
    };
    return cmocka_run_group_tests(tests, tm_dir_setup, tm_dir_teardown);
}
