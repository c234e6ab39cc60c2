#!/bin/sh
# alloc / sweep / export end to end on a synthetic score file (tests/mkscores).
. "$(dirname "$0")/cli_lib.sh"
MK=$(dirname "$BIN")/tests/mkscores
[ -x "$MK" ] || { echo "SKIP: $MK not built"; exit 77; }
make_tmp T alloc_cli
one_line() { [ "$(wc -l <"$T/err")" -eq 1 ] || { cat "$T/err"; fail "stderr is not one line: $*"; }; }

"$MK" "$T/s.scores" 4 || fail "mkscores"
"$MK" "$T/nan.scores" 4 nan || fail "mkscores nan"

for c in alloc sweep export; do expect 0 "$BIN" $c --help; grep -q usage "$T/out" || fail "$c --help"; done

# a plain solve, text and JSON
expect 0 "$BIN" alloc "$T/s.scores" --budget 5
grep -q "proven optimal" "$T/out" || fail "not optimal"
grep -q "per layer" "$T/out" || fail "no per-layer view"
grep -q "nearest uniform below: mxfp4_e2m1" "$T/out" || fail "no nearest uniform"
expect 0 "$BIN" alloc "$T/s.scores" --budget 5 --json
grep -q '"avg_bits"' "$T/out" && grep -q '"projected_ppl"' "$T/out" || fail "json keys"
avg=$(sed -n 's/.*"avg_bits": \([0-9.e+-]*\).*/\1/p' "$T/out")
awk -v a="$avg" 'BEGIN { exit !(a <= 5 && a > 4.25) }' || fail "avg_bits $avg not within budget"
n=$(grep -c '"model.layers' "$T/out"); [ "$n" = 28 ] || fail "json lists $n modules"

# noise never buys fewer bits: loss deltas below zero (noisy) do not make the
# solver keep a module in a less precise format when the budget fits the most
# precise one -- by the KL divergence, or by the wider format when only
# clamped deltas are known (noisy-nokld)
for kind in noisy noisy-nokld; do
    "$MK" "$T/$kind.scores" 4 "$kind" || fail "mkscores $kind"
    for solver in ilp greedy; do
        expect 0 "$BIN" alloc "$T/$kind.scores" --budget 99 --solver $solver --json
        [ "$(grep -c '"model.layers.*": "bf16"' "$T/out")" = 28 ] || { cat "$T/out"; fail "$kind $solver: not every module in bf16 at 99 bits"; }
        expect 0 "$BIN" alloc "$T/$kind.scores" --budget 99 --solver $solver --formats mxfp4,mxfp6_e2m3,mxfp8_e4m3 --json
        [ "$(grep -c '"model.layers.*": "mxfp8_e4m3"' "$T/out")" = 28 ] || { cat "$T/out"; fail "$kind $solver: not every module in mxfp8_e4m3"; }
        grep -q '"objective": -' "$T/out" && fail "$kind: a negative objective"
    done
done

# greedy is never better than the ILP
obj() { sed -n 's/.*"objective": \([0-9.e+-]*\).*/\1/p' "$T/out"; }
expect 0 "$BIN" alloc "$T/s.scores" --budget 5.5 --json; oi=$(obj)
expect 0 "$BIN" alloc "$T/s.scores" --budget 5.5 --json --method greedy; og=$(obj)
awk -v i="$oi" -v g="$og" 'BEGIN { exit !(g >= i - 1e-12) }' || fail "greedy $og better than ilp $oi"

# calibration: on by default when the table has uniform losses, off with --no-calibrate
pp() { sed -n 's/.*"projected_ppl": \([0-9.e+-]*\).*/\1/p' "$T/out"; }
expect 0 "$BIN" alloc "$T/s.scores" --budget 5.5 --json; pd=$(pp)
expect 0 "$BIN" alloc "$T/s.scores" --budget 5.5 --json --calibrate; pc=$(pp)
expect 0 "$BIN" alloc "$T/s.scores" --budget 5.5 --json --no-calibrate; pn=$(pp)
[ "$pd" = "$pc" ] || fail "default projection $pd is not the calibrated one $pc"
[ "$pd" != "$pn" ] || fail "--no-calibrate gave the calibrated projection $pn"

# pins, groups, formats, calibration, config output
expect 0 "$BIN" alloc "$T/s.scores" --budget 5 --pin model.layers.0.mlp.down_proj=bf16 \
    --group qkv,gateup --formats mxfp4,mxfp6_e2m3,mxfp8_e4m3,bf16 --calibrate --json --out "$T/c.json"
