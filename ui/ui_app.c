/* The curses workbench: the event loop. Keys go through the binding table
 * (ui_keys.c), whose actions change the state (ui_ctl.c) and say what must
 * be redone; the loop re-solves and updates the cached views (ui_ctl_apply),
 * then the panes (ui_pane_*.c) draw. Every number shown comes from ui_wb /
 * ui_state (the library), never from here. */
#include <langinfo.h>
#include <locale.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/clock.h"
#include "kernels/tf.h"
#include "ui/ui_app.h"
#include "ui/ui_cmdline.h"
#include "ui/ui_progress.h"
#include "ui/ui_term.h"

static void relayout(ui_app *a)
{
    int rows, cols;
    getmaxyx(stdscr, rows, cols);
    /* the list wants one row a module plus its header and legend (the grid: 5 around its layers) */
    int want = a->list_view ? a->wb->st.t.n_modules - 1 : a->n_layers;
    ui_layout_compute(rows, cols, want, TF_NLIN, a->wb->search.n > 0, &a->lay);
    ui_ctl_scroll(a);
    if (a->cmdwin)
        delwin(a->cmdwin);
    a->cmdwin = NULL;
    if (ui_rect_visible(&a->lay.cmd))
        a->cmdwin = newwin(1, a->lay.cmd.w, a->lay.cmd.y, a->lay.cmd.x);
    else
        a->cmdwin = newwin(1, cols > 0 ? cols : 1, rows > 0 ? rows - 1 : 0, 0);
    if (a->cmdwin) {
        keypad(a->cmdwin, TRUE);
        nodelay(a->cmdwin, TRUE); /* the loop poll()s; getch must never block */
    }
}

static void draw(ui_app *a)
{
    erase();
    if (a->lay.too_small) {
        mvprintw(0, 0, "terminal too small: need %dx%d", UI_MIN_COLS, UI_MIN_ROWS);
        ui_pane_status(a);
    } else {
        ui_pane_title(a);
        ui_pane_budget(a);
        if (a->list_view)
            ui_pane_list(a);
        else
            ui_pane_heat(a);
        ui_pane_info(a);
        ui_pane_pareto(a);
        ui_pane_search(a);
        ui_pane_status(a);
        if (a->mode == UI_MODE_HELP)
            ui_pane_help(a);
        if (a->mode == UI_MODE_SAMPLE)
            ui_pane_sample(a);
    }
    wnoutrefresh(stdscr);
    if (a->mode == UI_MODE_COMMAND) {
        curs_set(1);
        ui_cmdline_redraw();
    } else {
        curs_set(0);
        ui_pane_hints(a);
    }
    doupdate();
}

/* The terminal's part of the redo bits (the rest is ui_ctl_apply's);
 * returns 1 to quit. */
static int redo_terminal(ui_app *a, unsigned redo)
{
    if (redo & UI_REDO_LAYOUT)
        relayout(a);
    if (redo & UI_REDO_CLEAR)
        clearok(curscr, TRUE);
    return (redo & UI_REDO_QUIT) != 0;
}

static void init_colors(ui_app *a)
{
    a->color = has_colors() && !getenv("NO_COLOR");
    if (!a->color)
        return;
    start_color();
    use_default_colors();
    /* cool -> hot; on 256-colour terminals a smoother ramp */
    static const short c8[UI_NBINS] = {COLOR_BLUE, COLOR_CYAN, COLOR_GREEN, COLOR_YELLOW, COLOR_MAGENTA, COLOR_RED};
    static const short c256[UI_NBINS] = {24, 37, 71, 178, 208, 160};
    for (int b = 0; b < UI_NBINS; b++)
        init_pair((short)(UI_PAIR_BIN0 + b), COLOR_BLACK, COLORS >= 256 ? c256[b] : c8[b]);
    init_pair(UI_PAIR_TITLE, COLOR_WHITE, COLOR_BLUE);
    init_pair(UI_PAIR_ERR, COLOR_RED, -1);
    init_pair(UI_PAIR_OK, COLOR_GREEN, -1);
    init_pair(UI_PAIR_CURVE, COLOR_CYAN, -1);
    init_pair(UI_PAIR_MEAS, COLOR_YELLOW, -1);
    init_pair(UI_PAIR_CUR, COLOR_RED, -1);
}

