/* Terminal safety for the curses workbench: whatever ends the process, the
 * user's terminal comes back sane. SIGINT/SIGTERM/SIGHUP ask the main loop to
 * quit (through a self-pipe it polls); fatal signals (SIGSEGV, SIGABRT, SIGBUS,
 * SIGFPE, SIGILL) restore the terminal with async-signal-safe calls only
 * (tcsetattr + raw escape sequences), then re-raise with the default action. */
#ifndef MXALLOC_UI_TERM_H
#define MXALLOC_UI_TERM_H

/* Save the tty state (call before initscr) and install the handlers. 0 or -1. */
int ui_term_install(void);
/* The fd that becomes readable when a quit signal arrived. */
int ui_term_quit_fd(void);
/* Non-zero once SIGINT/SIGTERM/SIGHUP arrived (the signal number). */
int ui_term_quit_signal(void);
/* Restore the terminal (signal-safe); idempotent. */
void ui_term_restore(void);
/* Remove the handlers (after endwin). */
void ui_term_uninstall(void);

#endif
