#!/bin/sh
# Bad input to every subcommand (issue 10): usage mistakes exit 2, bad data or
# files exit 1 with exactly one line on stderr, nothing but the destination
# changes, and the same cases under the ASan+UBSan build of the binary
# (tests/mxalloc_san, or $MXALLOC_SAN_BIN) give no sanitizer report.
# Cases that need a model use stories260K from $MXALLOC_DATA and are skipped
# without it.
set -u
BIN=${MXALLOC_BIN:-./mxalloc}
SAN=${MXALLOC_SAN_BIN:-$(dirname "$BIN")/tests/mxalloc_san}
MKBAD=$(dirname "$BIN")/tests/mkbad
MK=$(dirname "$BIN")/tests/mkscores
DATA=${MXALLOC_DATA:-../shared/data}
M="$DATA/tinystories-260k/stories260K.bin"
TOK="$DATA/tinystories-260k/tok512.bin"
X="$DATA/tinystories-text/tinystories_sample_30k.txt"
[ -x "$MKBAD" ] && [ -x "$MK" ] || { echo "SKIP: $MKBAD or $MK not built"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/mxalloc-harden.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
export XDG_CACHE_HOME="$T/cache"
# leaks are not checked here (the unit tests do); memory errors and UB are
ASAN_OPTIONS=detect_leaks=0:abort_on_error=0; export ASAN_OPTIONS
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1; export UBSAN_OPTIONS
fail() { echo "FAIL: $*"; exit 1; }
BINS="$BIN"
if [ -x "$SAN" ]; then BINS="$BIN $SAN"; else echo "note: $SAN not built, sanitizer runs skipped"; fi
n_cases=0

# run WANT_STATUS ARGS...: every binary, status checked; for status 1 exactly
# one stderr line without control bytes; never a sanitizer report. $NOSTDOUT
# (when set) replaces stdout, e.g. /dev/full.
run() {
    want=$1; shift
    for b in $BINS; do
        if [ -n "${NOSTDOUT:-}" ]; then
            timeout 60 "$b" "$@" >"$NOSTDOUT" 2>"$T/err"; got=$?
        else
            timeout 60 "$b" "$@" >"$T/out" 2>"$T/err"; got=$?
        fi
        n_cases=$((n_cases + 1))
        if grep -q 'Sanitizer\|runtime error:' "$T/err"; then cat "$T/err"; fail "sanitizer report: $*"; fi
        [ "$got" = "$want" ] || { cat "$T/err"; fail "exit $got (want $want): $(basename "$b") $*"; }
        if [ "$want" = 1 ]; then
            [ "$(wc -l <"$T/err")" -eq 1 ] || { cat "$T/err"; fail "stderr is not one line: $*"; }
            if LC_ALL=C grep -q "$(printf '[\001-\010\013-\037\177]')" "$T/err"; then
                fail "control bytes on stderr: $*"
            fi
        fi
    done
}
has() { grep -q -- "$1" "$T/err" || { cat "$T/err"; fail "stderr lacks '$1'"; }; }

"$MK" "$T/s.scores" 2 || fail "mkscores"
printf '{"formats": {"model.layers.0.mlp.up_proj": "mxfp4"}}\n' >"$T/c.json"
head -c 4096 /dev/urandom >"$T/w.f32"
mkfifo "$T/fifo"
mkdir "$T/dir"
printf 'my notes\n' >"$T/notes.txt"

# ---- usage mistakes: exit 2 in every command ----
for c in info ppl mx score scores alloc sweep export anneal tui; do run 2 $c --no-such-option; done
run 2 mx --format nope --in "$T/w.f32" --out "$T/q"
run 2 mx --format mxfp4 --in "$T/w.f32" --out "$T/q" --simd nope
run 2 ppl m.bin --text x --format nope
run 2 ppl m.bin --text x --ctx abc
run 2 score m.bin --text x --formats nope
run 2 score m.bin --text x --tokens -3
run 2 scores show "$T/s.scores" --format nope
run 2 alloc "$T/s.scores" --budget abc
run 2 alloc "$T/s.scores" --budget -1
run 2 alloc "$T/s.scores" --budget 5 --pin model.layers.0.mlp.up_proj=nope
run 2 alloc "$T/s.scores" --budget 5 --formats mxfp4,nope
run 2 sweep "$T/s.scores" --from abc
run 2 sweep "$T/s.scores" --step -1
run 2 sweep "$T/s.scores" --from 8 --to 4
run 2 sweep "$T/s.scores" --formats nope
run 2 export "$T/c.json" --to nope
run 2 anneal m.bin --text x --budget abc
run 2 anneal m.bin --text x --budget 5 --formats nope
run 2 anneal m.bin --text x --budget 5 --method gamma --rho 1e308
run 2 anneal m.bin --text x --budget 5 --lambda 1e308
run 2 tui m.bin --ctx abc

# ---- score files the reader must refuse (were a SIGSEGV, 2.7 GB, 4 GiB) ----
for k in layer-intmax layer-1e8 dup-name ctl-name huge-length; do
    "$MKBAD" $k "$T/$k.scores" || fail "mkbad $k"
    run 1 alloc "$T/$k.scores" --budget 6
    run 1 alloc "$T/$k.scores" --budget 6 --group qkv,gateup
    run 1 sweep "$T/$k.scores"
    run 1 scores show "$T/$k.scores" --json
done
"$MKBAD" good "$T/good.scores" || fail "mkbad good"
run 0 alloc "$T/good.scores" --budget 6 --group qkv,gateup
run 1 scores show "$T/dir"
has "is a directory"
run 1 scores show /dev/zero
run 1 alloc "$T/fifo" --budget 5

# ---- non-regular inputs are refused, not read forever ----
run 1 mx --format mxfp4 --in /dev/zero --out "$T/q"
has "not a regular file"
run 1 mx --format mxfp4 --in "$T/dir" --out "$T/q"
has "is a directory"
run 1 export "$T/fifo" --to json
run 1 export /dev/zero --to json

# ---- destinations: never replace a device, FIFO or directory; write through symlinks ----
run 1 mx --format mxfp4 --in "$T/w.f32" --out "$T/fifo"
[ -p "$T/fifo" ] || fail "--out replaced the FIFO"
run 1 mx --format mxfp4 --in "$T/w.f32" --out "$T/dir"
[ -d "$T/dir" ] || fail "--out replaced the directory"
run 1 export "$T/c.json" --to json --out "$T/fifo"
[ -p "$T/fifo" ] || fail "export --out replaced the FIFO"
run 1 sweep "$T/s.scores" --csv "$T/dir"
run 1 alloc "$T/s.scores" --budget 6 --out "$T/dir"
ln -s notes.txt "$T/link.txt"
run 0 export "$T/c.json" --to json --out "$T/link.txt"
[ -L "$T/link.txt" ] || fail "--out replaced the symlink"
grep -q '"formats"' "$T/notes.txt" || fail "--out did not write through the symlink"
printf 'my notes\n' >"$T/notes.txt"

# ---- stale temporary files of killed runs are removed, others kept ----
sh -c 'exit 0' & dead=$!; wait $dead
: >"$T/a.json.tmp.$dead.AbC123"
: >"$T/a.json.tmp.$$.AbC123"      # a live writer (this shell)
: >"$T/a.json.tmpXyZ789"          # not our naming
run 0 alloc "$T/s.scores" --budget 6 --out "$T/a.json"
[ -e "$T/a.json.tmp.$dead.AbC123" ] && fail "stale temp file left"
[ -e "$T/a.json.tmp.$$.AbC123" ] && [ -e "$T/a.json.tmpXyZ789" ] || fail "a foreign file was removed"
rm -f "$T/a.json.tmp.$$.AbC123" "$T/a.json.tmpXyZ789"
ls "$T" | grep -q '\.tmp\.' && fail "temp files left behind: $(ls "$T")"

# ---- configs: unsupported fields refused, raw bytes escaped, one separator ----
printf '{"formats": {}, "block": 16}\n' >"$T/b16.json"
run 1 export "$T/b16.json" --to json
has '"block": 16 is not supported'
printf '{"formats": {}, "scale_mode": "ceil"}\n' >"$T/sm.json"
run 1 export "$T/sm.json" --to json
printf '{"formats": {}, "rounding": "stochastic"}\n' >"$T/rd.json"
run 1 export "$T/rd.json" --to json
printf '{"formats": {"a\\n\\u001b[2J": "mxfp9"}}\n' >"$T/ctl.json"
run 1 export "$T/ctl.json" --to json
has 'a\\x0a\\x1b\[2J'
printf '{"formats": []}\n' >"$T/arr.json"
run 1 export "$T/arr.json" --to json
grep -q ': :' "$T/err" && fail "doubled separator: $(cat "$T/err")"

# ---- score checks where its result goes before any work (before the model loads) ----
: >"$T/cachefile"
XDG_CACHE_HOME="$T/cachefile"
run 1 score "$T/no-model.bin" --text "$T/notes.txt"
has "cachefile"
XDG_CACHE_HOME="$T/cache"
run 1 score "$T/no-model.bin" --text "$T/notes.txt" --out "$T/notes.txt"
has "not a score file"
run 1 score "$T/no-model.bin" --text "$T/notes.txt" --out "$T/dir"
has "is a directory"

# ---- a full or closed stdout is an error with one line ----
NOSTDOUT=/dev/full
if [ -w /dev/full ]; then
    run 1 alloc "$T/s.scores" --budget 6
    run 1 sweep "$T/s.scores"
    run 1 export "$T/c.json" --to json
    run 1 scores show "$T/s.scores" --json
    run 1 mx --format mxfp4 --in "$T/w.f32" --out "$T/q" --json
    run 1 alloc --help
    has "standard output"
fi
NOSTDOUT=
for b in $BINS; do
    "$b" alloc "$T/s.scores" --budget 6 >&- 2>"$T/err"; got=$?
    [ "$got" = 1 ] && [ "$(wc -l <"$T/err")" -eq 1 ] || { cat "$T/err"; fail "closed stdout: exit $got"; }
    grep -q 'Sanitizer\|runtime error:' "$T/err" && fail "sanitizer report with a closed stdout"
done

# ---- cases with the real model ----
if [ ! -r "$M" ] || [ ! -r "$TOK" ] || [ ! -r "$X" ]; then
    echo "ran $n_cases cases; SKIP the model cases: $M not found (set MXALLOC_DATA)"
    exit 0
fi
head -c 3000 "$X" >"$T/x.txt"
run 1 ppl "$M" --tokenizer "$TOK" --text /dev/zero
has "not a regular file"
run 1 ppl "$M" --tokenizer /dev/zero --text "$T/x.txt"
run 1 ppl "$M" --tokenizer "$TOK" --text "$T/dir"
has "is a directory"
run 1 ppl "$M" --tokenizer "$TOK" --text "$T/x.txt" --ctx 64 --max-tokens 1
has "max-tokens 1 "
run 1 ppl "$M" --tokenizer "$TOK" --text "$T/x.txt" --config "$T/b16.json"
# score: the destination is checked before any work
run 1 score "$M" --tokenizer "$TOK" --text "$T/x.txt" --out "$T/notes.txt"
has "not a score file"
[ "$(cat "$T/notes.txt")" = "my notes" ] || fail "score --out changed notes.txt"
run 1 score "$M" --tokenizer "$TOK" --text "$T/x.txt" --out "$T/fifo"
# --script: a directory fails, a long comment is one line
run 1 tui "$M" --tokenizer "$TOK" --script "$T/dir"
has "is a directory"
{ printf '# '; head -c 6000 /dev/zero | tr '\0' 'a'; printf 'budget 5\n'; } >"$T/long.txt"
run 0 tui "$M" --tokenizer "$TOK" --script "$T/long.txt"
echo "ran $n_cases cases"
exit 0
