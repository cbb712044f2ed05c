#!/bin/bash
# make kernel-tests: the kernel's user-space test harness
# (tools/testing/radix-tree: xarray, idr-test, multiorder, maple, main) built
# with ukasan as both its slab (this directory's linux.c and slab.c, over
# <ukasan/kslab.h>) and its instrumentation (ukasan-gcc as CC), then run.
#
# Usage: run.sh BUILD_DIR
#   KERNEL_SRC=DIR       a kernel tree (left untouched: the harness is built in a copy)
#   KERNEL_TARBALL=FILE  else this tarball is extracted (only the parts the harness
#                        needs) under BUILD_DIR/kernel-tests; default Debian's
#                        /usr/src/linux-source-6.1.tar.xz (apt-get install linux-source-6.1)
#   KT_TARGETS="..."     the programs (default: xarray idr-test multiorder maple main)
#   KT_MODE=ukasan|asan  asan: the upstream build (its own shim, -fsanitize=address), to compare
#   KT_SKIP="f g"        harness tests skipped by name (each call replaced by a SKIP
#                        line), default the known failures of Debian's 6.1 tree:
#                        next_prev_test (maple: "BUG at next_prev_test:1991", the
#                        index after mas_next runs off the end, then an abort; the
#                        same in upstream's ASan build) and run_check_rcu_slowread
#                        (counts what reader threads saw within fixed sleeps: timing).
#                        Debian's 6.12 tree (tools/testing/shared) passes next_prev_test;
#                        run_check_rcu_slowread failed in the one run there that ran it.
#   KT_OUT=DIR           where the trees, logs and timings go (default BUILD_DIR/kernel-tests)
#   JOBS=N               make -j (default: nproc)
# Each program runs under /usr/bin/time -v (when present); one line per
# program: PASS/FAIL, exit status, KASAN reports, wall seconds, max RSS.
# Exit status: the number of programs that failed (a KASAN report fails it).
# In ukasan mode, plant_uaf.c checks that a planted use after free of a
# radix_tree_node is reported (with its call_rcu aux stack).
set -u
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
BUILD=$(cd "$1" && pwd)
MODE=${KT_MODE:-ukasan}
OUT=${KT_OUT:-$BUILD/kernel-tests}
TARGETS=${KT_TARGETS:-xarray idr-test multiorder maple main}
SKIP=${KT_SKIP-next_prev_test run_check_rcu_slowread}
JOBS=${JOBS:-$(nproc)}
mkdir -p "$OUT"

# ---- the kernel tree ----------------------------------------------------------------
if [ -n "${KERNEL_SRC:-}" ]; then
  KSRC=$(cd "$KERNEL_SRC" && pwd) || exit 2