grep -q '"model.layers.0.mlp.down_proj": "bf16"' "$T/out" || fail "pin ignored"
q=$(sed -n 's/.*"model.layers.1.self_attn.q_proj": "\(.*\)".*/\1/p' "$T/out")
k=$(sed -n 's/.*"model.layers.1.self_attn.k_proj": "\(.*\)".*/\1/p' "$T/out")
[ "$q" = "$k" ] || fail "qkv group not shared ($q, $k)"
grep -q 'mxfp6_e3m2\|mxint8' "$T/out" && fail "--formats ignored"
[ -s "$T/c.json" ] || fail "no config written"
grep -q '"budget_bits"' "$T/c.json" && grep -q '"pins"' "$T/c.json" || fail "config fields"

# export: the tensor-type lines of the allocation for llama.cpp's shapes
# (mkscores: dim 64, hidden 172). A plain allocation puts MXFP4 on a 172-wide
# down_proj, which llama-quantize cannot store: refused, naming the tensor.
if grep -q '"model.layers.[1-3].mlp.down_proj": "mxfp4_e2m1"' "$T/c.json"; then
    expect 1 "$BIN" export "$T/c.json" --to llama-cpp --out "$T/x.txt"; one_line
    grep -q '^mxalloc export: blk\.[1-3]\.ffn_down\.weight: mxfp4_e2m1 needs rows of whole 32-blocks, and its rows have 172 columns' "$T/err" ||
        fail "refusal message: $(cat "$T/err")"
    [ -e "$T/x.txt" ] && fail "export wrote a file on refusal"
fi
# --target llama-cpp counts what the GGUF stores: no MXFP4/MXINT8 on 172-wide rows,
# MXFP6/MXFP8 at 16 bits; the budget is then the bits llama-quantize stores
expect 1 "$BIN" alloc "$T/s.scores" --budget 5 --target llama-cpp; one_line
grep -q "infeasible: the smallest feasible budget is" "$T/err" || fail "target infeasible message"
expect 0 "$BIN" alloc "$T/s.scores" --budget 8 --target llama-cpp --json --out "$T/t.json"
tb=$(sed -n 's/.*"avg_bits": \([0-9.e+-]*\).*/\1/p' "$T/out")
grep -q '"target": "llama-cpp"' "$T/t.json" || fail "config lacks the target"
grep -q '"model.layers.0.mlp.down_proj": \[' "$T/t.json" || fail "config lacks the shapes"
grep -Eq '"model.layers.[0-3].mlp.down_proj": "(mxfp4_e2m1|mxint8)"' "$T/t.json" && fail "--target llama-cpp put MXFP4/MXINT8 on a 172-wide row"
expect 0 "$BIN" export "$T/t.json" --to llama-cpp
[ "$(wc -l <"$T/out")" = 28 ] || fail "llama-cpp line count"
grep -vq '^\^blk\\\.[0-9]*\\\.[a-z_]*\\\.weight\$=\(f32\|bf16\|q8_0\|q6_K\|mxfp4\)$' "$T/out" &&
    { cat "$T/out"; fail "a line is not an anchored pattern with a llama.cpp type"; }
grep -q '^\^blk\\\.0\\\.ffn_down\\\.weight\$=bf16$' "$T/out" || { cat "$T/out"; fail "llama-cpp line"; }
eb=$(sed -n 's/^llama-quantize will store \([0-9.]*\) bits per weight.*/\1/p' "$T/err")
awk -v a="$tb" -v b="$eb" 'BEGIN { d = a - b; exit !(d < 1e-4 && d > -1e-4) }' ||
    fail "export stores $eb bits, alloc --target llama-cpp counted $tb"
grep -q '^run: llama-quantize --tensor-type-file TYPES.txt .* Q8_0$' "$T/err" || fail "no llama-quantize command"
expect 0 "$BIN" export "$T/t.json" --to llama-cpp --no-mxfp4
grep -q 'mxfp4' "$T/out" && fail "--no-mxfp4"
expect 0 "$BIN" export "$T/c.json" --to json --out "$T/n.json"
expect 0 "$BIN" export "$T/n.json" --to json
cmp -s "$T/out" "$T/n.json" || fail "normalized json is not stable"

