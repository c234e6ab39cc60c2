/* Readline inside curses: we feed it the keys curses read, it edits
 * rl_line_buffer, and our redisplay function draws that into a window. */
#include "ui/ui_cmdline.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "kernels/mx.h"
#include "ui/ui_cmd.h"

static const ui_wb *cl_wb;
static WINDOW *cl_win;
static int cl_active, cl_done;
static char *cl_line;
static unsigned char cl_pending[16];
static int cl_npending;
static char cl_hint[512];
static char cl_hist_path[4096];
static FILE *cl_null;

static int cl_getc(FILE *f)
{
    (void)f;
    if (cl_npending == 0)
        return EOF;
    int c = cl_pending[0];
    memmove(cl_pending, cl_pending + 1, (size_t)--cl_npending);
    return c;
}

static int cl_input_available(void)
{
    return cl_npending > 0;
}

static void cl_redisplay(void)
{
    if (!cl_win)
        return;
    int w = getmaxx(cl_win);
    const char *buf = rl_line_buffer ? rl_line_buffer : "";
    int len = (int)strlen(buf), point = rl_point;
    /* Scroll so the cursor stays visible; one column for the ':' prompt. */
    int room = w - 2, start = 0;
    if (room < 1)
        room = 1;
    if (point > room)
        start = point - room;
    werase(cl_win);
    mvwaddch(cl_win, 0, 0, ':');
    mvwaddnstr(cl_win, 0, 1, buf + start, len - start < room ? len - start : room);
    wmove(cl_win, 0, 1 + point - start);
    wnoutrefresh(cl_win);
}

static void cl_line_handler(char *line)
{
    cl_done = 1;
    cl_line = line; /* NULL on end-of-file (Ctrl-D on an empty line) */
}

static void cl_prep(int meta)
{
    (void)meta; /* curses owns the terminal modes */
}

static void cl_deprep(void)
{
}

static void cl_display_matches(char **matches, int n, int max_len)
{
    (void)max_len;
    size_t used = 0;
    cl_hint[0] = '\0';
    for (int i = 1; i <= n && used + 2 < sizeof cl_hint; i++) {
        int k = snprintf(cl_hint + used, sizeof cl_hint - used, "%s%s", i > 1 ? " " : "", matches[i]);
        if (k < 0)
            break;
        used += (size_t)k;
    }
    cl_redisplay();
}

/* ---- completion ---- */

static const char *const words_group[] = {"qkv", "gateup", NULL};
static const char *const words_target[] = {"mx", "llama-cpp", NULL};
static const char *const words_onoff[] = {"on", "off", NULL};
static const char *const words_score[] = {"--method", NULL};
static const char *const words_methods[] = {"kl", "fisher", "fisher-out", "both", NULL};
static const char *const words_method[] = {"kl", "fisher", "fisher-out", "gamma", NULL};
static const char *const words_anneal[] = {"dmx", "gamma", NULL};
static const char *const words_export[] = {"--to", NULL};
static const char *const words_to[] = {"llama-cpp", "json", NULL};

static const char *list_at(const char *const *list, int i)
{
    for (int k = 0; list[k]; k++)
        if (k == i)
            return list[k];
    return NULL;
}

/* The i-th name of a class: 0 commands, 1 modules, 2 formats, 3 modules+all. */
static const char *class_at(const ui_wb *wb, int cls, int i)
{
    switch (cls) {
    case 0:
        return i < UI_CMD_COUNT ? ui_cmd_name((ui_cmd_id)i) : NULL;
    case 1:
        return wb ? ui_wb_module_name(wb, i) : NULL;
    case 2: /* canonical names, then the short labels the screen shows */
        return i < MX_NFORMATS ? mx_format_name((mx_format)i)
               : i < 2 * MX_NFORMATS ? mx_format_label((mx_format)(i - MX_NFORMATS))
                                     : NULL;
    case 3:
        return i == 0 ? "all" : wb ? ui_wb_module_name(wb, i - 1) : NULL;
    }
    return NULL;
}

const char *ui_cmdline_candidate(const ui_wb *wb, const char *line, int word, const char *text, int state)
{
    char cmd[64] = "", prev[64] = "";
    sscanf(line, "%63s", cmd);
    /* the word before the one being completed */
    {
        char words[UI_CMD_MAXARGS + 1][UI_CMD_ARGLEN];
        int n = ui_cmd_split(line, words, UI_CMD_MAXARGS + 1);
        if (n >= word && word >= 1)
            snprintf(prev, sizeof prev, "%.63s", words[word - 1]);
    }
    const char *const *list = NULL;
    int cls = -1;
    if (word == 0)
        cls = 0;
    else if (!strcmp(cmd, "pin"))
        cls = word == 1 ? 1 : word == 2 ? 2 : -1;
    else if (!strcmp(cmd, "unpin"))
        cls = word == 1 ? 3 : -1;
    else if (!strcmp(cmd, "show"))
        cls = word == 1 ? 1 : -1;
    else if (!strcmp(cmd, "formats"))
        cls = 2;
    else if (!strcmp(cmd, "target"))
        list = word == 1 ? words_target : NULL;
    else if (!strcmp(cmd, "group"))
        list = word == 1 ? words_group : word == 2 ? words_onoff : NULL;
    else if (!strcmp(cmd, "score"))
        list = word == 1 ? words_score : word == 2 ? words_methods : NULL;
    else if (!strcmp(cmd, "method"))
        list = word == 1 ? words_method : NULL;
    else if (!strcmp(cmd, "anneal"))
        list = word == 1 ? words_anneal : NULL;
    else if (!strcmp(cmd, "export") && word >= 2)
        list = !strcmp(prev, "--to") ? words_to : words_export;
    size_t tl = strlen(text);
    int seen = 0;
    for (int i = 0;; i++) {
        const char *c = cls >= 0 ? class_at(wb, cls, i) : list ? list_at(list, i) : NULL;
        if (!c)
            return NULL;
        if (!strncmp(c, text, tl) && seen++ == state)
            return c;
    }
}

