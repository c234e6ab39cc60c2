#!/bin/sh
# The workbench at 80x24: every pane fits (the plot shrinks), nothing wraps;
# a resize (SIGWINCH) reflows the layout; too small a terminal says so; the
# terminal is restored after SIGTERM. Skips without tmux or the data.
. "$(dirname "$0")/tui_lib.sh"
start_wb 80 24
s=$(screen)
echo "$s" | grep -q 'module' || fail "no module pane at 80x24"
echo "$s" | grep -Eq '^budget \[' || fail "no budget bar at 80x24"
echo "$s" | grep -Eq '^ilp +avg [0-9.]+ b/w' || fail "no numbers line at 80x24"
echo "$s" | grep -Eq '│ +4 ' || fail "not every layer visible at 80x24"
echo "$s" | grep -q 'Pareto' || fail "no Pareto pane at 80x24"
echo "$s" | grep -Eq 'solve [0-9.]+ ms' || fail "no status line at 80x24"
[ "$(echo "$s" | wc -l)" -le 24 ] || fail "more than 24 lines"
# whole format labels in the assigned view (not e2 for both e2m1 and e2m3); the
# module's name shows its end when it does not fit; the measurement is on screen
keys a
wait_for '│ +0 (e[0-9]m[0-9]|int8|fp32|bf16) ' 10
screen_has '│ ~.*layers\.0\.self_attn\.q_proj │$' || fail "the module pane lost the end of the module's name"
keys e
wait_for '\(\+[0-9.]+% vs fp32\)  measured [0-9.]+' 30
keys a
# the right border of the info pane is in the last column: nothing wrapped
echo "$s" | sed -n 5p | grep -Eq '│$' || fail "info pane does not end at column 80"

# Grow: the layout reflows to the new width.
tmux -L "$SOCK" resize-window -t w -x 120 -y 40
wait_for '^budget \[.{100,}\] +[0-9.]+ b$' 10
# Too small: a message instead of a garbled screen; back to normal after.
tmux -L "$SOCK" resize-window -t w -x 50 -y 10
wait_for 'terminal too small' 10
tmux -L "$SOCK" resize-window -t w -x 80 -y 24
wait_for 'sensitivity' 10

# Monochrome-safe encoding: the score view uses distinct characters per bin.
screen | grep -Eq '│ +0 (#|\*|=)' || fail "score bins not drawn with characters"

# SIGTERM: the workbench leaves, the terminal is sane.
pid=$(cat "$tmp/pid")
[ -n "$pid" ] || fail "no pid file"
kill -TERM "$pid"
check_restored
screen | grep -q 'EXIT=143' || fail "SIGTERM: expected exit status 143"

# A fatal signal: the handler restores the terminal, then the default action.
# (clear the screen first: the old EXIT=143 must not satisfy the wait below)
typ "printf '\\033[H\\033[2J'; echo MARK-BEFORE"; keys Enter
wait_gone 'EXIT=143' 10
typ "$(wb_cmd)"; keys Enter
wait_for 'sensitivity' 20
kill -SEGV "$(cat "$tmp/pid")"
wait_for 'EXIT=139' 20
check_restored
screen | grep -q 'EXIT=139' || fail "SIGSEGV: expected exit status 139 (re-raised)"
echo "ok"
