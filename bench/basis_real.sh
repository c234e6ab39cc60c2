#!/bin/sh
# Which kl basis allocates best (issue 11): on both real models, score on the
# first half of the TinyStories sample (as bench/alloc_real.sh splits it),
# allocate with --score-method kl on each basis at several budgets, and
# measure the perplexity of every allocation on the other half (ctx 256).
# Bases: kld (the default: KL divergence), delta (the loss deltas, clamped at
# 0), shrink Z (max(0, delta - Z se)) and js (James-Stein positive part),
# made by bench/score_basis from the same score file.
# Usage: basis_real.sh [BUDGETS]   (default "4.5 5.0 6.0 7.0")
set -eu
. "$(dirname "$0")/../tests/cli_lib.sh"
bin=$BIN data=$DATA
basis_bin=${MXALLOC_SCORE_BASIS:-$(dirname "$bin")/bench/score_basis}
[ -x "$basis_bin" ] || { echo "basis_real: build bench/score_basis first (make bench/score_basis)"; exit 1; }
[ -f "$MODEL" ] && [ -f "$TEXT" ] || { echo "basis_real: no data under $data, skipped"; exit 0; }
budgets=${1:-4.5 5.0 6.0 7.0}
make_tmp w basis_real
half=$(( $(wc -c < "$TEXT") / 2 ))
awk -v n="$half" '{ b += length($0) + 1; if (b <= n) print > "'"$w"'/calib.txt"; else print > "'"$w"'/eval.txt" }' "$TEXT"
# the 656k tokenizer has no byte tokens: LF text
tr -d '\r' < "$w/calib.txt" > "$w/hcalib.txt"; tr -d '\r' < "$w/eval.txt" > "$w/heval.txt"

bases="kld delta shrink:1 shrink:2 js"
one_model() { # LABEL MODEL CALIB EVAL [TOKENIZER ARGS]
    label=$1 mdl=$2 calib=$3 ev=$4; shift 4
    "$bin" score "$mdl" "$@" --text "$calib" --tokens 0 --ctx 256 --out "$w/$label.scores" > /dev/null
    fp=$("$bin" ppl "$mdl" "$@" --text "$ev" --ctx 256 --json | sed -n 's/.*"ppl": *\([0-9.eE+-]*\).*/\1/p')
    for b in $bases; do
        case $b in
        kld) cp "$w/$label.scores" "$w/$b.scores" ;;
        shrink:*) "$basis_bin" "$w/$label.scores" "$w/$b.scores" shrink "${b#shrink:}" ;;
        *) "$basis_bin" "$w/$label.scores" "$w/$b.scores" "$b" ;;
        esac
    done
    echo "$label: fp32 ppl $fp on the evaluation half; measured ppl change vs fp32 (avg bits)"
    printf '%-7s' budget
    for b in $bases; do printf ' %17s' "$b"; done
    echo
    for B in $budgets; do
        printf '%-7s' "$B"
        for b in $bases; do
            "$bin" alloc "$w/$b.scores" --budget "$B" --score-method kl --json --out "$w/c.json" > "$w/a.json"
            bits=$(sed -n 's/.*"avg_bits": *\([0-9.]*\).*/\1/p' "$w/a.json" | head -1)
            p=$("$bin" ppl "$mdl" "$@" --text "$ev" --ctx 256 --config "$w/c.json" --json |
                sed -n 's/.*"ppl": *\([0-9.eE+-]*\).*/\1/p')
            printf ' %+8.3f%% (%5.3f)' "$(echo "($p/$fp-1)*100" | bc -l)" "$bits"
        done
        echo
    done
}
one_model stories260K "$MODEL" "$w/calib.txt" "$w/eval.txt" --tokenizer "$TOKZ"
h=$data/tinystories-656k
[ -f "$h/model.safetensors" ] && one_model tinystories-656k "$h" "$w/hcalib.txt" "$w/heval.txt"
exit 0
