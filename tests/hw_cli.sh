#!/bin/sh
# hwprofile, alloc --hw-table/--max-latency and ppl --packed on stories260K
# and the 656k HF model: the table's rows, the latency limit kept, a missing
# row or a bad table as one line, and ppl --packed's nll equal to the
# fake-quantized pass's (the weights are equal bit for bit, test_hw_table;
# the chunked GEMMs may sum in other blocks than the whole one: 1e-7).
. "$(dirname "$0")/cli_lib.sh"
need_files "(stories260K)" "$MODEL" "$TOKZ" "$TEXT"
make_tmp w hw_cli
fail=0
tr -d '\r' < "$TEXT" > "$w/lf.txt"
num() { sed -n "s/.*\"$1\": *\([0-9.eE+-]*\).*/\1/p" "$2"; }
same() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 1e-7 * (a < 0 ? -a : a)) }'; }
fmts=mxfp4_e2m1,mxint8,mxfp8_e4m3

# usage errors (2) and bad input (1, one line)
expect_sub hwprofile 2
expect_sub hwprofile 2 --shapes 0x4
expect_sub hwprofile 2 --shapes 64x
expect_sub hwprofile 2 --shapes 64x64 --formats mxfp5
expect_sub hwprofile 2 --shapes 64x64 --batch 0
expect_sub hwprofile 1 "$w/missing.bin"
expect_sub ppl 2 "$MODEL" --tokenizer "$TOKZ" --text "$w/lf.txt" --repeat 3

# bare shapes: one row per format x shape, the documented columns
expect_sub hwprofile 0 --shapes 64x64,32x64 --formats mxfp4,fp32 --batch 16 --samples 1 --out "$w/bare.hw"
[ "$(grep -cv '^#' "$w/bare.hw")" = 4 ] || { cat "$w/bare.hw"; echo "FAIL: bare.hw wants 4 rows"; fail=1; }
grep -q '^mxfp4_e2m1 64 64 16 [0-9.e+-]* [0-9]*$' "$w/bare.hw" ||
    { cat "$w/bare.hw"; echo "FAIL: bare.hw lacks its mxfp4_e2m1 64x64 row"; fail=1; }
grep -q '^# machine: ' "$w/bare.hw" || { echo "FAIL: bare.hw names no machine"; fail=1; }

