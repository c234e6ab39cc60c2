#!/bin/sh
# The second real model end to end: every model-based subcommand and the
# workbench (--script) on ../shared/data/tinystories-656k, a Hugging Face
# directory no code of this project wrote, given as a plain directory argument
# (no --tokenizer). It is evaluated on LF text: the sample has CRLF line ends
# and this tokenizer has no byte tokens, so "\r" would be an <unk> per line.
# Bounds below were measured on this model (see the report in the test log).
. "$(dirname "$0")/cli_lib.sh"
H=$H656K X=$TEXT
need_files absent "$H/config.json" "$H/model.safetensors" "$H/tokenizer.json" "$X"
make_tmp TMP real656k
export XDG_CACHE_HOME="$TMP/cache" XDG_DATA_HOME="$TMP/data"
L=$TMP/lf.txt
tr -d '\r' < "$X" > "$L" || exit 1
fail=0
bad() { echo "FAIL: $*"; fail=1; }
# run LABEL ARGS... : mxalloc ARGS, stdout in $TMP/out; a failure is reported
run() {
    label=$1; shift
    "$BIN" "$@" >"$TMP/out" 2>"$TMP/err" || { bad "$label: exit $?: $(head -3 "$TMP/err")"; return 1; }
}
num() { sed -n "s/.*\"$1\": *\([-0-9.eE+]*\).*/\1/p" "$TMP/out" | head -1; }
# within V LO HI
within() { awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v != "" && v + 0 == v && v >= lo && v <= hi) }'; }

