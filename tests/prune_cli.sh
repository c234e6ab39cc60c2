#!/bin/sh
# mxalloc prune on both real models: the config it writes applies (ppl
# --config on the calibration windows reproduces the search's measured loss),
# joint is no worse than either axis alone on the calibration text, the
# budget holds, and bad input gets one line and the documented status.
. "$(dirname "$0")/cli_lib.sh"
need_files absent "$MODEL" "$TOKZ" "$TEXT" "$H656K/config.json"
make_tmp TMP prune_cli
tr -d '\r' < "$TEXT" > "$TMP/lf.txt" || exit 1
head -c 12000 "$TMP/lf.txt" > "$TMP/calib.txt"
tail -c 12000 "$TMP/lf.txt" > "$TMP/eval.txt"
fail=0
bad() { echo "FAIL: $*"; fail=1; }
num() { sed -n "s/.*\"$1\": *\([-0-9.eE+]*\).*/\1/p" "$2" | head -1; }
close() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d <= t * (b < 0 ? -b : b)) }'; }
C="--ctx 128 --tokens 1536"
check() { # NAME MODEL [--tokenizer T]
    name=$1 m=$2; shift 2
    for b in 3.0 4.3; do
        rm -f "$TMP/joint.out" "$TMP/quant.out" "$TMP/prune.out"
        for mode in joint quant prune; do
            [ "$mode" = quant ] && [ "$b" = 3.0 ] && continue
            "$BIN" prune "$m" "$@" --text "$TMP/calib.txt" $C --budget $b --mode $mode --json \
                --out "$TMP/$mode.json" > "$TMP/$mode.out" 2> "$TMP/err" ||
                { bad "$name $mode $b: exit $?: $(head -2 "$TMP/err")"; continue; }
            avg=$(num avg_bits "$TMP/$mode.out")
            awk -v a="$avg" -v b="$b" 'BEGIN { exit !(a != "" && a <= b + 1e-9) }' || bad "$name $mode $b: avg_bits $avg > $b"
            # a second path: the config read back and applied by ppl on the same windows
            "$BIN" ppl "$m" "$@" --text "$TMP/calib.txt" --ctx 128 --max-tokens 1536 --config "$TMP/$mode.json" \
                --json > "$TMP/p.out" 2> "$TMP/err" || { bad "$name $mode $b: ppl --config: $(head -2 "$TMP/err")"; continue; }
            close "$(num nll "$TMP/p.out")" "$(num measured_loss "$TMP/$mode.out")" 1e-5 ||
                bad "$name $mode $b: ppl --config nll $(num nll "$TMP/p.out") != measured_loss $(num measured_loss "$TMP/$mode.out")"
        done
        [ "$b" = 3.0 ] && { grep -q '"prune"' "$TMP/joint.json" || bad "$name 3.0: the joint config prunes nothing"; }
        j=$(num measured_loss "$TMP/joint.out")
        for mode in quant prune; do
            [ -f "$TMP/$mode.out" ] || continue
            [ "$mode" = quant ] && [ "$b" = 3.0 ] && continue
            o=$(num measured_loss "$TMP/$mode.out")
            awk -v j="$j" -v o="$o" 'BEGIN { exit !(j != "" && j <= o + 1e-12) }' || bad "$name $b: joint loss $j > $mode $o"
        done
        echo "$name $b bits: joint $(sed -n 's/.*"from": "\([^"]*\)".*/\1/p' "$TMP/joint.out"), calibration loss $j"
    done
    # held out: the joint answer at 3 bits measured on the other text is finite and near its projection
    "$BIN" prune "$m" "$@" --text "$TMP/calib.txt" $C --budget 3.0 --json --out "$TMP/j3.json" > "$TMP/j3.out" || bad "$name: j3"
    f0=$("$BIN" ppl "$m" "$@" --text "$TMP/eval.txt" --ctx 128 --json | sed -n 's/.*"nll": *\([0-9.eE+-]*\).*/\1/p')
    f1=$("$BIN" ppl "$m" "$@" --text "$TMP/eval.txt" --ctx 128 --config "$TMP/j3.json" --json |
         sed -n 's/.*"nll": *\([0-9.eE+-]*\).*/\1/p')
    inc=$(awk -v a="$f1" -v b="$f0" 'BEGIN { print a - b }')
    pinc=$(awk -v a="$(num measured_loss "$TMP/j3.out")" -v b="$(num fp32_loss "$TMP/j3.out")" 'BEGIN { print a - b }')
    echo "$name 3 bits held out: loss increase $inc (projected from calibration $pinc)"
    awk -v i="$inc" -v p="$pinc" 'BEGIN { exit !(i > 0 && i < 2 * p + 0.05 && i > 0.5 * p - 0.05) }' ||
        bad "$name: held-out increase $inc far from the projected $pinc"
}
check stories260K "$MODEL" --tokenizer "$TOKZ"
check 656k "$H656K"

# kl: the kept parts' quantization measured; its config applies the same way
"$BIN" prune "$H656K" --text "$TMP/calib.txt" --ctx 128 --tokens 512 --budget 3.0 --method kl --json \
    --out "$TMP/kl.json" > "$TMP/kl.out" || bad "prune --method kl"
grep -q '"method": "kl"' "$TMP/kl.out" || bad "kl: $(cat "$TMP/kl.out")"
"$BIN" ppl "$H656K" --text "$TMP/calib.txt" --ctx 128 --max-tokens 512 --config "$TMP/kl.json" --json > "$TMP/p.out"
close "$(num nll "$TMP/p.out")" "$(num measured_loss "$TMP/kl.out")" 1e-5 || bad "kl: ppl --config differs"
expect_sub prune 2 "$H656K" --text "$TMP/calib.txt" --budget 3 --method hessian

# bad input
expect_sub prune 2 "$H656K" --text "$TMP/calib.txt"
expect_sub prune 2 "$H656K" --text "$TMP/calib.txt" --budget 3 --levels 1,2
expect_sub prune 2 "$H656K" --text "$TMP/calib.txt" --budget 3 --mode half
expect_sub prune 2 "$H656K" --text "$TMP/calib.txt" --budget 3 --formats bf16
expect_sub prune 1 "$H656K" --text "$TMP/calib.txt" $C --budget 3 --mode quant
grep -q "smallest feasible budget" "$TMP/err" || bad "quant at 3 bits: $(cat "$TMP/err")"
# joint's infeasibility names joint's smallest budget (every group at half in MXFP4), not a single axis's
expect_sub prune 1 "$H656K" --text "$TMP/calib.txt" $C --budget 1 --levels 1,0.5
grep -q "smallest feasible budget is 2.125 bits" "$TMP/err" || bad "joint infeasible: $(cat "$TMP/err")"
expect_sub prune 2 "$H656K" --text "$TMP/calib.txt" $C --budget 3 --keep-whole 9.q
expect_sub quantize 1 "$H656K" "$TMP/j3.json" --out "$TMP/x.mx" --layout mx
grep -q "prunes blocks" "$TMP/err" || bad "quantize --layout mx of a pruned config: $(cat "$TMP/err")"
[ ! -e "$TMP/x.mx" ] || bad "quantize --layout mx wrote a file for a pruned config"
expect_sub ppl 1 "$H656K" --text "$TMP/eval.txt" --config "$TMP/j3.json" --packed
expect_sub export 1 "$TMP/j3.json" --to llama-cpp
expect_sub ppl 1 "$MODEL" --tokenizer "$TOKZ" --text "$TMP/eval.txt" --config "$TMP/j3.json"
# keep-whole: that group stays whole
"$BIN" prune "$H656K" --text "$TMP/calib.txt" $C --budget 3.0 --keep-whole 1.down --json > "$TMP/k.out" || bad "keep-whole"
grep -q '"model.layers.1.mlp": 1[,}]' "$TMP/k.out" || bad "keep-whole 1.down: $(cat "$TMP/k.out")"
exit $fail
