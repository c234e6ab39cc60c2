#!/bin/sh
# mpirun -np 2 mxalloc score --method fisher on both real models against one
# process: pinned to one core (what each of the 2 processes gets), and on
# every core. Wall seconds including start-up, median of 3; the score files of
# 2 processes and one pinned process must be identical. Every whole window of
# the sample (--tokens 0), as a calibration set is larger than the default.
# Needs --with-mpi.
set -u
BIN=${MXALLOC_BIN:-./mxalloc}
DATA=${MXALLOC_DATA:-../shared/data}
TEXT=$DATA/tinystories-text/tinystories_sample_30k.txt
grep -q '^#define HAVE_MPI 1' config.h 2>/dev/null || { echo "skipped: built without MPI (./configure --with-mpi)"; exit 0; }
command -v mpirun >/dev/null || { echo "skipped: no mpirun"; exit 0; }
[ -r "$TEXT" ] || { echo "skipped: $TEXT not found"; exit 0; }
OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM
T=$(mktemp -d "${TMPDIR:-/tmp}/mpi_real.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT

wall() { # wall OUT CMD...: median wall seconds of 3 runs
    out=$1; shift
    for i in 1 2 3; do
        s=$(date +%s.%N); "$@" --out "$T/$out" >/dev/null 2>"$T/err" || { cat "$T/err"; echo nan; return; }
        echo "$(date +%s.%N) - $s" | bc
    done | sort -n | sed -n 2p
}

status=0
printf '%-18s %9s %9s %9s %12s %12s %s\n' model "1 core" "all" "np 2" "np2/1core" "np2/all" identical
for spec in "stories260K|$DATA/tinystories-260k/stories260K.bin --tokenizer $DATA/tinystories-260k/tok512.bin" \
            "tinystories-656k|$DATA/tinystories-656k"; do
    name=${spec%%|*} args=${spec#*|}
    set -- $args
    [ -r "$1" ] || { echo "$name: not found, skipped"; continue; }
    A="score $args --text $TEXT --method fisher --tokens 0 --force"
    one=$(wall one taskset -c 0 "$BIN" $A)
    all=$(wall all "$BIN" $A)
    np2=$(wall np2 mpirun -np 2 --bind-to core "$BIN" $A)
    same=yes; cmp -s "$T/one" "$T/np2" || { same=NO; status=1; }
    printf '%-18s %9.2f %9.2f %9.2f %12.2f %12.2f %s\n' "$name" "$one" "$all" "$np2" \
        "$(echo "$one / $np2" | bc -l)" "$(echo "$all / $np2" | bc -l)" "$same"
    r=$(echo "$one / $np2 >= 1.7" | bc -l)
    echo "target $name: 2 processes >= 1.7x one (one core each): $([ "$r" = 1 ] && echo PASS || echo MISS)"
done
exit $status
