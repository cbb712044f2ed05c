#!/usr/bin/env bash
# ASan's user interface (progs/asan_api.c, <sanitizer/asan_interface.h>),
# per compiler: the program links, its queries answer as ASan's would, the
# two bad accesses are reported as use-after-poison and container-overflow,
# __sanitizer_print_stack_trace prints the caller, a double-ended container
# annotation answers its verification, the error-report callback sees each
# report's text, and under fault=abort
# the death callback runs before the abort.
. "$(dirname "$0")/common.sh"
want="CHECK poisoned 0 1 1
CHECK region 16
CHECK unpoisoned 0 (nil)
CHECK container 1 1
CHECK deque 1 1 0 0 1
CHECK callback 2
CHECK end"
for cc in $COMPILERS; do
  bin=$WORK/asan_api-$cc
  UKASAN_CC=$cc "$BUILD/bin/ukasan-cc" -O1 -g "$PROGS/asan_api.c" -o "$bin" || { fail "$cc: build"; continue; }
  UKASAN_OPTIONS=multi_shot=1:exitcode=0 "$bin" >"$bin.out" 2>&1
  [ "$(grep '^CHECK' "$bin.out")" = "$want" ] || fail "$cc: queries: $(grep '^CHECK' "$bin.out" | tr '\n' '|')"
  [ "$(grep '^BUG: KASAN' "$bin.out" | sed 's|+0x[0-9a-f]*/0x[0-9a-f]*$||')" = "BUG: KASAN: use-after-poison in touch_poisoned
BUG: KASAN: container-overflow in touch_container" ] || fail "$cc: reports: $(grep '^BUG' "$bin.out" | tr '\n' '|')"
  grep -A3 '^Call Trace:' "$bin.out" | head -4 | grep -q '^ main+0x' || fail "$cc: __sanitizer_print_stack_trace did not name main"
  grep -q 'DEATH CALLBACK' "$bin.out" && fail "$cc: death callback without an abort"
  UKASAN_OPTIONS=fault=abort "$bin" >"$bin.abort" 2>&1
  rc=$?
  grep -q 'DEATH CALLBACK' "$bin.abort" && [ $rc = 134 ] || fail "$cc: fault=abort: rc=$rc, death callback $(grep -c 'DEATH CALLBACK' "$bin.abort")"
done
echo "asan_api: $FAILS failed"
[ $FAILS = 0 ]