static int cl_word_index;

static char *cl_generator(const char *text, int state)
{
    const char *c = ui_cmdline_candidate(cl_wb, rl_line_buffer, cl_word_index, text, state);
    return c ? strdup(c) : NULL;
}

static char **cl_complete(const char *text, int start, int end)
{
    (void)end;
    char head[4096];
    snprintf(head, sizeof head, "%.*s", start, rl_line_buffer);
    char words[UI_CMD_MAXARGS + 1][UI_CMD_ARGLEN];
    int n = ui_cmd_split(head, words, UI_CMD_MAXARGS + 1);
    /* `formats a,b,<Tab>`: the comma is a word break, so the word stays the same */
    cl_word_index = n < 0 ? 0 : n;
    char cmd[64] = "";
    sscanf(rl_line_buffer, "%63s", cmd);
    if (cl_word_index == 1 && (!strcmp(cmd, "export") || !strcmp(cmd, "load-scores")))
        return NULL; /* readline's filename completion */
    if (!strcmp(cmd, "formats") && cl_word_index > 1)
        cl_word_index = 1;
    rl_attempted_completion_over = 1;
    cl_hint[0] = '\0';
    return rl_completion_matches(text, cl_generator);
}

/* ---- history ---- */

void ui_cmdline_init(const ui_wb *wb)
{
    cl_wb = wb;
    rl_readline_name = "mxalloc";
    rl_catch_signals = 0;
    rl_catch_sigwinch = 0;
    rl_change_environment = 0;
    rl_getc_function = cl_getc;
    rl_input_available_hook = cl_input_available;
    rl_redisplay_function = cl_redisplay;
    rl_prep_term_function = cl_prep;
    rl_deprep_term_function = cl_deprep;
    rl_attempted_completion_function = cl_complete;
    rl_completion_display_matches_hook = cl_display_matches;
    rl_completer_word_break_characters = " \t,";
    if (!cl_null)
        cl_null = fopen("/dev/null", "w");
    if (cl_null)
        rl_outstream = cl_null;
    rl_variable_bind("bell-style", "none");
    rl_variable_bind("horizontal-scroll-mode", "on");
    using_history();
    stifle_history(1000);
    if (ui_data_path("history", cl_hist_path, sizeof cl_hist_path) == 0)
        read_history(cl_hist_path);
    else
        cl_hist_path[0] = '\0';
}

void ui_cmdline_shutdown(void)
{
    if (cl_active) {
        rl_callback_handler_remove();
        cl_active = 0;
    }
    if (cl_hist_path[0])
        history_truncate_file(cl_hist_path, 1000); /* lines were appended as they came */
    clear_history();
    if (cl_null) {
        rl_outstream = NULL;
        fclose(cl_null);
        cl_null = NULL;
    }
}

void ui_cmdline_begin(WINDOW *win, const char *init)
{
    cl_win = win;
    cl_done = 0;
    cl_line = NULL;
    cl_npending = 0;
    cl_hint[0] = '\0';
    cl_active = 1;
    rl_callback_handler_install("", cl_line_handler);
    if (init)
        rl_insert_text(init);
    cl_redisplay();
}

int ui_cmdline_active(void)
{
    return cl_active;
}

const char *ui_cmdline_hint(void)
{
    return cl_hint;
}

void ui_cmdline_redraw(void)
{
    if (cl_active)
        cl_redisplay();
}

static void push(const char *s)
{
    while (*s && cl_npending < (int)sizeof cl_pending)
        cl_pending[cl_npending++] = (unsigned char)*s++;
}

static void finish(void)
{
    rl_callback_handler_remove();
    cl_active = 0;
}

int ui_cmdline_feed(int key, char **line)
{
    *line = NULL;
    if (!cl_active)
        return -1;
    if (key == 27 || key == 3) { /* Esc, Ctrl-C: abandon the line */
        finish();
        return -1;
    }
    switch (key) {
    case KEY_LEFT: push("\033[D"); break;
    case KEY_RIGHT: push("\033[C"); break;
    case KEY_UP: push("\033[A"); break;
    case KEY_DOWN: push("\033[B"); break;
    case KEY_HOME: push("\001"); break;
    case KEY_END: push("\005"); break;
    case KEY_DC: push("\004"); break;
    case KEY_BACKSPACE: case 8: push("\177"); break;
    case KEY_ENTER: push("\r"); break;
    default:
        if (key >= 0 && key < 256) {
            char c[2] = {(char)key, 0};
            if (key == 0)
                return 0;
            push(c);
        } else {
            return 0; /* other function keys, mouse, resize: not for readline */
        }
    }
    while (cl_npending > 0 && !cl_done)
        rl_callback_read_char();
    if (!cl_done)
        return 0;
    cl_npending = 0;
    finish();
    if (!cl_line)
        return -1;
    if (cl_line[0]) {
        add_history(cl_line);
        if (cl_hist_path[0])
            if (append_history(1, cl_hist_path))
                write_history(cl_hist_path); /* first run: no file to append to */
    }
    *line = cl_line;
    return 1;
}
