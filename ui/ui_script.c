/* --script: the workbench without curses, one command per line. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ui/ui.h"

void ui_script_msg(void *user, ui_msg_level level, const char *text)
{
    (void)user;
    if (level == UI_MSG_ERROR)
        fprintf(stderr, "mxalloc: %s\n", text);
    else if (level == UI_MSG_RESULT)
        printf("%s\n", text);
    else
        fprintf(stderr, "%s\n", text);
    fflush(stdout);
}

int ui_script_run(ui_wb *wb, const char *path)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (!f) {
        fprintf(stderr, "mxalloc: %s: %s\n", path, strerror(errno));
        return 1;
    }
    char line[4096];
    int lineno = 0, status = 0;
    while (!wb->quit && fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        int rc = ui_wb_exec_line(wb, line);
        /* Jobs run to completion before the next line: scripts are sequential. */
        if (!rc && wb->job.kind != UI_JOB_NONE)
            rc = ui_wb_wait_job(wb);
        if (rc) {
            fprintf(stderr, "mxalloc: %s:%d: command failed: %s\n", path, lineno, line);
            status = 1;
            break;
        }
    }
    if (f != stdin)
        fclose(f);
    return status;
}
