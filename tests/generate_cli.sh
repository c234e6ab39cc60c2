#!/bin/sh
# mxalloc generate: greedy continuations on the real models, --format/--config,
# the context limit, and bad inputs (exit 1 with one line, usage exit 2).
# stories260K's ids were computed by the float64 reference decoding token by
# token (tests/test_generate.c, test_stories260k, asserts the same ids);
# tinystories-656k's come from its model card and a second implementation
# (issue 9). Parts whose data is absent are skipped with a message.
. "$(dirname "$0")/cli_lib.sh"
M=$MODEL T=$TOKZ H=$H656K
make_tmp TMP generate_cli
fail=0
ran=0

# ids KEY JSON -> the array's numbers, space-separated
ids() { printf '%s\n' "$2" | sed -n "s/.*\"$1\":\[\([0-9,]*\)\].*/\1/p" | tr ',' ' '; }
str() { printf '%s\n' "$2" | sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }
check() { # LABEL GOT WANT
    if [ "$2" = "$3" ]; then echo "ok: $1"; else echo "FAIL: $1: got '$2', want '$3'"; fail=1; fi
}
expect() { expect_sub generate "$@"; } # STATUS ARGS...

# usage errors need no data
expect 0 --help
grep -q '^usage: mxalloc generate MODEL' "$TMP/out" || { echo "FAIL: --help prints no usage"; fail=1; }
grep -q 'no KV cache' "$TMP/out" || { echo "FAIL: --help does not say each token reruns the window"; fail=1; }
expect 2
expect 2 model.bin
expect 2 --prompt hi
expect 2 a.bin b.bin --prompt hi
expect 2 model.bin --prompt hi -n 0
expect 2 model.bin --prompt hi -n x
expect 2 model.bin --prompt hi -n
expect 2 model.bin --prompt hi --ctx 0
expect 2 model.bin --prompt hi --bogus
expect 2 model.bin --prompt hi --format mxfp4 --config c.json
expect 1 "$TMP/missing.bin" --prompt hi

