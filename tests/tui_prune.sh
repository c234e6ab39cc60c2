#!/bin/sh
# The workbench's prune mode (--script) on both real models: prune on computes
# the pruning scores, a 3-bit budget prunes, the pin keeps its group whole,
# eval measures what `mxalloc ppl --config` of the exported file measures, and
# what prune mode refuses says so.
. "$(dirname "$0")/cli_lib.sh"
need_files absent "$MODEL" "$TOKZ" "$TEXT" "$H656K/config.json"
make_tmp TMP tui_prune
export XDG_CACHE_HOME="$TMP/cache" XDG_DATA_HOME="$TMP/data"
tr -d '\r' < "$TEXT" > "$TMP/lf.txt" || exit 1
fail=0
bad() { echo "FAIL: $*"; fail=1; }
check() { # NAME MODEL [--tokenizer T]
    name=$1 m=$2; shift 2
    cat > "$TMP/s.txt" <<EOS
score --method fisher
prune on
budget 3
pin 0.v mxfp8_e4m3
show
eval
export $TMP/$name.json
EOS
    "$BIN" "$m" "$@" --text "$TMP/lf.txt" --ctx 256 --eval-tokens 2048 --script "$TMP/s.txt" > "$TMP/out" 2> "$TMP/err" ||
        { bad "$name: script: $(tail -2 "$TMP/err")"; return; }
    grep -q 'prune on (weight 1)' "$TMP/out" || grep -q '^budget 3.00: avg_bits 2\.9' "$TMP/out" || bad "$name: no 3-bit answer: $(cat "$TMP/out")"
    grep -q ' keep \(75\|50\|25\|0\)%' "$TMP/out" || bad "$name: nothing pruned at 3 bits"
    grep -q 'self_attn.v_proj mxfp8_e4m3 keep 100% (pinned)' "$TMP/out" || bad "$name: the pin"
    ! grep 'model.layers.0.self_attn' "$TMP/out" | grep -qv 'keep 100%' || bad "$name: the pinned module's group was pruned"
    grep -q '"prune"' "$TMP/$name.json" || bad "$name: the export has no prune section"
    wb=$(sed -n 's/^eval: .*measured_ppl \([0-9.]*\).*/\1/p' "$TMP/out")
    cli=$("$BIN" ppl "$m" "$@" --text "$TMP/lf.txt" --ctx 256 --max-tokens 2048 --config "$TMP/$name.json" --json |
          sed -n 's/.*"ppl": *\([0-9.eE+-]*\).*/\1/p')
    echo "$name: workbench eval $wb, ppl --config $cli"
    awk -v a="$wb" -v b="$cli" 'BEGIN { d = a / b - 1; exit !(a != "" && b != "" && d < 1e-4 && d > -1e-4) }' ||
        bad "$name: workbench eval $wb != ppl --config $cli"
}
check stories260K "$MODEL" --tokenizer "$TOKZ"
check 656k "$H656K"
# the joint GAMMA search from the workbench: its answer (formats and shared
# levels) becomes current, and eval measures what ppl --config of its export does
printf 'score --method fisher\nprune on\nbudget 3\nanneal gamma --steps 40\nshow\neval\nexport %s\n' "$TMP/g.json" > "$TMP/g.txt"
"$BIN" "$H656K" --text "$TMP/lf.txt" --ctx 256 --eval-tokens 2048 --script "$TMP/g.txt" > "$TMP/out" 2> "$TMP/err" ||
    bad "anneal gamma under prune: $(tail -2 "$TMP/err")"
grep -q 'anneal gamma: avg_bits 2\.9' "$TMP/err" "$TMP/out" || bad "anneal gamma under prune: no 3-bit answer"
for l in 0 1; do
    for part in self_attn mlp; do
        n=$(grep "model.layers.$l.$part" "$TMP/out" | sed -n 's/.* keep \([0-9]*\)%.*/\1/p' | sort -u | wc -l)
        [ "$n" = 1 ] || bad "anneal gamma: layer $l $part modules differ in their keep level"
    done
done
wb=$(sed -n 's/^eval: .*measured_ppl \([0-9.]*\).*/\1/p' "$TMP/out")
cli=$("$BIN" ppl "$H656K" --text "$TMP/lf.txt" --ctx 256 --max-tokens 2048 --config "$TMP/g.json" --json |
      sed -n 's/.*"ppl": *\([0-9.eE+-]*\).*/\1/p')
awk -v a="$wb" -v b="$cli" 'BEGIN { d = a / b - 1; exit !(a != "" && b != "" && d < 1e-4 && d > -1e-4) }' ||
    bad "anneal gamma: workbench eval $wb != ppl --config $cli"
# the joint dMX search likewise (theta per module, phi per pruning group)
printf 'score --method fisher\nprune on\nbudget 3\nanneal dmx --steps 10\nshow\neval\n' > "$TMP/k.txt"
"$BIN" "$H656K" --text "$TMP/lf.txt" --ctx 256 --eval-tokens 2048 --script "$TMP/k.txt" > "$TMP/out" 2> "$TMP/err" ||
    bad "anneal dmx under prune: $(tail -2 "$TMP/err")"
grep -q 'anneal dmx: avg_bits [0-2]\.' "$TMP/err" "$TMP/out" || bad "anneal dmx under prune: no answer within 3 bits"
grep -q 'measured_ppl' "$TMP/out" || bad "anneal dmx under prune: no eval of its answer"
# refused while prune is on, with a reason
printf 'score --method fisher\nprune on\nbudget 3\nkeep\n' > "$TMP/k.txt"
"$BIN" "$H656K" --text "$TMP/lf.txt" --ctx 256 --script "$TMP/k.txt" > "$TMP/out" 2> "$TMP/err"
[ $? = 1 ] && grep -q 'prune is on' "$TMP/err" || bad "keep under prune: $(cat "$TMP/err")"
printf 'score --method fisher\nprune on\nbudget 3\nexport %s --to llama-cpp\n' "$TMP/l.txt" > "$TMP/k.txt"
"$BIN" "$H656K" --text "$TMP/lf.txt" --ctx 256 --script "$TMP/k.txt" > "$TMP/out" 2> "$TMP/err"
[ $? = 1 ] && grep -q 'prunes blocks' "$TMP/err" || bad "llama-cpp export under prune: $(cat "$TMP/err")"
[ ! -e "$TMP/l.txt" ] || bad "llama-cpp export under prune wrote a file"
printf 'prune sideways\n' > "$TMP/k.txt"
"$BIN" "$H656K" --text "$TMP/lf.txt" --script "$TMP/k.txt" > "$TMP/out" 2> "$TMP/err"
rc=$?; [ $rc = 1 ] || bad "prune sideways: exit $rc"
grep -q 'usage: prune on|off|weight W' "$TMP/err" || bad "prune sideways: $(cat "$TMP/err")"
exit $fail
