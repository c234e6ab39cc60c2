/* Shared plumbing of the libFuzzer targets (see tests/fuzz_util.h). */
#include "tests/fuzz_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/model.h"
#include "src/tok.h"
#include "tests/testmodel.h"

static char dir[4096];

static void cleanup(void)
{
    if (dir[0])
        tm_rmtree(dir);
}

const char *fuzz_dir(void)
{
    if (!dir[0]) {
        if (tm_tmpdir(dir, sizeof dir) < 0)
            abort();
        atexit(cleanup);
    }
    return dir;
}

const char *fuzz_path(int slot, const char *name)
{
    static char buf[4][4400];
    if (slot < 0 || slot > 3)
        abort();
    snprintf(buf[slot], sizeof buf[slot], "%s/%s", fuzz_dir(), name);
    return buf[slot];
}

void fuzz_spill(const char *path, const void *d, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (n && fwrite(d, 1, n, f) != n)
        abort();
    if (fclose(f))
        abort();
}

int fuzz_split(const uint8_t *data, size_t size, fuzz_part *parts, int max)
{
    const size_t sl = sizeof FUZZ_SPLIT - 1;
    int k = 0;
    const uint8_t *p = data, *end = data + size;
    while (k < max - 1) {
        const uint8_t *s = memmem(p, (size_t)(end - p), FUZZ_SPLIT, sl);
        if (!s)
            break;
        parts[k++] = (fuzz_part){p, (size_t)(s - p)};
        p = s + sl;
    }
    parts[k++] = (fuzz_part){p, (size_t)(end - p)};
    return k;
}

int fuzz_check_msg(int rc, const mx_error *e)
{
    if (rc >= 0)
        return 0;
    if (!e->msg[0]) {
        fprintf(stderr, "fuzz: error %d without a message\n", rc);
        abort();
    }
    for (const unsigned char *p = (const unsigned char *)e->msg; *p; p++)
        if (*p < 0x20 || *p == 0x7f) {
            fprintf(stderr, "fuzz: control byte 0x%02x in message: %s\n", *p, e->msg);
            abort();
        }
    return 1;
}

int fuzz_model(const char *path)
{
    model m;
    mx_error e = {0};
    int rc = model_load(path, &m, &e);
    if (rc == 0) {
        volatile float acc = 0;
        for (int i = 0; i < m.n_modules; i++)
            for (int64_t j = 0; j < m.modules[i].params; j++)
                acc += m.modules[i].w[j];
        for (int64_t j = 0; j < (int64_t)m.cfg.vocab_size * m.cfg.dim; j++)
            acc += m.weights.tok_emb[j] + m.weights.lm_head[j];
        (void)acc;
        model_free(&m);
    } else {
        fuzz_check_msg(rc, &e);
    }
    return rc;
}

void fuzz_tok(const tok *t, const char *text, size_t len)
{
    int *ids = NULL;
    mx_error e = {0};
    long n = tok_encode(t, text, len, &ids, &e);
    fuzz_check_msg((int)(n < 0 ? n : 0), &e);
    int V = tok_vocab_size(t);
    if (n >= 0) {
        for (long i = 0; i < n; i++)
            if (ids[i] < 0 || ids[i] >= V)
                abort(); /* an id outside the vocabulary */
        char *out = NULL;
        mx_error e2 = {0};
        long k = tok_decode(t, ids, n, &out, &e2);
        fuzz_check_msg((int)(k < 0 ? k : 0), &e2);
        if (k >= 0 && strlen(out) > (size_t)k)
            abort(); /* NUL-terminated at its length */
        free(out);
        for (long i = 0; i < n && i < 64; i++) {
            const char *pc = tok_piece(t, ids[i]);
            (void)tok_id(t, pc, strlen(pc));
        }
    }
    free(ids);
    int probe[] = {-1, 0, 1, V - 1, V, tok_bos(t), tok_eos(t)};
    for (size_t i = 0; i < sizeof probe / sizeof probe[0]; i++)
        (void)strlen(tok_piece(t, probe[i]));
}

void fuzz_tok_loaded(tok *t, const mx_error *e, const char *text, size_t len)
{
    if (!t) {
        fuzz_check_msg(e->code < 0 ? e->code : -1, e);
        return;
    }
    fuzz_tok(t, text, len);
    tok_free(t);
}

/* The usual start-up: the temporary directory before the first input. Weak,
 * so a target that needs more defines its own. */
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_dir();
    return 0;
}