if [ -r "$M" ] && [ -r "$T" ]; then
    ran=1
    run() { "$BIN" generate "$M" --tokenizer "$T" "$@"; }
    out=$(run --prompt "Once upon a time" -n 24 --json) || { echo "FAIL: generate on stories260K exited $?"; fail=1; }
    check "stories260K prompt ids" "$(ids prompt_ids "$out")" "1 403 407 261 378"
    check "stories260K greedy ids" "$(ids ids "$out")" \
        "432 383 286 261 376 298 315 421 395 317 426 338 401 396 267 337 410 408 419 292 411 322 265 282"
    check "stories260K stop" "$(str stop "$out")" "length"
    fp32_ids=$(ids ids "$out")
    txt=$(run --prompt "Once upon a time" -n 24)
    check "stories260K text" "$txt" ", there was a little girl named Lily. She loved to play outside in the p"
    check "stories260K json text" "$(str text "$out")" "$txt"
    # the window limit: 5 prompt tokens + 3 fill --ctx 8
    out=$(run --prompt "Once upon a time" -n 24 --ctx 8 --json)
    check "--ctx 8 ids" "$(ids ids "$out")" "432 383 286"
    check "--ctx 8 stop" "$(str stop "$out")" "context"
    # a document ends with BOS in llama2.c's training data: a stop id
    long=$(run --prompt "Once upon a time" -n 512 --json)
    st=$(str stop "$long")
    case $st in eos|context) echo "ok: long run stops at $st" ;; *) echo "FAIL: long run stop '$st'"; fail=1 ;; esac
    # --config naming every module equals --format; fake quantization reaches the text
    all_modules_config mxfp4_e2m1 > "$TMP/all.json"
    a=$(run --prompt "Once upon a time" -n 24 --config "$TMP/all.json" --json) || { echo "FAIL: --config exited $?"; fail=1; }
    b=$(run --prompt "Once upon a time" -n 24 --format mxfp4 --json)
    check "--config all mxfp4 = --format mxfp4" "$a" "$b"
    [ -n "$(ids ids "$a")" ] && [ "$(ids ids "$a")" != "$fp32_ids" ] ||
        { echo "FAIL: mxfp4 left every token unchanged or produced none"; fail=1; }
    echo "mxfp4: $(run --prompt "Once upon a time" -n 24 --format mxfp4)"
    c=$(run --prompt "Once upon a time" -n 24 --format mxfp8_e4m3 --json)
    [ -n "$(ids ids "$c")" ] || { echo "FAIL: mxfp8 produced nothing"; fail=1; }
    printf '{"formats": {"model.layers.9.mlp.up_proj": "mxfp4"}}\n' > "$TMP/badmod.json"
    printf '{"formats": {"model.layers.0.mlp.up_proj": "mxfp3"}}\n' > "$TMP/badfmt.json"
    printf '{"formats": ' > "$TMP/trunc.json"
    # bad inputs: exit 1, one line
    expect 1 "$M" --tokenizer "$T" --prompt hi --format mxfp3
    expect 1 "$M" --tokenizer "$T" --prompt hi --config "$TMP/badmod.json"
    expect 1 "$M" --tokenizer "$T" --prompt hi --config "$TMP/badfmt.json"
    expect 1 "$M" --tokenizer "$T" --prompt hi --config "$TMP/trunc.json"
    expect 1 "$M" --tokenizer "$T" --prompt hi --config "$TMP/missing.json"
    expect 1 "$M" --tokenizer "$TMP/missing.bin" --prompt hi
    expect 1 "$M" --tokenizer "$T" --prompt "Once upon a time there was" --ctx 4
    expect 1 "$T" --tokenizer "$T" --prompt hi
    expect 0 "$M" --tokenizer "$T" --prompt "" -n 3

    # the workbench: `generate` with the current allocation is `mxalloc
    # generate --config` of that allocation exported; fp32 without scores
    export XDG_CACHE_HOME="$TMP/cache" XDG_DATA_HOME="$TMP/data"
    printf 'generate 24\ngenerate 3 Once upon\n' > "$TMP/g0.txt"
    "$BIN" "$M" --tokenizer "$T" --script "$TMP/g0.txt" >"$TMP/wb0" 2>"$TMP/err" ||
        { echo "FAIL: workbench generate without scores: $(cat "$TMP/err")"; fail=1; }
    check "workbench fp32 sample" "$(sed -n 1p "$TMP/wb0")" \
        "generate: fp32, 24 tokens (stop length): Once upon a time$txt"
    check "workbench prompt words" "$(sed -n 2p "$TMP/wb0")" \
        "generate: fp32, 3 tokens (stop length): Once upon$(run --prompt "Once upon" -n 3)"
    FAKE=${UI_FAKE_SCORES:-"$(dirname "$BIN")/tests/ui_fake_scores"}
    X=$TEXT
    if [ -x "$FAKE" ] && [ -r "$X" ] && "$FAKE" "$M" "$TMP/s.scores" "$T" "$X"; then
        printf 'budget 4.6\nexport %s\ngenerate 24\n' "$TMP/wb.json" > "$TMP/g1.txt"
        "$BIN" "$M" --tokenizer "$T" --scores "$TMP/s.scores" --script "$TMP/g1.txt" >"$TMP/wb1" 2>"$TMP/err" ||
            { echo "FAIL: workbench generate: $(cat "$TMP/err")"; fail=1; }
        bits=$(sed -n 's/^budget 4.60: avg_bits \([0-9.]*\) .*/\1/p' "$TMP/wb1")
        cli=$(run --prompt "Once upon a time" -n 24 --config "$TMP/wb.json")
        check "workbench sample = generate --config" "$(grep '^generate:' "$TMP/wb1")" \
            "generate: avg_bits $bits, 24 tokens (stop length): Once upon a time$cli"
    else
        echo "SKIP: workbench allocation sample (tests/ui_fake_scores not built or text absent)"
    fi
    printf 'generate 0\n' > "$TMP/g2.txt"
    "$BIN" "$M" --tokenizer "$T" --script "$TMP/g2.txt" >/dev/null 2>"$TMP/err"
    [ $? = 1 ] && grep -q "not a token count" "$TMP/err" || { echo "FAIL: workbench generate 0 accepted"; fail=1; }
else
    echo "SKIP: stories260K absent ($M; set MXALLOC_DATA)"
fi

if [ -r "$H/model.safetensors" ] && [ -r "$H/tokenizer.json" ]; then
    ran=1
    # a plain directory argument: the tokenizer is found in it
    out=$("$BIN" generate "$H" --prompt "Once upon a time" -n 10 --json 2>"$TMP/err") ||
        { echo "FAIL: generate on tinystories-656k exited $?: $(cat "$TMP/err")"; fail=1; }
    check "656k prompt ids" "$(ids prompt_ids "$out")" "1 80 147 201 282 57"
    check "656k greedy ids" "$(ids ids "$out")" "313 598 303 1049 1468 267 628 333 94 1210"
    check "656k text" "$(str text "$out")" ", a little girl named Lily lived in a small house with her mom, dad"
    txt=$("$BIN" generate "$H" --prompt "Once upon a time" -n 10 2>/dev/null)
    check "656k plain text" "$txt" ", a little girl named Lily lived in a small house with her mom, dad"
else
    echo "SKIP: tinystories-656k absent ($H; set MXALLOC_DATA)"
fi
[ "$ran" = 1 ] || exit 77
exit $fail
