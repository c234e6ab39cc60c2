#!/bin/sh
# mxalloc anneal on the real stories260K model: short dMX and GAMMA runs write
# a config within the budget that `ppl --config` accepts (and GAMMA a score
# file); impossible budgets, unknown formats and bad values fail with exit
# status 1/2 and leave no output file; --gptq configs measure what anneal said;
# --prune (GAMMA over formats x keep levels) on stories260K and, when present,
# the 656k HF model at 3 bits, measured on held-out text; dMX's joint mode
# (theta per module, phi per pruning group) on stories260K.
. "$(dirname "$0")/cli_lib.sh"
M=$MODEL T=$TOKZ X=$TEXT
need_files absent "$M" "$T" "$X"
make_tmp TMP anneal_cli
fail=0
bad() { echo "FAIL: $*"; fail=1; }
field() { printf '%s\n' "$2" | sed -n "s/.*\"$1\": *\([-0-9.eE+]*\).*/\1/p"; }
# le A B: A <= B (awk does the float compare)
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b + 1e-9) }'; }

head -c 12000 "$X" > "$TMP/calib.txt"
run() { "$BIN" anneal "$M" --tokenizer "$T" --text "$TMP/calib.txt" --ctx 128 "$@"; }

"$BIN" anneal --help > /dev/null || bad "--help did not exit 0"

for method in dmx gamma; do
    extra=
    [ $method = gamma ] && extra="--scores-out $TMP/$method.scores"
    out=$(run --method $method --budget 5.5 --steps 6 --refine 0 --out "$TMP/$method.json" $extra --json \
          2> "$TMP/$method.err") || { bad "$method run failed: $(cat "$TMP/$method.err")"; continue; }
    avg=$(field avg_bits "$out")
    [ -n "$avg" ] && le "$avg" 5.5 || bad "$method: avg_bits '$avg' over the 5.5 budget"
    [ -s "$TMP/$method.json" ] || bad "$method: no config written"
    grep -q '"formats"' "$TMP/$method.json" || bad "$method: config has no formats"
    grep -q 'step *6/6' "$TMP/$method.err" || bad "$method: no progress line for the last step"
    "$BIN" ppl "$M" --tokenizer "$T" --text "$TMP/calib.txt" --ctx 128 \
        --config "$TMP/$method.json" --json > /dev/null 2>&1 || bad "$method: ppl rejected the config"
    eval "nll_$method=\$(field calib_nll \"\$out\")"
done
[ -s "$TMP/gamma.scores" ] || bad "gamma: no score file written"

# --gptq: the candidates by GPTQ; the config says so, needs the calibration text, and
# ppl --config on it measures the calibration nll anneal reported; GAMMA's score file
# records it (alloc's configs say gptq too)
out=$(run --method gamma --budget 5.5 --steps 6 --refine 0 --gptq --out "$TMP/g.json" --scores-out "$TMP/g.scores" \
      --json 2> "$TMP/g.err") || bad "gptq run failed: $(cat "$TMP/g.err")"
grep -q '"rounding": "gptq"' "$TMP/g.json" || bad "gptq: the config does not say gptq"
"$BIN" ppl "$M" --tokenizer "$T" --text "$TMP/calib.txt" --ctx 128 --config "$TMP/g.json" > /dev/null 2>&1 &&
    bad "gptq: ppl ran the config without its calibration text"
p=$("$BIN" ppl "$M" --tokenizer "$T" --text "$TMP/calib.txt" --ctx 128 --config "$TMP/g.json" \
    --gptq-text "$TMP/calib.txt" --json 2>&1) || bad "gptq: ppl --gptq-text failed: $p"
pn=$(field nll "$p") an=$(field calib_nll "$out")
[ -n "$pn" ] && [ -n "$an" ] && awk -v a="$pn" -v b="$an" 'BEGIN { d = a - b; exit !(d < 1e-5 && d > -1e-5) }' ||
    bad "gptq: ppl --config nll $pn, anneal's calib_nll $an"
