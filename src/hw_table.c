/* The hardware cost table file: parse, look up, write. */
#include "src/hw_table.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/file_map.h"
#include "src/file_write.h"

#define HW_LINE_MAX 1024
#define HW_FIELDS 8

void hw_table_init(hw_table *t)
{
    memset(t, 0, sizeof *t);
    t->overhead_us = NAN;
}

void hw_table_free(hw_table *t)
{
    free(t->e);
    hw_table_init(t);
}

const hw_entry *hw_table_find(const hw_table *t, mx_format f, int rows, int cols)
{
    for (int i = 0; i < t->n; i++)
        if (t->e[i].fmt == f && t->e[i].rows == rows && t->e[i].cols == cols)
            return &t->e[i];
    return NULL;
}

static int set_batch(hw_table *t, int batch, mx_error *e)
{
    if (batch <= 0)
        return err_set(e, ERR_ARG, "batch %d is not positive", batch);
    if (t->batch && t->batch != batch)
        return err_set(e, ERR_ARG, "batch %d differs from the table's %d (one batch per table)", batch, t->batch);
    t->batch = batch;
    return 0;
}

int hw_table_add(hw_table *t, mx_format f, int rows, int cols, int batch, double us_per_token,
                 double bytes, mx_error *e)
{
    if ((unsigned)f >= MX_NFORMATS)
        return err_set(e, ERR_ARG, "format %d out of range", (int)f);
    if (rows <= 0 || cols <= 0 || rows > HW_TABLE_MAX_DIM || cols > HW_TABLE_MAX_DIM)
        return err_set(e, ERR_ARG, "shape %dx%d outside 1..%d", rows, cols, HW_TABLE_MAX_DIM);
    if (!isfinite(us_per_token) || us_per_token < 0)
        return err_set(e, ERR_ARG, "us_per_token %g is not a finite number >= 0", us_per_token);
    if (!isfinite(bytes) || bytes < 0)
        return err_set(e, ERR_ARG, "bytes %g is not a finite number >= 0", bytes);
    if (hw_table_find(t, f, rows, cols))
        return err_set(e, ERR_ARG, "%s %dx%d appears twice", mx_format_name(f), rows, cols);
    if (t->n >= HW_TABLE_MAX_ROWS)
        return err_set(e, ERR_ARG, "more than %d rows", HW_TABLE_MAX_ROWS);
    int rc = set_batch(t, batch, e);
    if (rc)
        return rc;
    if ((t->n & (t->n - 1)) == 0) { /* grow at powers of two */
        hw_entry *ne = realloc(t->e, (size_t)(t->n ? 2 * t->n : 16) * sizeof *ne);
        if (!ne)
            return err_set(e, ERR_NOMEM, "out of memory");
        t->e = ne;
    }
    t->e[t->n++] = (hw_entry){f, rows, cols, us_per_token, bytes};
    return 0;
}

/* A whole-token integer in [1, HW_TABLE_MAX_DIM]: 0, or -1. */
static int parse_int(const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > HW_TABLE_MAX_DIM)
        return -1;
    *out = (int)v;
    return 0;
}

/* A whole-token finite number >= 0: 0, or -1. */
static int parse_num(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < 0)
        return -1;
    *out = v;
    return 0;
}

