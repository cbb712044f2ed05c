#!/bin/bash
# Under valgrind's memcheck (the preload still set, as CI scripts do) ukasan
# steps aside with one line: the program runs at valgrind's speed instead of
# minutes in the mapping of ukasan's shadow, and valgrind sees the heap (it
# reports the use-after-free, not ukasan). Under callgrind, which leaves
# malloc alone, ukasan runs. Skipped where valgrind is not installed.
# Usage: valgrind.sh SOURCE_DIR BUILD_DIR
. "$(dirname "$0")/../common/shell_test.sh"
command -v valgrind >/dev/null || { echo "valgrind not installed: skipped"; exit 77; }
lib=$BUILD/lib/libukasan.so
cat >"$WORK/uaf.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
int main(void) {
  volatile char *volatile p = malloc(40);
  free((void *)p);
  printf("read %d\n", p[3]); /* use after free */
  return 0;
}
C
gcc -O1 -g "$WORK/uaf.c" -o "$WORK/uaf" || { echo "cannot build"; exit 1; }
LD_PRELOAD="$lib" timeout 120 valgrind -q --error-exitcode=9 "$WORK/uaf" >"$WORK/out" 2>&1
rc=$?
[ $rc = 9 ] || fail "exit $rc, want valgrind's error exit 9 (124: timed out)"
grep -q '^ukasan: running under valgrind: ukasan steps aside' "$WORK/out" || fail "no step-aside line"
grep -q 'Invalid read of size 1' "$WORK/out" || fail "valgrind did not see the heap"
grep -q 'BUG: KASAN' "$WORK/out" && fail "ukasan reported under valgrind"
[ $FAILS = 0 ] || cat "$WORK/out"
# callgrind leaves malloc alone: ukasan runs under it (instruction counts of
# its own paths) and reports a double free itself.
cat >"$WORK/df.c" <<'C'
#include <stdlib.h>
int main(void) {
  void *volatile p = malloc(24);
  free(p);
  free(p); /* double free */
  return 0;
}
C
gcc -O1 -g "$WORK/df.c" -o "$WORK/df" || { echo "cannot build"; exit 1; }
f0=$FAILS
LD_PRELOAD="$lib" UKASAN_OPTIONS=symbolize=0 timeout 120 valgrind -q --tool=callgrind --callgrind-out-file=/dev/null \
  "$WORK/df" >"$WORK/out2" 2>&1
grep -q '^BUG: KASAN: double-free' "$WORK/out2" || fail "callgrind: no ukasan report"
grep -q 'steps aside' "$WORK/out2" && fail "callgrind: ukasan stepped aside"
[ $FAILS = $f0 ] || cat "$WORK/out2"
echo "valgrind: $FAILS failed"
[ $FAILS = 0 ]
