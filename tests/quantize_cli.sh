#!/bin/sh
# mxalloc quantize: for stories260K and tinystories-656k at 4.5, 5.0 and 6.0
# bits (small calibration), the GGUF and the packed MX directory are written
# and read back with exactly the perplexity of `ppl MODEL --config CFG`;
# bad configs and arguments exit 1/2 with one line and leave no file.
# Parts whose data is absent are skipped with a message.
. "$(dirname "$0")/cli_lib.sh"
M=$MODEL T=$TOKZ H=$H656K X=$TEXT
make_tmp TMP quantize_cli
XDG_CACHE_HOME=$TMP/cache; export XDG_CACHE_HOME
fail=0
ran=0

field() { printf '%s\n' "$2" | sed -n "s/.*\"$1\": *\([^,}]*\).*/\1/p"; }
expect() { expect_sub quantize "$@"; } # STATUS ARGS...
ppl_dir() { # the perplexity JSON of a packed MX directory (its own tokenizer.bin when written)
    if [ -r "$1/tokenizer.bin" ]; then
        "$BIN" ppl "$1" --tokenizer "$1/tokenizer.bin" --text "$X" --ctx 128 --max-tokens 2048 --json
    else
        "$BIN" ppl "$1" --text "$X" --ctx 128 --max-tokens 2048 --json
    fi
}
nothing_left() { # LABEL: no output and no temporary file in $TMP/o
    if [ -n "$(ls -A "$TMP/o")" ]; then echo "FAIL: $1 left files: $(ls -A "$TMP/o")"; fail=1; fi
}

expect 0 --help
grep -q '^usage: mxalloc quantize MODEL CFG.json' "$TMP/out" || { echo "FAIL: --help prints no usage"; fail=1; }
expect 2
expect 2 model cfg.json
expect 2 model cfg.json --out x --layout onnx
expect 2 model cfg.json --out x --bogus

if [ ! -r "$M" ] || [ ! -r "$T" ] || [ ! -r "$X" ]; then
    echo "SKIP: stories260K or the text absent ($DATA; set MXALLOC_DATA)"
    exit 77
fi
# LF text (tinystories-656k's tokenizer treats "\r" as a character)
tr -d '\r' <"$X" >"$TMP/text.txt"
X=$TMP/text.txt
mkdir "$TMP/o"

# bad configs: one line, nothing written
printf '{"formats": {"model.layers.0.self_attn.q_proj": "mxfp5"}}\n' >"$TMP/bad1.json"
printf '{"formats": {"model.layers.99.mlp.up_proj": "mxfp4"}}\n' >"$TMP/bad2.json"
printf '{"formats": ' >"$TMP/bad3.json"
for c in bad1 bad2 bad3 missing; do
    expect 1 "$M" "$TMP/$c.json" --tokenizer "$T" --out "$TMP/o/x.gguf"
    expect 1 "$M" "$TMP/$c.json" --tokenizer "$T" --out "$TMP/o/x.mx" --layout mx
    nothing_left "config $c"
done
# an unwritable destination
printf '{"formats": {}}\n' >"$TMP/fp32.json"
expect 1 "$M" "$TMP/fp32.json" --tokenizer "$T" --out "$TMP/o/no/such/dir.gguf"
nothing_left "missing directory"
# a non-empty directory is not replaced
mkdir "$TMP/full"; echo keep >"$TMP/full/f"
expect 1 "$M" "$TMP/fp32.json" --tokenizer "$T" --out "$TMP/full" --layout mx
[ "$(cat "$TMP/full/f")" = keep ] || { echo "FAIL: a non-empty directory was touched"; fail=1; }

