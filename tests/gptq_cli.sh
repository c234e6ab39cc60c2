#!/bin/sh
# GPTQ from score to file, on stories260K and tinystories-656k: `score --gptq`
# on the first half of the text, an allocation whose config says rounding
# "gptq"; `ppl --config` then needs that calibration text (refused without it
# or with another text); on the other half GPTQ beats rounding to nearest for
# uniform MXFP4; `quantize --gptq-text` writes a GGUF (and an MX directory)
# that read back with exactly the perplexity `ppl --config` measures; the
# workbench's eval of such scores measures what ppl --config does.
. "$(dirname "$0")/cli_lib.sh"
need_files "is needed" "$MODEL" "$TOKZ" "$TEXT"
make_tmp w gptq_cli
XDG_CACHE_HOME=$w/cache; export XDG_CACHE_HOME
fail=0
half=$(( $(wc -c < "$TEXT") / 2 ))
awk -v n="$half" '{ b += length($0) + 1; if (b <= n) print > "'"$w"'/calib.txt"; else print > "'"$w"'/eval.txt" }' "$TEXT"
tr -d '\r' < "$w/calib.txt" > "$w/hcalib.txt"; tr -d '\r' < "$w/eval.txt" > "$w/heval.txt"
ppl_of() { sed -n 's/.*"ppl": *\([0-9.eE+-]*\).*/\1/p' "$w/out"; }
lt() { [ "$(echo "$1 < $2" | bc -l)" = 1 ]; }

# LABEL MODEL CALIB EVAL [MODEL ARGS]
check() {
    label=$1 mdl=$2 cal=$3 ev=$4; shift 4
    expect_sub score 0 "$mdl" "$@" --text "$cal" --tokens 1024 --ctx 128 --method fisher \
        --formats mxfp4,mxfp6_e2m3,mxint8 --gptq --out "$w/$label.scores"
    expect_sub alloc 0 "$w/$label.scores" --budget 5.0 --out "$w/$label.json"
    grep -q '"rounding": "gptq"' "$w/$label.json" || { echo "FAIL: $label: the config does not say gptq"; fail=1; }
    grep -q '"tokens": 1024' "$w/$label.json" || { echo "FAIL: $label: the config lacks the windows"; fail=1; }
    # the config needs its calibration text, and only that one
    expect_sub ppl 1 "$mdl" "$@" --text "$ev" --ctx 128 --config "$w/$label.json"
    grep -q 'gptq-text' "$w/err" || { echo "FAIL: $label: the refusal does not say what to pass"; fail=1; }
    expect_sub ppl 1 "$mdl" "$@" --text "$ev" --ctx 128 --config "$w/$label.json" --gptq-text "$ev"
    expect_sub ppl 2 "$mdl" "$@" --text "$ev" --ctx 128 --config "$w/$label.json" --gptq-text "$cal" --packed
    expect_sub ppl 1 "$mdl" "$@" --text "$ev" --ctx 128 --config "$w/$label.json" --packed
    expect_sub generate 1 "$mdl" "$@" --config "$w/$label.json" --prompt Once -n 4
    expect_sub quantize 1 "$mdl" "$w/$label.json" "$@" --out "$w/$label.gguf"
    [ ! -e "$w/$label.gguf" ] || { echo "FAIL: $label: a refused quantize left a file"; fail=1; }
    expect_sub ppl 0 "$mdl" "$@" --text "$ev" --ctx 128 --config "$w/$label.json" --gptq-text "$cal" --json
    pc=$(ppl_of)
    # a config that rounds to nearest does not take --gptq-text
    grep -v '"rounding"' "$w/$label.json" | sed '/"gptq": {/,/}/d' > "$w/$label.rtn.json"
    expect_sub ppl 2 "$mdl" "$@" --text "$ev" --ctx 128 --config "$w/$label.rtn.json" --gptq-text "$cal"
    # GPTQ beats rounding for uniform MXFP4 on the held-out half
    expect_sub ppl 0 "$mdl" "$@" --text "$ev" --ctx 128 --format mxfp4 --json; pr=$(ppl_of)
    expect_sub ppl 0 "$mdl" "$@" --text "$ev" --ctx 128 --format mxfp4 --gptq-text "$cal" --json; pg=$(ppl_of)
    lt "$pg" "$pr" || { echo "FAIL: $label: uniform MXFP4 by GPTQ $pg is not below rounding's $pr"; fail=1; }
    echo "$label: held-out ppl, uniform mxfp4: rounding $pr, gptq $pg; 5.0-bit gptq config $pc"
    # the files hold exactly what ppl --config measured
    expect_sub quantize 0 "$mdl" "$w/$label.json" "$@" --gptq-text "$cal" --out "$w/$label.gguf"
    expect_sub ppl 0 "$w/$label.gguf" --text "$ev" --ctx 128 --json
    [ "$(ppl_of)" = "$pc" ] || { echo "FAIL: $label: the GGUF gives $(ppl_of), ppl --config $pc"; fail=1; }
    expect_sub quantize 0 "$mdl" "$w/$label.json" "$@" --gptq-text "$cal" --out "$w/$label.mx" --layout mx
    if [ -r "$w/$label.mx/tokenizer.bin" ]; then set -- --tokenizer "$w/$label.mx/tokenizer.bin"; else set --; fi
    expect_sub ppl 0 "$w/$label.mx" "$@" --text "$ev" --ctx 128 --json
    [ "$(ppl_of)" = "$pc" ] || { echo "FAIL: $label: the MX directory gives $(ppl_of), ppl --config $pc"; fail=1; }
}