"$BIN" alloc "$TMP/g.scores" --budget 6 --out "$TMP/ga.json" > /dev/null 2>&1 || bad "gptq: alloc on GAMMA's scores failed"
grep -q '"rounding": "gptq"' "$TMP/ga.json" || bad "gptq: alloc on GAMMA's GPTQ scores does not say gptq"

# refinement from the same start: within budget, never a worse calibration loss
out=$(run --method dmx --budget 5.5 --steps 6 --refine 40 --json 2> "$TMP/refine.err") ||
    bad "refine run failed: $(cat "$TMP/refine.err")"
ev=$(field refine_evals "$out")
[ -n "$ev" ] && [ "$ev" -ge 1 ] && [ "$ev" -le 40 ] || bad "refine: refine_evals '$ev' not in 1..40"
avg=$(field avg_bits "$out")
[ -n "$avg" ] && le "$avg" 5.5 || bad "refine: avg_bits '$avg' over the 5.5 budget"
nll=$(field calib_nll "$out")
[ -n "$nll" ] && le "$nll" "${nll_dmx:-0}" || bad "refine: calib_nll $nll above the unrefined ${nll_dmx:-?}"

# --prune: GAMMA over formats x keep levels. stories260K: the text report lists
# every group's kept fraction and the progress its keep string
out=$(run --search gamma --prune --budget 3.0 --steps 6 --out "$TMP/p260.json" 2> "$TMP/p260.err") ||
    bad "prune 260k run failed: $(cat "$TMP/p260.err")"
printf '%s\n' "$out" | grep -q 'model.layers.4.mlp  *keep  *[0-9]*%' || bad "prune 260k: no kept fraction per group: $out"
grep -q 'step *6/6.* keep [0-9+]' "$TMP/p260.err" || bad "prune 260k: no keep string in the progress"
grep -q '"prune"' "$TMP/p260.json" || bad "prune 260k: a 3-bit config prunes nothing"
# dMX joint: within the budget, something pruned, the config accepted by ppl --config
out=$(run --search dmx --prune --budget 3.0 --steps 6 --json --out "$TMP/d260.json" 2> "$TMP/d260.err") ||
    bad "dmx prune 260k run failed: $(cat "$TMP/d260.err")"
avg=$(field avg_bits "$out") kw=$(field kept_weights "$out")
[ -n "$avg" ] && le "$avg" 3.0 || bad "dmx prune 260k: avg_bits '$avg' over the 3.0 budget"
[ -n "$kw" ] && awk -v k="$kw" 'BEGIN { exit !(k < 1) }' || bad "dmx prune 260k: kept_weights '$kw': nothing pruned"
grep -q 'step *6/6  T .* keep [0-9+]' "$TMP/d260.err" || bad "dmx prune 260k: no keep string in the progress"
grep -q '"prune"' "$TMP/d260.json" || bad "dmx prune 260k: the config has no prune section"
"$BIN" ppl "$M" --tokenizer "$T" --text "$TMP/calib.txt" --ctx 128 --config "$TMP/d260.json" > /dev/null 2>&1 ||
    bad "dmx prune 260k: ppl --config refused the config"
