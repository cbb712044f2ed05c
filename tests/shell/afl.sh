#!/bin/bash
# AFL++ on ukasan: examples/afl_target.c built with UKASAN_CC=afl-clang-fast
# ukasan-cc is AFL-instrumented and KASAN-instrumented; afl-fuzz under
# fault=abort saves a crashing input (the report aborts), and that input
# replayed gives the KASAN report. Skipped when afl++ is not installed.
# Usage: afl.sh SOURCE_DIR BUILD_DIR
. "$(dirname "$0")/../common/shell_test.sh"
command -v afl-fuzz >/dev/null && command -v afl-clang-fast >/dev/null || { echo "afl: afl++ not installed"; exit 77; }
cd "$WORK" || exit 1
UKASAN_CC=afl-clang-fast "$BUILD/bin/ukasan-cc" -g -O1 "$SRC/examples/afl_target.c" -o afl_target >build.log 2>&1 ||
  { cat build.log; echo "FAIL: build"; exit 1; }
mkdir seeds && printf 'FUZ\001abcdefgh' >seeds/seed
# Until the first crash, at most 60 s of fuzzing (it takes well under one).
UKASAN_OPTIONS=fault=abort:detect_leaks=0:symbolize=0 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
  AFL_NO_UI=1 AFL_NO_AFFINITY=1 AFL_BENCH_UNTIL_CRASH=1 timeout 180 afl-fuzz -m none -V 60 -i seeds -o findings -- ./afl_target \
  >fuzz.log 2>&1
rc=$?
crash=$(ls findings/default/crashes/id:* 2>/dev/null | head -1)
if [ -z "$crash" ]; then
  tail -20 fuzz.log
  fail "afl-fuzz (exit $rc) saved no crash"
else
  ./afl_target <"$crash" >replay.out 2>&1
  grep -q '^BUG: KASAN: slab-out-of-bounds in parse_record+0x' replay.out || fail "the crash does not replay as the report: $(head -3 replay.out)"
fi
echo "afl: $FAILS failed"
[ $FAILS = 0 ]
