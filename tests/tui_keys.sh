#!/bin/sh
# The keys users bring from htop, ncdu and vim (tmux, 100x30, the real model):
# Home/End and g/G jump to the first/last layer, / n N find modules, U undoes and Ctrl-R redoes, F1 is help, F10 quits, q
# with a running job asks first (another key disarms it), Ctrl-Z hands the
# terminal back to the shell and fg resumes the workbench as it was.
. "$(dirname "$0")/tui_lib.sh"
start_wb 100 30
wait_for 'model.layers.0.self_attn.q_proj' 10

# End / Home, G / g: the module under the cursor follows.
keys End
wait_for 'model.layers.4.self_attn.q_proj' 10
keys Home
wait_for 'model.layers.0.self_attn.q_proj' 10
keys G
wait_for 'model.layers.4.self_attn.q_proj' 10
keys g
wait_for 'model.layers.0.self_attn.q_proj' 10

# F1: the help box, listing the new keys.
keys F1
wait_for 'help (\(any key closes\)|1-[0-9]+ of [0-9]+)' 10
screen | grep -q 'first layer' || fail "help lacks Home/g"
screen | grep -q 'suspend (fg resumes)' || fail "help lacks C-z"
keys x
wait_gone 'first layer' 10

# Ctrl-Z: the shell is back (the workbench stopped, the screen restored),
# fg: the workbench again, with its state. The shell prints the stopped
# command's EXIT= at once; fg's own status is FG-EXIT=.
keys C-z
wait_for 'MARK-BEFORE' 10
wait_gone 'sensitivity' 10
typ 'fg; echo FG-EXIT=$?'; keys Enter
wait_for 'sensitivity' 10
wait_for 'model.layers.0.self_attn.q_proj' 10

# A click on the Pareto plot sets the budget of that column: its right end is
# the plot's top budget, its left end the lowest (SGR mouse reports, 1-based).
row=$(screen | grep -n 'Pareto' | head -1 | cut -d: -f1)
[ -n "$row" ] || fail "no Pareto plot"
# (the legend of the measured points and the band stands between them)
ends=$(screen | sed -n 's/^│ *\([0-9.][0-9.]*\) b.* \([0-9.][0-9.]*\) b│$/\1 \2/p' | tail -1)
[ -n "$ends" ] || fail "no bits labels under the plot"
budget() { screen | sed -n 's/^budget \[.*\] *\([0-9.]*\) b$/\1/p'; }
# near BITS: the budget is within one plot column (89 of them) of BITS
near() { echo "$(budget) $1 $ends" | awk '{ d = $1 - $2; if (d < 0) d = -d; exit !(d <= ($4 - $3) / 89 + 0.002) }'; }
click() { typ "$(printf '\033[<0;%d;%dM\033[<0;%d;%dm' "$1" $((row + 2)) "$1" $((row + 2)))"; }
click 99
poll 10 "the budget at the plot's right end" near "${ends#* }"
click 11
poll 10 "the budget at the plot's left end" near "${ends% *}"
# U undoes edits one by one (the clicks, back to the starting 6.00), Ctrl-R redoes.
keys U
poll 10 "undo back to the right end" near "${ends#* }"
keys U
wait_for '\] +6\.00 b$' 10
wait_for 'undo: budget 6\.00 \(0 more to undo, 2 to redo\)' 10
keys U
wait_for 'nothing to undo' 10
keys C-r
poll 10 "redo to the right end" near "${ends#* }"

# / finds a module by name (case-insensitive), n / N the next / previous match.
keys /
wait_for '^:find' 10
typ "DOWN"; keys Enter
wait_for "find 'DOWN': model.layers.0.mlp.down_proj \(1 of 5" 10
keys n
wait_for 'model.layers.1.mlp.down_proj \(2 of 5' 10
keys N N
wait_for 'model.layers.4.mlp.down_proj \(5 of 5' 10
wait_for '│ model.layers.4.mlp.down_proj +│' 10
keys /
typ "nosuch"; keys Enter
wait_for "find: no module name contains 'nosuch'" 10

# q while scoring runs: a warning, not an exit; another key disarms it.
keys :
typ "score"; keys Enter
wait_for '^score \[' 20
keys q
wait_for 'q again quits \(job lost\)' 10
keys Right
keys q
wait_for 'q again quits \(job lost\)' 10
screen | grep -q 'EXIT=' && fail "q quit while a job ran"
keys F10
wait_for 'FG-EXIT=[0-9]' 20
check_restored
screen | grep -q 'FG-EXIT=0' || fail "workbench exit status not 0"
echo "ok"
