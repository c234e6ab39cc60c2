#!/bin/sh
# Format and module names on the command line (issue 17): every label a
# printer shows is accepted where a format is read (--pin, --formats, --format,
# config files), LAYER.KIND module names work wherever a module is read, a bad
# name exits 2 with the valid names listed, and the renamed alloc/sweep option
# (--solver; --method kept as the old spelling) and getopt forms (--opt=V).
. "$(dirname "$0")/cli_lib.sh"
MK=$(dirname "$BIN")/tests/mkscores
[ -x "$MK" ] || { echo "SKIP: $MK not built"; exit 77; }
make_tmp T names_cli
"$MK" "$T/s.scores" 4 || fail "mkscores"
head -c 128 /dev/zero >"$T/z.f32"
Q=model.layers.0.self_attn.q_proj

# LAYER.KIND pins with a label ("e2m1"), an old label ("fp4", "i8") and an alias
expect 0 "$BIN" alloc "$T/s.scores" --budget 6 --pin 0.q=e2m1 --pin 1.DOWN=i8 --json
has "\"$Q\": \"mxfp4_e2m1\"" out
has '"model.layers.1.mlp.down_proj": "mxint8"' out
expect 0 "$BIN" alloc "$T/s.scores" --budget 6 --pin=0.q=fp4 --out "$T/c.json"
has "\"$Q\": \"mxfp4_e2m1\"" c.json
# the same pin by HF name gives the same answer
expect 0 "$BIN" alloc "$T/s.scores" --budget 6 --pin "$Q=mxfp4" --json; cp "$T/out" "$T/hf.json"
expect 0 "$BIN" alloc "$T/s.scores" --budget 6 --pin 0.q=MXFP4_E2M1 --json
cmp -s "$T/out" "$T/hf.json" || fail "LAYER.KIND pin differs from the HF-name pin"
expect 1 "$BIN" alloc "$T/s.scores" --budget 6 --pin 99.q=e2m1
has "no module model.layers.99.self_attn.q_proj" err

# every label of the per-layer table and of the sweep header parses back as a pin
expect 0 "$BIN" alloc "$T/s.scores" --budget 6
labels=$(sed -n '/^per layer:/,/^$/p' "$T/out" | awk 'NR > 2 { for (i = 2; i <= NF; i++) print $i }' | sort -u)
[ -n "$labels" ] || fail "no per-layer labels"
expect 0 "$BIN" sweep "$T/s.scores" --from 6 --to 6 --step 1
labels="$labels $(head -n 1 "$T/out" | awk '{ for (i = 5; i <= NF; i++) print $i }')"
for l in $labels; do
    [ "$l" = "-" ] && continue
    expect 0 "$BIN" alloc "$T/s.scores" --budget 17 --pin "0.q=$l" --formats "$l" --json
    fmt=$(sed -n "s/.*\"$Q\": \"\\([a-z0-9_]*\\)\".*/\\1/p" "$T/out")
    [ -n "$fmt" ] || fail "label $l: no format for $Q"
    expect 0 "$BIN" mx --format "$l" --in "$T/z.f32" --out "$T/z.out"
done
# the canonical names alloc prints in its module table parse back too
expect 0 "$BIN" alloc "$T/s.scores" --budget 6
for n in $(awk '/^model\.layers/ { print $2 }' "$T/out" | sort -u); do
    expect 0 "$BIN" alloc "$T/s.scores" --budget 9 --pin "0.q=$n"
done

# bad names: exit 2 and the valid names (or why it is ambiguous) in one line
for args in "--pin 0.q=bogus" "--formats e2m1,bogus" "--formats fp8"; do
    # shellcheck disable=SC2086
    expect 2 "$BIN" alloc "$T/s.scores" --budget 6 $args
    [ "$(wc -l <"$T/err")" -eq 1 ] || { cat "$T/err"; fail "not one line: $args"; }
done
has "ambiguous: mxfp8_e4m3" err
expect 2 "$BIN" alloc "$T/s.scores" --budget 6 --pin 0.q=bogus
has "unknown format 'bogus'" err
for n in fp32 bf16 mxfp8_e4m3 mxfp8_e5m2 mxint8 mxfp6_e3m2 mxfp6_e2m3 mxfp4_e2m1 e2m1 int8 fp4; do has "$n" err; done
expect 2 "$BIN" scores show "$T/s.scores" --format nope
has "valid: fp32" err
expect 2 "$BIN" sweep "$T/s.scores" --formats fp6
has "ambiguous" err
expect 0 "$BIN" scores show "$T/s.scores" --format e2m1 --sort

# --solver (new) and --method (old spelling) are the same option; bad values exit 2
expect 0 "$BIN" alloc "$T/s.scores" --budget 5.5 --solver greedy --json; cp "$T/out" "$T/g1"
expect 0 "$BIN" alloc "$T/s.scores" --budget 5.5 --method=greedy --json
cmp -s "$T/out" "$T/g1" || fail "--method greedy differs from --solver greedy"
has '"method": "greedy"' out
expect 2 "$BIN" alloc "$T/s.scores" --budget 5 --solver magic
expect 2 "$BIN" alloc "$T/s.scores" --budget
has "needs a value" err
expect 2 "$BIN" sweep "$T/s.scores" --frobnicate
has "unknown option '--frobnicate'" err
expect 0 "$BIN" sweep "$T/s.scores" --from=5 --to=6 --step=0.5 --solver=greedy
expect 0 "$BIN" scores show "$T/s.scores" --score-method kl
expect 0 "$BIN" scores show "$T/s.scores" --method kl

# config files: LAYER.KIND names and labels are read, stored canonically
printf '{"formats": {"0.q": "e2m1", "1.down": "int8", "0.k": "fp4"},
  "shapes": {"0.q": [64, 64], "1.down": [64, 192], "0.k": [32, 64]}}\n' >"$T/k.json"
expect 0 "$BIN" export "$T/k.json" --to=llama-cpp
has '^\^blk\\.0\\.attn_q\\.weight\$=mxfp4$' out
has '^\^blk\\.1\\.ffn_down\\.weight\$=q8_0$' out
expect 0 "$BIN" export "$T/k.json" --to json
has "\"$Q\": \"mxfp4_e2m1\"" out
printf '{"formats": {"0.q": "e2m1", "%s": "mxfp4"}}\n' "$Q" >"$T/dup.json"
expect 1 "$BIN" export "$T/dup.json" --to json
has "listed twice" err
printf '{"formats": {"0.q": "fp8"}}\n' >"$T/amb.json"
expect 1 "$BIN" export "$T/amb.json" --to json
has "ambiguous" err
expect 2 "$BIN" export "$T/k.json" --to json extra
echo "names_cli: ok"