check_model() { # NAME MODEL [--tokenizer T]
    name=$1 m=$2; shift 2
    expect_sub hwprofile 0 "$m" --formats "$fmts" --samples 3 --out "$w/$name.hw"
    shapes=$("$BIN" info "$m" | awk '$1 ~ /^model\.layers\./ { print $4 "x" $5 }' | sort -u | wc -l)
    rows=$(grep -c '^mx' "$w/$name.hw")
    [ "$rows" = $((3 * shapes)) ] || { cat "$w/$name.hw"; echo "FAIL: $name.hw has $rows rows, want 3 x $shapes"; fail=1; }
    grep -q '^overhead [0-9]* [0-9.e+-]*$' "$w/$name.hw" || { echo "FAIL: $name.hw has no overhead row"; fail=1; }
    expect_sub score 0 "$m" "$@" --text "$w/lf.txt" --tokens 2048 --method fisher --out "$w/$name.scores"
    # the score file has formats the table lacks: named, one line
    expect_sub alloc 1 "$w/$name.scores" --budget 6 --hw-table "$w/$name.hw"
    grep -q "has no mx.* row for [0-9]*x[0-9]* (module model.layers" "$cli_tmp/err" ||
        { cat "$cli_tmp/err"; echo "FAIL: $name: the missing row is not named"; fail=1; }
    expect_sub alloc 2 "$w/$name.scores" --budget 6 --max-latency 1
    expect_sub alloc 2 "$w/$name.scores" --budget 6 --hw-table "$w/$name.hw" --max-latency 1 --solver greedy
    # uniform latencies bound the limit; the answer keeps it and says so
    lo= hi=
    for f in mxfp4_e2m1 mxint8 mxfp8_e4m3; do
        expect_sub alloc 0 "$w/$name.scores" --budget 99 --formats "$f" --hw-table "$w/$name.hw" --json
        l=$(num latency_ms "$cli_tmp/out")
        lo=$(echo "$l $lo" | awk '{ print ($2 == "" || $1 < $2) ? $1 : $2 }')
        hi=$(echo "$l $hi" | awk '{ print ($2 == "" || $1 > $2) ? $1 : $2 }')
    done
    lim=$(echo "$lo $hi" | awk '{ printf "%.9g", ($1 + $2) / 2 }')
    expect_sub alloc 0 "$w/$name.scores" --budget 99 --formats "$fmts" --hw-table "$w/$name.hw" \
        --max-latency "$lim" --out "$w/$name.cfg"
    grep -q "^latency: [0-9.]* ms/token predicted for the block linears at batch [0-9]* (limit" "$cli_tmp/out" ||
        { cat "$cli_tmp/out"; echo "FAIL: $name: alloc prints no latency"; fail=1; }
    expect_sub alloc 0 "$w/$name.scores" --budget 99 --formats "$fmts" --hw-table "$w/$name.hw" \
        --max-latency "$lim" --json
    got=$(num latency_ms "$cli_tmp/out")
    awk -v g="$got" -v l="$lim" 'BEGIN { exit !(g <= l * (1 + 1e-9)) }' ||
        { echo "FAIL: $name: latency $got over the limit $lim"; fail=1; }
    expect_sub alloc 1 "$w/$name.scores" --budget 99 --formats "$fmts" --hw-table "$w/$name.hw" \
        --max-latency "$(echo "$lo" | awk '{ print $1 / 2 }')"
    grep -q "the fastest allowed assignment takes" "$cli_tmp/err" || { cat "$cli_tmp/err"; fail=1; }
    expect_sub sweep 0 "$w/$name.scores" --formats "$fmts" --hw-table "$w/$name.hw" --max-latency "$lim"
    has lat_ms out
    # ppl --packed: the numbers of the fake-quantized path, plus its timing
    expect_sub ppl 0 "$m" "$@" --text "$w/lf.txt" --max-tokens 1024 --config "$w/$name.cfg" --json
    ref=$(num nll "$cli_tmp/out")
    expect_sub ppl 0 "$m" "$@" --text "$w/lf.txt" --max-tokens 1024 --config "$w/$name.cfg" --json --packed --repeat 2
    same "$(num nll "$cli_tmp/out")" "$ref" || { cat "$cli_tmp/out"; echo "FAIL: $name: packed nll != $ref"; fail=1; }
    grep -q '"linear_us_per_token": [0-9.e+-]*' "$cli_tmp/out" || { echo "FAIL: $name: no timing"; fail=1; }
    for f in fp32 bf16 mxfp6_e3m2; do
        expect_sub ppl 0 "$m" "$@" --text "$w/lf.txt" --max-tokens 512 --format "$f" --json
        ref=$(num nll "$cli_tmp/out")
        expect_sub ppl 0 "$m" "$@" --text "$w/lf.txt" --max-tokens 512 --format "$f" --json --packed
        same "$(num nll "$cli_tmp/out")" "$ref" || { echo "FAIL: $name: packed $f nll differs"; fail=1; }
    done
    # the workbench (script mode): the latency beside bits, its limit kept, then off
    printf 'formats %s\nbudget 99\nlatency %s\nlatency off\n' "$fmts" "$lim" > "$w/$name.script"
    expect_sub tui 0 "$m" "$@" --text "$w/lf.txt" --scores "$w/$name.scores" --hw-table "$w/$name.hw" \
        --script "$w/$name.script"
    lats=$(sed -n 's/.* latency_ms \([0-9.e+-]*\).*/\1/p' "$cli_tmp/out" | tr '\n' ' ')
    echo "$lats" | awk -v l="$lim" '{ exit !(NF == 4 && $3 <= l * (1 + 1e-9) && $4 == $2) }' ||
        { cat "$cli_tmp/out"; echo "FAIL: $name: workbench latencies '$lats' vs limit $lim"; fail=1; }
    printf 'latency 1\n' > "$w/nohw.script"
    if "$BIN" "$m" "$@" --text "$w/lf.txt" --scores "$w/$name.scores" --script "$w/nohw.script" > /dev/null 2> "$w/err"; then
        echo "FAIL: $name: latency without a table accepted"; fail=1
    fi
    grep -q "latency 1: latency: no hardware table" "$w/err" || { cat "$w/err"; echo "FAIL: $name: no-table message"; fail=1; }
    expect_sub tui 2 "$m" "$@" --max-latency 1
}
check_model 260k "$MODEL" --tokenizer "$TOKZ"
if [ -r "$H656K/config.json" ]; then check_model 656k "$H656K"; else echo "656k: not under $DATA, its part skipped"; fi

# malformed tables: FILE:LINE and what is wrong, one line
printf 'mxfp4 64 64 512 0.1\n' > "$w/bad.hw"
expect_sub alloc 1 "$w/260k.scores" --budget 6 --hw-table "$w/bad.hw"
has "bad.hw:1: 5 fields, want 6" err
printf 'mxfp4 64 64 512 0.1 1\nmxint8 64 64 256 0.1 1\n' > "$w/bad.hw"
expect_sub alloc 1 "$w/260k.scores" --budget 6 --hw-table "$w/bad.hw"
has "bad.hw:2: batch 256 differs" err
expect_sub alloc 1 "$w/260k.scores" --budget 6 --hw-table "$w/none.hw"
exit $fail
