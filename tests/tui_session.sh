#!/bin/sh
# The session is kept per score file (tmux, the real model): budget, pins,
# formats, groups and kept candidates (with which one is current) set in one
# run are there when the workbench opens the same scores again, and the replay is not an edit to undo. Script mode
# neither reads nor writes it (scripts stay reproducible).
. "$(dirname "$0")/tui_lib.sh"
start_wb 100 30
keys : ; typ "budget 5.5"; keys Enter
wait_for '\] +5\.50 b$' 10
keys : ; typ "pin 2.down mxfp8_e4m3"; keys Enter
keys : ; typ "group qkv on"; keys Enter
keys : ; typ "status"; keys Enter
wait_for 'groups qkv' 10
keys : ; typ "budget 6"; keys Enter
keys : ; typ "keep six"; keys Enter
wait_for 'kept six' 10
keys : ; typ "budget 5.5"; keys Enter
keys : ; typ "keep mine"; keys Enter
wait_for 'kept mine' 10
keys : ; typ "use mine"; keys Enter
wait_for 'current allocation: mine' 10
keys : ; typ "eval"; keys Enter
wait_for 'eval: avg_bits' 60
keys q
check_restored
ls "$XDG_DATA_HOME"/mxalloc/sessions/* > /dev/null 2>&1 || fail "no session file written"
grep -q '^pin model.layers.2.mlp.down_proj mxfp8_e4m3$' "$XDG_DATA_HOME"/mxalloc/sessions/* || fail "the pin is not in the session"

grep -q '^#candidate six [^ ]* [a-z0-9+]*,' "$XDG_DATA_HOME"/mxalloc/sessions/* || fail "no candidate in the session"

typ "clear; $(wb_cmd)"; keys Enter
wait_for 'the last session of these scores: budget 5\.50, 1 pin, 2 candidates' 20
wait_for '\] +5\.50 b$' 10
keys : ; typ "cands"; keys Enter
wait_for 'mine \(current\) avg_bits 5\.[45].* measured_ppl [0-9]' 10
keys : ; typ "use six"; keys Enter
wait_for 'current allocation: six' 10
keys : ; typ "status"; keys Enter
wait_for 'groups qkv' 10
keys U
wait_for 'nothing to undo' 10
keys q
wait_for 'EXIT=0' 20

# Script mode: the defaults, whatever the session says.
printf 'status\nshow 2.down\n' > "$tmp/s.txt"
"$BIN" "$MODEL" --tokenizer "$TOKZ" --text "$TEXT" --scores "$tmp/s.scores" --script "$tmp/s.txt" > "$tmp/out" 2>&1 ||
    fail "script failed"
grep -q 'groups none' "$tmp/out" || fail "script mode took the session's groups"
grep -q '(pinned)' "$tmp/out" && fail "script mode took the session's pin"
echo "ok: the session comes back with the same scores; scripts ignore it"