static int parse_line(hw_table *t, char *line, mx_error *e)
{
    char *hash = strchr(line, '#');
    if (hash) {
        static const char tag[] = "# machine:";
        if (hash == line + strspn(line, " \t") && !strncmp(hash, tag, sizeof tag - 1) && !t->machine[0]) {
            const char *m = hash + sizeof tag - 1;
            m += strspn(m, " \t");
            snprintf(t->machine, sizeof t->machine, "%.*s", (int)strcspn(m, "\r"), m);
        }
        *hash = 0;
    }
    char *f[HW_FIELDS];
    int nf = 0;
    for (char *tok = strtok(line, " \t\r\v\f"); tok; tok = strtok(NULL, " \t\r\v\f")) {
        if (nf < HW_FIELDS)
            f[nf] = tok;
        nf++;
    }
    if (nf == 0)
        return 0;
    if (!strcmp(f[0], "overhead")) {
        int batch;
        double us;
        if (nf != 3)
            return err_set(e, ERR_FORMAT, "overhead wants 2 fields (BATCH US_PER_TOKEN), got %d", nf - 1);
        if (!isnan(t->overhead_us))
            return err_set(e, ERR_FORMAT, "a second overhead line");
        if (parse_int(f[1], &batch))
            return err_set(e, ERR_FORMAT, "overhead batch '%.40s' is not an integer in 1..%d", f[1], HW_TABLE_MAX_DIM);
        if (parse_num(f[2], &us))
            return err_set(e, ERR_FORMAT, "overhead us_per_token '%.40s' is not a finite number >= 0", f[2]);
        int rc = set_batch(t, batch, e);
        if (rc)
            return rc;
        t->overhead_us = us;
        return 0;
    }
    if (nf != 6)
        return err_set(e, ERR_FORMAT, "%d fields, want 6 (FORMAT ROWS COLS BATCH US_PER_TOKEN BYTES)", nf);
    mx_format fmt;
    int rows, cols, batch;
    double us, bytes;
    if (mx_format_parse(f[0], &fmt))
        return err_set(e, ERR_FORMAT, "unknown format '%.40s'", f[0]);
    static const char *const what[] = {"rows", "cols", "batch"};
    int *ints[] = {&rows, &cols, &batch};
    for (int k = 0; k < 3; k++)
        if (parse_int(f[1 + k], ints[k]))
            return err_set(e, ERR_FORMAT, "%s '%.40s' is not an integer in 1..%d", what[k], f[1 + k], HW_TABLE_MAX_DIM);
    if (parse_num(f[4], &us))
        return err_set(e, ERR_FORMAT, "us_per_token '%.40s' is not a finite number >= 0", f[4]);
    if (parse_num(f[5], &bytes))
        return err_set(e, ERR_FORMAT, "bytes '%.40s' is not a finite number >= 0", f[5]);
    int rc = hw_table_add(t, fmt, rows, cols, batch, us, bytes, e);
    if (rc == ERR_ARG) { /* a bad row of the file: a format error of the file */
        if (e)
            e->code = ERR_FORMAT;
        rc = ERR_FORMAT;
    }
    return rc;
}

int hw_table_parse(hw_table *t, const char *text, size_t len, const char *name, mx_error *e)
{
    char line[HW_LINE_MAX + 1];
    size_t at = 0;
    long lineno = 0;
    while (at < len) {
        lineno++;
        const char *nl = memchr(text + at, '\n', len - at);
        size_t n = nl ? (size_t)(nl - (text + at)) : len - at;
        int rc = 0;
        if (n > HW_LINE_MAX)
            rc = err_set(e, ERR_FORMAT, "line longer than %d bytes", HW_LINE_MAX);
        else if (memchr(text + at, 0, n))
            rc = err_set(e, ERR_FORMAT, "a NUL byte (not a text file)");
        else {
            memcpy(line, text + at, n);
            line[n] = 0;
            rc = parse_line(t, line, e);
        }
        if (rc) {
            err_prefix(e, "%s:%ld", name, lineno);
            hw_table_free(t);
            return rc;
        }
        at += n + (nl != NULL);
    }
    if (t->n == 0) {
        hw_table_free(t);
        return err_set(e, ERR_FORMAT, "%s: no rows (FORMAT ROWS COLS BATCH US_PER_TOKEN BYTES)", name);
    }
    return 0;
}

int hw_table_read(const char *path, hw_table *t, mx_error *e)
{
    hw_table_init(t);
    char *buf;
    size_t len;
    int rc = fm_read_all(path, &buf, &len, e);
    if (rc)
        return rc;
    rc = hw_table_parse(t, buf, len, path, e);
    free(buf);
    return rc;
}

int hw_table_write(const char *path, const hw_table *t, const char *comment, mx_error *e)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return err_set(e, ERR_NOMEM, "out of memory");
    fprintf(f, "# mxalloc hardware cost table (mxalloc(1), HARDWARE TABLE)\n");
    if (t->machine[0])
        fprintf(f, "# machine: %s\n", t->machine);
    for (const char *c = comment; c && *c;) {
        size_t n = strcspn(c, "\n");
        fprintf(f, "# %.*s\n", (int)n, c);
        c += n + (c[n] == '\n');
    }
    fprintf(f, "# format rows cols batch us_per_token bytes\n");
    for (int i = 0; i < t->n; i++)
        fprintf(f, "%s %d %d %d %.6g %.0f\n", mx_format_name(t->e[i].fmt), t->e[i].rows, t->e[i].cols, t->batch,
                t->e[i].us_per_token, t->e[i].bytes);
    if (!isnan(t->overhead_us))
        fprintf(f, "overhead %d %.6g\n", t->batch, t->overhead_us);
    if (fclose(f)) {
        free(buf);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    int rc = fw_write_atomic(path, buf, len, e);
    free(buf);
    return rc;
}
