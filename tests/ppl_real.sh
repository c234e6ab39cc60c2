#!/bin/sh
# mxalloc ppl on the real stories260K model: fp32 and every MX format agree
# with the float64 reference (tests/ppl_ref, same windows, same fake-quantized
# weights) within 0.05% in perplexity; SOURCE.md's sanity figure; CLI errors.
. "$(dirname "$0")/cli_lib.sh"
REF=${MXALLOC_PPL_REF:-$(dirname "$BIN")/tests/ppl_ref}
M=$MODEL T=$TOKZ X=$TEXT
need_files absent "$M" "$T" "$X"
[ -x "$REF" ] || { echo "FAIL: reference program $REF not built"; exit 1; }
make_tmp TMP ppl_real
fail=0

# field NAME JSON -> value
field() { printf '%s\n' "$2" | sed -n "s/.*\"$1\": *\([-0-9.eE+]*\).*/\1/p"; }

# compare LABEL ARGS... : run the binary and the reference on the same windows
compare() {
    label=$1; shift
    fmt=$1; max=$2
    set -- "$M" --tokenizer "$T" --text "$X" --ctx 512 --json
    [ "$fmt" = fp32 ] || set -- "$@" --format "$fmt"
    [ "$max" = 0 ] || set -- "$@" --max-tokens "$max"
    got=$("$BIN" ppl "$@") || { echo "FAIL $label: mxalloc ppl exited $?"; fail=1; return; }
    ref=$("$REF" "$M" "$T" "$X" 512 "$fmt" "$max") || { echo "FAIL $label: ppl_ref"; fail=1; return; }
    g=$(field ppl "$got"); r=$(field ppl "$ref")
    gt=$(field tokens "$got"); rt=$(field tokens "$ref")
    ok=$(awk -v g="$g" -v r="$r" 'BEGIN { d = (g - r) / r; if (d < 0) d = -d; print (d <= 5e-4) ? "ok" : "bad" }')
    echo "$label: ppl $g ref $r tokens $gt/$rt -> $ok"
    if [ "$ok" != ok ] || [ "$gt" != "$rt" ] || [ -z "$g" ]; then fail=1; fi
}

# The MX formats on 4 windows by default (the reference is slow);
# MXALLOC_PPL_FULL=1 runs each on the full text too.
compare "fp32 full text" fp32 0
for f in bf16 mxfp8_e4m3 mxfp8_e5m2 mxint8 mxfp6_e3m2 mxfp6_e2m3 mxfp4_e2m1; do
    if [ "${MXALLOC_PPL_FULL:-0}" = 1 ]; then
        compare "$f full text" "$f" 0
    else
        compare "$f 4 windows" "$f" 2048
    fi
done

# the same model converted to a Hugging Face directory and to GGUF (F32): the
# same perplexity on the full text (RoPE pairs differ, the function does not)
base=$("$BIN" ppl "$M" --tokenizer "$T" --text "$X" --ctx 512 --json)
for kind in hf gguf; do
    dst=$TMP/model.$kind
    "$REF" --convert "$M" "$dst" $kind || { echo "FAIL: convert to $kind"; fail=1; continue; }
    got=$("$BIN" ppl "$dst" --tokenizer "$T" --text "$X" --ctx 512 --json) || { echo "FAIL: ppl $kind"; fail=1; continue; }
    ok=$(awk -v g="$(field ppl "$got")" -v r="$(field ppl "$base")" 'BEGIN { d = (g - r) / r; if (d < 0) d = -d; print (d <= 5e-4) ? "ok" : "bad" }')
    echo "$kind: ppl $(field ppl "$got") llama2.c $(field ppl "$base") -> $ok"
    [ "$ok" = ok ] || fail=1
    # blocks run along a row (input features), so permuted q/k rows quantize alike
    q1=$("$BIN" ppl "$dst" --tokenizer "$T" --text "$X" --ctx 512 --max-tokens 2048 --format mxfp4 --json)
    q0=$("$BIN" ppl "$M" --tokenizer "$T" --text "$X" --ctx 512 --max-tokens 2048 --format mxfp4 --json)
    ok=$(awk -v g="$(field ppl "$q1")" -v r="$(field ppl "$q0")" 'BEGIN { d = (g - r) / r; if (d < 0) d = -d; print (d <= 5e-4) ? "ok" : "bad" }')
    echo "$kind mxfp4: ppl $(field ppl "$q1") llama2.c $(field ppl "$q0") -> $ok"
    [ "$ok" = ok ] || fail=1
done

