/* The score cache file: serialization of a score_table with a checksum, and
 * the cache directory. */
#include "src/cache.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "kernels/tf.h"
#include "src/file_write.h"

static const char cache_magic[8] = {'M', 'X', 'S', 'C', 'O', 'R', 'E', 0};
#define HEADER_LEN 32
#define MAX_PAYLOAD ((uint64_t)1 << 32)

/* ---- little-endian buffer writer / reader ---- */

typedef struct wbuf {
    unsigned char *p;
    size_t len, cap;
    int oom;
} wbuf;

static void w_bytes(wbuf *b, const void *src, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        unsigned char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void w_u64(wbuf *b, uint64_t v)
{
    unsigned char x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (unsigned char)(v >> (8 * i));
    w_bytes(b, x, 8);
}

static void w_u32(wbuf *b, uint32_t v)
{
    unsigned char x[4];
    for (int i = 0; i < 4; i++)
        x[i] = (unsigned char)(v >> (8 * i));
    w_bytes(b, x, 4);
}

static void w_f64(wbuf *b, double d)
{
    uint64_t v;
    memcpy(&v, &d, 8);
    w_u64(b, v);
}

static void w_str(wbuf *b, const char *s, size_t field)
{
    size_t n = strnlen(s, field - 1);
    w_u32(b, (uint32_t)n);
    w_bytes(b, s, n);
}

typedef struct rbuf {
    const unsigned char *p;
    size_t len, pos;
    int bad;
} rbuf;

static const unsigned char *r_take(rbuf *b, size_t n)
{
    if (b->bad || b->len - b->pos < n) {
        b->bad = 1;
        return NULL;
    }
    const unsigned char *q = b->p + b->pos;
    b->pos += n;
    return q;
}

/* n little-endian bytes (0 past the end) */
static uint64_t r_le(rbuf *b, int n)
{
    const unsigned char *q = r_take(b, (size_t)n);
    uint64_t v = 0;
    for (int i = 0; q && i < n; i++)
        v |= (uint64_t)q[i] << (8 * i);
    return v;
}

static uint64_t r_u64(rbuf *b)
{
    return r_le(b, 8);
}

static uint32_t r_u32(rbuf *b)
{
    return (uint32_t)r_le(b, 4);
}

static int32_t r_i32(rbuf *b)
{
    uint32_t u = r_u32(b);
    int32_t v;
    memcpy(&v, &u, 4);
    return v;
}

static double r_f64(rbuf *b)
{
    uint64_t v = r_u64(b);
    double d;
    memcpy(&d, &v, 8);
    return d;
}

static void r_str(rbuf *b, char *out, size_t field)
{
    uint32_t n = r_u32(b);
    if (b->bad || n >= field) {
        b->bad = 1;
        out[0] = 0;
        return;
    }
    const unsigned char *q = r_take(b, n);
    if (!q) {
        out[0] = 0;
        return;
    }
    memcpy(out, q, n);
    out[n] = 0;
}

/* ---- payload ---- */

static void put_table(wbuf *b, const score_table *t)
{
    w_u32(b, MX_NFORMATS);
    w_u32(b, SCORE_NMETHODS);
    w_str(b, t->model, sizeof t->model);
    w_u64(b, t->model_hash);
    w_str(b, t->key, sizeof t->key);
    w_u32(b, t->methods);
    w_u32(b, (uint32_t)t->n_formats);
    for (int i = 0; i < t->n_formats; i++)
        w_u32(b, (uint32_t)t->formats[i]);
    w_u64(b, (uint64_t)(int64_t)t->calib_tokens);
    w_u32(b, (uint32_t)t->ctx);
    w_f64(b, t->fp32_loss);
    for (int f = 0; f < MX_NFORMATS; f++)
        w_f64(b, t->uniform_loss[f]);
    w_u32(b, (uint32_t)t->n_modules);
    for (int i = 0; i < t->n_modules; i++) {
        const score_module *m = &t->modules[i];
        w_str(b, m->name, sizeof m->name);
        w_u32(b, (uint32_t)m->layer);
        w_u32(b, (uint32_t)m->kind);
        w_u32(b, (uint32_t)m->rows);
        w_u32(b, (uint32_t)m->cols);
        w_u64(b, (uint64_t)m->params);
        for (int f = 0; f < MX_NFORMATS; f++)
            w_f64(b, m->bits[f]);
        for (int s = 0; s < SCORE_NMETHODS; s++)
            for (int f = 0; f < MX_NFORMATS; f++)
                w_f64(b, m->score[s][f]);
        for (int s = 0; s < SCORE_NMETHODS; s++)
            for (int f = 0; f < MX_NFORMATS; f++)
                w_f64(b, m->se[s][f]);
        for (int f = 0; f < MX_NFORMATS; f++)
            w_f64(b, m->kld[f]);
        for (int f = 0; f < MX_NFORMATS; f++)
            w_f64(b, m->kld_se[f]);
    }
    w_u32(b, (uint32_t)t->n_anchors);
    for (int i = 0; i < t->n_anchors; i++) {
        const score_anchor *a = &t->anchors[i];
        w_u32(b, (uint32_t)a->method);
        w_f64(b, a->bits);
        w_f64(b, a->score_sum);
        w_f64(b, a->loss);
    }
    w_u32(b, (uint32_t)t->gptq);
    w_u64(b, t->text_hash);
}

/* Smallest serialized module: name length + 4 ints + params + doubles (bits,
 * scores and their standard errors, kld and its standard error). */
#define MODULE_MIN_BYTES(nf) (4 + 16 + 8 + 8 * (uint64_t)(nf) * (3 + 2 * SCORE_NMETHODS))

/* Printable ASCII and UTF-8 bytes only: names end up in messages and tables. */
static int printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 0;
    return 1;
}