int ui_app_run(ui_wb *wb)
{
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        fprintf(stderr, "mxalloc: the workbench needs a terminal (use --script FILE otherwise)\n");
        return 1;
    }
    setlocale(LC_ALL, "");
    ui_app a;
    memset(&a, 0, sizeof a);
    a.wb = wb;
    a.n_layers = wb->m.cfg.n_layers > 0 ? wb->m.cfg.n_layers : 1;
    a.mod_at = malloc((size_t)a.n_layers * TF_NLIN * sizeof *a.mod_at);
    if (!a.mod_at) {
        fprintf(stderr, "mxalloc: out of memory\n");
        return 1;
    }
    const char *cs = nl_langinfo(CODESET);
    a.utf8 = cs && (!strcmp(cs, "UTF-8") || !strcmp(cs, "utf8"));
    ui_ctl_build_index(&a);
    if (!ui_state_has_scores(&wb->st))
        a.view_fmt = MX_FP32;
    wb->msg = ui_ctl_msg;
    wb->msg_user = &a;
    wb->interactive = 1;
    wb->st.time_limit_s = 0.04; /* key-to-screen under ~50 ms; the gap is shown when hit */

    if (ui_term_install()) {
        free(a.mod_at);
        fprintf(stderr, "mxalloc: cannot install signal handlers\n");
        return 1;
    }
    if (!getenv("ESCDELAY"))
        set_escdelay(25);
    if (!initscr()) {
        ui_term_uninstall();
        free(a.mod_at);
        return 1;
    }
    raw();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    /* tmux and screen send these for Home/End whatever TERM's terminfo says. */
    static const struct { const char *seq; int key; } extra_keys[] = {
        {"\033[1~", KEY_HOME}, {"\033[4~", KEY_END}, {"\033[H", KEY_HOME},
        {"\033[F", KEY_END},   {"\033OH", KEY_HOME}, {"\033OF", KEY_END},
    };
    for (size_t i = 0; i < sizeof extra_keys / sizeof extra_keys[0]; i++)
        define_key(extra_keys[i].seq, extra_keys[i].key);
    nodelay(stdscr, TRUE);
    mousemask(ALL_MOUSE_EVENTS | REPORT_MOUSE_POSITION, NULL);
    mouseinterval(0);
    init_colors(&a);
    ui_cmdline_init(wb);
    relayout(&a);
    /* First run on this model and text: no scores to show, so start computing
     * the fastest kind (fisher, seconds) at once; S adds kl after. */
    if (!ui_state_has_scores(&wb->st) && wb->tokens && !wb->opts.scores_path &&
        ui_wb_exec_line(wb, "score --method fisher") == 0)
        snprintf(wb->scores_hint, sizeof wb->scores_hint,
                 "first run: computing fisher scores, the fastest kind (S computes kl after)");
    if (wb->scores_hint[0])
        ui_ctl_msg(&a, UI_MSG_INFO, wb->scores_hint);
    if (ui_wb_session_restore(wb) > 0) {
        int pins = 0;
        for (int i = 0; i < wb->st.t.n_modules; i++)
            pins += wb->st.pin[i] >= 0;
        char msg[160];
        snprintf(msg, sizeof msg, "the last session of these scores: budget %.2f, %d pin%s, %d candidate%s "
                 "(U undoes edits from here)", wb->st.budget, pins, pins == 1 ? "" : "s", wb->st.n_cand,
                 wb->st.n_cand == 1 ? "" : "s");
        ui_ctl_msg(&a, UI_MSG_INFO, msg);
    }
    ui_ctl_apply(&a, UI_REDO_DRAW);
    draw(&a);

    int quit = 0, had_scores = ui_state_has_scores(&wb->st);
    while (!quit) {
        struct pollfd p[3] = {{STDIN_FILENO, POLLIN, 0}, {ui_queue_fd(&wb->q), POLLIN, 0}, {ui_term_quit_fd(), POLLIN, 0}};
        int r = poll(p, 3, wb->job.kind != UI_JOB_NONE ? 250 : -1);
        if (ui_term_quit_signal())
            break;
        int dirty = r == 0;
        if (r > 0 && (p[0].revents & (POLLHUP | POLLERR)))
            break;
        /* Keys (and KEY_RESIZE after SIGWINCH interrupted poll). */
        int ch;
        while (!quit && (ch = wgetch(a.mode == UI_MODE_COMMAND && a.cmdwin ? a.cmdwin : stdscr)) != ERR) {
            if (!a.t_key)
                a.t_key = 1e3 * clock_now_s();
            unsigned redo = ui_ctl_apply(&a, ui_keys_dispatch(&a, ch));
            quit = redo_terminal(&a, redo);
            dirty = 1;
        }
        ui_event ev;
        while (ui_queue_pop(&wb->q, &ev)) {
            int kind = ev.kind, job = ev.job;
            int code = ui_wb_handle_event(wb, &ev);
            unsigned redo = UI_REDO_DRAW;
            if (kind == UI_EV_DONE && job == UI_JOB_GENERATE && code == 0 && a.mode == UI_MODE_NORMAL)
                a.mode = UI_MODE_SAMPLE; /* asked for: show it at once */
            if (kind == UI_EV_DONE && !had_scores && ui_state_has_scores(&wb->st)) {
                redo |= UI_REDO_INDEX; /* scores computed in the background */
                had_scores = 1;
            }
            if (kind == UI_EV_SEARCH || kind == UI_EV_DONE)
                redo |= UI_REDO_LAYOUT; /* the search panel may appear */
            redo_terminal(&a, ui_ctl_apply(&a, redo));
            dirty = 1;
        }
        if (dirty && !quit) {
            draw(&a);
            if (a.t_key) {
                a.key_ms = 1e3 * clock_now_s() - a.t_key;
                a.t_key = 0;
            }
        }
    }
    ui_cmdline_shutdown();
    if (a.cmdwin)
        delwin(a.cmdwin);
    endwin();
    ui_term_uninstall();
    mx_error se = {0};
    if (ui_wb_session_save(wb, &se))
        fprintf(stderr, "mxalloc: the session was not saved: %s\n", se.msg);
    wb->msg = ui_script_msg;
    wb->msg_user = NULL;
    wb->interactive = 0;
    wb->st.time_limit_s = 0;
    free(a.mod_at);
    free(a.list_order);
    int sig = ui_term_quit_signal();
    return sig ? 128 + sig : 0;
}
