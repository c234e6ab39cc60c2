/* --script: the workbench without curses, one command per line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kernels/err.h"
#include "ui/ui.h"

/* A script line longer than this is an error, not an unbounded buffer. */
#define SCRIPT_LINE_MAX (1 << 20)

/* While a script runs, an error message waits for the outcome of its line so
 * that a failed command gives one line: "FILE:LINE: command failed: CMD: MSG". */
static struct {
    int active;
    char pending[1024];
} script;

static void flush_pending(void)
{
    if (script.pending[0])
        fprintf(stderr, "mxalloc: %s\n", script.pending);
    script.pending[0] = 0;
}

void ui_script_msg(void *user, ui_msg_level level, const char *text)
{
    (void)user;
    char esc[1024];
    err_escape(esc, sizeof esc, text);
    if (level == UI_MSG_ERROR) {
        if (script.active) {
            flush_pending();
            snprintf(script.pending, sizeof script.pending, "%s", esc);
        } else
            fprintf(stderr, "mxalloc: %s\n", esc);
    } else if (level == UI_MSG_RESULT)
        printf("%s\n", text);
    else
        fprintf(stderr, "%s\n", esc);
    fflush(stdout);
}

/* The next line without its end of line into *buf (grown as needed): its
 * length, -1 at the end of the file, -2 when longer than SCRIPT_LINE_MAX. */
static long read_line(FILE *f, char **buf, size_t *cap)
{
    size_t n = 0;
    int c;
    while ((c = getc(f)) != EOF && c != '\n') {
        if (n + 1 >= *cap) {
            if (*cap >= SCRIPT_LINE_MAX)
                return -2;
            size_t nc = *cap ? *cap * 2 : 256;
            char *nb = realloc(*buf, nc);
            if (!nb)
                return -2;
            *buf = nb;
            *cap = nc;
        }
        (*buf)[n++] = (char)c;
    }
    if (c == EOF && n == 0)
        return -1;
    if (!*buf && !(*buf = malloc(*cap = 256)))
        return -2;
    (*buf)[n] = 0;
    if (n && (*buf)[n - 1] == '\r')
        (*buf)[--n] = 0;
    return (long)n;
}

int ui_script_run(ui_wb *wb, const char *path)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (!f) {
        fprintf(stderr, "mxalloc: %s: %s\n", path, strerror(errno));
        return 1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fprintf(stderr, "mxalloc: %s: is a directory\n", path);
        if (f != stdin)
            fclose(f);
        return 1;
    }
    if (!ui_state_has_scores(&wb->st) && wb->scores_hint[0])
        fprintf(stderr, "mxalloc: %s\n", wb->scores_hint);
    char *line = NULL;
    size_t cap = 0;
    long len;
    int lineno = 0, status = 0;
    script.active = 1;
    script.pending[0] = 0;
    while (!wb->quit && (len = read_line(f, &line, &cap)) != -1) {
        lineno++;
        if (len == -2) {
            fprintf(stderr, "mxalloc: %s:%d: line longer than %d bytes\n", path, lineno,
                    SCRIPT_LINE_MAX);
            status = 1;
            break;
        }
        int rc = ui_wb_exec_line(wb, line);
        /* Jobs run to completion before the next line: scripts are sequential. */
        if (!rc && wb->job.kind != UI_JOB_NONE)
            rc = ui_wb_wait_job(wb);
        if (rc) {
            char esc[256];
            err_escape(esc, sizeof esc, line);
            fprintf(stderr, "mxalloc: %s:%d: command failed: %s%s%s\n", path, lineno, esc,
                    script.pending[0] ? ": " : "", script.pending);
            script.pending[0] = 0;
            status = 1;
            break;
        }
        flush_pending();
    }
    if (!status && ferror(f)) {
        fprintf(stderr, "mxalloc: %s: read error: %s\n", path, strerror(errno));
        status = 1;
    }
    flush_pending();
    script.active = 0;
    free(line);
    if (f != stdin)
        fclose(f);
    return status;
}
