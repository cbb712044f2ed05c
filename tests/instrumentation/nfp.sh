#!/usr/bin/env bash
# No false positives: progs/nfp.cpp (exceptions, longjmp, threads reusing
# stacks of threads that died with poisoned frames, fork, vfork+exec, signals
# on an alternate stack and siglongjmp out of them, swapcontext, big frames,
# varargs) under each compiler, mode and a few build variants. Must print
# NFP-OK, exit 0 and print no report (exitcode=1: a report fails the run).
. "$(dirname "$0")/common.sh"
export UKASAN_OPTIONS=fault=report:multi_shot=1:exitcode=1
gcc -O2 -g -fPIC -c "$PROGS/plain_helper.c" -o "$WORK/plain_helper.o" || exit 1
i=0
for cc in $COMPILERS; do
  if [ $cc = gcc ]; then cxx=g++; else cxx=clang++; fi
  for mode in inline outline; do
    for v in "O1:-O1 -g" "O0:-O0 -g" "O2nofp:-O2 -fomit-frame-pointer" "O3nopie:-O3 -fno-pie -no-pie"; do
      t=$cc-$mode-${v%%:*}
      echo "UKASAN_CXX=$cxx UKASAN_MODE=$mode $BUILD/bin/ukasan-c++ ${v#*:} -Wall -Wno-infinite-recursion $PROGS/nfp.cpp $WORK/plain_helper.o -o $WORK/nfp-$t && { $WORK/nfp-$t >$WORK/nfp-$t.out 2>&1; rc=\$?; grep -q '^NFP-OK' $WORK/nfp-$t.out && [ \$rc = 0 ] && ! grep -q 'BUG: KASAN' $WORK/nfp-$t.out || { echo nfp-$t rc=\$rc; cat $WORK/nfp-$t.out; } >$WORK/nfp-$t.fail; } || touch $WORK/nfp-$t.fail" >>"$WORK/jobs.$((i++ % 4))"
    done
  done
done
run_parallel
n=0
for f in "$WORK"/nfp-*.fail; do [ -e "$f" ] && { echo "FAIL: $(basename "$f" .fail)"; head -80 "$f"; FAILS=$((FAILS + 1)); }; done
echo "nfp: $i builds+runs, $FAILS failed"
[ $FAILS = 0 ]
