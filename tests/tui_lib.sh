# Shared helpers for the tmux-driven workbench tests (sourced, not run).
# Each test gets its own tmux server (-L) so nothing touches the user's tmux.
# The binary and the data: tests/cli_lib.sh (beside the test, like this file).
. "$(dirname "$0")/cli_lib.sh"
FAKE_SCORES=${UI_FAKE_SCORES:-"$(dirname "$BIN")/tests/ui_fake_scores"}

# fail MESSAGE: like cli_lib's, with the screen of the tmux session if any
fail() {
    echo "FAIL: $*" >&2
    if [ -n "${SOCK:-}" ]; then
        echo "---- screen ----" >&2
        tmux -L "$SOCK" capture-pane -p -t w >&2 2>/dev/null
    fi
    exit 1
}

need_data() { need_files "not found" "$MODEL" "$TOKZ" "$TEXT"; }

need_tmux() {
    command -v tmux >/dev/null 2>&1 || { echo "SKIP: tmux not installed"; exit 77; }
}

# A temp dir with private XDG homes (history, cache) and a score file.
setup_tmp() {
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/mxalloc-tui.XXXXXX") || exit 1
    SOCK="mxtui$$"
    trap 'tmux -L "$SOCK" kill-server 2>/dev/null; rm -rf "$tmp"' EXIT
    export XDG_DATA_HOME="$tmp/data" XDG_CACHE_HOME="$tmp/cache"
}

# Synthetic scores for the real model (see tests/ui_fake_scores.c).
make_scores() {
    [ -x "$FAKE_SCORES" ] || fail "$FAKE_SCORES not built (make check builds it)"
    "$FAKE_SCORES" "$MODEL" "$tmp/s.scores" "$TOKZ" "$TEXT" || fail "cannot write the score file"
}

# start COLS ROWS: a shell in a detached tmux session named w.
start_shell() {
    tmux -L "$SOCK" -f /dev/null new-session -d -s w -x "$1" -y "$2" \
        "env -u TMUX PS1='tui\$ ' TERM=xterm-256color LANG=C.UTF-8 LC_ALL=C.UTF-8 XDG_DATA_HOME='$XDG_DATA_HOME' XDG_CACHE_HOME='$XDG_CACHE_HOME' sh" ||
        fail "tmux new-session"
    tmux -L "$SOCK" set-option -t w -g status off >/dev/null 2>&1
    wait_for 'tui\$' 20
}

keys() { tmux -L "$SOCK" send-keys -t w "$@"; }
# type a literal string
typ() { tmux -L "$SOCK" send-keys -t w -l "$1"; }
screen() { tmux -L "$SOCK" capture-pane -p -t w; }

# poll SECONDS WHAT CMD...: run CMD every 0.1 s until it succeeds; after
# SECONDS fail with "timed out waiting for WHAT".
poll() {
    n=$(( $1 * 10 )) what=$2; shift 2
    while [ "$n" -gt 0 ]; do
        "$@" && return 0
        sleep 0.1
        n=$((n - 1))
    done
    fail "timed out waiting for $what"
}
screen_has() { screen | grep -Eq -- "$1"; }
screen_lacks() { ! screen_has "$1"; }

# wait_for REGEX [SECONDS]: poll the screen until a line matches.
wait_for() { poll "${2:-20}" "/$1/" screen_has "$1"; }
# wait_gone REGEX [SECONDS]
wait_gone() { poll "${2:-20}" "/$1/ to go away" screen_lacks "$1"; }
# wait_file FILE [SECONDS]: until FILE is not empty
wait_file() { poll "${2:-20}" "file $1" test -s "$1"; }

# The workbench command line for the real model and the temp scores; its
# pid lands in $tmp/pid (exec keeps it), so signals reach exactly that process.
wb_cmd() {
    printf "sh -c 'echo \$\$ > \"%s/pid\"; exec \"\$0\" \"\$@\"' '%s' '%s' --tokenizer '%s' --text '%s' --scores '%s' --eval-tokens 2048; echo EXIT=\$?" \
        "$tmp" "$BIN" "$MODEL" "$TOKZ" "$TEXT" "$tmp/s.scores"
}

# start_wb COLS ROWS: the usual start of a test: skip without tmux or the data,
# a temp dir with synthetic scores, a COLSxROWS shell that printed MARK-BEFORE
# (check_restored looks for it), the workbench in it, its first screen drawn.
start_wb() {
    need_tmux
    need_data
    setup_tmp
    make_scores
    start_shell "$1" "$2"
    typ "echo MARK-BEFORE"; keys Enter
    typ "$(wb_cmd)"; keys Enter
    wait_for 'sensitivity' 20
}

# After the workbench quit: the shell is back, the terminal sane.
check_restored() {
    wait_for 'EXIT=[0-9]' 20  # not the typed command's own "EXIT=$?"
    typ "stty -a > '$tmp/stty.txt'; echo STTY-DONE"; keys Enter
    wait_for '^STTY-DONE' 20
    grep -Eq '(^| )icanon( |$)' "$tmp/stty.txt" || fail "terminal left without icanon: $(cat "$tmp/stty.txt")"
    grep -Eq '(^| )echo( |$)' "$tmp/stty.txt" || fail "terminal left without echo"
    grep -Eq '(^| )isig( |$)' "$tmp/stty.txt" || fail "terminal left without isig"
    grep -Eq '(^| )icrnl( |$)' "$tmp/stty.txt" || fail "terminal left without icrnl"
    # the alternate screen was left: the shell's earlier lines are visible again
    screen | grep -q 'MARK-BEFORE' || fail "the screen before the workbench was not restored"
}