else
  tarball=${KERNEL_TARBALL:-/usr/src/linux-source-6.1.tar.xz}
  if [ ! -r "$tarball" ]; then
    echo "kernel-tests: no kernel tree: set KERNEL_SRC=DIR, or install Debian's linux-source-6.1 ($tarball)" >&2
    exit 2
  fi
  top=$(tar tf "$tarball" 2>/dev/null | head -1)
  top=${top%%/*}
  KSRC=$OUT/src/$top
  if [ ! -e "$KSRC/.extracted" ]; then
    echo "kernel-tests: extracting the harness's part of $tarball"
    mkdir -p "$OUT/src"
    # Only what the harness reads: its directory, the tools' headers and
    # libraries, the kernel's lib/ and include/.
    tar xJf "$tarball" -C "$OUT/src" --wildcards "$top/tools/testing/*" "$top/tools/include/*" \
      "$top/tools/lib/*" "$top/tools/arch/*" "$top/lib/*" "$top/include/*" || exit 2
    touch "$KSRC/.extracted"
  fi
fi
[ -d "$KSRC/tools/testing/radix-tree" ] || { echo "kernel-tests: $KSRC has no tools/testing/radix-tree" >&2; exit 2; }

# ---- a private copy of the harness ------------------------------------------------
# The Makefile reaches ../../include, ../../lib, ../../../lib, ../../../include:
# the kernel's lib/ and include/ are linked, the tools' parts copied (the
# shim replaces two of their files, a skipped test patches one).
tree=$OUT/tree-$MODE
rm -rf "$tree"
mkdir -p "$tree/tools/testing"
ln -s "$KSRC/include" "$tree/include"
cp -rs "$KSRC/lib" "$tree/lib"  # links, file by file: a skipped test's file becomes a copy
for d in include arch; do [ -d "$KSRC/tools/$d" ] && ln -s "$KSRC/tools/$d" "$tree/tools/$d"; done
cp -r "$KSRC/tools/lib" "$tree/tools/lib"
cp -r "$KSRC/tools/testing/radix-tree" "$tree/tools/testing/"
# Newer kernels (6.4+) share the shim with other harnesses in tools/testing/shared.
[ -d "$KSRC/tools/testing/shared" ] && cp -r "$KSRC/tools/testing/shared" "$tree/tools/testing/"
rt=$tree/tools/testing/radix-tree
rm -f "$rt"/*.o "$rt"/generated/map-shift.h "$rt"/generated/bit-length.h

if [ "$MODE" = ukasan ]; then
  cp "$here/slab.c" "$tree/tools/lib/slab.c"
  # ukasan's instrumentation instead of ASan's (UBSan stays, as upstream).
  for mk in "$rt/Makefile" "$tree/tools/testing/shared/shared.mk"; do
    [ -f "$mk" ] && sed -i -e 's/-fsanitize=address//g' "$mk"
  done
  CC="$BUILD/bin/ukasan-gcc -Wl,--wrap=urcu_memb_call_rcu"
  if [ -f "$tree/tools/testing/shared/linux.c" ]; then
    cp "$here/linux.c" "$tree/tools/testing/shared/linux.c"
    CC="$CC -DUKASAN_SHARED_HARNESS"
  else
    cp "$here/linux.c" "$rt/linux.c"
  fi
else
  CC=${CC:-gcc}
fi

# Debian's 6.1 tree (a later 6.1.y) has a lib/maple_tree.c that uses the
# pseudo-keyword fallthrough, which the harness's tools/include never
# defines: both builds get it from a forced include, as the kernel's
# compiler_attributes.h defines it.
if grep -q '^[[:space:]]*fallthrough;' "$KSRC/lib/maple_tree.c" 2>/dev/null &&
   ! grep -rqs 'define fallthrough' "$KSRC/tools/include"; then
  printf '#ifndef fallthrough\n#define fallthrough __attribute__((__fallthrough__))\n#endif\n' >"$rt/ukasan-compat.h"
  CC="$CC -include ukasan-compat.h"
fi

# The known failures, skipped by name: each call statement becomes a line
# that says so when the program runs.
for f in $SKIP; do
  files=$(grep -lE "^[[:space:]]+$f\(" "$rt"/*.c "$tree/lib"/*.c 2>/dev/null)
  for file in $files; do
    [ -L "$file" ] && cp --remove-destination "$(readlink -f "$file")" "$file"
    sed -i -E "s/^([[:space:]]+)$f\(.*\);/\1printf(\"SKIP: $f (a known failure of this harness; make kernel-tests KT_SKIP= runs it)\\\\n\");/" "$file"
  done
done

# ukasan: also plant_uaf.c, a use after free the harness's shim must catch.
plant=
objs="xarray.o radix-tree.o idr.o linux.o test.o find_bit.o bitmap.o slab.o"
[ -d "$tree/tools/testing/shared" ] && objs="xarray-shared.o radix-tree.o idr.o linux.o test.o find_bit.o bitmap.o slab.o hweight.o vsprintf.o"
if [ "$MODE" = ukasan ]; then
  plant=plant_uaf
  cp "$here/plant_uaf.c" "$rt/"
fi
echo "kernel-tests: building $TARGETS ($MODE) from $KSRC"
if ! make -C "$rt" -j"$JOBS" CC="$CC" $TARGETS ${plant:+$objs} >"$OUT/build-$MODE.log" 2>&1 ||
   { [ -n "$plant" ] && ! (cd "$rt" && $CC -I../shared -I. -I../../include -I../../../lib -g -Og -D_LGPL_SOURCE plant_uaf.c $objs \
       -lpthread -lurcu -fsanitize=undefined -o plant_uaf >>"$OUT/build-$MODE.log" 2>&1); }; then
  tail -30 "$OUT/build-$MODE.log"
  echo "kernel-tests: the build failed (log: $OUT/build-$MODE.log)"
  exit 1
fi

# ---- run ----------------------------------------------------------------------------
timer=
[ -x /usr/bin/time ] && timer="/usr/bin/time -v -o"
failed=0
printf '%-10s %-5s %4s %7s %9s %11s\n' program result exit reports wall_s maxrss_MiB
for t in $TARGETS; do
  log=$OUT/$t-$MODE.log
  times=$OUT/$t-$MODE.time
  if [ -n "$timer" ]; then
    (cd "$rt" && $timer "$times" "./$t" >"$log" 2>&1)
  else
    (cd "$rt" && "./$t" >"$log" 2>&1)
  fi
  rc=$?
  reports=$(grep -c '^BUG: KASAN:\|^ERROR: AddressSanitizer' "$log")
  wall=- rss=-
  if [ -s "$times" ]; then
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.1f", s }' "$times")
    rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$times")
  fi
  result=PASS
  if [ $rc != 0 ] || [ "$reports" != 0 ]; then result=FAIL; failed=$((failed + 1)); fi
  printf '%-10s %-5s %4s %7s %9s %11s\n' "$t" $result $rc "$reports" "$wall" "$rss"
  grep -h '^SKIP: ' "$log" | sort | uniq -c | sed 's/^ */  /'
  [ $result = FAIL ] && { echo "  log: $log"; grep -m3 -E '^BUG: KASAN:|^ERROR: AddressSanitizer|Assertion|BUG at' "$log" | sed 's/^/  /'; }
done
if [ -n "$plant" ]; then
  # Exactly one report: the read of the freed node, with call_rcu's caller as
  # the node's last potentially related work creation.
  log=$OUT/plant_uaf.log
  (cd "$rt" && UKASAN_OPTIONS=detect_leaks=0 ./plant_uaf >"$log" 2>&1)
  reports=$(grep -c '^BUG: KASAN:' "$log")
  result=PASS
  grep -qE '^BUG: KASAN: slab-use-after-free in stale_node_count\+0x' "$log" &&
    grep -A3 '^Last potentially related work creation:' "$log" | grep -q 'radix_tree_node_free' &&
    grep -q ' which belongs to the cache radix_tree_node of size' "$log" && [ "$reports" = 1 ] ||
    { result=FAIL; failed=$((failed + 1)); }
  printf '%-10s %-5s %4s %7s   (a planted use after free: 1 report expected)\n' plant_uaf $result - "$reports"
  [ $result = FAIL ] && echo "  log: $log"
fi
exit $failed
