#!/bin/sh
# mpirun -np 2 mxalloc score on both real models: every method, and the score
# file is the same, byte for byte, as one process's with the same threads per
# process (taskset to one core, what mpirun gives each of 2 processes on 2
# cores) and on a rerun; against one process on every core (OpenBLAS splits
# its products otherwise) every summed score agrees to 1e-4 relative. The
# speedup line is printed. Needs ./configure --with-mpi and Open MPI's mpirun.
. "$(dirname "$0")/cli_lib.sh"
need_files "not found" "$MODEL" "$TOKZ" "$TEXT"
grep -q '^#define HAVE_MPI 1' config.h 2>/dev/null ||
    { echo "SKIP: built without MPI (./configure --with-mpi)"; exit 77; }
command -v mpirun >/dev/null || { echo "SKIP: no mpirun (Debian package openmpi-bin)"; exit 77; }
command -v taskset >/dev/null || { echo "SKIP: no taskset"; exit 77; }
make_tmp T mpi_cli
# CI runs as root; Open MPI refuses that unless told
OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM
MPIRUN="mpirun -np 2 --bind-to core"

close() { # close A B: every number of two summaries (fp32, uniform, summed scores) within 1e-4 relative
    awk 'NR == FNR { a[FNR] = $0; next }
         { n = split(a[FNR], x); split($0, y)
           for (i = 1; i <= n; i++) if (x[i] ~ /^-?[0-9.]+$/) {
               d = x[i] - y[i]; d = d < 0 ? -d : d; m = x[i] < 0 ? -x[i] : x[i]
               if (d > 1e-4 * m + 1e-9) { print "line " FNR ": " a[FNR] " / " $0; bad = 1 } } }
         END { exit bad }' "$1" "$2"
}

check() { # check NAME MODEL [TOKENIZER ARGS]
    name=$1 model=$2; shift 2
    A="score $model $* --text $TEXT --tokens 2048 --method all --force"
    expect 0 $MPIRUN "$BIN" $A --out "$T/$name.mpi"
    has "2 processes: .* one process: about" err
    [ "$(grep -c . "$T/out")" -gt 3 ] || fail "$name: no summary from the first process"
    tail -n +2 "$T/out" >"$T/$name.mpi.sum"
    expect 0 $MPIRUN "$BIN" $A --out "$T/$name.mpi2"
    cmp -s "$T/$name.mpi" "$T/$name.mpi2" || fail "$name: two mpirun runs differ"
    expect 0 taskset -c 0 "$BIN" $A --out "$T/$name.one"
    cmp -s "$T/$name.mpi" "$T/$name.one" || fail "$name: 2 processes differ from one on one core"
    expect 0 "$BIN" $A --out "$T/$name.all"
    tail -n +2 "$T/out" >"$T/$name.all.sum"
    close "$T/$name.all.sum" "$T/$name.mpi.sum" || fail "$name: 2 processes vs one on every core beyond 1e-4"
    echo "$name: identical to one process on one core; within 1e-4 of one on every core"
}

check stories260K "$MODEL" --tokenizer "$TOKZ"
if [ -r "$H656K/model.safetensors" ]; then
    check tinystories-656k "$H656K"
else
    echo "tinystories-656k absent: its half skipped"
fi
# bad input: every process refuses it, one line, exit 1, no file
expect 1 $MPIRUN "$BIN" score "$MODEL" --tokenizer "$TOKZ" --text "$T/none.txt" --out "$T/x"
has "none.txt" err
[ ! -e "$T/x" ] || fail "a failed run left a file"
exit 0
