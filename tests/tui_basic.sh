#!/bin/sh
# The workbench in a real terminal (tmux, 100x30): open the model with a score
# file, move the budget, see average bits and projected perplexity change, pin
# a module, export a config, show help, a bad command, quit; the terminal is
# restored. Skips without tmux or the data.
. "$(dirname "$0")/tui_lib.sh"
start_wb 100 30
wait_for 'proj ppl [0-9.]+ \([+-][0-9.]+% vs fp32\)  [+-][0-9.]+% vs mx' 20
# the plot's references: fp32's level on the axis, the measured uniform formats
screen_has '^│  fp32 >' || fail "no fp32 reference on the Pareto plot"
screen_has '4 6 8 i uniform' || fail "the plot's title lacks the uniform marks"
screen | grep -q 'model.layers.0.self_attn.q_proj' || fail "no module info under the cursor"
screen | grep -Eq '│ +0 ' || fail "no heatmap rows"

# Budget: -> moves 0.05 bits, PgUp 0.5; the numbers follow.
before=$(screen | grep -E '^ilp +avg ')
b0=$(screen | sed -n 's/.*\] *\([0-9.]*\) b$/\1/p' | head -1)
keys PPage
wait_for '\] +6\.50 b' 10
keys Right Right
wait_for '\] +6\.60 b' 10
after=$(screen | grep -E '^ilp +avg ')
[ "$before" != "$after" ] || fail "budget moved but avg bits / ppl line did not change: $after"
echo "$after" | grep -Eq 'avg [0-9.]+ b/w .*proj ppl [0-9.]+ ' || fail "bad numbers line: $after"
keys NPage NPage
wait_for '\] +5\.60 b' 10
keys Left
wait_for '\] +5\.55 b' 10
screen | grep -Eq 'solve [0-9.]+ ms' || fail "no solve time in the status line"

# Assigned-format view and pin: cursor to layer 2, k; pin to the third candidate.
keys a
wait_for 'allocation' 10
keys j j l
wait_for 'model.layers.2.self_attn.k_proj' 10
keys p
wait_for 'pin to: 1 fp32 2 bf16 3 e4m3' 10
keys 3
wait_for 'format mxfp8_e4m3 +\(pinned\)' 10
screen | grep -Eq 'e4m3!' || fail "pinned cell not marked"

# Export through the command line; the JSON has the pin and the formats.
keys :
typ "export $tmp/out.json"; keys Enter
wait_file "$tmp/out.json" 10
grep -q '"model.layers.2.self_attn.k_proj": "mxfp8_e4m3"' "$tmp/out.json" || fail "export lacks the pinned format"
grep -q '"pins"' "$tmp/out.json" || fail "export lacks pins"
n=$(grep -c '"model.layers.[0-9]*\.[a-z_]*\.[a-z_]*": "' "$tmp/out.json")
[ "$n" -ge 35 ] || fail "export lists $n formats, expected 35 (+pins)"
grep -q '"budget_bits": 5.55' "$tmp/out.json" || fail "export has the wrong budget: $(grep budget "$tmp/out.json")"
wait_for 'exported' 10

# Unpin with u: the marker goes.
keys u
wait_for 'unpinned model.layers.2.self_attn.k_proj' 10
screen | grep -q '(pinned)' && fail "still pinned after u"

# A bad command: an error in the status line, the screen intact.
keys :
typ "frobnicate 12"; keys Enter
wait_for "unknown command 'frobnicate'" 10
screen | grep -q 'allocation' || fail "screen garbled after a bad command"
keys :
typ "budget zero"; keys Enter
wait_for "'zero' is not a positive number" 10

# Help overlay: longer than this terminal, so it scrolls; any other key closes it.
keys '?'
wait_for 'help (\(any key closes\)|1-[0-9]+ of [0-9]+)' 10
screen | grep -q 'budget -0.05 bits' || fail "help lacks the keys"
keys End
wait_for 'load-scores FILE' 10
keys x
wait_gone 'load-scores FILE' 10

# Eval in the background: progress, then measured beside projected.
keys e
wait_for 'measured [0-9.]+' 30
screen | grep -q 'Pareto: projected ppl' || fail "no Pareto plot of projected ppl"
# the measured point is drawn with its score method's letter, the band's width beside
# (the fake scores' kl fit on their uniform formats: a band of a few percent)
screen_has '^│ +[0-9.]+ b  measured k kl  \.\. band \+-[0-9.]+%' || fail "no legend of the measured point and the band"
wait_for 'eval: avg_bits' 10

# Scoring in the background (minutes on this model): the screen stays live,
# Esc cancels it and nothing is written.
keys :
typ "score"; keys Enter
wait_for '^score \[' 20
keys Right
wait_for '\] +5\.60 b' 10
keys Escape
wait_for 'score cancelled; no score file written' 30
ls "$XDG_CACHE_HOME/mxalloc/"*.scores >/dev/null 2>&1 && fail "a cancelled score run left a file"

keys q
check_restored
screen | grep -q 'EXIT=0' || fail "workbench exit status not 0"
# the command history survived
[ -s "$XDG_DATA_HOME/mxalloc/history" ] || fail "no history file"
grep -q 'frobnicate 12' "$XDG_DATA_HOME/mxalloc/history" || fail "history lacks the commands"
echo "ok"
