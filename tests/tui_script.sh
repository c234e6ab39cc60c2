#!/bin/sh
# `mxalloc MODEL --script FILE`: the workbench without curses. Results on
# stdout, the first failing command stops with exit 1 and its line; usage
# errors exit 2. Skips without the data.
# tui_lib for the data and need_data (no tmux here: $SOCK stays unset)
. "$(dirname "$0")/tui_lib.sh"
make_tmp tmp mxalloc-script
export XDG_DATA_HOME="$tmp/data" XDG_CACHE_HOME="$tmp/cache"

"$BIN" tui --help >"$tmp/out" 2>&1 || fail "tui --help should exit 0"
grep -q 'usage: mxalloc tui MODEL' "$tmp/out" || fail "--help prints no usage"
"$BIN" tui >/dev/null 2>&1; [ $? -eq 2 ] || fail "tui without MODEL should exit 2"
"$BIN" tui a.bin --frobnicate >/dev/null 2>&1; [ $? -eq 2 ] || fail "unknown option should exit 2"
"$BIN" tui a.bin --eval-tokens x >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad --eval-tokens should exit 2"
"$BIN" tui "$tmp/missing.bin" --script /dev/null >/dev/null 2>"$tmp/err"; [ $? -eq 1 ] || fail "missing model should exit 1"
grep -q 'missing.bin' "$tmp/err" || fail "missing model: message does not name it"

need_data
[ -x "$FAKE_SCORES" ] || fail "$FAKE_SCORES not built"
"$FAKE_SCORES" "$MODEL" "$tmp/s.scores" "$TOKZ" "$TEXT" || fail "cannot write the score file"
run() { "$BIN" "$MODEL" --tokenizer "$TOKZ" --text "$TEXT" --eval-tokens 2048 "$@"; }

# Without scores: the hint, and commands that need them fail clearly.
printf 'budget 5\n' >"$tmp/a.txt"
run --script "$tmp/a.txt" >"$tmp/out" 2>"$tmp/err"; [ $? -eq 1 ] || fail "budget without scores should fail"
grep -q 'no scores: run `mxalloc score ...` or :load-scores FILE' "$tmp/err" || fail "no-scores hint missing: $(cat "$tmp/err")"

# A full session.
cat >"$tmp/b.txt" <<EOS
# comments and blank lines are skipped

budget 5.0
budget 6
pin 2.k mxfp8_e4m3
show 2.k
formats mxfp4_e2m1,mxfp6_e2m3,mxfp8_e4m3,fp32
group qkv on
budget 5.5
show
eval
export $tmp/cfg.json
budget 8
target llama-cpp
export $tmp/cfg3.json
export $tmp/cfg.ll --to llama-cpp
target mx
unpin all
method fisher
budget 4.5
export $tmp/cfg2.json --to json
quit
budget 99
EOS
run --scores "$tmp/s.scores" --script "$tmp/b.txt" >"$tmp/out" 2>"$tmp/err" || fail "script failed: $(cat "$tmp/err")"
grep -Eq '^budget 5\.00: avg_bits [0-9.]+ bytes [0-9]+ projected_ppl [0-9.]+ ' "$tmp/out" || fail "no budget result: $(head -3 "$tmp/out")"
grep -Eq '^budget 5\.00: .* vs_fp32 \+[0-9.]+% vs_[a-z0-9_+]+ [+-][0-9.]+% solve_ms [0-9.]+$' "$tmp/out" || fail "no comparison vs fp32 / nearest uniform"
# more bits, lower projected perplexity
p5=$(sed -n 's/^budget 5\.00: .*projected_ppl \([0-9.]*\).*/\1/p' "$tmp/out" | head -1)
p6=$(sed -n 's/^budget 6\.00: .*projected_ppl \([0-9.]*\).*/\1/p' "$tmp/out" | head -1)
awk -v a="$p5" -v b="$p6" 'BEGIN { exit !(b < a) }' || fail "projected ppl $p5 (5 bits) / $p6 (6 bits) not decreasing"
a5=$(sed -n 's/^budget 5\.00: avg_bits \([0-9.]*\).*/\1/p' "$tmp/out" | head -1)
a6=$(sed -n 's/^budget 6\.00: avg_bits \([0-9.]*\).*/\1/p' "$tmp/out" | head -1)
awk -v a="$a5" -v b="$a6" 'BEGIN { exit !(a <= 5.0 && b <= 6.0 && b > a) }' || fail "avg bits $a5 / $a6 do not follow the budget"
grep -q '^model.layers.2.self_attn.k_proj mxfp8_e4m3 (pinned)' "$tmp/out" || fail "pin not shown"
[ "$(grep -c '^model.layers' "$tmp/out")" -eq 36 ] || fail "show should list 35 modules (+1 from show 2.k)"
# groups: q, k, v of each layer share a format after `group qkv on`
awk '/^model.layers/ { split($1, p, "."); l = p[3]; k = p[5];
       if (k == "q_proj" || k == "k_proj" || k == "v_proj") { if (l in f && f[l] != $2) bad = 1; f[l] = $2 } }
     END { exit bad }' "$tmp/out" || fail "qkv group not honoured"
