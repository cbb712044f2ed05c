#!/usr/bin/env bash
# `make demo`: run the bundled examples and show the KASAN reports they produce.
build=${1:-build}
set -u
export LD_LIBRARY_PATH=$build/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
for ex in slab_uaf kmalloc_oob; do
  echo "### examples/$ex.c  (UKASAN_OPTIONS=multi_shot=1)"
  UKASAN_OPTIONS=multi_shot=1 "$build/examples/$ex"
  echo "### exit status: $? (a report sets the exit status, like exitcode= in ASAN_OPTIONS)"
  echo
done
for extra in examples/demo-*.sh; do
  [ -f "$extra" ] && bash "$extra" "$build"
done
exit 0
