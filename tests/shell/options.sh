#!/bin/bash
# The options' user interface: help=1 lists every option of options.inc with
# its value and default; a program's __ukasan_default_options() sets
# defaults that UKASAN_OPTIONS overrides; ukasan_version() is the project's
# version; a report goes out in one write(2) (when strace is there to see it);
# repeats at one code location are counted, not printed, and summed at exit.
# Usage: options.sh SOURCE_DIR BUILD_DIR
. "$(dirname "$0")/../common/shell_test.sh"
lib=$BUILD/lib/libukasan.so

n_opts=$(grep -c '^UKASAN_OPTION(' "$SRC/src/platform/options.inc")
UKASAN_OPTIONS=help=1:multi_shot=1 LD_PRELOAD="$lib" /bin/true 2>"$WORK/help"
n_help=$(grep -cE '^  [a-z_]+\*?=.* \(default ' "$WORK/help")
[ "$n_help" = "$n_opts" ] || fail "help=1 listed $n_help options, options.inc has $n_opts"
grep -q '^  multi_shot=1 (default 0)$' "$WORK/help" || fail "help=1 does not show multi_shot's value and default"
grep -q '^  poison_check_bytes\*=' "$WORK/help" || fail "help=1 does not mark start-up options"

cat >"$WORK/prog.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ukasan/ukasan.h>
const char* __ukasan_default_options(void) { return "exitcode=7"; }
int main(void) {
  printf("version %s\n", ukasan_version());
  char* volatile p = malloc(10);
  p[10] = 1;
  free(p);
  return 0;
}
C
"$BUILD/bin/ukasan-cc" -O0 -g "$WORK/prog.c" -o "$WORK/prog" || fail "build"
(cd "$WORK" && ./prog >prog.out 2>prog.err)
rc=$?
[ $rc = 7 ] || fail "__ukasan_default_options exitcode=7: exit status $rc"
grep -q '^BUG: KASAN: slab-out-of-bounds' "$WORK/prog.err" || fail "no report"
want=$(sed -n 's/^project(ukasan VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")
grep -q "^version $want\$" "$WORK/prog.out" || fail "ukasan_version: $(cat "$WORK/prog.out"), expected $want"
(cd "$WORK" && UKASAN_OPTIONS=exitcode=9 ./prog >/dev/null 2>&1)
rc=$?
[ $rc = 9 ] || fail "UKASAN_OPTIONS must override the program's defaults: exit status $rc"
if command -v strace >/dev/null; then
  (cd "$WORK" && strace -f -s 65536 -e trace=write -o trace.txt ./prog >/dev/null 2>&1)
  writes=$(grep -c 'write(2, .*BUG: KASAN' "$WORK/trace.txt")
  whole=$(grep 'write(2, .*BUG: KASAN' "$WORK/trace.txt" | grep -c 'Memory state around the buggy address')
  [ "$writes" = 1 ] && [ "$whole" = 1 ] || fail "the report was not one write(2): $writes writes with a header, $whole whole"
fi

# The same bug at one code location 1000 times: printed once, counted, and
# the exit summary gives the totals by type (dedup_reports=0: every one).
cat >"$WORK/loop.c" <<'C'
#include <stdlib.h>
int main(void) {
  char* volatile p = malloc(16);
  for (int i = 0; i < 1000; i++) p[16] = (char)i;
  p[16] = 0;
  free(p);
  return 0;
}
C
"$BUILD/bin/ukasan-cc" -O0 -g "$WORK/loop.c" -o "$WORK/loop" || fail "build loop"
(cd "$WORK" && UKASAN_OPTIONS=multi_shot=1:exitcode=0 ./loop >/dev/null 2>loop.err)
# Three locations: the loop's store, the store after it (KASAN, at the
# access), and free()'s check of the canary they overwrote (SLUB's report).
[ "$(grep -c '^BUG: KASAN: slab-out-of-bounds in main' "$WORK/loop.err")" = 2 ] &&
  [ "$(grep -c '^BUG kmalloc-16 (Not tainted): Right Redzone overwritten$' "$WORK/loop.err")" = 1 ] ||
  fail "dedup: $(grep -c '^BUG' "$WORK/loop.err") reports printed, expected 3 (three code locations)"
grep -q '^SUMMARY: KASAN: 1002 reports: 1001 slab-out-of-bounds, 1 Right Redzone overwritten (999 repeated at the same location, not printed again)$' \
  "$WORK/loop.err" || fail "summary: $(grep SUMMARY "$WORK/loop.err")"
(cd "$WORK" && UKASAN_OPTIONS=multi_shot=1:dedup_reports=0:exitcode=0 ./loop >/dev/null 2>loop0.err)
[ "$(grep -c '^BUG' "$WORK/loop0.err")" = 1002 ] || fail "dedup_reports=0: $(grep -c '^BUG' "$WORK/loop0.err") reports"
# verbosity=1: what was set up (start-up) and done (exit), one line each;
# 2: the statistics too.
UKASAN_OPTIONS=verbosity=1:kfence_sample_interval=100 LD_PRELOAD="$lib" sh -c "echo x" >/dev/null 2>"$WORK/verbose"
grep -qE '^ukasan [0-9.]+: pid [0-9]+, shadow offset 0x[0-9a-f]+ \(8-byte granules\), quarantine [0-9]+ KiB' "$WORK/verbose" ||
  fail "verbosity=1: no set-up line: $(head -3 "$WORK/verbose")"
grep -q '^ukasan: KFENCE: 1 in 100 allocations of each thread, a pool of 255 objects$' "$WORK/verbose" || fail "verbosity=1: no KFENCE line"
UKASAN_OPTIONS=verbosity=1 LD_PRELOAD="$lib" /bin/true 2>"$WORK/verbose"  # (dash leaves by _exit)
grep -q '^ukasan: exit: 0 reports, 0 leaked objects reported$' "$WORK/verbose" || fail "verbosity=1: no exit line"
UKASAN_OPTIONS=verbosity=2 LD_PRELOAD="$lib" /bin/true 2>"$WORK/verbose2"
grep -q '^ukasan: stats' "$WORK/verbose2" || fail "verbosity=2: no statistics"
echo "options: $FAILS failed"
[ $FAILS = 0 ]
