/* Entry points of the workbench front ends (called by src/cli/cmd_tui.c). */
#ifndef MXALLOC_UI_H
#define MXALLOC_UI_H

#include "ui/ui_wb.h"

/* Run the commands of a script file (one per line, '#' comments), printing
 * results to stdout; stops at the first failing command. Returns the exit
 * status: 0, or 1 with the error on stderr. */
int ui_script_run(ui_wb *wb, const char *path);

/* The interactive curses workbench; returns the exit status. */
int ui_app_run(ui_wb *wb);

/* Message sink for script mode: results to stdout, errors to stderr. */
void ui_script_msg(void *user, ui_msg_level level, const char *text);

#endif
