#!/bin/bash
# The launcher (build/bin/ukasan) and fault=exit: `ukasan run --NAME=VALUE
# PROGRAM` preloads the runtime with those options; --version and options
# work; with fault=exit a bug ends the process with `exitcode` at once, even
# in a program that would _exit(0) right after it (fault=report: status 0).
# Usage: launcher.sh SOURCE_DIR BUILD_DIR
. "$(dirname "$0")/../common/shell_test.sh"
U=$BUILD/bin/ukasan
want=$(sed -n 's/^project(ukasan VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")
[ "$("$U" --version)" = "ukasan $want" ] || fail "--version: $("$U" --version)"
"$U" options 2>&1 | grep -q '^  fault=report (default report)$' || fail "ukasan options"
[ "$("$U" run --quarantine_size_mb=1 -- /bin/echo hello)" = hello ] || fail "run /bin/echo"
"$U" run --no-such-flag /bin/true 2>/dev/null && fail "a bad flag was accepted"
cat >"$WORK/quit.c" <<'C'
#include <stdlib.h>
#include <unistd.h>
int main(void) {
  char* volatile p = malloc(10);
  p[10] = 1;
  free(p); /* the overwritten canary is reported here */
  _exit(0);
}
C
gcc -O0 "$WORK/quit.c" -o "$WORK/quit" || fail "build"
"$U" run --exitcode=5 "$WORK/quit" >/dev/null 2>"$WORK/report.err"
rc=$?
[ $rc = 0 ] || fail "fault=report then _exit(0): status $rc, expected 0 (the program's)"
grep -q '^BUG kmalloc-16 (Not tainted): Right Redzone overwritten$' "$WORK/report.err" || fail "no report"
"$U" run --fault=exit --exitcode=5 "$WORK/quit" >/dev/null 2>"$WORK/exit.err"
rc=$?
[ $rc = 5 ] || fail "fault=exit: status $rc, expected 5"
grep -q '^ukasan: fault=exit: exiting after the report$' "$WORK/exit.err" || fail "fault=exit: no closing line"
echo "launcher: $FAILS failed"
[ $FAILS = 0 ]
