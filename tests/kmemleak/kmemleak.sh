#!/usr/bin/env bash
# kmemleak end to end: progs/leaks.cpp under LD_PRELOAD (g++ -O0 and -O2)
# and built with ukasan-c++ (g++ and clang++, inline and outline). Exactly
# the leaked objects are reported (by their unique sizes), once; the first
# scan returns their number, later scans none; the process exits with
# `exitcode`; with detect_leaks=0 the exit-time scan is off. Then
# progs/dangle.c with quarantine_keep_referenced off and on; progs/dup_leaks.c:
# leaks of strdup's family name the program's function first.
# Usage: kmemleak.sh SOURCE_DIR BUILD_DIR
set -u
SRC=$(cd "$1" && pwd)
BUILD=$(cd "$2" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ukasan-kmemleak.XXXXXX")
trap '[ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT
PROG=$SRC/tests/kmemleak/progs/leaks.cpp
LIB=$BUILD/lib/libukasan.so
EXPECTED="1001 1002 1003 1004 1005 1005 1005 1005 3002"
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }

# The reported sizes, expanded by the "and N more" lines, sorted.
reported_sizes() {
  awk '/^unreferenced object 0x[0-9a-f]+ \(size [0-9]+\):$/ { s = $5; sub(/\)?:$/, "", s); print s; last = s }
       /^  and [0-9]+ more unreferenced objects with this backtrace/ { for (i = 0; i < $2; i++) print last }' "$1" |
    sort -n | tr '\n' ' ' | sed 's/ $//'
}

check() {  # name, output file, rc
  local name=$1 out=$2 rc=$3 got
  got=$(reported_sizes "$out")
  [ "$got" = "$EXPECTED" ] || fail "$name: reported sizes '$got', expected '$EXPECTED'"
  grep -q '^first scan: 9$' "$out" || fail "$name: the first scan did not return 9: $(grep scan: "$out" | head -1)"
  grep -q '^second scan: 0$' "$out" || fail "$name: a second scan reported again"
  grep -q '^recoverable: 1$' "$out" || fail "$name: __lsan_do_recoverable_leak_check did not see the leaks"
  grep -q '^kmemleak: 9 new suspected memory leaks' "$out" || fail "$name: no summary line"
  [ -n "${NO_STACKS:-}" ] ||
    grep -Eq '^    \[<[0-9a-f]{16}>\] .*leak_malloc' "$out" || fail "$name: no backtrace line naming leak_malloc"
  grep -q 'BUG: KASAN' "$out" && fail "$name: a KASAN report"
  [ "$rc" = 1 ] || fail "$name: exit status $rc, expected exitcode 1"
  [ $FAILS = 0 ] || { echo "--- $name output:"; head -120 "$out"; }
}

run() {  # name, then the command (EXTRA: more options)
  local name=$1
  shift
  UKASAN_OPTIONS=exitcode=1${EXTRA:+:$EXTRA} "$@" >"$WORK/$name.out" 2>&1
  check "$name" "$WORK/$name.out" $?
}

for opt in O0 O2; do
  g++ -$opt -g -fno-omit-frame-pointer "$PROG" -o "$WORK/leaks-$opt" -ldl -lpthread || { fail "build $opt"; continue; }
  run "preload-$opt" env LD_PRELOAD="$LIB" "$WORK/leaks-$opt"
done
# Without stacks, what ld.so allocated is still a root (the joined thread's
# DTV is referenced only from glibc's cache of thread stacks); with every
# allocation on a KFENCE page, an interior __lsan_ignore_object and an
# __lsan_disable'd allocation still hold.
EXTRA=stacktrace=0 NO_STACKS=1 run preload-nostacks env LD_PRELOAD="$LIB" "$WORK/leaks-O0"
EXTRA=kfence_sample_interval=1 run preload-kfence env LD_PRELOAD="$LIB" "$WORK/leaks-O0"
# Off: no exit-time scan (the explicit ones still report), exit status 1 from them.
UKASAN_OPTIONS=detect_leaks=0 LD_PRELOAD="$LIB" "$WORK/leaks-O0" >"$WORK/off.out" 2>&1
grep -q '^recoverable: 0$' "$WORK/off.out" || fail "detect_leaks=0: __lsan_do_recoverable_leak_check still scanned"

