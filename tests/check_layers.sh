#!/bin/sh
# Arrows point down: kernels <- src <- solver <- front ends (src/cli/ and ui/).
# Fails, naming FILE:LINE, on
#  - an #include "..." that points upward:
#      kernels/  may include kernels/ only;
#      src/      (not the front end) kernels/, src/;
#      solver/   kernels/, src/, solver/;
#      ui/       anything but the subcommands (src/cli/);
#      src/cli/  anything (it is the top, with ui/);
#  - #include <glpk.h> outside solver/ (GLPK is the solver's business);
#  - a *.am fragment of one folder that builds a source of another folder
#    (fragments under tests/ build test programs from anything).
# Usage: check_layers.sh [TOP]   (default: the tree this script is in).
# `make check` first runs the checker on a small tree with known faults, so a
# checker that stops finding them fails too.
set -u
here=$(cd "$(dirname "$0")" && pwd) || exit 1

# check TOP: prints one "FILE:LINE: ..." per fault, exit 1 when any.
check() {
    top=$1
    cd "$top" || return 2
    files=$(find kernels src solver ui -type f \( -name '*.c' -o -name '*.h' -o -name '*.cc' \) \
        2>/dev/null | LC_ALL=C sort)
    frags=$(find kernels src solver ui -type f -name '*.am' 2>/dev/null | LC_ALL=C sort)
    # shellcheck disable=SC2086 # word splitting of the file lists is wanted
    {
        [ -z "$files" ] || awk -v list="$files" '
        BEGIN { n = split(list, f, "\n"); for (i = 1; i <= n; i++) have[f[i]] = 1 }
        function layer(p) {
            if (p ~ /^kernels\//) return "kernels"
            if (p ~ /^src\/cli\//) return "cli"
            if (p ~ /^src\//) return "src"
            if (p ~ /^solver\//) return "solver"
            if (p ~ /^ui\//) return "ui"
            return ""
        }
        function allowed(from, to) {
            if (from == "kernels") return to == "kernels"
            if (from == "src") return to == "kernels" || to == "src"
            if (from == "solver") return to == "kernels" || to == "src" || to == "solver"
            if (from == "ui") return to != "cli"
            return 1
        }
        FNR == 1 { from = layer(FILENAME); dir = FILENAME; sub(/\/[^\/]*$/, "", dir) }
        /^[ \t]*#[ \t]*include[ \t]*<glpk\.h>/ && from != "solver" {
            printf "%s:%d: includes <glpk.h> outside solver/ (use solver/ilp.h)\n", FILENAME, FNR
            bad = 1
        }
        /^[ \t]*#[ \t]*include[ \t]*"/ {
            name = $0
            sub(/^[ \t]*#[ \t]*include[ \t]*"/, "", name)
            sub(/".*/, "", name)
            # "x.h" next to the file, else "dir/x.h" from the top
            path = dir "/" name
            if (!(path in have)) path = name
            to = layer(path)
            if (to != "" && !allowed(from, to)) {
                printf "%s:%d: %s (%s) includes %s (%s): upward\n", FILENAME, FNR, FILENAME, from, path, to
                bad = 1
            }
        }
        END { exit bad }' $files || echo x >&3
        [ -z "$frags" ] || awk '
        FNR == 1 { dir = FILENAME; sub(/\/[^\/]*$/, "", dir) }
        {
            line = $0
            sub(/#.*/, "", line)
            n = split(line, w, /[ \t\\=]+/)
            for (i = 1; i <= n; i++) {
                if (w[i] !~ /^(kernels|src|solver|ui)\/[^$()]*\.(c|h|cc)$/) continue
                d = w[i]
                sub(/\/[^\/]*$/, "", d)
                if (d != dir) {
                    printf "%s:%d: builds %s, a source of %s/ (list it in a fragment of %s/)\n", \
                        FILENAME, FNR, w[i], d, d
                    bad = 1
                }
            }
        }
        END { exit bad }' $frags || echo x >&3
    } 3>"$tmp/faults"
    [ ! -s "$tmp/faults" ]
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mxalloc-layers.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

# The checker itself: a tree with one fault of each kind, and the clean parts
# around them, must give exactly these lines.
t=$tmp/tree
mkdir -p "$t/kernels" "$t/src/cli" "$t/solver" "$t/ui" "$t/tests"
printf '#include "kernels/a.h"\n#include "b.h"\n#include "src/c.h"\n' >"$t/kernels/a.c"
: >"$t/kernels/a.h"; : >"$t/kernels/b.h"
printf '#include "kernels/a.h"\n#include "solver/s.h"\n#include "src/cli/x.h"\n' >"$t/src/c.h"
printf '#include "src/c.h"\n#include "ui/u.h"\n#include <glpk.h>\n' >"$t/solver/s.h"
printf '#include "solver/s.h"\n#include "src/cli/x.h"\n#include <glpk.h>\n' >"$t/ui/u.h"
printf '#include "ui/u.h"\n' >"$t/src/cli/x.h"
printf 'libmxcore_a_SOURCES += solver/s.h \\\n\tsrc/c.h  # src/x.c in a comment\n' >"$t/solver/s.am"
printf 'X_SOURCES = tests/t.c ui/u.h\n' >"$t/ui/u.am"
printf 'X_SOURCES = src/c.h ui/u.h\n' >"$t/tests/t.am"
(check "$t") >"$tmp/got" 2>&1 && { echo "FAIL: checker passed a tree with faults" >&2; exit 1; }
cat >"$tmp/want" <<'EOF'
kernels/a.c:3: kernels/a.c (kernels) includes src/c.h (src): upward
solver/s.h:2: solver/s.h (solver) includes ui/u.h (ui): upward
src/c.h:2: src/c.h (src) includes solver/s.h (solver): upward
src/c.h:3: src/c.h (src) includes src/cli/x.h (cli): upward
ui/u.h:2: ui/u.h (ui) includes src/cli/x.h (cli): upward
ui/u.h:3: includes <glpk.h> outside solver/ (use solver/ilp.h)
solver/s.am:2: builds src/c.h, a source of src/ (list it in a fragment of src/)
EOF
if ! diff "$tmp/want" "$tmp/got" >"$tmp/diff"; then
    echo "FAIL: checker self-test (want vs got):" >&2
    cat "$tmp/diff" >&2
    exit 1
fi

if ! (check "${1:-$here/..}") >"$tmp/got" 2>&1; then
    echo "FAIL: layering (arrows must point down: kernels <- src <- solver <- src/cli, ui):" >&2
    cat "$tmp/got" >&2
    exit 1
fi
echo "layers: ok"
