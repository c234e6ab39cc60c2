/* The `:` command line: GNU Readline's callback interface living inside a
 * curses window (editing keys, history kept across runs, Tab completion of
 * command, module and format names). Readline's hooks carry no user pointer,
 * so this module keeps its state in statics; one command line per process. */
#ifndef MXALLOC_UI_CMDLINE_H
#define MXALLOC_UI_CMDLINE_H

#include <curses.h>

#include "ui/ui_wb.h"

/* Configure readline and load the history file. wb supplies completion names. */
void ui_cmdline_init(const ui_wb *wb);
/* Save the history and release readline. */
void ui_cmdline_shutdown(void);

/* Start editing a line in win (one row). */
/* Start editing; init (may be NULL) is typed in already ("find " for `/`). */
void ui_cmdline_begin(WINDOW *win, const char *init);
/* Feed one curses key. Returns 1 when a line is complete (*line malloc'd,
 * caller frees; already added to the history), -1 when editing was abandoned
 * (Esc, Ctrl-C, Ctrl-D on an empty line), 0 to keep editing. */
int ui_cmdline_feed(int key, char **line);
/* Redraw the line (after a resize or a full repaint). */
void ui_cmdline_redraw(void);
/* 1 while a line is being edited. */
int ui_cmdline_active(void);
/* Completion candidates shown after a Tab with several matches ("" if none). */
const char *ui_cmdline_hint(void);

/* Completion candidates, exposed for the unit test: the state-th match of
 * text for the word at index `word` of line (0 = command name), or NULL. */
const char *ui_cmdline_candidate(const ui_wb *wb, const char *line, int word, const char *text, int state);

#endif
