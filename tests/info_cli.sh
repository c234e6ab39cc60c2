#!/bin/sh
# `mxalloc info`: usage errors, a bad file (exit 1, one line naming it), and
# the stories260K tables (skipped without the data).
. "$(dirname "$0")/cli_lib.sh"
make_tmp tmp mxalloc-info
# has_all FILE WHAT STRING...: FILE holds every STRING (fixed strings)
has_all() {
    file=$1 what=$2; shift 2
    for want in "$@"; do
        grep -qF "$want" "$file" || fail "$what lacks '$want'"
    done
}

"$BIN" info --help >"$tmp/out" 2>&1 || fail "info --help should exit 0"
grep -q 'usage: mxalloc info' "$tmp/out" || fail "--help prints no usage"
"$BIN" info >/dev/null 2>&1; [ $? -eq 2 ] || fail "info without MODEL should exit 2"
"$BIN" info --frobnicate x >/dev/null 2>&1; [ $? -eq 2 ] || fail "unknown option should exit 2"

printf 'this is not a model, just some text bytes\n' >"$tmp/bad.bin"
"$BIN" info "$tmp/bad.bin" >"$tmp/out" 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] || fail "bad file: exit $rc, expected 1"
[ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "bad file: expected one line on stderr, got: $(cat "$tmp/err")"
grep -q 'bad.bin' "$tmp/err" || fail "bad file: message does not name the file: $(cat "$tmp/err")"
[ -s "$tmp/out" ] && fail "bad file: something on stdout"
"$BIN" info "$tmp/missing.bin" >/dev/null 2>"$tmp/err"; [ $? -eq 1 ] || fail "missing file should exit 1"
grep -q 'missing.bin' "$tmp/err" || fail "missing file: message does not name it"

m=$MODEL
v1="$DATA/tinystories-260k/stories260K_v1.bin"
if [ ! -r "$m" ] || [ ! -r "$v1" ]; then
    echo "SKIP: $m not found (set MXALLOC_DATA)"
    exit 77
fi
# A truncated copy of the real model fails with the tensor it cuts.
head -c 150000 "$m" >"$tmp/cut.bin"
"$BIN" info "$tmp/cut.bin" >/dev/null 2>"$tmp/err"; [ $? -eq 1 ] || fail "truncated model should exit 1"
grep -q 'truncated: tensor wq needs 81920 bytes at offset 132380, file has 150000' "$tmp/err" ||
    fail "truncated model: $(cat "$tmp/err")"

"$BIN" info "$m" >"$tmp/out" 2>"$tmp/err" || fail "info stories260K: $(cat "$tmp/err")"
has_all "$tmp/out" "info output" 'format:       llama2.c' \
    'dim 64, hidden 172, layers 5, heads 8, kv heads 4, head_dim 8' \
    'vocab 512, trained context 512' \
    'rope interleaved, theta 10000; rmsnorm eps 1e-05; qk_norm no; tied embeddings yes' \
    '35 quantizable modules, 226560 parameters' \
    'total 260032 parameters'
grep -Eq '^model\.layers\.4\.mlp\.down_proj +down +F32 +64 +172 +11008$' "$tmp/out" || fail "down_proj row"
grep -Eq '^model\.layers\.0\.self_attn\.k_proj +k +F32 +32 +64 +2048$' "$tmp/out" || fail "k_proj row"
[ "$(grep -c '^model\.layers\.' "$tmp/out")" -eq 35 ] || fail "expected 35 module rows"

# The v1 export has the same table.
"$BIN" info "$v1" >"$tmp/out1" 2>&1 || fail "info v1: $(cat "$tmp/out1")"
grep '^model\.layers\.' "$tmp/out" >"$tmp/a"
grep '^model\.layers\.' "$tmp/out1" >"$tmp/b"
cmp -s "$tmp/a" "$tmp/b" || fail "legacy and v1 module tables differ"

"$BIN" info --json "$m" >"$tmp/json" 2>"$tmp/err" || fail "info --json: $(cat "$tmp/err")"
for want in '"file_kind": "llama2.c"' '"n_layers": 5' '"n_kv_heads": 4' '"vocab_size": 512' \
            '"rope_style": "interleaved"' '"norm_eps": 1e-5' '"tied_embeddings": true' \
            '"linear": 226560' '"total": 260032'; do
    grep -qF "$want" "$tmp/json" || fail "json lacks $want"
done
[ "$(grep -c '"name": "model.layers' "$tmp/json")" -eq 35 ] || fail "json: expected 35 modules"
grep -qF '"stored": "F32"' "$tmp/json" || fail "json lacks the stored type"

# A real Hugging Face model written by transformers: the tied matrix is stored
# only as lm_head.weight, config.json carries rope_scaling null, attention_bias
# false, mlp_bias false, torch_dtype.
h=$H656K
if [ -r "$h/model.safetensors" ]; then
    "$BIN" info "$h" >"$tmp/out" 2>"$tmp/err" || fail "info tinystories-656k: $(cat "$tmp/err")"
    has_all "$tmp/out" "tinystories-656k info" 'format:       hf-safetensors' \
        'dim 128, hidden 384, layers 2, heads 8, kv heads 4, head_dim 16' \
        'vocab 2048, trained context 512' \
        'rope half, theta 10000; rmsnorm eps 1e-06; qk_norm no; tied embeddings yes' \
        '14 quantizable modules'
    grep -Eq '^model\.layers\.1\.mlp\.up_proj +up +F32 +384 +128 +49152$' "$tmp/out" || fail "656k up_proj row"
fi
echo "info_cli: ok"
