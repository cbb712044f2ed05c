#!/bin/bash
# suppressions=FILE: a report whose type and stack match a line is neither
# printed nor counted (exit status, SUMMARY says how many); the others are;
# a bad line is named and ignored; a leak: line silences a kmemleak report.
# Usage: suppressions.sh SOURCE_DIR BUILD_DIR
. "$(dirname "$0")/../common/shell_test.sh"
lib=$BUILD/lib/libukasan.so

cat >"$WORK/prog.c" <<'C'
#include <stdlib.h>
#include <string.h>
#define NI __attribute__((noinline))
void *volatile keep;
char sink[32];
/* a and b read past the block through memcpy (caught at the call); c writes
   past it, found at free (SLUB's "Right Redzone overwritten"). */
NI void overflow_a(void) { char *volatile p = malloc(24); memcpy(sink, p, 25); free(p); }
NI void overflow_b(void) { char *volatile p = malloc(24); memcpy(sink, p, 26); free(p); }
NI void overflow_c(void) { volatile char *volatile p = malloc(24); p[24] = 1; free((void *)p); }
NI void leak_here(void) { keep = malloc(77); keep = 0; }
int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "a")) overflow_a();
    if (!strcmp(argv[i], "b")) overflow_b();
    if (!strcmp(argv[i], "c")) overflow_c();
    if (!strcmp(argv[i], "leak")) leak_here();
  }
  return 0;
}
C
gcc -O1 -g -fno-builtin -fno-omit-frame-pointer "$WORK/prog.c" -o "$WORK/prog" || { echo "cannot build"; exit 1; }
cat >"$WORK/supp" <<'S'
# the known one
slab-out-of-bounds:overflow_a
leak:leak_h*
this line has no colon
S
run() { UKASAN_OPTIONS=multi_shot=1:suppressions=$WORK/supp LD_PRELOAD="$lib" "$WORK/prog" "$@" 2>"$WORK/err"; }

run a b leak
rc=$?
[ $rc = 1 ] || fail "a b leak: exit $rc, want 1 (one report left)"
[ "$(grep '^BUG: ' "$WORK/err" | sed 's|+0x.*||')" = "BUG: KASAN: slab-out-of-bounds in overflow_b" ] ||
  fail "a b leak: reports: $(grep '^BUG: ' "$WORK/err" | tr '\n' '|')"
grep -q 'unreferenced object' "$WORK/err" && fail "the leak: suppression did not hold"
grep -q '^ukasan: suppressions line 4: not TYPE:PATTERN; ignored$' "$WORK/err" || fail "the bad line was not named"
grep -q '^SUMMARY: KASAN: 1 report: 1 slab-out-of-bounds (1 suppressed)$' "$WORK/err" ||
  fail "summary: $(grep SUMMARY "$WORK/err")"

run a leak
rc=$?
[ $rc = 0 ] || fail "a leak: exit $rc, want 0 (everything suppressed)"
grep -q '^BUG: ' "$WORK/err" && fail "a leak: a suppressed report was printed"

# A pattern over the source file suppresses both; without the file, both print.
printf 'slab-out-of-bounds:*prog.c\n' >"$WORK/supp"
run a b; rc=$?
[ $rc = 0 ] && ! grep -q '^BUG: ' "$WORK/err" || fail "a file pattern did not suppress (exit $rc)"
UKASAN_OPTIONS=multi_shot=1:suppressions=$WORK/none LD_PRELOAD="$lib" "$WORK/prog" a b 2>"$WORK/err"
rc=$?
[ $rc = 1 ] && [ "$(grep -c '^BUG: KASAN' "$WORK/err")" = 2 ] || fail "no file: exit $rc, $(grep -c '^BUG: KASAN' "$WORK/err") reports"
grep -q "^ukasan: cannot open the suppressions file '$WORK/none'; none used$" "$WORK/err" || fail "a missing file was not named"
# A redzone found damaged at free: its own type, or the KASAN type of the
# same bug, suppresses it; another function's line does not.
for line in 'right-redzone-overwritten:overflow_c' 'slab-out-of-bounds:overflow_c' 'slab-out-of-bounds:overflow_a'; do
  printf '%s\n' "$line" >"$WORK/supp"
  run c; rc=$?
  n=$(grep -c '^BUG kmalloc-32 (Not tainted): Right Redzone overwritten$' "$WORK/err")
  case $line in
    *overflow_c) [ $rc = 0 ] && [ "$n" = 0 ] || fail "'$line' did not suppress the redzone report (exit $rc)" ;;
    *) [ $rc = 1 ] && [ "$n" = 1 ] || fail "'$line' changed the redzone report (exit $rc, $n reports)" ;;
  esac
done
# The control: without a leak: line the leak is reported.
UKASAN_OPTIONS=suppressions=$WORK/none LD_PRELOAD="$lib" "$WORK/prog" leak 2>"$WORK/err"
rc=$?
[ $rc = 1 ] && grep -q '^unreferenced object 0x[0-9a-f]* (size 77):$' "$WORK/err" || fail "leak, unsuppressed: exit $rc, not reported"
echo "suppressions: $FAILS failed"
[ $FAILS = 0 ]
