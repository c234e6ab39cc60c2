/* Tokenizer throughput: encode all of wikitext-2 test (1.3 MB) with the
 * llama2.c tokenizers. Reference measured in the same run: memcpy of the text
 * (a floor) — the figure of interest is the absolute time, which must stay
 * well under a second for the O(n log n) merge loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "src/tok.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)sz + 1);
    if (!b || fread(b, 1, (size_t)sz, f) != (size_t)sz) {
        free(b);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *n = (size_t)sz;
    return b;
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
    char *text = slurp(xp, &n);
    if (!text) {
        printf("SKIP: %s absent\n", xp);
        return 0;
    }
    char *copy = malloc(n);
    double t0 = now();
    for (int r = 0; r < 20; r++) {
        memcpy(copy, text, n);
        __asm__ volatile("" ::"r"(copy) : "memory");
    }
    double t_memcpy = (now() - t0) / 20;
    const int vocab[2] = { 512, 32000 };
    for (int k = 0; k < 2; k++) {
        mx_error e = { 0 };
        t0 = now();
        tok *t = tok_load_llama2c(tp[k], vocab[k], &e);
        double t_load = now() - t0;
        if (!t) {
            printf("SKIP: %s\n", e.msg);
            continue;
        }
        int *ids = NULL;
        double best = 1e9;
        long cnt = 0;
        for (int r = 0; r < 3; r++) {
            t0 = now();
            cnt = tok_encode(t, text, n, &ids, &e);
            double dt = now() - t0;
            if (dt < best)
                best = dt;
            free(ids);
            if (cnt < 0) {
                printf("encode failed: %s\n", e.msg);
                return 1;
            }
        }
        printf("tok_encode %-40s vocab %5d: %zu bytes -> %ld tokens in %.3f s (%.1f MB/s), load %.2f ms, "
               "ratio vs memcpy %.0fx\n",
               tp[k], vocab[k], n, cnt, best, (double)n / best / 1e6, t_load * 1e3,
               best / t_memcpy);
        tok_free(t);
    }
    free(copy);
    free(text);
    return 0;
}