/* A standard error is NAN (unknown) or finite and non-negative. */
static int bad_se(double v) { return !isnan(v) && !(v >= 0 && isfinite(v)); }

static int by_name(const void *a, const void *b)
{
    const score_module *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

/* What the rest of mxalloc may assume of a table read from a file: per-layer
 * tables are sized by the largest layer, groups are 2 * layer + 1, module
 * names are keys. A layer can never reach the module count (every layer has
 * at least one module). */
static int check_table(const score_table *t, mx_error *e)
{
    if (!printable(t->model) || !printable(t->key))
        return err_set(e, ERR_FORMAT, "control characters in the model name or key");
    if (t->calib_tokens < 0 || t->ctx < 0)
        return err_set(e, ERR_FORMAT, "negative token count or context");
    for (int i = 0; i < t->n_anchors; i++) { /* what the projection is fitted to */
        const score_anchor *a = &t->anchors[i];
        if (a->method < 0 || !(a->score_sum >= 0) || !isfinite(a->score_sum) || !isfinite(a->loss) ||
            !(a->bits > 0) || !isfinite(a->bits))
            return err_set(e, ERR_FORMAT, "projection anchor %d: invalid method, bits, score sum or loss", i);
    }
    for (int i = 0; i < t->n_modules; i++) {
        const score_module *m = &t->modules[i];
        if (!m->name[0] || !printable(m->name))
            return err_set(e, ERR_FORMAT, "module %d: empty name or control characters in it", i);
        if (m->layer < 0 || m->layer >= t->n_modules)
            return err_set(e, ERR_FORMAT, "module %s: layer %d out of range for %d modules",
                           m->name, m->layer, t->n_modules);
        if (m->kind < 0 || m->kind >= TF_NLIN)
            return err_set(e, ERR_FORMAT, "module %s: unknown kind %d", m->name, m->kind);
        if (m->rows <= 0 || m->cols <= 0 || m->params != (int64_t)m->rows * m->cols)
            return err_set(e, ERR_FORMAT, "module %s: shape %dx%d does not match %lld parameters",
                           m->name, m->rows, m->cols, (long long)m->params);
        for (int f = 0; f < MX_NFORMATS; f++) {
            int bad = bad_se(m->kld_se[f]);
            for (int s = 0; s < SCORE_NMETHODS; s++)
                bad |= bad_se(m->se[s][f]);
            if (bad)
                return err_set(e, ERR_FORMAT, "module %s: a negative or infinite standard error",
                               m->name);
        }
    }
    if (t->n_modules > 1) {
        const score_module **ord = malloc((size_t)t->n_modules * sizeof *ord);
        if (!ord)
            return err_set(e, ERR_NOMEM, "out of memory");
        for (int i = 0; i < t->n_modules; i++)
            ord[i] = &t->modules[i];
        qsort(ord, (size_t)t->n_modules, sizeof *ord, by_name);
        int rc = 0;
        for (int i = 1; i < t->n_modules && !rc; i++)
            if (!strcmp(ord[i - 1]->name, ord[i]->name))
                rc = err_set(e, ERR_FORMAT, "module %s listed twice", ord[i]->name);
        free(ord);
        return rc;
    }
    return 0;
}

static int get_table(rbuf *b, score_table *t, mx_error *e)
{
    uint32_t nf = r_u32(b), nm = r_u32(b);
    /* Formats are only ever appended (kernels/mx.h), so a file of a build with
     * fewer holds a prefix of this build's ids; the rest stay NAN. */
    if (!b->bad && (nf < MX_FP4_E2M1 + 1 || nf > MX_NFORMATS || nm != SCORE_NMETHODS))
        return err_set(e, ERR_FORMAT, "written by an mxalloc build with %u formats and %u score "
                       "methods (this one has %d and %d): recompute the scores",
                       nf, nm, MX_NFORMATS, SCORE_NMETHODS);
    score_table_init(t);
    r_str(b, t->model, sizeof t->model);
    t->model_hash = r_u64(b);
    r_str(b, t->key, sizeof t->key);
    t->methods = r_u32(b);
    uint32_t n_formats = r_u32(b);
    if (b->bad)
        return err_set(e, ERR_FORMAT, "truncated header fields");
    if (n_formats > MX_NFORMATS || (t->methods >> SCORE_NMETHODS))
        return err_set(e, ERR_FORMAT, "invalid format count or method mask");
    t->n_formats = (int)n_formats;
    for (uint32_t i = 0; i < n_formats; i++) {
        uint32_t f = r_u32(b);
        if (f >= nf)
            return err_set(e, ERR_FORMAT, "invalid format id %u", f);
        t->formats[i] = (mx_format)f;
    }
    t->calib_tokens = (long)(int64_t)r_u64(b);
    t->ctx = r_i32(b);
    t->fp32_loss = r_f64(b);
    for (uint32_t f = 0; f < nf; f++)
        t->uniform_loss[f] = r_f64(b);
    uint32_t n_modules = r_u32(b);
    if (b->bad)
        return err_set(e, ERR_FORMAT, "truncated header fields");
    if (n_modules > INT_MAX || (uint64_t)n_modules * MODULE_MIN_BYTES(nf) > b->len - b->pos)
        return err_set(e, ERR_FORMAT, "module count %u does not fit the payload", n_modules);
    score_table mods;  /* score_table_alloc starts from an empty table: keep the header */
    if (score_table_alloc(&mods, (int)n_modules))
        return err_set(e, ERR_NOMEM, "out of memory for %u modules", n_modules);
    t->modules = mods.modules;
    t->n_modules = mods.n_modules;
    for (uint32_t i = 0; i < n_modules && !b->bad; i++) {
        score_module *m = &t->modules[i];
        r_str(b, m->name, sizeof m->name);
        m->layer = r_i32(b);
        m->kind = r_i32(b);
        m->rows = r_i32(b);
        m->cols = r_i32(b);
        m->params = (int64_t)r_u64(b);
        for (uint32_t f = 0; f < nf; f++)
            m->bits[f] = r_f64(b);
        for (int s = 0; s < SCORE_NMETHODS; s++)
            for (uint32_t f = 0; f < nf; f++)
                m->score[s][f] = r_f64(b);
        for (int s = 0; s < SCORE_NMETHODS; s++)
            for (uint32_t f = 0; f < nf; f++)
                m->se[s][f] = r_f64(b);
        for (uint32_t f = 0; f < nf; f++)
            m->kld[f] = r_f64(b);
        for (uint32_t f = 0; f < nf; f++)
            m->kld_se[f] = r_f64(b);
    }
    uint32_t n_anchors = r_u32(b);
    if (!b->bad && n_anchors > SCORE_ANCHORS_MAX) {
        score_table_free(t);
        return err_set(e, ERR_FORMAT, "%u projection anchors (at most %d)", n_anchors, SCORE_ANCHORS_MAX);
    }
    for (uint32_t i = 0; i < n_anchors && !b->bad; i++) {
        score_anchor *a = &t->anchors[i];
        uint32_t meth = r_u32(b);
        a->method = meth < SCORE_NMETHODS ? (int)meth : -1;
        a->bits = r_f64(b);
        a->score_sum = r_f64(b);
        a->loss = r_f64(b);
        t->n_anchors++;
    }
    uint32_t gptq = r_u32(b);
    t->text_hash = r_u64(b);
    if (!b->bad && gptq > 1) {
        score_table_free(t);
        return err_set(e, ERR_FORMAT, "invalid quantizer flag %u", gptq);
    }
    t->gptq = (int)gptq;
    if (b->bad || b->pos != b->len) {
        score_table_free(t);
        return err_set(e, ERR_FORMAT, "inconsistent payload");
    }
    int rc = check_table(t, e);
    if (rc)
        score_table_free(t);
    return rc;
}

/* ---- files ---- */

int cache_write(const char *path, const score_table *t, mx_error *e)
{
    if (t->n_modules < 0 || t->n_formats < 0 || t->n_formats > MX_NFORMATS ||
        (t->n_modules > 0 && !t->modules))
        return err_set(e, ERR_ARG, "%s: invalid score table", path);
    wbuf b = {0};
    unsigned char zero[HEADER_LEN] = {0};
    w_bytes(&b, zero, HEADER_LEN);
    put_table(&b, t);
    if (b.oom) {
        free(b.p);
        return err_set(e, ERR_NOMEM, "%s: out of memory serializing the scores", path);
    }
    uint64_t plen = b.len - HEADER_LEN;
    uint64_t sum = XXH64(b.p + HEADER_LEN, plen, 0);
    wbuf h = {.p = b.p, .len = 0, .cap = HEADER_LEN};
    w_bytes(&h, cache_magic, 8);
    w_u32(&h, CACHE_VERSION);
    w_u32(&h, 0);
    w_u64(&h, plen);
    w_u64(&h, sum);
    int rc = fw_write_atomic(path, b.p, b.len, e);
    free(b.p);
    return rc;
}

int cache_read(const char *path, score_table *t, mx_error *e)
{
    score_table_init(t);
    /* O_NONBLOCK: opening a FIFO must not wait for a writer. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st = {0};
    if (fd < 0)
        return err_set(e, ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int dir = S_ISDIR(st.st_mode);
        close(fd);
        return err_set(e, ERR_IO, "%s: %s", path, dir ? "is a directory" : "not a regular file");
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        return err_set(e, ERR_NOMEM, "%s: out of memory", path);
    }
    unsigned char hdr[HEADER_LEN];
    size_t got = fread(hdr, 1, HEADER_LEN, f);
    if (got < 8 || memcmp(hdr, cache_magic, 8)) {
        fclose(f);
        return err_set(e, ERR_FORMAT, "%s: not an mxalloc score file", path);
    }
    if (got < HEADER_LEN) {
        fclose(f);
        return err_set(e, ERR_FORMAT, "%s: truncated score file (header)", path);
    }
    rbuf h = {.p = hdr, .len = HEADER_LEN, .pos = 8};
    uint32_t version = r_u32(&h), reserved = r_u32(&h);
    uint64_t plen = r_u64(&h), sum = r_u64(&h);
    if (version != CACHE_VERSION) {
        fclose(f);
        return err_set(e, ERR_FORMAT, "%s: score file version %u, this mxalloc reads version %d: "
                       "recompute the scores", path, version, CACHE_VERSION);
    }
    if (plen > MAX_PAYLOAD || reserved != 0) {
        fclose(f);
        return err_set(e, ERR_FORMAT, "%s: corrupt score file (header)", path);
    }
    /* The file's real size bounds what we allocate. */
    uint64_t avail = (uint64_t)st.st_size > HEADER_LEN ? (uint64_t)st.st_size - HEADER_LEN : 0;
    if (plen != avail) {
        fclose(f);
        if (plen > avail)
            return err_set(e, ERR_FORMAT, "%s: truncated score file (the header declares %llu payload "
                           "bytes, the file has %llu)", path, (unsigned long long)plen,
                           (unsigned long long)avail);
        return err_set(e, ERR_FORMAT, "%s: corrupt score file (trailing bytes)", path);
    }
    unsigned char *p = malloc(plen ? plen : 1);
    if (!p) {
        fclose(f);
        return err_set(e, ERR_NOMEM, "%s: out of memory", path);
    }
    got = fread(p, 1, plen, f);
    int extra = got == plen && fgetc(f) != EOF;
    int ioerr = ferror(f);
    fclose(f);
    int rc = 0;
    if (ioerr)
        rc = err_set(e, ERR_IO, "%s: read error", path);
    else if (got < plen)
        rc = err_set(e, ERR_FORMAT, "%s: truncated score file (%zu of %llu payload bytes)", path,
                     got, (unsigned long long)plen);
    else if (extra)
        rc = err_set(e, ERR_FORMAT, "%s: corrupt score file (trailing bytes)", path);
    else if (XXH64(p, plen, 0) != sum)
        rc = err_set(e, ERR_FORMAT, "%s: corrupt score file (checksum mismatch)", path);
    else {
        rbuf b = {.p = p, .len = plen};
        rc = get_table(&b, t, e);
        if (rc) {
            score_table_free(t);
            err_prefix(e, "%s: corrupt score file", path);
        }
    }
    free(p);
    return rc;
}

static int mkdir_p(char *path, mx_error *e)
{
    for (char *s = path + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = 0;
        int r = mkdir(path, 0777);
        int er = errno;
        *s = '/';
        if (r != 0 && er != EEXIST)
            return err_set(e, ERR_IO, "cannot create %s: %s", path, strerror(er));
    }
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        return err_set(e, ERR_IO, "cannot create %s: %s", path, strerror(errno));
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return err_set(e, ERR_IO, "%s is not a directory", path);
    return 0;
}

int cache_dir(char *out, size_t out_len, mx_error *e)
{
    const char *x = getenv("XDG_CACHE_HOME");
    int n;
    /* XDG: a relative path in the variable is invalid and must be ignored. */
    if (x && x[0] == '/')
        n = snprintf(out, out_len, "%s/mxalloc", x);
    else {
        const char *home = getenv("HOME");
        if (!home || !home[0])
            return err_set(e, ERR_ARG, "cannot locate the cache directory: neither XDG_CACHE_HOME nor HOME is set");
        n = snprintf(out, out_len, "%s/.cache/mxalloc", home);
    }
    if (n < 0 || (size_t)n >= out_len)
        return err_set(e, ERR_ARG, "cache directory path too long");
    int rc = mkdir_p(out, e);
    if (!rc)
        fw_clean_stale(out, NULL);
    return rc;
}

int cache_is_score_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    char magic[8];
    int yes = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && read(fd, magic, 8) == 8 &&
              !memcmp(magic, cache_magic, 8);
    close(fd);
    return yes;
}

int cache_path_for_key(const char *key, char *out, size_t out_len, mx_error *e)
{
    if (!key || !key[0])
        return err_set(e, ERR_ARG, "empty cache key");
    for (const char *s = key; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              *s == '_' || *s == '-'))
            return err_set(e, ERR_ARG, "invalid cache key '%s'", key);
    int rc = cache_dir(out, out_len, e);
    if (rc)
        return rc;
    size_t n = strlen(out);
    int k = snprintf(out + n, out_len - n, "/%s.scores", key);
    if (k < 0 || (size_t)k >= out_len - n)
        return err_set(e, ERR_ARG, "cache path too long");
    return 0;
}