check stories260K "$MODEL" "$w/calib.txt" "$w/eval.txt" --tokenizer "$TOKZ"
# the workbench: eval of GPTQ scores needs --gptq-text; with it, eval measures what
# ppl --config measures for the config it exports
printf 'budget 5.0\nexport %s\neval\n' "$w/wb.json" > "$w/wb.txt"
"$BIN" "$MODEL" --tokenizer "$TOKZ" --text "$w/eval.txt" --ctx 128 --scores "$w/stories260K.scores" \
    --script "$w/wb.txt" > "$w/out" 2> "$w/err" && { echo "FAIL: workbench eval of GPTQ scores without --gptq-text ran"; fail=1; }
grep -q 'gptq-text' "$w/err" || { echo "FAIL: the workbench's refusal does not name --gptq-text"; cat "$w/err"; fail=1; }
if "$BIN" "$MODEL" --tokenizer "$TOKZ" --text "$w/eval.txt" --ctx 128 --scores "$w/stories260K.scores" \
    --gptq-text "$w/calib.txt" --script "$w/wb.txt" > "$w/out" 2> "$w/err"; then
    grep -q 'rounding": "gptq' "$w/wb.json" || { echo "FAIL: the workbench's export does not say gptq"; fail=1; }
    pw=$(sed -n 's/^eval: .*measured_ppl \([0-9.]*\).*/\1/p' "$w/out")
    expect_sub ppl 0 "$MODEL" --tokenizer "$TOKZ" --text "$w/eval.txt" --ctx 128 --config "$w/wb.json" \
        --gptq-text "$w/calib.txt" --json
    lt "$(echo "$(ppl_of) - $pw" | bc -l | tr -d -)" 0.0001 ||
        { echo "FAIL: workbench eval $pw, ppl --config $(ppl_of)"; fail=1; }
else
    echo "FAIL: workbench with --gptq-text"; cat "$w/err"; fail=1
fi
if [ -r "$H656K/model.safetensors" ]; then
    check tinystories-656k "$H656K" "$w/hcalib.txt" "$w/heval.txt"
else
    echo "tinystories-656k absent: its half skipped"
fi
# a config saying gptq without its windows is refused
printf '{"rounding": "gptq", "formats": {}}\n' > "$w/bad.json"
expect_sub ppl 1 "$MODEL" --tokenizer "$TOKZ" --text "$w/eval.txt" --config "$w/bad.json" --gptq-text "$w/calib.txt"
printf '{"rounding": "gptq", "gptq": {"text_xxh64": "00", "ctx": 128, "tokens": 1024}, "formats": {}}\n' > "$w/bad.json"
expect_sub ppl 1 "$MODEL" --tokenizer "$TOKZ" --text "$w/eval.txt" --config "$w/bad.json" --gptq-text "$w/calib.txt"
exit $fail