CXXS=g++
command -v clang++ >/dev/null 2>&1 && CXXS="$CXXS clang++"
for cxx in $CXXS; do
  for mode in inline outline; do
    name=ukasan-$cxx-$mode
    UKASAN_CXX=$cxx UKASAN_MODE=$mode "$BUILD/bin/ukasan-c++" -O1 -g "$PROG" -o "$WORK/$name" -ldl -lpthread ||
      { fail "build $name"; continue; }
    run "$name" "$WORK/$name"
  done
done
# quarantine_keep_referenced: a write through a pointer kept in a live object
# to an object freed 20 quarantines ago is reported with it, missed without.
DANGLE=$SRC/tests/kmemleak/progs/dangle.c
dangle() {  # name, expected reports for keep=0 and keep=1, then the command
  local name=$1 want0=$2 want1=$3 k n
  shift 3
  for k in 0 1; do
    UKASAN_OPTIONS=quarantine_size_mb=4:quarantine_keep_referenced=$k:detect_leaks=0:exitcode=0 "$@" \
      >"$WORK/$name-$k.out" 2>&1
    # at the access (instrumented) or by its free pattern (the preload)
    n=$(grep -cE '^BUG: KASAN: slab-use-after-free|^BUG kmalloc-[0-9]+ \(Not tainted\): Poison overwritten$' "$WORK/$name-$k.out")
    want=$want0
    [ $k = 1 ] && want=$want1
    [ "$n" = "$want" ] || { fail "$name keep=$k: $n reports, expected $want"; head -40 "$WORK/$name-$k.out"; }
  done
}
gcc -O1 -g "$DANGLE" -o "$WORK/dangle" && dangle dangle-preload 0 1 env LD_PRELOAD="$LIB" "$WORK/dangle"
for cc in $CXXS; do
  c=gcc
  [ $cc = clang++ ] && c=clang
  UKASAN_CC=$c "$BUILD/bin/ukasan-cc" -O1 -g "$DANGLE" -o "$WORK/dangle-$c" && dangle dangle-$c 0 1 "$WORK/dangle-$c"
done
# The copies of strdup, strndup, __strdup, __strndup and wcsdup are allocated
# by the runtime for the program's call: each report's first frame is the
# leaking function, even in code without frame pointers (libc's own copies
# recorded only the libc frame).
DUPS=$SRC/tests/kmemleak/progs/dup_leaks.c
DUP_EXPECTED="11 leak_strdup,16 leak_strndup,28 leak___strdup,33 leak___strndup,40 leak_wcsdup"
first_frames() {  # "size function" of each report's first backtrace line, sorted
  awk '/^unreferenced object 0x[0-9a-f]+ \(size [0-9]+\):$/ { s = $5; sub(/\)?:$/, "", s); want = 1; next }
       want && /^    \[<[0-9a-f]+>\] / { f = $2; sub(/\+.*/, "", f); print s " " f; want = 0 }' "$1" |
    sort -n | paste -sd, -
}
dups() {  # name, then the command
  local name=$1 got
  shift
  UKASAN_OPTIONS=exitcode=0 "$@" >"$WORK/$name.out" 2>&1
  got=$(first_frames "$WORK/$name.out")
  [ "$got" = "$DUP_EXPECTED" ] || { fail "$name: first frames '$got', expected '$DUP_EXPECTED'"; head -60 "$WORK/$name.out"; }
}
gcc -O2 -g -fomit-frame-pointer -fno-builtin "$DUPS" -o "$WORK/dups" && dups dups-preload env LD_PRELOAD="$LIB" "$WORK/dups"
UKASAN_CC=gcc "$BUILD/bin/ukasan-cc" -O2 -g -fno-builtin "$DUPS" -o "$WORK/dups-cc" && dups dups-ukasan-cc "$WORK/dups-cc"
echo "kmemleak: $FAILS failed"
[ $FAILS = 0 ]