# 656k (an HF model, LF text): calibrated on the first half, measured on the
# second; within the budget, something pruned, one level per group (the config
# holds one mask per group by construction), ppl --config on the calibration
# half gives anneal's calib nll, the held-out ppl finite and under 10x fp32's
if [ -r "$H656K/config.json" ]; then
    tr -d '\r' < "$TEXT" > "$TMP/lf.txt"
    half=$(($(wc -c < "$TMP/lf.txt") / 2))
    head -c "$half" "$TMP/lf.txt" > "$TMP/lf_calib.txt"
    tail -c +$((half + 1)) "$TMP/lf.txt" > "$TMP/lf_eval.txt"
    out=$("$BIN" anneal "$H656K" --text "$TMP/lf_calib.txt" --ctx 128 --search gamma --prune --budget 3.0 \
          --steps 100 --out "$TMP/p656.json" --json 2> "$TMP/p656.err") || bad "prune 656k run failed: $(cat "$TMP/p656.err")"
    avg=$(field avg_bits "$out") kw=$(field kept_weights "$out") an=$(field calib_nll "$out")
    [ -n "$avg" ] && le "$avg" 3.0 || bad "prune 656k: avg_bits '$avg' over the 3.0 budget"
    [ -n "$kw" ] && awk -v k="$kw" 'BEGIN { exit !(k < 1) }' || bad "prune 656k: kept_weights '$kw': nothing pruned"
    grep -q '"prune"' "$TMP/p656.json" || bad "prune 656k: the config has no prune section"
    p=$("$BIN" ppl "$H656K" --text "$TMP/lf_calib.txt" --ctx 128 --config "$TMP/p656.json" --json 2>&1) ||
        bad "prune 656k: ppl --config failed: $p"
    pn=$(field nll "$p")
    [ -n "$pn" ] && [ -n "$an" ] && awk -v a="$pn" -v b="$an" 'BEGIN { d = a - b; exit !(d < 1e-5 && d > -1e-5) }' ||
        bad "prune 656k: ppl --config nll $pn, anneal's calib_nll $an"
    p32=$("$BIN" ppl "$H656K" --text "$TMP/lf_eval.txt" --ctx 128 --json 2>&1) || bad "656k fp32 ppl failed: $p32"
    p=$("$BIN" ppl "$H656K" --text "$TMP/lf_eval.txt" --ctx 128 --config "$TMP/p656.json" --json 2>&1) ||
        bad "prune 656k: held-out ppl --config failed: $p"
    hp=$(field ppl "$p") fp=$(field ppl "$p32")
    echo "anneal --prune 656k at 3.0 bits: avg $avg bits, kept $kw of the weights, held-out ppl $hp (fp32 $fp)"
    [ -n "$hp" ] && [ -n "$fp" ] && awk -v a="$hp" -v b="$fp" 'BEGIN { exit !(a == a && a > 0 && a < 10 * b) }' ||
        bad "prune 656k: held-out ppl '$hp' not finite or over 10x fp32's '$fp'"
fi

# errors: exit 1 (bad input) or 2 (usage), and no output file
expect() {
    want=$1; shift
    rm -f "$TMP/bad.json"
    run --steps 2 --out "$TMP/bad.json" "$@" > /dev/null 2> "$TMP/bad.err"
    st=$?
    [ $st -eq "$want" ] || bad "'$*' exited $st, expected $want"
    [ -s "$TMP/bad.err" ] || bad "'$*' printed no message"
    [ ! -e "$TMP/bad.json" ] || bad "'$*' left an output file"
    ls "$TMP" | grep -q 'bad.json.tmp' && bad "'$*' left a temp file"
}
expect 1 --budget 3.0
expect 2 --budget 5 --formats mxfp4,mxfp9
expect 2 --budget 5 --method gamma --rho 1e308
expect 2 --budget -1
expect 2 --budget 5 --method annealing
expect 2 --budget 5 --steps 0
expect 2 --budget 5 --refine -3
expect 2 --budget 5 --scores-out "$TMP/x.scores"
expect 1 --budget 5 --ctx 100000
# --prune: no gptq / scores / init scores / refinement; --levels needs it
expect 2 --budget 3 --prune --search dmx --refine 10
expect 2 --budget 3 --prune --gptq
expect 2 --budget 3 --prune --search gamma --gptq
expect 2 --budget 3 --prune --search gamma --scores-out "$TMP/x.scores"
expect 2 --budget 3 --prune --search gamma --refine 10
expect 2 --budget 3 --prune --search gamma --init-scores "$TMP/gamma.scores"
expect 2 --budget 3 --prune --search gamma --levels 1,0.5,2
expect 2 --budget 3 --search gamma --levels 1,0.5
expect 2 --budget 3 --prune --search gamma --target llama-cpp
expect 1 --budget 0.5 --prune --search gamma --levels 1,0.5
[ ! -e "$TMP/x.scores" ] || bad "score file written on a usage error"
exit $fail
