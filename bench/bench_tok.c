/* Tokenizer throughput: encode all of wikitext-2 test (1.3 MB) with the
 * llama2.c tokenizers, and with HF tokenizer.json files (GPT-2 and Llama-3
 * pre-tokenizers) whose BPE vocab/merges are derived here from the Llama 2
 * pieces. Reference measured in the same run: memcpy of the text (a floor) —
 * the figure of interest is the absolute time, which must stay well under a
 * second for the O(n log n) merge loop. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench_clock.h"
#include "src/file_map.h"
#include "src/tok.h"

/* Best of 3 encodings of text[0..n) by t, in seconds; *cnt is the token count
 * of the last one (negative, and the runs stop, on a failure). */
static double best_encode(const tok *t, const char *text, size_t n, long *cnt, mx_error *e)
{
    double best = 1e9;
    for (int r = 0; r < 3; r++) {
        int *ids = NULL;
        double t0 = bench_now();
        *cnt = tok_encode(t, text, n, &ids, e);
        double dt = bench_now() - t0;
        if (dt < best)
            best = dt;
        free(ids);
        if (*cnt < 0)
            break;
    }
    return best;
}

/* GPT-2 bytes_to_unicode() as UTF-8. */
static void bl_append(char *o, size_t *n, const unsigned char *raw, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned b = raw[i], k = 0, cp = b;
        if (!((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE)) {
            for (unsigned x = 0; x < b; x++)
                k += !((x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || x >= 0xAE);
            cp = 256 + k;
        }
        if (cp < 0x80) {
            o[(*n)++] = (char)cp;
        } else {
            o[(*n)++] = (char)(0xC0 | cp >> 6);
            o[(*n)++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    o[*n] = '\0';
}

/* A byte-level BPE tokenizer.json from the Llama 2 pieces: each piece becomes
 * a merge of its first split into two known pieces. Returns 0 on success. */
static int write_hf(const tok *l2, const char *path, const char *pattern)
{
    json_t *vocab = json_object(), *merges = json_array();
    char key[256], a[128], b[128];
    int next = 256;
    for (int x = 0; x < 256; x++) {
        size_t n = 0;
        unsigned char c = (unsigned char)x;
        bl_append(key, &n, &c, 1);
        json_object_set_new(vocab, key, json_integer(x));
    }
    for (int id = 259; id < tok_vocab_size(l2); id++) {
        const unsigned char *p = (const unsigned char *)tok_piece(l2, id);
        size_t len = strlen((const char *)p), n = 0;
        if (len < 2 || len > 60)
            continue;
        bl_append(key, &n, p, len);
        if (json_object_get(vocab, key))
            continue;
        for (size_t k = 1; k < len; k++) {
            size_t na = 0, nb = 0;
            bl_append(a, &na, p, k);
            bl_append(b, &nb, p + k, len - k);
            if (json_object_get(vocab, a) && json_object_get(vocab, b)) {
                char m[260];
                snprintf(m, sizeof m, "%s %s", a, b);
                json_array_append_new(merges, json_string(m));
                json_object_set_new(vocab, key, json_integer(next++));
                break;
            }
        }
    }
    json_t *bytelevel = json_pack("{ss sb sb sb}", "type", "ByteLevel", "add_prefix_space", 0,
                                  "trim_offsets", 1, "use_regex", pattern == NULL);
    json_t *pre = pattern ? json_pack("{ss s[{ss s{ss} ss sb}, o]}", "type", "Sequence", "pretokenizers",
                                      "type", "Split", "pattern", "Regex", pattern, "behavior",
                                      "Isolated", "invert", 0, bytelevel)
                          : bytelevel;
    json_t *root = json_pack("{s{ss so so} so s[]}", "model", "type", "BPE", "vocab", vocab, "merges",
                             merges, "pre_tokenizer", pre, "added_tokens");
    int rc = json_dump_file(root, path, 0);
    json_decref(root);
    return rc;
}

int main(void)
{
    const char *d = getenv("MXALLOC_DATA");
    if (!d)
        d = "../shared/data";
    char tp[2][1024], xp[1024];
    snprintf(tp[0], sizeof tp[0], "%s/tinystories-260k/tok512.bin", d);
    snprintf(tp[1], sizeof tp[1], "%s/llama2-tokenizer/tokenizer.bin", d);
    snprintf(xp, sizeof xp, "%s/wikitext-2/wiki.test.raw", d);
    size_t n;
    char *text = NULL;
    mx_error re = { 0 };
    if (fm_read_all(xp, &text, &n, &re)) {
        printf("SKIP: %s absent\n", xp);
        return 0;
    }
    char *copy = malloc(n);
    double t0 = bench_now();
    for (int r = 0; r < 20; r++) {
        memcpy(copy, text, n);
        __asm__ volatile("" ::"r"(copy) : "memory");
    }
    double t_memcpy = (bench_now() - t0) / 20;
    const int vocab[2] = { 512, 32000 };
    for (int k = 0; k < 2; k++) {
        mx_error e = { 0 };
        t0 = bench_now();
        tok *t = tok_load_llama2c(tp[k], vocab[k], &e);
        double t_load = bench_now() - t0;
        if (!t) {
            printf("SKIP: %s\n", e.msg);
            continue;
        }
        long cnt;
        double best = best_encode(t, text, n, &cnt, &e);
        if (cnt < 0) {
            printf("encode failed: %s\n", e.msg);
            return 1;
        }
        printf("tok_encode %-40s vocab %5d: %zu bytes -> %ld tokens in %.3f s (%.1f MB/s), load %.2f ms, "
               "ratio vs memcpy %.0fx\n",
               tp[k], vocab[k], n, cnt, best, (double)n / best / 1e6, t_load * 1e3,
               best / t_memcpy);
        if (k == 1) {
            const char *pats[2] = { NULL, "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
                                          "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|"
                                          "\\s+(?!\\S)|\\s+" };
            for (int v = 0; v < 2; v++) {
                char jp[] = "/tmp/bench_tok_XXXXXX";
                int fd = mkstemp(jp);
                if (fd < 0 || write_hf(t, jp, pats[v]) != 0) {
                    printf("cannot write %s\n", jp);
                    return 1;
                }
                close(fd);
                t0 = bench_now();
                tok *h = tok_load_hf(jp, &e);
                double tl = bench_now() - t0;
                unlink(jp);
                if (!h) {
                    printf("HF load failed: %s\n", e.msg);
                    return 1;
                }
                best = best_encode(h, text, n, &cnt, &e);
                printf("tok_encode HF byte-level BPE, %-9s pre-tokenizer, vocab %5d: %zu bytes -> %ld "
                       "tokens in %.3f s (%.1f MB/s), load %.0f ms, ratio vs memcpy %.0fx\n",
                       v ? "Llama-3" : "GPT-2", tok_vocab_size(h), n, cnt, best, (double)n / best / 1e6,
                       tl * 1e3, best / t_memcpy);
                tok_free(h);
            }
        }
        tok_free(t);
    }
    free(copy);
    free(text);
    return 0;
}
