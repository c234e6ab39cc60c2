#!/bin/sh
# `mxalloc mx`: usage and data errors, hand-checked MXFP4 output (fake-quant
# and packed bytes), unpack(pack(x)) == fake-quant(x) for every format, the
# same bytes on every SIMD path, atomic output. Real weights from stories260K
# when MXALLOC_DATA has them, random bytes otherwise.
. "$(dirname "$0")/cli_lib.sh"
make_tmp tmp mxalloc-mx
hex() { od -An -v -tx1 "$1" | tr -d ' \n'; }
# expect_err RC WHAT ARGS...: exit status RC and exactly one line on stderr.
expect_err() {
    want=$1 what=$2
    shift 2
    "$BIN" mx "$@" >"$tmp/stdout" 2>"$tmp/err"; rc=$?
    [ $rc -eq "$want" ] || fail "$what: exit $rc, expected $want ($(cat "$tmp/err"))"
    if [ "$want" -eq 1 ]; then
        [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "$what: expected one line on stderr, got: $(cat "$tmp/err")"
    fi
    [ -s "$tmp/stdout" ] && fail "$what: output on stdout"
    return 0
}

"$BIN" mx --help >"$tmp/out" 2>&1 || fail "mx --help should exit 0"
grep -q 'usage: mxalloc mx' "$tmp/out" || fail "--help prints no usage"

# One MXFP4 block: 6, 5, 2.5, 0.25, 0.75, then 27 zeros (max 6: scale 2^0).
{
    printf '\000\000\300\100\000\000\240\100\000\000\040\100\000\000\200\076\000\000\100\077'
    i=0
    while [ $i -lt 27 ]; do printf '\000\000\000\000'; i=$((i + 1)); done
} >"$tmp/b.f32"
[ "$(wc -c <"$tmp/b.f32")" -eq 128 ] || fail "test input is not 128 bytes"

expect_err 2 "no arguments"
expect_err 2 "unknown option" --frobnicate
expect_err 2 "missing --out" --format mxfp4 --in "$tmp/b.f32"
expect_err 2 "missing --format" --in "$tmp/b.f32" --out "$tmp/o"
expect_err 2 "extra argument" --format mxfp4 --in "$tmp/b.f32" --out "$tmp/o" extra
expect_err 2 "--packed with --unpack" --format mxfp4 --in "$tmp/b.f32" --out "$tmp/o" --packed --unpack
expect_err 2 "unknown format" --format mxfp5 --in "$tmp/b.f32" --out "$tmp/o"
grep -q "mxfp5" "$tmp/err" || fail "unknown format: message does not name it"
expect_err 2 "unknown simd path" --simd sse9 --format mxfp4 --in "$tmp/b.f32" --out "$tmp/o"
MXALLOC_SIMD=bogus "$BIN" mx --format mxfp4 --in "$tmp/b.f32" --out "$tmp/o" 2>"$tmp/err"
[ $? -eq 1 ] || fail "bad MXALLOC_SIMD should exit 1"
grep -q MXALLOC_SIMD "$tmp/err" || fail "bad MXALLOC_SIMD: message does not name it"
expect_err 1 "missing input" --format mxfp4 --in "$tmp/nope.f32" --out "$tmp/o"
grep -q 'nope.f32' "$tmp/err" || fail "missing input: message does not name the file"
head -c 100 "$tmp/b.f32" >"$tmp/short.f32"
expect_err 1 "length not a multiple of 32" --format mxfp4 --in "$tmp/short.f32" --out "$tmp/o"
grep -q 'short.f32' "$tmp/err" || fail "bad length: message does not name the file"
expect_err 1 "unwritable output" --format mxfp4 --in "$tmp/b.f32" --out "$tmp/no/such/dir/o"
grep -q 'no/such/dir/o' "$tmp/err" || fail "unwritable output: message does not name it"
expect_err 1 "unpack of a wrong size" --unpack --format mxfp4 --in "$tmp/short.f32" --out "$tmp/o"
[ -e "$tmp/o" ] && fail "a failed run left an output file"

# Hand-checked MXFP4: 6 -> 6, 5 -> 4 (tie to even), 2.5 -> 2, 0.25 -> 0, 0.75 -> 1.
"$BIN" mx --format MXFP4 --in "$tmp/b.f32" --out "$tmp/fq" || fail "mx mxfp4"
want=0000c0400000804000000040000000000000803f
[ "$(hex "$tmp/fq" | cut -c1-40)" = "$want" ] || fail "mxfp4 fake-quant: $(hex "$tmp/fq" | cut -c1-40), want $want"
[ "$(wc -c <"$tmp/fq")" -eq 128 ] || fail "mxfp4 fake-quant: wrong size"
# Packed: codes 6=0x7, 4=0x6, 2=0x4, 0, 1=0x2 (two per byte, low nibble first), then scale 0x7f.
"$BIN" mx --format mxfp4_e2m1 --in "$tmp/b.f32" --out "$tmp/pk" --packed || fail "mx --packed"
want=670402000000000000000000000000007f
[ "$(hex "$tmp/pk")" = "$want" ] || fail "mxfp4 packed: $(hex "$tmp/pk"), want $want"
"$BIN" mx --format mxfp4 --in "$tmp/pk" --out "$tmp/up" --unpack || fail "mx --unpack"
cmp -s "$tmp/up" "$tmp/fq" || fail "mxfp4: unpack(pack) differs from fake-quant"

# --json summary.
"$BIN" mx --format mxfp4 --in "$tmp/b.f32" --out "$tmp/fq2" --json >"$tmp/json" || fail "mx --json"
grep -q '"bits_per_weight": 4.25' "$tmp/json" || fail "--json: $(cat "$tmp/json")"
grep -q '"max_abs_err": 1}' "$tmp/json" || fail "--json error stats: $(cat "$tmp/json")"

# A failed run leaves an existing output untouched; no temporary files remain.
cp "$tmp/fq" "$tmp/keep"
expect_err 1 "bad input over existing output" --format mxfp4 --in "$tmp/short.f32" --out "$tmp/keep"
cmp -s "$tmp/keep" "$tmp/fq" || fail "a failed run changed the existing output"
ls "$tmp" | grep -q '\.[A-Za-z0-9]\{6\}$' && fail "temporary files left: $(ls "$tmp")"

# Empty input: zero values, empty output.
: >"$tmp/empty.f32"
"$BIN" mx --format mxint8 --in "$tmp/empty.f32" --out "$tmp/empty.out" || fail "empty input"
[ -e "$tmp/empty.out" ] && [ ! -s "$tmp/empty.out" ] || fail "empty input: expected an empty output"

# Bulk data: the stories260K weights (header skipped), else random bytes.
m=$MODEL
if [ -r "$m" ]; then
    tail -c +29 "$m" >"$tmp/w.f32"
else
    echo "note: $m not found, using random bytes"
    dd if=/dev/urandom of="$tmp/w.f32" bs=4096 count=64 2>/dev/null
fi
paths=scalar
for p in avx2 avx512; do
    "$BIN" mx --simd $p --format fp32 --in "$tmp/b.f32" --out "$tmp/x" 2>/dev/null && paths="$paths $p"
done
for f in fp32 bf16 mxfp8_e4m3 mxfp8_e5m2 mxint8 mxfp6_e3m2 mxfp6_e2m3 mxfp4_e2m1; do
    "$BIN" mx --format $f --in "$tmp/w.f32" --out "$tmp/w.fq" || fail "$f: fake-quant"
    "$BIN" mx --format $f --in "$tmp/w.f32" --out "$tmp/w.pk" --packed || fail "$f: pack"
    "$BIN" mx --format $f --in "$tmp/w.pk" --out "$tmp/w.up" --unpack || fail "$f: unpack"
    cmp -s "$tmp/w.up" "$tmp/w.fq" || fail "$f: unpack(pack(x)) differs from fake-quant(x)"
    [ "$(wc -c <"$tmp/w.fq")" -eq "$(wc -c <"$tmp/w.f32")" ] || fail "$f: output size"
    for p in $paths; do
        MXALLOC_SIMD=$p "$BIN" mx --format $f --in "$tmp/w.f32" --out "$tmp/w.$p" || fail "$f on $p"
        cmp -s "$tmp/w.$p" "$tmp/w.fq" || fail "$f: the $p path differs from the default"
    done
done
"$BIN" mx --format fp32 --in "$tmp/w.f32" --out "$tmp/w.id" || fail "fp32"
cmp -s "$tmp/w.id" "$tmp/w.f32" || fail "fp32 is not the identity"
exit 0
