#!/bin/sh
# make check: build the libFuzzer targets (make fuzz), write their seeds,
# replay tests/fuzz_regress/, then run every target for FUZZ_SECONDS (10)
# seconds, two at a time, under the memory limits of a long run. Any finding
# (crash, sanitizer report, leak, timeout, an allocation over the limit) fails.
# Skips (77) when configure found no clang with libFuzzer.
set -u
secs=${FUZZ_SECONDS:-10}
top=$(cd "$(dirname "${MXALLOC_BIN:?}")" && pwd)
src=$(cd "${srcdir:-.}" && pwd)
if ! grep -q '^FUZZ_CC = [^ ]' "$top/Makefile"; then
    echo "SKIP: no clang with libFuzzer (install the Debian package clang; re-run configure)"
    exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/mxalloc-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT INT TERM
if ! (cd "$top" && ${MAKE:-make} -s fuzz) >"$work/build.log" 2>&1; then
    tail -n 30 "$work/build.log"
    echo "FAIL: make fuzz"
    exit 1
fi
if ! ASAN_OPTIONS=detect_leaks=0 "$top/fuzz/fuzz_seeds" "$work/seeds" >"$work/seeds.log" 2>&1; then
    cat "$work/seeds.log"
    echo "FAIL: fuzz_seeds (a valid example file is refused)"
    exit 1
fi
targets=$(cd "$top" && ${MAKE:-make} -s --no-print-directory fuzz-targets | grep "^fuzz_")
[ -n "$targets" ] || { echo "FAIL: no FUZZ_TARGETS in $top/Makefile"; exit 1; }
# Seeds are at most ~15 KB: no reader needs 16 MB in one allocation for that
# (all seeds pass under 4 MB); a bigger one trusts a count the file cannot hold.
opts="-rss_limit_mb=2048 -malloc_limit_mb=16 -timeout=20 -dict=$src/tests/fuzz.dict"
status=0

# Reproducers of past findings.
for f in "$src"/tests/fuzz_regress/fuzz_*; do
    [ -f "$f" ] || continue
    t=$(basename "$f" | sed 's/-.*//')
    if ! TMPDIR=$work "$top/fuzz/$t" $opts "$f" >"$work/regress.log" 2>&1; then
        tail -n 40 "$work/regress.log"
        echo "FAIL: $t $f"
        status=1
    fi
done

run() { # target: fuzz for $secs seconds; the log says how many executions
    mkdir -p "$work/corpus/$1"
    TMPDIR=$work "$top/fuzz/$1" $opts -max_total_time="$secs" -print_final_stats=1 \
        -artifact_prefix="$work/$1-" "$work/corpus/$1" "$work/seeds/$1" >"$work/$1.log" 2>&1
    echo $? >"$work/$1.rc"
}
set -- $targets
while [ $# -gt 0 ]; do
    run "$1" &
    if [ $# -gt 1 ]; then
        run "$2" &
        shift
    fi
    shift
    wait
done
for t in $targets; do
    n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log")
    if [ "$(cat "$work/$t.rc")" != 0 ]; then
        grep -A40 -m1 '==ERROR\|runtime error\|^fuzz\|out-of-memory\|malloc(\|leak\|timeout' "$work/$t.log" | head -n 60
        mkdir -p "$top/fuzz/findings"
        for a in "$work/$t"-*; do
            [ -f "$a" ] && cp "$a" "$top/fuzz/findings/" &&
                echo "reproducer: $top/fuzz/findings/$(basename "$a") (fuzz/$t FILE replays it)"
        done
        echo "FAIL: $t (${n:-?} executions)"
        status=1
    else
        echo "ok: $t, ${n:-?} executions in ${secs}s"
    fi
done
exit $status
