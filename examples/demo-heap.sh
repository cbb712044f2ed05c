#!/usr/bin/env bash
# `make demo` (heap part): an unmodified C program with a write after free,
# run under LD_PRELOAD=libukasan.so.
build=${1:-build}
set -u
prog=$build/tests/heap/progs/uaf_write
[ -x "$prog" ] || exit 0
echo "### tests/heap/progs/uaf_write.c under LD_PRELOAD=$build/lib/libukasan.so (no instrumentation)"
UKASAN_OPTIONS=quarantine_size_mb=1:quarantine_cache_kb=64 LD_PRELOAD=$build/lib/libukasan.so "$prog"
echo "### exit status: $?"
echo
