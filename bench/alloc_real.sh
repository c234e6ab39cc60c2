#!/bin/sh
# Allocation quality on the real model (make bench): calibrate on the first half of the
# TinyStories sample, measure perplexity on the second half (ctx 256), and compare the ILP
# on kl and fisher scores, the greedy baseline, and uniform formats at several budgets.
# Optional: MXALLOC_BENCH_SEARCH=1 adds dMX and GAMMA (slower).
set -eu
# the binary, the data paths and make_tmp, as in the tests
. "$(dirname "$0")/../tests/cli_lib.sh"
bin=$BIN data=$DATA model=$MODEL tokz=$TOKZ text=$TEXT
[ -f "$model" ] && [ -f "$text" ] || { echo "alloc_real: no data under $data, skipped"; exit 0; }
make_tmp w alloc_real
# Split at the first line boundary after half the bytes.
half=$(( $(wc -c < "$text") / 2 ))
awk -v n="$half" '{ b += length($0) + 1; if (b <= n) print > "'"$w"'/calib.txt"; else print > "'"$w"'/eval.txt" }' "$text"
ppl() { "$bin" ppl "$model" --tokenizer "$tokz" --text "$w/eval.txt" --ctx 256 --json "$@" |
        sed -n 's/.*"ppl": *\([0-9.eE+-]*\).*/\1/p'; }
t0=$(date +%s)
"$bin" score "$model" --tokenizer "$tokz" --text "$w/calib.txt" --tokens 0 --ctx 256 --method all \
    --out "$w/s.scores" > /dev/null
echo "scores (kl + fisher + fisher-out, $(grep -c '' "$w/calib.txt") calibration lines): $(( $(date +%s) - t0 )) s"
fp=$(ppl)
echo "fp32 ppl on the evaluation half: $fp"
printf '%-11s %6s %9s\n' format bits ppl
for f in mxfp4_e2m1 mxfp6_e2m3 mxfp6_e3m2 mxint8 mxfp8_e4m3 mxfp8_e5m2; do
    p=$(ppl --format "$f")
    b=$("$bin" alloc "$w/s.scores" --budget 99 --formats "$f" --json 2>/dev/null |
        sed -n 's/.*"avg_bits": *\([0-9.]*\).*/\1/p' || true)
    printf '%-11s %6s %9.4f %+6.2f%%\n' "$f" "${b:--}" "$p" "$(echo "($p/$fp-1)*100" | bc -l)"
done
methods="ilp:kl ilp:fisher greedy:kl greedy:fisher"
[ "${MXALLOC_BENCH_SEARCH:-0}" = 1 ] && methods="$methods dmx gamma"
echo
echo "per method: avg bits, projected ppl (alloc only), measured ppl, change vs fp32, seconds"
for B in 4.5 5.0 5.5 6.0 6.5 7.0 8.0; do
    for m in $methods; do
        s0=$(date +%s.%N)
        case $m in
        dmx | gamma)
            "$bin" anneal "$model" --tokenizer "$tokz" --text "$w/calib.txt" --ctx 256 \
                --budget "$B" --method "$m" --json --out "$w/c.json" > "$w/a.json" 2> /dev/null ;;
        *)
            "$bin" alloc "$w/s.scores" --budget "$B" --method "${m%%:*}" --score-method "${m#*:}" \
                --json --out "$w/c.json" > "$w/a.json" ;;
        esac
        s1=$(date +%s.%N)
        bits=$(sed -n 's/.*"avg_bits": *\([0-9.]*\).*/\1/p' "$w/a.json" | head -1)
        proj=$(sed -n 's/.*"projected_ppl": *\([0-9.]*\).*/\1/p' "$w/a.json" | head -1)
        meas=$(ppl --config "$w/c.json")
        printf 'budget %-4s %-14s bits %5.3f  proj %-7s  meas %7.4f %+6.2f%%  %6.2f s\n' "$B" "$m" \
            "$bits" "${proj:--}" "$meas" "$(echo "($meas/$fp-1)*100" | bc -l)" "$(echo "$s1-$s0" | bc -l)"
    done
done

# Projections checked on held-out text (`sweep --measure`), both real models:
# |projected - measured| / measured of the perplexity ratio to fp32 (each text's
# own fp32), calibrated on the first half, measured on the second.
echo
echo "projection vs measurement on the evaluation half (sweep --measure), budgets 4.5..8"
proj_check() { # LABEL SCORES MODEL EVAL [TOKENIZER ARGS]
    label=$1 sc=$2 mdl=$3 ev=$4; shift 4
    for sm in kl fisher fisher-out; do
        "$bin" sweep "$sc" --score-method "$sm" --from 4.5 --to 8 --step 0.5 --measure 8 \
            --model "$mdl" --eval-text "$ev" --ctx 256 "$@" > "$w/sw.txt"
        sed -n 's/^projection error.*over \([0-9]*\) budgets: median \(.*\), worst \(.*\)$/\1 \2 \3/p' "$w/sw.txt" |
            { read -r n med worst; printf '%-16s %-7s %s budgets: median %s, worst %s\n' "$label" "$sm" "$n" "$med" "$worst"; }
    done
}
proj_check stories260K "$w/s.scores" "$model" "$w/eval.txt" --tokenizer "$tokz"
h=$data/tinystories-656k
if [ -f "$h/model.safetensors" ]; then
    # its tokenizer has no byte tokens: LF text
    tr -d '\r' < "$w/calib.txt" > "$w/hcalib.txt"; tr -d '\r' < "$w/eval.txt" > "$w/heval.txt"
    "$bin" score "$h" --text "$w/hcalib.txt" --tokens 0 --ctx 256 --method all --out "$w/h.scores" > /dev/null
    proj_check tinystories-656k "$w/h.scores" "$h" "$w/heval.txt"
fi
# The same check for scores made by GPTQ (score --gptq: the MX candidates quantized by GPTQ
# with the calibration half's second moments; sweep --measure applies them with --gptq-text).
echo "the same for scores made by GPTQ (score --gptq)"
"$bin" score "$model" --tokenizer "$tokz" --text "$w/calib.txt" --tokens 0 --ctx 256 --method all --gptq \
    --out "$w/g.scores" > /dev/null
proj_check stories260K-gptq "$w/g.scores" "$model" "$w/eval.txt" --tokenizer "$tokz" --gptq-text "$w/calib.txt"
if [ -f "$h/model.safetensors" ]; then
    "$bin" score "$h" --text "$w/hcalib.txt" --tokens 0 --ctx 256 --method all --gptq --out "$w/hg.scores" > /dev/null
    proj_check 656k-gptq "$w/hg.scores" "$h" "$w/heval.txt" --gptq-text "$w/hcalib.txt"
fi
