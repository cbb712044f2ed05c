#!/bin/bash
# The namespaced slab API (<ukasan/kslab.h>) under a program that defines the
# kernel's slab names itself, as a kernel test harness's shim does
# (tests/kslab/shim.c): the alloc hook vetoes what the harness's non_kernel
# rule forbids, ukasan_cache_stats counts, a use after free of a cache
# object is reported with the shim's frames as the kernel's would be, and
# the runtime never calls the program's kmalloc/kfree. Built with ukasan-cc
# (instrumented, linked to the runtime) and, uninstrumented, run under the
# preload.
# Usage: kslab.sh SOURCE_DIR BUILD_DIR
. "$(dirname "$0")/../common/shell_test.sh"

check_common() {  # $1: the program's stdout
  local out=$1
  grep -qx 'hook: allowed vetoed' "$out" || fail "alloc hook: $(grep hook: "$out")"
  grep -q 'not vetoed' "$out" && fail "the hook did not veto an allocation without budget"
  grep -qx 'stats: allocated 2 freed 0 live 2 size 16' "$out" || fail "stats: $(grep -m1 stats: "$out")"
  grep -qx 'stats: allocated 2 freed 2 live 0' "$out" || fail "stats after frees: $(grep stats: "$out" | tail -1)"
  grep -qx 'kmalloc: zeroed 1' "$out" || fail "UKASAN_GFP_ZERO"
  # Only main's own calls: the runtime never reaches the program's kernel names.
  grep -qx 'program kmalloc 1 kfree 1' "$out" || fail "the program's kmalloc/kfree: $(grep program "$out")"
}

"$BUILD/bin/ukasan-cc" -O1 -g "$SRC/tests/kslab/shim.c" -o "$WORK/shim" || fail "build with ukasan-cc"
(cd "$WORK" && UKASAN_OPTIONS=detect_leaks=0 ./shim >out 2>err)
check_common "$WORK/out"
grep -qE '^BUG: KASAN: slab-use-after-free in node_lookup\+0x[0-9a-f]+/0x[0-9a-f]+$' "$WORK/err" ||
  fail "report header: $(grep -m1 'BUG:' "$WORK/err")"
# Each namespaced call records its own caller: the stacks start in the shim.
grep -A2 '^Allocated by task' "$WORK/err" | tr '\n' '|' |
  grep -qE '^Allocated by task [0-9]+:\| kmem_cache_alloc\+0x[^|]*shim.c:[0-9]+\| node_new\+' ||
  fail "alloc stack: $(grep -A2 '^Allocated by task' "$WORK/err" | tr '\n' '|')"
grep -A2 '^Freed by task' "$WORK/err" | tr '\n' '|' |
  grep -qE '^Freed by task [0-9]+:\| kmem_cache_free\+0x[^|]*shim.c:[0-9]+\| node_delete\+' ||
  fail "free stack: $(grep -A2 '^Freed by task' "$WORK/err" | tr '\n' '|')"
grep -qx ' which belongs to the cache shim_node of size 16' "$WORK/err" || fail "cache line"
grep -c 'unknown flags' "$WORK/err" | grep -qx 1 || fail "unknown flags: $(grep 'unknown flags' "$WORK/err")"
grep -qx 'ukasan: kmem_cache_create(odd_flags): unknown flags 0x40000001 ignored (known: 0x3efffd00)' "$WORK/err" ||
  fail "unknown flags line: $(grep 'unknown flags' "$WORK/err")"

# No call of the runtime goes through an exported (interposable) name.
if command -v objdump >/dev/null; then
  relocs=$(objdump -R "$BUILD/lib/libukasan.so" | awk '{sub(/@.*/, "", $3); print $3}' |
    grep -E '^(k[a-z_]*alloc[a-z_]*|kfree[a-z_]*|ksize|kcalloc|kmem_cache_[a-z_]+|kasan_[a-z_]+|ukasan_[a-z_]+)$')
  [ -z "$relocs" ] || fail "libukasan.so calls its own exported names through the PLT: $relocs"
fi

# Uninstrumented, under the preload: the same API, the same counts.
cc -O1 -g -I"$SRC/include" "$SRC/tests/kslab/shim.c" -o "$WORK/shim_plain" -L"$BUILD/lib" -lukasan -lpthread ||
  fail "build with cc -lukasan"
(cd "$WORK" && UKASAN_OPTIONS=detect_leaks=0 LD_LIBRARY_PATH="$BUILD/lib" LD_PRELOAD="$BUILD/lib/libukasan.so" \
  ./shim_plain >out_plain 2>err_plain)
check_common "$WORK/out_plain"

[ $FAILS = 0 ] && echo "kslab: OK"
exit $FAILS
