#!/bin/sh
# mxalloc quantize of a pruned config (mxalloc prune's "prune" section), for
# stories260K and tinystories-656k:
#   - the config `mxalloc prune` makes (layers of different sizes, a sublayer
#     kept at 0 units for stories260K) is written as llama.cpp's deci
#     architecture with per-layer counts and fewer weights than the model;
#     mxalloc reads it back (zero-padded to the largest layer) and its
#     perplexity is the config's;
#   - configs pruning every layer alike (also to 0 units: one unit of zeros)
#     stay architecture llama: `info --json` shows every module's smaller
#     shape and `ppl FILE.gguf` gives `ppl MODEL --config CFG`'s nll (to 1e-6
#     relative: the smaller matrices sum their products in another order);
#   - --layout mx refuses a pruned config in one line and writes nothing.
# llama.cpp itself is not run here (see man/mxalloc.1, quantize).
# Parts whose data is absent are skipped with a message.
. "$(dirname "$0")/cli_lib.sh"
M=$MODEL T=$TOKZ H=$H656K X=$TEXT
make_tmp TMP prune_gguf_cli
XDG_CACHE_HOME=$TMP/cache; export XDG_CACHE_HOME
fail=0
ran=0

if [ ! -r "$M" ] || [ ! -r "$T" ] || [ ! -r "$X" ]; then
    echo "SKIP: stories260K or the text absent ($DATA; set MXALLOC_DATA)"
    exit 77
fi
# LF text (tinystories-656k's tokenizer treats "\r" as a character)
tr -d '\r' <"$X" >"$TMP/text.txt"
X=$TMP/text.txt
mkdir "$TMP/o"

field() { printf '%s\n' "$2" | sed -n "s/.*\"$1\": *\([^,}]*\).*/\1/p"; }
num() { sed -n "s/.*\"$1\": *\([0-9]*\).*/\1/p" "$2" | head -n 1; }
# close A B: nll A equals B to 1e-6 relative
close() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && b != "" && d <= 1e-6 * (a < 0 ? -a : a)) }'; }

# uniform_cfg LAYERS KV FF ATTN MLP: every module in one of the formats
# (rotating), and every layer pruned alike: attention keeps the GQA groups
# ATTN ("0, 2" or "" for none), the MLP the channels j % 4 != 1 (MLP=most),
# j % 2 == 0 (half) or none
uniform_cfg() {
    awk -v L="$1" -v KV="$2" -v FF="$3" -v A="$4" -v P="$5" 'BEGIN {
        n = split("mxfp4_e2m1 mxint8 mxfp6_e2m3 mxfp8_e4m3 nvfp4 bf16 mxfp6_e3m2", fm, " ")
        split("self_attn.q_proj self_attn.k_proj self_attn.v_proj self_attn.o_proj mlp.gate_proj mlp.up_proj mlp.down_proj", pj, " ")
        printf "{\"formats\": {"; sep = ""
        for (l = 0; l < L; l++)
            for (k = 1; k <= 7; k++) {
                printf "%s\"model.layers.%d.%s\": \"%s\"", sep, l, pj[k], fm[(l + k) % n + 1]; sep = ", "
            }
        printf "}, \"prune\": {"; sep = ""
        for (l = 0; l < L; l++) {
            printf "%s\"model.layers.%d.self_attn\": {\"units\": %d, \"keep\": [%s]}", sep, l, KV, A; sep = ", "
            printf ", \"model.layers.%d.mlp\": {\"units\": %d, \"keep\": [", l, FF; s2 = ""
            for (j = 0; j < FF; j++)
                if ((P == "most" && j % 4 != 1) || (P == "half" && j % 2 == 0)) { printf "%s%d", s2, j; s2 = ", " }
            printf "]}"
        }
        printf "}}\n" }'
}