# formats: nothing outside the allowed list
sed -n '/^model.layers/p' "$tmp/out" | tail -35 | grep -Eq ' (bf16|mxint8|mxfp8_e5m2|mxfp6_e3m2) ' && fail "an excluded format was chosen"
grep -Eq '^eval: avg_bits [0-9.]+ measured_ppl [0-9.]+ projected_ppl [0-9.]+ \(2048 tokens\)' "$tmp/out" || fail "no eval result: $(grep eval "$tmp/out")"
grep -q '"model.layers.2.self_attn.k_proj": "mxfp8_e4m3"' "$tmp/cfg.json" || fail "export lacks the pin"
grep -q '"method": "kl"' "$tmp/cfg.json" || fail "export lacks the score method"
grep -q '"method": "fisher"' "$tmp/cfg2.json" || fail "second export lacks the method switch"
grep -q '"pins"' "$tmp/cfg2.json" && fail "unpin all left pins in the export"
# export --to llama-cpp writes what `mxalloc export CFG --to llama-cpp` prints for the same assignment
# (after `target llama-cpp`: the allocation fits what llama.cpp stores)
grep -q '"target": "llama-cpp"' "$tmp/cfg3.json" || fail "export after target llama-cpp lacks the target"
"$BIN" export "$tmp/cfg3.json" --to llama-cpp >"$tmp/cli.ll" 2>/dev/null || fail "mxalloc export --to llama-cpp failed"
[ "$(grep -c '^^blk\\\.[0-9]*\\\.[a-z_]*\\\.weight\$=[A-Za-z0-9_]*$' "$tmp/cfg.ll")" -eq 35 ] ||
    fail "workbench llama-cpp export: expected 35 tensor lines: $(head -3 "$tmp/cfg.ll")"
cmp -s "$tmp/cfg.ll" "$tmp/cli.ll" || fail "workbench and CLI llama-cpp exports differ: $(diff "$tmp/cfg.ll" "$tmp/cli.ll" | head -5)"
grep -q '^^blk\\\.2\\\.attn_k\\\.weight\$=bf16$' "$tmp/cfg.ll" || fail "llama-cpp export lacks the pinned attn_k (mxfp8 is bf16 for target llama-cpp)"
grep -q '^budget 99' "$tmp/out" && fail "commands after quit ran"

# The first failing command stops the script: exit 1, its line named.
printf 'budget 5\npin 9.q fp32\nbudget 6\n' >"$tmp/c.txt"
run --scores "$tmp/s.scores" --script "$tmp/c.txt" >"$tmp/out" 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] || fail "failing script: exit $rc, expected 1"
grep -q "no module '9.q'" "$tmp/err" || fail "error message missing: $(cat "$tmp/err")"
grep -q 'c.txt:2: command failed: pin 9.q fp32' "$tmp/err" || fail "failing line not named"
grep -q '^budget 6' "$tmp/out" && fail "ran past the failing command"
for bad in 'frobnicate' 'budget 1' 'pin 0.q mxfp9' 'formats nope' 'load-scores /nonexistent.scores' \
           'export /nonexistent-dir/x.json' 'anneal sgd' 'cancel' 'export x --to gguf'; do
    printf '%s\n' "$bad" >"$tmp/d.txt"
    run --scores "$tmp/s.scores" --script "$tmp/d.txt" >/dev/null 2>"$tmp/err"
    [ $? -eq 1 ] || fail "'$bad' should fail with exit 1"
    [ -s "$tmp/err" ] || fail "'$bad': no message"
done
# an infeasible budget names the smallest feasible one
printf 'budget 1\n' >"$tmp/d.txt"
run --scores "$tmp/s.scores" --script "$tmp/d.txt" >/dev/null 2>"$tmp/err"
grep -Eqi 'budget|feasible' "$tmp/err" || fail "infeasible budget not explained: $(cat "$tmp/err")"
# a failed export leaves no file behind
[ -e /nonexistent-dir/x.json ] && fail "export wrote through a missing directory"
# load-scores of a file that is not a score file
printf 'not scores\n' >"$tmp/bad.scores"
printf 'load-scores %s\n' "$tmp/bad.scores" >"$tmp/d.txt"
run --script "$tmp/d.txt" >/dev/null 2>"$tmp/err"; [ $? -eq 1 ] || fail "bad score file should fail"
grep -q 'bad.scores' "$tmp/err" || fail "bad score file not named"
# scripts from stdin; load-scores then budget
printf 'load-scores %s\nbudget 4.5\n' "$tmp/s.scores" | run --script - >"$tmp/out" 2>"$tmp/err" || fail "stdin script failed: $(cat "$tmp/err")"
grep -q '^budget 4.50: ' "$tmp/out" || fail "stdin script: no result"
# --script with a missing file
run --scores "$tmp/s.scores" --script "$tmp/none.txt" >/dev/null 2>"$tmp/err"; [ $? -eq 1 ] || fail "missing script should exit 1"
grep -q 'none.txt' "$tmp/err" || fail "missing script not named"
# the default score location: the newest cached scores made for this model
mkdir -p "$XDG_CACHE_HOME/mxalloc" && cp "$tmp/s.scores" "$XDG_CACHE_HOME/mxalloc/0123abcd.scores"
printf 'budget 5\n' >"$tmp/a.txt"
run --script "$tmp/a.txt" >"$tmp/out" 2>"$tmp/err" || fail "cached scores not found: $(cat "$tmp/err")"
echo "ok"