# sweep
expect 0 "$BIN" sweep "$T/s.scores" --from 4 --to 6 --step 0.5 --csv "$T/p.csv"
grep -q "infeasible" "$T/out" || fail "4 bits should be infeasible"
[ "$(wc -l <"$T/p.csv")" = 5 ] || { cat "$T/p.csv"; fail "csv rows"; }
# the default range starts at the smallest feasible budget (rounded up), never infeasible
expect 0 "$BIN" sweep "$T/s.scores"
grep -q infeasible "$T/out" && { cat "$T/out"; fail "default sweep has an infeasible row"; }
sed -n 2p "$T/out" | awk '{ exit !($2 <= $1 && $1 < 4.26) }' || { cat "$T/out"; fail "default sweep does not start at the smallest budget"; }
expect 0 "$BIN" sweep "$T/s.scores" --target llama-cpp
grep -q infeasible "$T/out" && { cat "$T/out"; fail "default sweep --target llama-cpp has an infeasible row"; }
# objective is non-increasing in the budget
tail -n +2 "$T/p.csv" | awk -F, 'NR > 1 && $4 > prev + 1e-12 { exit 1 } { prev = $4 }' || fail "Pareto not monotone"

# bad input: one line, exit 1, no output file
expect 1 "$BIN" alloc "$T/s.scores" --budget 3.9; one_line
grep -q "budget 3.9 bits is infeasible: the smallest feasible budget is 4.2" "$T/err" || fail "infeasible message"
# usage mistakes (a bad number, an unknown format name) exit 2 like in every command
expect 2 "$BIN" alloc "$T/s.scores" --budget -1; one_line
expect 2 "$BIN" alloc "$T/s.scores" --budget nan; one_line
expect 1 "$BIN" alloc "$T/s.scores" --budget 5 --pin model.layers.99.mlp.up_proj=bf16 --out "$T/x.json"; one_line
grep -q "no module model.layers.99" "$T/err" || fail "unknown module message"
expect 1 "$BIN" alloc "$T/s.scores" --budget 5 --pin model.layers.0.mlp.up_proj=fp32 --out "$T/x.json"; one_line
expect 2 "$BIN" alloc "$T/s.scores" --budget 5 --pin model.layers.0.mlp.up_proj=mxfp9 --out "$T/x.json"; one_line
expect 2 "$BIN" alloc "$T/s.scores" --budget 5 --formats mxfp4,bogus; one_line
expect 1 "$BIN" alloc "$T/nan.scores" --budget 5 --out "$T/x.json"; one_line
grep -q "no finite kl score" "$T/err" || fail "nan message"
expect 0 "$BIN" alloc "$T/nan.scores" --budget 7 --formats mxfp6_e2m3,mxfp8_e4m3
head -c 200 "$T/s.scores" >"$T/trunc.scores"
expect 1 "$BIN" alloc "$T/trunc.scores" --budget 5 --out "$T/x.json"; one_line
grep -q "truncated" "$T/err" || fail "truncated message"
expect 1 "$BIN" alloc "$T/none.scores" --budget 5; one_line
[ -e "$T/x.json" ] && fail "an output file was written on error"
ls "$T" | grep -q tmp && fail "temp file left behind"
printf '{"formats": {"model.layers.0.mlp.up_proj": "mxfp5"}}' >"$T/bad.json"
expect 1 "$BIN" export "$T/bad.json" --to json; one_line
printf '{"formats": {"weird": "mxfp4"}}' >"$T/odd.json"
expect 1 "$BIN" export "$T/odd.json" --to llama-cpp --out "$T/x.txt"; one_line
[ -e "$T/x.txt" ] && fail "export wrote a file on error"

# usage errors
expect 2 "$BIN" alloc "$T/s.scores"
expect 2 "$BIN" alloc --budget 5
expect 2 "$BIN" alloc "$T/s.scores" --budget 5 --method magic
expect 2 "$BIN" sweep
expect 2 "$BIN" export "$T/c.json"
expect 2 "$BIN" export "$T/c.json" --to onnx

# a config for another model, when real data is around
D=${MXALLOC_DATA:-}
M=$(ls "$D"/*/stories260K.bin "$D"/stories260K*/stories260K.bin 2>/dev/null | head -n 1)
if [ -n "$M" ]; then
    expect 1 "$BIN" export "$T/odd.json" --to json --model "$M"; one_line
    grep -q "config for another model" "$T/err" || fail "another-model message"
fi
echo "alloc_cli: ok"
