# Common header of the shell tests of the command line (sourced, not run):
# the binary and the real-model data, skipping without them, a temp dir
# removed on exit, and the helpers the tests share. Source it with
#   . "$(dirname "$0")/cli_lib.sh"
# ($0 is the test in the source tree, also when builddir != srcdir).
set -u
BIN=${MXALLOC_BIN:-./mxalloc}
DATA=${MXALLOC_DATA:-../shared/data}
# stories260K (llama2.c), its tokenizer, the text sample, the second model (an HF directory)
MODEL=$DATA/tinystories-260k/stories260K.bin
TOKZ=$DATA/tinystories-260k/tok512.bin
TEXT=$DATA/tinystories-text/tinystories_sample_30k.txt
H656K=$DATA/tinystories-656k

# need_files WHY FILE...: skip the test (exit 77) unless every FILE is
# readable; the message reads "SKIP: FILE WHY (set MXALLOC_DATA)".
need_files() {
    why=$1; shift
    for f in "$@"; do
        [ -r "$f" ] || { echo "SKIP: $f $why (set MXALLOC_DATA)"; exit 77; }
    done
}

# make_tmp VAR NAME: a fresh directory ${TMPDIR:-/tmp}/NAME.XXXXXX in $VAR
# (and in $cli_tmp for the helpers below), removed when the test exits or
# is interrupted.
make_tmp() {
    cli_tmp=$(mktemp -d "${TMPDIR:-/tmp}/$2.XXXXXX") || exit 1
    trap 'rm -rf "$cli_tmp"' EXIT
    trap 'exit 1' INT TERM
    eval "$1=\$cli_tmp"
}

fail() { echo "FAIL: $*" >&2; exit 1; }

# expect STATUS CMD...: run CMD with stdout and stderr in $cli_tmp/out and
# $cli_tmp/err; any other exit status fails the test.
expect() {
    want=$1; shift
    "$@" >"$cli_tmp/out" 2>"$cli_tmp/err"; got=$?
    [ "$got" = "$want" ] || { cat "$cli_tmp/err"; fail "exit $got (want $want): $*"; }
}

# has PATTERN NAME: $cli_tmp/NAME has a line matching PATTERN (grep), else fail
has() { grep -q -- "$1" "$cli_tmp/$2" || { cat "$cli_tmp/$2"; fail "$2 lacks '$1'"; }; }

# expect_sub SUBCOMMAND STATUS ARGS...: `mxalloc SUBCOMMAND ARGS` exits
# STATUS; on an error its message names the command, in one line for status
# 1. A mismatch is reported and sets fail=1 (the test carries on).
expect_sub() {
    sub=$1 want=$2; shift 2
    "$BIN" "$sub" "$@" >"$cli_tmp/out" 2>"$cli_tmp/err"; rc=$?
    if [ "$rc" != "$want" ]; then
        echo "FAIL: $sub $* -> exit $rc, want $want"; cat "$cli_tmp/err"; fail=1
    elif [ "$want" = 1 ] && [ "$(grep -c . "$cli_tmp/err")" != 1 ]; then
        echo "FAIL: $sub $* -> want one line, got:"; cat "$cli_tmp/err"; fail=1
    elif [ "$want" != 0 ] && ! grep -q "^mxalloc $sub: " "$cli_tmp/err"; then
        echo "FAIL: $sub $* -> message does not name the command"; cat "$cli_tmp/err"; fail=1
    fi
}

# all_modules_config FORMAT: a config naming every module of stories260K
# (5 layers x 7 projections) at FORMAT, on stdout
all_modules_config() {
    printf '{"formats": {'
    sep=
    for l in 0 1 2 3 4; do
        for p in self_attn.q_proj self_attn.k_proj self_attn.v_proj self_attn.o_proj mlp.gate_proj mlp.up_proj mlp.down_proj; do
            printf '%s"model.layers.%s.%s": "%s"' "$sep" "$l" "$p" "$1"; sep=', '
        done
    done
    printf '}}\n'
}
