/* Signal-safe terminal restore. The only global mutable state of the UI lives
 * here, because signal handlers can reach nothing else. */
#include "ui/ui_term.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static struct termios saved_tio;
static volatile sig_atomic_t have_tio;
static volatile sig_atomic_t quit_sig;
static int quit_pipe[2] = {-1, -1};

static const int fatal_sigs[] = {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL};
static const int quit_sigs[] = {SIGINT, SIGTERM, SIGHUP};
#define N_FATAL (int)(sizeof fatal_sigs / sizeof fatal_sigs[0])
#define N_QUIT (int)(sizeof quit_sigs / sizeof quit_sigs[0])
static struct sigaction old_fatal[N_FATAL], old_quit[N_QUIT];
static int installed;

void ui_term_restore(void)
{
    /* mouse off, attributes off, cursor on, leave the alternate screen */
    static const char seq[] = "\033[?1006l\033[?1002l\033[?1000l\033[0m\033[?25h\033[?1049l\r\n";
    ssize_t r = write(STDOUT_FILENO, seq, sizeof seq - 1);
    (void)r;
    if (have_tio)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
}

static void on_fatal(int sig)
{
    int saved = errno;
    ui_term_restore();
    signal(sig, SIG_DFL);
    errno = saved;
    raise(sig);
}

static void on_quit(int sig)
{
    int saved = errno;
    quit_sig = sig;
    if (quit_pipe[1] >= 0) {
        ssize_t r = write(quit_pipe[1], "q", 1);
        (void)r;
    }
    errno = saved;
}

int ui_term_install(void)
{
    if (installed)
        return 0;
    if (tcgetattr(STDIN_FILENO, &saved_tio) == 0)
        have_tio = 1;
    if (pipe(quit_pipe))
        return -1;
    for (int i = 0; i < 2; i++) {
        fcntl(quit_pipe[i], F_SETFL, fcntl(quit_pipe[i], F_GETFL) | O_NONBLOCK);
        fcntl(quit_pipe[i], F_SETFD, FD_CLOEXEC);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_fatal;
    sa.sa_flags = SA_RESETHAND;
    for (int i = 0; i < N_FATAL; i++)
        sigaction(fatal_sigs[i], &sa, &old_fatal[i]);
    sa.sa_handler = on_quit;
    sa.sa_flags = 0; /* no SA_RESTART: poll() returns EINTR at once */
    for (int i = 0; i < N_QUIT; i++)
        sigaction(quit_sigs[i], &sa, &old_quit[i]);
    installed = 1;
    return 0;
}

int ui_term_quit_fd(void)
{
    return quit_pipe[0];
}

int ui_term_quit_signal(void)
{
    return quit_sig;
}

void ui_term_uninstall(void)
{
    if (!installed)
        return;
    for (int i = 0; i < N_FATAL; i++)
        sigaction(fatal_sigs[i], &old_fatal[i], NULL);
    for (int i = 0; i < N_QUIT; i++)
        sigaction(quit_sigs[i], &old_quit[i], NULL);
    close(quit_pipe[0]);
    close(quit_pipe[1]);
    quit_pipe[0] = quit_pipe[1] = -1;
    installed = 0;
}
