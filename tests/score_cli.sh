#!/bin/sh
# mxalloc score / scores on stories260K: a complete 35 x 6 table by both
# methods with the standard error of every score, the cache hit on a rerun, a corrupted cache detected and
# recomputed, Ctrl-C leaving no file, and bad input refused with one line.
. "$(dirname "$0")/cli_lib.sh"
need_files "not found" "$MODEL" "$TOKZ" "$TEXT"
make_tmp T score_cli
XDG_CACHE_HOME=$T/cache
export XDG_CACHE_HOME
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

expect() { # expect STATUS DESCRIPTION -- command...
    want=$1 what=$2
    shift 3
    "$@" >"$T/out" 2>"$T/err"
    got=$?
    if [ "$got" -ne "$want" ]; then
        fail "$what: exit $got, want $want"
        cat "$T/err"
    elif [ "$want" -ne 0 ] && [ "$(wc -l <"$T/err")" -lt 1 ]; then
        fail "$what: no message"
    fi
}

M="$BIN score $MODEL --tokenizer $TOKZ"
expect 0 "score --help" -- $BIN score --help
expect 0 "scores --help" -- $BIN scores --help
expect 2 "missing --text" -- $M
expect 2 "unknown format" -- $M --text "$TEXT" --formats mxfp4_e2m1,mxfp5
grep -q "unknown format 'mxfp5'" "$T/err" || fail "unknown format: message names it"
expect 2 "bad method" -- $M --text "$TEXT" --method hessian
expect 1 "missing text file" -- $M --text "$T/nope.txt"
grep -q "nope.txt" "$T/err" || fail "missing text: message names the file"
: >"$T/empty.txt"
expect 1 "empty text" -- $M --text "$T/empty.txt"
expect 1 "too few tokens" -- $M --text "$TEXT" --tokens 100 --ctx 512
expect 1 "unwritable --out" -- $M --text "$TEXT" --out /nonexistent-dir/x.scores
grep -q "/nonexistent-dir" "$T/err" || fail "unwritable --out: message names the path"
expect 2 "scores: no action" -- $BIN scores
expect 1 "scores show: missing file" -- $BIN scores show "$T/nope.scores"