# a Hugging Face directory with its tokenizer.json (the default --tokenizer;
# no BOS token, so <|endoftext|> starts each window)
"$REF" --make-hf "$TMP/tiny" || { echo "FAIL: make-hf"; fail=1; }
got=$("$BIN" ppl "$TMP/tiny" --text "$X" --ctx 64 --max-tokens 1024 --json) || { echo "FAIL: ppl on an HF directory"; fail=1; }
ref=$("$REF" "$TMP/tiny" "$TMP/tiny/tokenizer.json" "$X" 64 fp32 1024)
ok=$(awk -v g="$(field ppl "$got")" -v r="$(field ppl "$ref")" 'BEGIN { d = (g - r) / r; if (d < 0) d = -d; print (d <= 5e-4 && r > 0) ? "ok" : "bad" }')
echo "tiny HF + tokenizer.json: ppl $(field ppl "$got") ref $(field ppl "$ref") tokens $(field tokens "$got") -> $ok"
[ "$ok" = ok ] && [ "$(field tokens "$got")" = 1024 ] || fail=1

# SOURCE.md: mean NLL 1.563 on the first 381 tokens
out=$("$BIN" ppl "$M" --tokenizer "$T" --text "$X" --ctx 381 --max-tokens 381 --json)
nll=$(field nll "$out")
echo "first 381 tokens: nll $nll (SOURCE.md: 1.563)"
awk -v v="$nll" 'BEGIN { exit !(v > 1.553 && v < 1.573) }' || { echo "FAIL: sanity nll"; fail=1; }

# --config: one module at mxfp4 differs from fp32, and a config naming all
# modules at mxfp4 equals --format mxfp4_e2m1
printf '{"formats": {"model.layers.2.mlp.down_proj": "mxfp4_e2m1"}, "other": 3, "budget_bits": 30}\n' > "$TMP/one.json"
one=$("$BIN" ppl "$M" --tokenizer "$T" --text "$X" --ctx 512 --max-tokens 1024 --config "$TMP/one.json" --json) || { echo "FAIL: --config"; fail=1; }
fp=$("$BIN" ppl "$M" --tokenizer "$T" --text "$X" --ctx 512 --max-tokens 1024 --json)
[ "$(field nll "$one")" != "$(field nll "$fp")" ] || { echo "FAIL: --config had no effect"; fail=1; }
all_modules_config mxfp4_e2m1 > "$TMP/all.json"
a=$("$BIN" ppl "$M" --tokenizer "$T" --text "$X" --ctx 512 --max-tokens 1024 --config "$TMP/all.json" --json)
b=$("$BIN" ppl "$M" --tokenizer "$T" --text "$X" --ctx 512 --max-tokens 1024 --format mxfp4 --json)
[ -n "$a" ] && [ "$a" = "$b" ] || { echo "FAIL: all-mxfp4 config '$a' != --format '$b'"; fail=1; }

# errors: exit 1 for bad values, 2 for usage
expect() {
    want=$1; shift
    "$BIN" ppl "$@" >/dev/null 2>"$TMP/err"; rc=$?
    if [ "$rc" != "$want" ]; then echo "FAIL: ppl $* -> exit $rc, want $want"; cat "$TMP/err"; fail=1; fi
    if [ "$want" != 0 ] && [ ! -s "$TMP/err" ]; then echo "FAIL: ppl $* printed no message"; fail=1; fi
}
: > "$TMP/empty.txt"
printf 'Once upon a time' > "$TMP/short.txt"
printf '{"formats": {"model.layers.9.mlp.up_proj": "mxfp4"}}\n' > "$TMP/badmod.json"
printf '{"formats": {"model.layers.0.mlp.up_proj": "mxfp3"}}\n' > "$TMP/badfmt.json"
# a context beyond the trained one is a default, not a cap: a warning, then it runs
expect 0 "$M" --tokenizer "$T" --text "$X" --ctx 513 --max-tokens 513
grep -q "warning: --ctx 513 exceeds the model's trained context 512" "$TMP/err" ||
    { echo "FAIL: --ctx 513 printed no warning"; cat "$TMP/err"; fail=1; }
expect 1 "$M" --tokenizer "$T" --text "$TMP/empty.txt"
expect 1 "$M" --tokenizer "$T" --text "$TMP/short.txt" --ctx 64
expect 2 "$M" --tokenizer "$T" --text "$X" --format mxfp3
expect 1 "$M" --tokenizer "$T" --text "$X" --config "$TMP/badmod.json"
expect 1 "$M" --tokenizer "$T" --text "$X" --config "$TMP/badfmt.json"
expect 1 "$M" --tokenizer "$T" --text "$TMP/nonexistent.txt"
expect 1 "$TMP/nonexistent.bin" --tokenizer "$T" --text "$X"
expect 2 "$M" --tokenizer "$T"
# a llama2.c checkpoint carries no tokenizer and none lies beside it
expect 1 "$M" --text "$X"
expect 2 "$M" --tokenizer "$T" --text "$X" --ctx
expect 2 "$M" --tokenizer "$T" --text "$X" --ctx 0
expect 2 "$M" --tokenizer "$T" --text "$X" --format mxfp4 --config "$TMP/all.json"
expect 2 "$M" --tokenizer "$T" --text "$X" --bogus
expect 2 --tokenizer "$T" --text "$X"
expect 0 --help
exit $fail