# info
if run info info "$H" --json; then
    grep -q '"file_kind": "hf-safetensors"' "$TMP/out" || bad "info: not read as a Hugging Face directory"
    grep -q '"vocab_size": 2048' "$TMP/out" || bad "info: vocab"
    grep -q '"tied_embeddings": true' "$TMP/out" || bad "info: tied embeddings"
    [ "$(grep -c '"name": "model.layers' "$TMP/out")" = 14 ] || bad "info: 14 modules expected"
fi
run "info text" info "$H"

# ppl: fp32, uniform formats, on the whole LF text
run "ppl fp32" ppl "$H" --text "$L" --json && p32=$(num ppl) && tok=$(num tokens)
echo "ppl fp32 $p32 over $tok tokens"
# measured 37.150 (ctx 512, 7680 tokens); a float64 numpy forward of the HF
# weights gives the first 256-token window nll 3.227585, as `mxalloc ppl` does
within "$p32" 30 45 || bad "fp32 ppl '$p32' outside [30, 45]"
run "ppl mxfp8" ppl "$H" --text "$L" --format mxfp8_e4m3 --json && p8=$(num ppl)
run "ppl mxfp4" ppl "$H" --text "$L" --format mxfp4_e2m1 --json && p4=$(num ppl)
echo "ppl mxfp8_e4m3 $p8, mxfp4_e2m1 $p4"
awk -v a="$p32" -v b="$p8" -v c="$p4" 'BEGIN { exit !(b > a * 0.995 && b < a * 1.05 && c > b && c < a * 3) }' ||
    bad "uniform formats out of order or range: fp32 $p32 mxfp8 $p8 mxfp4 $p4"

# score: both methods, small calibration
run "score kl" score "$H" --text "$L" --method kl --tokens 512 --ctx 128 --out "$TMP/k.scores"
run "score fisher" score "$H" --text "$L" --method fisher --tokens 512 --ctx 128 --out "$TMP/f.scores"
run "score fisher-out" score "$H" --text "$L" --method fisher-out --tokens 512 --ctx 128 --out "$TMP/o.scores" &&
    { grep -q 'fisher-out' "$TMP/out" || bad "score fisher-out: method not named: $(cat "$TMP/out")"; }
if run "alloc fisher-out" alloc "$TMP/o.scores" --budget 5 --json; then
    grep -q '"score_method": "fisher-out"' "$TMP/out" || bad "alloc: not on fisher-out scores"
    within "$(num avg_bits)" 4.25 5.0 || bad "alloc fisher-out avg_bits over the budget"
fi
for s in k f; do
    run "scores show $s" scores show "$TMP/$s.scores" &&
        { [ "$(grep -c '^model.layers' "$TMP/out")" -ge 14 ] || bad "scores show $s: fewer than 14 modules"; }
done
run "scores show --json" scores show "$TMP/k.scores" --json --sort --format mxfp4_e2m1

# alloc: the budget holds; the config names all 14 modules
run alloc alloc "$TMP/k.scores" --budget 5 --out "$TMP/cfg.json" --json && ab=$(num avg_bits)
echo "alloc at 5.0 bits: avg_bits $ab"
within "$ab" 4.25 5.0 || bad "alloc avg_bits '$ab' does not meet the budget 5.0"
[ "$(grep -c '"model.layers' "$TMP/cfg.json")" -ge 14 ] || bad "alloc config lacks modules"
run "alloc fisher greedy" alloc "$TMP/f.scores" --budget 6 --method greedy --json &&
    { within "$(num avg_bits)" 4.25 6.0 || bad "greedy avg_bits over the budget"; }

# sweep: every row within its budget
if run sweep sweep "$TMP/k.scores" --from 4.5 --to 8 --step 0.5; then
    rows=$(awk '$1 ~ /^[0-9.]+$/ && $2 ~ /^[0-9.]+$/ { n++; if ($2 > $1 + 1e-9) bad = 1 } END { print (bad ? -1 : n + 0) }' "$TMP/out")
    [ "$rows" = 8 ] || bad "sweep: want 8 rows within budget, got '$rows'"
fi

# sweep --measure: calibrated on the first half, measured on the second
half=$(( $(wc -c < "$L") / 2 ))
awk -v n="$half" -v a="$TMP/c.txt" -v b="$TMP/e.txt" '{ s += length($0) + 1; print > (s <= n ? a : b) }' "$L"
run "score calib half" score "$H" --text "$TMP/c.txt" --method kl --tokens 2048 --ctx 128 --out "$TMP/h.scores"
if run "sweep --measure" sweep "$TMP/h.scores" --from 5 --to 8 --step 1 --measure 2 --model "$H" \
    --eval-text "$TMP/e.txt" --ctx 128 --eval-tokens 2048; then
    [ "$(grep -cE '^ +[0-9.]+ +[0-9.]+ +[-0-9.e]+ +[0-9.]+ +[0-9.]+ +[-+][0-9.]+%' "$TMP/out")" = 2 ] ||
        bad "sweep --measure: want 2 measured rows: $(cat "$TMP/out")"
    w=$(sed -n 's/^projection error.* worst \([0-9.]*\)%$/\1/p' "$TMP/out")
    echo "sweep --measure: worst projection error $w% over 2 budgets"
    within "$w" 0 10 || bad "sweep --measure: worst error '$w' not within 10%"
fi
"$BIN" sweep "$TMP/h.scores" --measure 2 >/dev/null 2>"$TMP/err"
[ $? = 2 ] && grep -q 'needs --model' "$TMP/err" || bad "sweep --measure without --model: not a usage error"

# export
run "export llama-cpp" export "$TMP/cfg.json" --to llama-cpp &&
    { [ "$(grep -c '^^blk' "$TMP/out")" = 14 ] || bad "export: want 14 blk lines"; }
run "export json" export "$TMP/cfg.json" --to json

# the allocation measured: between fp32 and all-mxfp4
run "ppl --config" ppl "$H" --text "$L" --config "$TMP/cfg.json" --json && pc=$(num ppl)
echo "ppl of the 5.0-bit allocation $pc"
awk -v a="$p32" -v b="$pc" -v c="$p4" 'BEGIN { exit !(b >= a * 0.995 && b <= c) }' ||
    bad "allocation ppl $pc not within [fp32 $p32, mxfp4 $p4]"

# anneal: few steps, no refinement; the result meets the budget and measures sanely
run anneal anneal "$H" --text "$L" --budget 5 --steps 20 --refine 0 --tokens 512 --ctx 128 \
    --out "$TMP/a.json" --json && aa=$(num avg_bits)
echo "anneal dmx at 5.0 bits: avg_bits $aa"
within "$aa" 4.25 5.0 || bad "anneal avg_bits '$aa' does not meet the budget 5.0"
run "ppl anneal config" ppl "$H" --text "$L" --config "$TMP/a.json" --json && pa=$(num ppl)
echo "ppl of the annealed allocation $pa"
within "$pa" "$p32" "$(awk -v c="$p4" 'BEGIN { print c * 1.2 }')" || bad "annealed allocation ppl '$pa' out of range"

# generate: the model card's continuation, and with the allocation
run generate generate "$H" --prompt "Once upon a time" -n 10 &&
    { [ "$(cat "$TMP/out")" = ", a little girl named Lily lived in a small house with her mom, dad" ] ||
        bad "generate: '$(cat "$TMP/out")'"; }
run "generate --config" generate "$H" --prompt "Once upon a time" -n 10 --config "$TMP/cfg.json" --json &&
    { grep -q '"ids":\[[0-9]' "$TMP/out" || bad "generate --config produced no tokens"; }
echo "generate at 5.0 bits: $(sed -n 's/.*"text":"\([^"]*\)".*/\1/p' "$TMP/out")"

# the workbench, scripted: budget, eval, generate, export
cat > "$TMP/wb.txt" <<EOS
budget 5
eval
generate 10
export $TMP/wb.json
EOS
if run "tui --script" tui "$H" --text "$L" --scores "$TMP/k.scores" --eval-tokens 2048 --script "$TMP/wb.txt"; then
    mp=$(sed -n 's/^eval: .*measured_ppl \([0-9.]*\).*/\1/p' "$TMP/out")
    echo "workbench eval: measured_ppl $mp"
    within "$mp" "$(awk -v a="$p32" 'BEGIN { print a * 0.8 }')" "$(awk -v c="$p4" 'BEGIN { print c * 1.2 }')" ||
        bad "workbench measured ppl '$mp' out of range"
    grep -q '^generate: avg_bits [0-9.]*, 10 tokens (stop length): Once upon a time' "$TMP/out" ||
        bad "workbench generate: $(grep generate "$TMP/out")"
    [ -s "$TMP/wb.json" ] || bad "workbench export wrote nothing"
fi
exit $fail