# The full table, both methods (2 windows of 128 tokens keeps it quick).
RUN="$M --text $TEXT --ctx 128 --tokens 256 --method both"
expect 0 "score --method both" -- $RUN
OUT=$(head -n 1 "$T/out")
[ -f "$OUT" ] || fail "score did not print an existing path ($OUT)"
case $OUT in "$XDG_CACHE_HOME"/mxalloc/*.scores) ;; *) fail "not in the cache dir: $OUT" ;; esac
expect 0 "scores show --json" -- $BIN scores show "$OUT" --json
n_mod=$(grep -o '"name": *"model\.layers\.[0-9]*\.[a-z_]*\.[a-z_]*"' "$T/out" | wc -l)
n_kl=$(grep -o '"kl": *-\{0,1\}[0-9]' "$T/out" | wc -l)
n_fi=$(grep -o '"fisher": *-\{0,1\}[0-9]' "$T/out" | wc -l)
n_bits=$(grep -o '"bits": *[0-9]' "$T/out" | wc -l)
n_se=$(grep -o '"\(kl\|fisher\|kld\)_se": *[0-9]' "$T/out" | wc -l)
[ "$n_mod" -eq 35 ] || fail "json: $n_mod modules, want 35"
[ "$n_kl" -eq 210 ] || fail "json: $n_kl kl scores, want 210"
[ "$n_fi" -eq 210 ] || fail "json: $n_fi fisher scores, want 210"
[ "$n_bits" -eq 210 ] || fail "json: $n_bits bits entries, want 210"
[ "$n_se" -eq 630 ] || fail "json: $n_se standard errors (kl, fisher, kld), want 630"
grep -q '"method": *"both"' "$T/out" || fail "json: method both"
grep -q '"fp32_loss": *[0-9]' "$T/out" || fail "json: fp32_loss"
grep -q '"mxfp4_e2m1": *[0-9]' "$T/out" || fail "json: uniform mxfp4 loss"
[ "$(grep -o '"score_sum": *[0-9]' "$T/out" | wc -l)" -eq 16 ] || fail "json: not 2 x 8 anchors"
grep -q '"projection": *{"kl": *{"c1"' "$T/out" || fail "json: no kl projection fit"
# the projection's anchors: the integer program's allocation at each of 4.5..8 bits,
# measured on the same windows for each method; alloc fits to them beside the uniform formats
for sm in kl fisher; do
    expect 0 "alloc $sm on the scores" -- "$BIN" alloc "$OUT" --budget 5 --score-method $sm
    grep -q "from 6 uniform formats and 8 measured allocations" "$T/out" ||
        fail "alloc $sm: not fitted to 8 measured allocations: $(grep calibration "$T/out")"
done
grep -q null "$T/out" && fail "json: a null value in a complete table"
expect 0 "scores show" -- $BIN scores show "$OUT" --sort --format mxfp4_e2m1 --method kl
grep -q "fp32 loss" "$T/out" || fail "show: no fp32 loss line"
grep -q "(2 windows)" "$T/out" || fail "show: no window count"
# 35 rows of kl scores, 35 of KL divergences, each cell a mean ± its standard error
[ "$(grep -c '^model\.layers\.' "$T/out")" -eq 70 ] || fail "show: not 2 x 35 module rows"
# the anchors the projection is fitted to, and the fit, as alloc prints it
[ "$(grep -c '^kl  *[0-9.]* bits  score sum' "$T/out")" -eq 8 ] || fail "show: not 8 kl anchors"
grep -q '^projection (kl): loss increase = .* from 6 uniform formats and 8 measured allocations' "$T/out" ||
    fail "show: no kl projection line"
[ "$(grep -c '^model\.layers\..* [0-9.e+-]* ± [0-9.]*e[+-][0-9]*$' "$T/out")" -eq 70 ] ||
    fail "show: a module row without mean ± standard error"
grep -q "^kl divergence" "$T/out" || fail "show: no kl divergence table"
expect 2 "show: unknown format" -- $BIN scores show "$OUT" --format mxfp5

# Rerun: the cache is used.
expect 0 "rerun" -- $RUN
grep -q "using cached scores $OUT" "$T/err" || fail "rerun did not use the cache"

# A corrupted cache file is reported in one line and recomputed.
size=$(wc -c <"$OUT")
printf 'XXXXXXXX' | dd of="$OUT" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
expect 0 "rerun after corruption" -- $RUN
grep -q "recomputing" "$T/err" || fail "corrupt cache not reported"
grep -q "using cached" "$T/err" && fail "corrupt cache used"
expect 0 "show after recompute" -- $BIN scores show "$OUT"
# Truncated likewise.
head -c 100 "$OUT" >"$T/trunc" && cat "$T/trunc" >"$OUT"
expect 0 "rerun after truncation" -- $RUN
grep -q "recomputing" "$T/err" || fail "truncated cache not reported"

# --out: written there, then reused.
expect 0 "--out" -- $RUN --out "$T/mine.scores" --json
grep -q '"cached": *false' "$T/out" || fail "--out: first run not computed"
expect 0 "--out rerun" -- $RUN --out "$T/mine.scores" --json
grep -q '"cached": *true' "$T/out" || fail "--out: rerun not cached"

# Ctrl-C mid-run leaves no file (and no temp file) behind.
mkdir "$T/int"
$M --text "$TEXT" --tokens 4096 --method both --out "$T/int/x.scores" >"$T/int.out" 2>"$T/int.err" &
pid=$!
sleep 2
i=0
while kill -0 "$pid" 2>/dev/null && [ $i -lt 60 ]; do
    kill -INT "$pid" 2>/dev/null
    sleep 1
    i=$((i + 1))
done
wait "$pid"
st=$?
[ "$st" -eq 130 ] || fail "SIGINT: exit $st, want 130"
grep -q "interrupted" "$T/int.err" || fail "SIGINT: no message"
[ -z "$(ls -A "$T/int")" ] || fail "SIGINT left files: $(ls -A "$T/int")"

if [ "$fails" -ne 0 ]; then
    echo "$fails failure(s)"
    exit 1
fi
echo "score_cli: all checks passed"
exit 0