# MODEL TAG TOKENIZER-ARGS: score, then three budgets, both layouts
run_model() {
    model=$1 tag=$2; shift 2
    ran=1
    "$BIN" score "$model" "$@" --text "$X" --tokens 1024 --ctx 128 --out "$TMP/$tag.scores" >/dev/null 2>"$TMP/err" ||
        { echo "FAIL: score $tag: $(cat "$TMP/err")"; fail=1; return; }
    for b in 4.5 5.0 6.0; do
        cfg=$TMP/$tag-$b.json g=$TMP/o/$tag-$b.gguf d=$TMP/o/$tag-$b.mx
        "$BIN" alloc "$TMP/$tag.scores" --budget "$b" --out "$cfg" >/dev/null 2>"$TMP/err" ||
            { echo "FAIL: alloc $tag $b: $(cat "$TMP/err")"; fail=1; continue; }
        qg=$("$BIN" quantize "$model" "$cfg" "$@" --out "$g" --json 2>"$TMP/err") ||
            { echo "FAIL: quantize $tag $b gguf: $(cat "$TMP/err")"; fail=1; continue; }
        qd=$("$BIN" quantize "$model" "$cfg" "$@" --out "$d" --layout mx --json 2>"$TMP/err") ||
            { echo "FAIL: quantize $tag $b mx: $(cat "$TMP/err")"; fail=1; continue; }
        ref=$("$BIN" ppl "$model" "$@" --text "$X" --ctx 128 --max-tokens 2048 --config "$cfg" --json)
        pg=$("$BIN" ppl "$g" --text "$X" --ctx 128 --max-tokens 2048 --json)
        pd=$(ppl_dir "$d")
        if [ -n "$ref" ] && [ "$pg" = "$ref" ] && [ "$pd" = "$ref" ]; then
            echo "ok: $tag $b: ppl $(field ppl "$ref") from the config, the GGUF and the MX directory;" \
                 "GGUF $(field linear_bits "$qg") / MX $(field linear_bits "$qd") bits per linear weight"
        else
            echo "FAIL: $tag $b: config '$ref', GGUF '$pg', MX '$pd'"; fail=1
        fi
        # the packed directory holds the budget's bits exactly (scales included)
        avg=$(sed -n 's/.*"avg_bits": *\([0-9.]*\).*/\1/p' "$cfg")
        ok=$(awk -v a="$avg" -v g="$(field linear_bits "$qd")" 'BEGIN { d = a - g; if (d < 0) d = -d; print (d < 1e-4) ? "ok" : "bad" }')
        [ "$ok" = ok ] || { echo "FAIL: $tag $b: MX bits $(field linear_bits "$qd") != config's $avg"; fail=1; }
    done
    # the mse scale mode: same files but for scale bytes, read back exactly
    cfg=$TMP/$tag-mse.json
    if "$BIN" score "$model" "$@" --text "$X" --tokens 1024 --ctx 128 --method fisher \
            --formats mxfp4,mxfp4+mse,e2m3,e2m3+mse,int8 --out "$TMP/$tag-mse.scores" >/dev/null 2>"$TMP/err" &&
        "$BIN" alloc "$TMP/$tag-mse.scores" --budget 5 --out "$cfg" >/dev/null 2>"$TMP/err" &&
        grep -q '+mse"' "$cfg"; then
        sed 's/+mse"/"/' "$cfg" >"$TMP/$tag-ocp.json"
        g=$TMP/o/$tag-mse.gguf d=$TMP/o/$tag-mse.mx go=$TMP/o/$tag-ocp.gguf
        "$BIN" quantize "$model" "$cfg" "$@" --out "$g" >/dev/null 2>&1 &&
            "$BIN" quantize "$model" "$TMP/$tag-ocp.json" "$@" --out "$go" >/dev/null 2>&1 &&
            "$BIN" quantize "$model" "$cfg" "$@" --out "$d" --layout mx >/dev/null 2>&1 || { echo "FAIL: quantize $tag mse"; fail=1; }
        ref=$("$BIN" ppl "$model" "$@" --text "$X" --ctx 128 --max-tokens 2048 --config "$cfg" --json)
        ocp=$("$BIN" ppl "$model" "$@" --text "$X" --ctx 128 --max-tokens 2048 --config "$TMP/$tag-ocp.json" --json)
        pg=$("$BIN" ppl "$g" --text "$X" --ctx 128 --max-tokens 2048 --json)
        pd=$(ppl_dir "$d")
        if [ -n "$ref" ] && [ "$pg" = "$ref" ] && [ "$pd" = "$ref" ] && [ "$ref" != "$ocp" ] &&
            [ "$(wc -c <"$g")" = "$(wc -c <"$go")" ] && ! cmp -s "$g" "$go" &&
            grep -q '"scale_rule": *"mse"' "$d/config.json"; then
            echo "ok: $tag mse scales: ppl $(field ppl "$ref") (ocp-floor $(field ppl "$ocp")) from the config," \
                 "the GGUF (same size, other bytes) and the MX directory"
        else
            echo "FAIL: $tag mse: config '$ref', ocp '$ocp', GGUF '$pg', MX '$pd'"; fail=1
        fi
    else
        echo "FAIL: $tag mse allocation: $(cat "$TMP/err")"; fail=1
    fi
    # NVFP4 beside MX: the GGUF (NVFP4 blocks of 64 + NAME.scale, or BF16 on
    # other rows) reads back exactly; the MX layout refuses it and writes nothing
    cfg=$TMP/$tag-nv.json g=$TMP/o/$tag-nv.gguf
    if "$BIN" score "$model" "$@" --text "$X" --tokens 1024 --ctx 128 --method fisher \
            --formats nvfp4,nvfp4+mse,mxfp4,int8 --out "$TMP/$tag-nv.scores" >/dev/null 2>"$TMP/err" &&
        "$BIN" alloc "$TMP/$tag-nv.scores" --budget 5 --out "$cfg" >/dev/null 2>"$TMP/err" &&
        grep -q "\"nvfp4" "$cfg" && "$BIN" quantize "$model" "$cfg" "$@" --out "$g" >/dev/null 2>"$TMP/err"; then
        ref=$("$BIN" ppl "$model" "$@" --text "$X" --ctx 128 --max-tokens 2048 --config "$cfg" --json)
        pg=$("$BIN" ppl "$g" --text "$X" --ctx 128 --max-tokens 2048 --json)
        if [ -n "$ref" ] && [ "$pg" = "$ref" ]; then
            echo "ok: $tag nvfp4: ppl $(field ppl "$ref") from the config and the GGUF"
        else
            echo "FAIL: $tag nvfp4: config '$ref', GGUF '$pg'"; fail=1
        fi
        expect 1 "$model" "$cfg" "$@" --out "$TMP/o/$tag-nv.mx" --layout mx
        grep -q "not an OCP MX format" "$cli_tmp/err" || { echo "FAIL: $tag nvfp4 MX layout: $(cat "$cli_tmp/err")"; fail=1; }
        [ ! -e "$TMP/o/$tag-nv.mx" ] || { echo "FAIL: $tag nvfp4 MX layout left $TMP/o/$tag-nv.mx"; fail=1; }
    else
        echo "FAIL: $tag nvfp4 allocation: $(cat "$TMP/err")"; fail=1
    fi
    # --target llama-cpp: the budget is the GGUF's bits per linear weight
    cfg=$TMP/$tag-t.json g=$TMP/o/$tag-t.gguf
    if "$BIN" alloc "$TMP/$tag.scores" --budget 8 --target llama-cpp --out "$cfg" >/dev/null 2>"$TMP/err" &&
        qg=$("$BIN" quantize "$model" "$cfg" "$@" --out "$g" --json 2>"$TMP/err"); then
        avg=$(sed -n 's/.*"avg_bits": *\([0-9.]*\).*/\1/p' "$cfg")
        ok=$(awk -v a="$avg" -v g="$(field linear_bits "$qg")" 'BEGIN { d = a - g; if (d < 0) d = -d; print (d < 1e-4) ? "ok" : "bad" }')
        if [ "$ok" = ok ] && ! grep -q 'not whole blocks' "$TMP/err"; then
            echo "ok: $tag --target llama-cpp at 8 bits: the GGUF holds $avg bits per linear weight"
        else
            echo "FAIL: $tag --target llama-cpp: GGUF $(field linear_bits "$qg") bits, config $avg: $(cat "$TMP/err")"; fail=1
        fi
    else
        echo "FAIL: $tag --target llama-cpp: $(cat "$TMP/err")"; fail=1
    fi
}
run_model "$M" s260k --tokenizer "$T"
if [ -r "$H/model.safetensors" ] && [ -r "$H/tokenizer.json" ]; then
    run_model "$H" s656k
else
    echo "SKIP: tinystories-656k absent ($H; set MXALLOC_DATA)"
fi
[ "$ran" = 1 ] || exit 77
exit $fail
