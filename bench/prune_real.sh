#!/bin/sh
# Joint structured pruning + MX formats below 4.25 bits (make bench, issue 15):
# on both real models, calibrate on the first half of the TinyStories sample,
# measure perplexity on the second half (ctx 256). At 2.5 .. 4.25 bits per
# original weight: `mxalloc prune` in joint mode against pruning only (every
# module MXFP8 E4M3, keep levels chosen) and quantization only (nothing
# pruned; feasible from 4.25 bits), plus uniform MXFP4 at 4.25. Two
# projections per allocation, each the fp32 perplexity of the evaluation half
# times exp of a loss increase on the calibration half: "scores" from the
# summed scores, "calib" from the answer measured on the calibration half
# (what prune's search picks by); ratio = measured on the evaluation half /
# calib projection.
# Exit 1 when the joint allocation measures worse than the better of the two
# single-axis ones at some budget.
set -eu
. "$(dirname "$0")/../tests/cli_lib.sh"
bin=$BIN
[ -f "$MODEL" ] && [ -f "$TEXT" ] || { echo "prune_real: no data under $DATA, skipped"; exit 0; }
make_tmp w prune_real
half=$(( $(wc -c < "$TEXT") / 2 ))
awk -v n="$half" '{ b += length($0) + 1; if (b <= n) print > "'"$w"'/calib.txt"; else print > "'"$w"'/eval.txt" }' "$TEXT"
num() { sed -n "s/.*\"$1\": *\([0-9.eE+-]*\).*/\1/p" "$2"; }
status=0
run() { # NAME MODEL [--tokenizer T]
    name=$1 m=$2; shift 2
    "$bin" ppl "$m" "$@" --text "$w/eval.txt" --ctx 256 --json > "$w/fp.json"
    fp=$(num ppl "$w/fp.json")
    "$bin" ppl "$m" "$@" --text "$w/eval.txt" --ctx 256 --format mxfp4_e2m1 --json > "$w/u4.json"
    echo "$name: fp32 ppl on the evaluation half $fp; uniform MXFP4 (4.25 bits) $(num ppl "$w/u4.json")"
    printf '%-11s %6s %-6s %8s %10s %10s %10s %7s %s\n' model budget mode avg_bits scores calib measured ratio from
    for b in 2.5 3.0 3.5 4.0 4.25; do
        best= joint=
        for mode in joint prune quant; do
            if ! "$bin" prune "$m" "$@" --text "$w/calib.txt" --ctx 256 --tokens 0 --budget "$b" --mode "$mode" \
                --json --out "$w/c.json" > "$w/a.json" 2> "$w/err"; then
                printf '%-11s %6s %-6s %8s %10s %10s %10s %7s\n' "$name" "$b" "$mode" - - - infeasible -
                continue
            fi
            "$bin" ppl "$m" "$@" --text "$w/eval.txt" --ctx 256 --config "$w/c.json" --json > "$w/p.json"
            meas=$(num ppl "$w/p.json")
            l0=$(num fp32_loss "$w/a.json")
            add=$(awk -v fp="$fp" -v l="$(num additive_loss "$w/a.json")" -v l0="$l0" 'BEGIN { printf "%.4f", fp * exp(l - l0) }')
            proj=$(awk -v fp="$fp" -v l="$(num measured_loss "$w/a.json")" -v l0="$l0" 'BEGIN { printf "%.4f", fp * exp(l - l0) }')
            printf '%-11s %6s %-6s %8.4f %10s %10s %10.4f %7.4f %s\n' "$name" "$b" "$mode" "$(num avg_bits "$w/a.json")" \
                "$add" "$proj" "$meas" "$(echo "$meas $proj" | awk '{ print $1 / $2 }')" \
                "$(sed -n 's/.*"from": *"\([^"]*\)".*/\1/p' "$w/a.json")"
            if [ "$mode" = joint ]; then joint=$meas
            elif [ -z "$best" ] || awk -v a="$meas" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$meas; fi
        done
        [ -n "$best" ] || continue
        verdict=$(awk -v j="$joint" -v b="$best" 'BEGIN { printf "joint %.4f vs best single-axis %.4f: %+.2f%% %s",
            j, b, (j / b - 1) * 100, j <= b ? "ok" : "WORSE" }')
        printf '%-11s %6s %s\n' "$name" "$b" "$verdict"
        case $verdict in *WORSE) status=1 ;; esac
    done
}
run stories260K "$MODEL" --tokenizer "$TOKZ"
if [ -f "$H656K/config.json" ]; then
    run 656k "$H656K"
    # The score methods' projections of the joint answer at 3 bits (656k: kl fits in ~30 s here).
    "$bin" ppl "$H656K" --text "$w/eval.txt" --ctx 256 --json > "$w/fp.json"
    fp=$(num ppl "$w/fp.json")
    printf '%-11s %-10s %10s %10s %10s %8s\n' 656k method scores calib measured seconds
    for meth in fisher fisher-out kl; do
        "$bin" prune "$H656K" --text "$w/calib.txt" --ctx 256 --tokens 0 --budget 3.0 --method "$meth" --json \
            --out "$w/c.json" > "$w/a.json"
        "$bin" ppl "$H656K" --text "$w/eval.txt" --ctx 256 --config "$w/c.json" --json > "$w/p.json"
        l0=$(num fp32_loss "$w/a.json")
        printf '%-11s %-10s %10.4f %10.4f %10.4f %8s\n' 656k "$meth" \
            "$(awk -v fp="$fp" -v l="$(num additive_loss "$w/a.json")" -v l0="$l0" 'BEGIN { print fp * exp(l - l0) }')" \
            "$(awk -v fp="$fp" -v l="$(num measured_loss "$w/a.json")" -v l0="$l0" 'BEGIN { print fp * exp(l - l0) }')" \
            "$(num ppl "$w/p.json")" "$(num seconds "$w/a.json")"
    done
else echo "656k: no model under $DATA, skipped"; fi
exit $status