# check_shapes INFO.json LAYERS DIM HD HEADS KV FF: every module's rows x cols
check_shapes() {
    awk -v L="$2" -v D="$3" -v HD="$4" -v NH="$5" -v KV="$6" -v FF="$7" '
        /"kind"/ { gsub(/[",]/, "", $2); k = $2 }
        /"rows"/ { gsub(/,/, "", $2); r = $2 }
        /"cols"/ { gsub(/,/, "", $2); c = $2; n++
                   wr = k == "q" ? NH * HD : k == "k" || k == "v" ? KV * HD : k == "gate" || k == "up" ? FF : D
                   wc = k == "o" ? NH * HD : k == "down" ? FF : D
                   if (r != wr || c != wc) { printf "%s is %dx%d, want %dx%d\n", k, r, c, wr, wc; bad = 1 } }
        END { if (n != 7 * L) { printf "%d modules, want %d\n", n, 7 * L; bad = 1 }; exit bad }' "$1"
}

# MODEL TAG TOKENIZER-ARGS
run_model() {
    model=$1 tag=$2; shift 2
    ran=1
    "$BIN" info "$model" --json >"$TMP/$tag-info.json" 2>"$TMP/err" || { echo "FAIL: info $tag: $(cat "$TMP/err")"; fail=1; return; }
    L=$(num n_layers "$TMP/$tag-info.json") D=$(num dim "$TMP/$tag-info.json") HD=$(num head_dim "$TMP/$tag-info.json")
    NH=$(num n_heads "$TMP/$tag-info.json") KV=$(num n_kv_heads "$TMP/$tag-info.json")
    FF=$(num hidden_dim "$TMP/$tag-info.json")
    rep=$((NH / KV))

    # what `mxalloc prune` writes: layers of different sizes
    cfg=$TMP/$tag-prune.json g=$TMP/o/$tag-prune.gguf
    if ! "$BIN" prune "$model" "$@" --text "$X" --budget 3.0 --ctx 128 --tokens 1024 --out "$cfg" >/dev/null 2>"$TMP/err"; then
        echo "FAIL: prune $tag: $(cat "$TMP/err")"; fail=1
    elif ! q=$("$BIN" quantize "$model" "$cfg" "$@" --out "$g" --json 2>"$TMP/err"); then
        echo "FAIL: quantize $tag pruned: $(cat "$TMP/err")"; fail=1
    else
        zeros=$(grep -c '"keep": \[\]' "$cfg")
        kept=$(field linear_params "$q") full=$(field linear_params_unpruned "$q")
        if [ "$(field pruned "$q")" = true ] && [ "$kept" -lt "$full" ] && [ "$(field zero_units "$q")" = "$zeros" ]; then
            echo "ok: $tag pruned by mxalloc prune: $kept of $full linear weights written," \
                 "$(field unpruned_bits "$q") bits per unpruned weight, $zeros sublayer(s) as one unit of zeros"
        else
            echo "FAIL: $tag pruned: $q (config keeps $zeros group(s) at 0 units)"; fail=1
        fi
        if "$BIN" info "$g" --json >"$TMP/$tag-p.json" 2>"$TMP/err"; then
            # read back with per-layer shapes: the same perplexity
            ref=$("$BIN" ppl "$model" "$@" --text "$X" --ctx 128 --max-tokens 2048 --config "$cfg" --json)
            pg=$("$BIN" ppl "$g" --text "$X" --ctx 128 --max-tokens 2048 --json)
            if close "$(field nll "$pg")" "$(field nll "$ref")"; then
                echo "ok: $tag pruned GGUF read back: ppl $(field ppl "$pg") (config $(field ppl "$ref"))"
            else
                echo "FAIL: $tag pruned GGUF: '$pg', config '$ref'"; fail=1
            fi
        else
            echo "FAIL: $tag: reading the pruned GGUF: $(cat "$TMP/err")"; fail=1
        fi
    fi
    # --layout mx cannot hold pruned shapes: one line, nothing written
    if [ -r "$cfg" ]; then
        expect_sub quantize 1 "$model" "$cfg" "$@" --out "$TMP/o/$tag.mx" --layout mx
        grep -q "cannot hold pruned shapes" "$cli_tmp/err" || { echo "FAIL: $tag mx: $(cat "$cli_tmp/err")"; fail=1; }
        if [ -e "$TMP/o/$tag.mx" ]; then
            echo "FAIL: $tag: --layout mx left $TMP/o/$tag.mx"; fail=1
        else
            echo "ok: $tag --layout mx refuses the pruned config: $(cat "$cli_tmp/err")"
        fi
    fi

    # every layer alike: architecture llama, read back by mxalloc
    all=$(seq -s ', ' 0 $((KV - 1)))
    for v in "most:0, 2" "half:" "none:1" "none:$all"; do
        mlp=${v%%:*} attn=${v#*:}
        na=$(printf '%s\n' "$attn" | awk -F, '{ print NF }')
        [ "$na" = 0 ] && na=1 # none kept: one group of zeros
        case $mlp in
        most) nf=$(awk -v f="$FF" 'BEGIN { for (j = 0; j < f; j++) n += j % 4 != 1; print n }') ;;
        half) nf=$(((FF + 1) / 2)) ;;
        none) nf=1 ;;
        esac
        cfg=$TMP/$tag-u.json g=$TMP/o/$tag-u-$mlp-$na.gguf
        uniform_cfg "$L" "$KV" "$FF" "$attn" "$mlp" >"$cfg"
        label="$tag attention [$attn] mlp $mlp"
        if ! "$BIN" quantize "$model" "$cfg" "$@" --out "$g" >/dev/null 2>"$TMP/err"; then
            echo "FAIL: quantize $label: $(cat "$TMP/err")"; fail=1; continue
        fi
        if ! "$BIN" info "$g" --json >"$TMP/u.json" 2>"$TMP/err"; then
            echo "FAIL: info $label: $(cat "$TMP/err")"; fail=1; continue
        fi
        if [ "$(sed -n 's/.*"arch": *"\([a-z0-9]*\)".*/\1/p' "$TMP/u.json")" != llama ] ||
            ! check_shapes "$TMP/u.json" "$L" "$D" "$HD" $((na * rep)) "$na" "$nf" >"$TMP/err"; then
            echo "FAIL: $label: shapes: $(cat "$TMP/err")"; fail=1; continue
        fi
        ref=$("$BIN" ppl "$model" "$@" --text "$X" --ctx 128 --max-tokens 2048 --config "$cfg" --json)
        pg=$("$BIN" ppl "$g" --text "$X" --ctx 128 --max-tokens 2048 --json)
        if close "$(field nll "$pg")" "$(field nll "$ref")"; then
            echo "ok: $label: $((na * rep)) heads, $na kv heads, $nf channels per layer; ppl $(field ppl "$pg")" \
                 "from the GGUF, $(field ppl "$ref") from the config"
        else
            echo "FAIL: $label: GGUF '$pg', config '$ref'"; fail=1
        fi
    done
}
run_model "$M" s260k --tokenizer "$T"
if [ -r "$H/model.safetensors" ] && [ -r "$H/tokenizer.json" ]; then
    run_model "$H" s656k
else
    echo "SKIP: tinystories-656k absent ($H; set MXALLOC_DATA)"
fi
[ "$ran" = 1 ] || exit 77
exit $fail
