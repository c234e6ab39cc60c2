#!/bin/sh
# The cmocka stand-in (tests/nocmocka/cmocka.h, used when configure finds no
# cmocka): a test built against it skips with a message and runs nothing.
set -u
probe=${MXALLOC_NOCMOCKA_PROBE:-./tests/nocmocka_probe}
out=$("$probe" 2>&1)
rc=$?
[ "$rc" -eq 77 ] || { echo "FAIL: the probe exited $rc, want 77 (skip): $out" >&2; exit 1; }
case $out in
*"SKIP: "*"nocmocka_probe.c: 2 unit tests not run: built without cmocka"*"libcmocka-dev"*) ;;
*) echo "FAIL: no skip message naming the file, the count and the package: $out" >&2; exit 1 ;;
esac
echo "nocmocka: ok"
