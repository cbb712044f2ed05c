#!/usr/bin/env bash
# The wrappers' siblings: a CMake project using find_package(ukasan)
# (-Dukasan_DIR=build/lib/cmake/ukasan) and a build via pkg-config
# (PKG_CONFIG_PATH=build/lib/pkgconfig); both must report both bugs.
. "$(dirname "$0")/common.sh"
check() {
  out=$1
  grep -q '^BUG: KASAN: slab-out-of-bounds in main' "$out" || fail "$2: no slab-out-of-bounds report"
  grep -q '^BUG: KASAN: global-out-of-bounds in consumer_global_oob' "$out" || fail "$2: no global-out-of-bounds report"
  grep -q '^MARKER consumer continued' "$out" || fail "$2: did not continue"
}
for cc in $COMPILERS; do
  for mode in inline outline; do
    b=$WORK/cmake-$cc-$mode
    if cmake -S "$SRC/tests/instrumentation/consumer" -B "$b" -DCMAKE_C_COMPILER=$cc -DUKASAN_MODE=$mode \
         -Dukasan_DIR="$BUILD/lib/cmake/ukasan" >"$b.log" 2>&1 && cmake --build "$b" >>"$b.log" 2>&1; then
      "$b/consumer" >"$b.out" 2>&1
      check "$b.out" "cmake $cc $mode"
      if [ $mode = outline ]; then
        nm "$b/consumer" | grep -q '__asan_load4_noabort' || fail "cmake $cc outline: no outline calls"
      else
        nm "$b/consumer" | grep -q '__asan_report_load4_noabort' || fail "cmake $cc inline: no inline checks"
      fi
    else
      cat "$b.log"; fail "cmake $cc $mode: configure/build"
    fi
  done
done
if have pkg-config; then
  flags=$(PKG_CONFIG_PATH=$BUILD/lib/pkgconfig pkg-config --cflags --libs ukasan) || fail "pkg-config"
  # shellcheck disable=SC2086
  gcc -O1 -g "$SRC/tests/instrumentation/consumer/main.c" $flags -o "$WORK/pc" && "$WORK/pc" >"$WORK/pc.out" 2>&1
  check "$WORK/pc.out" "pkg-config"
fi
# The fixed-compiler wrappers keep their compiler whatever UKASAN_CC says
# (the .comment section names it), and each compiler's pkg-config file works
# with it.
for w in gcc clang; do
  have $w || continue
  UKASAN_CC=nonexistent-cc "$BUILD/bin/ukasan-$w" -O1 -g "$SRC/tests/instrumentation/consumer/main.c" -o "$WORK/fixed-$w" &&
    "$WORK/fixed-$w" >"$WORK/fixed-$w.out" 2>&1 && check "$WORK/fixed-$w.out" "ukasan-$w" || fail "ukasan-$w"
  want=GCC; [ $w = clang ] && want=clang
  readelf -p .comment "$WORK/fixed-$w" 2>/dev/null | grep -q "$want" || fail "ukasan-$w: not built by $w"
  if have pkg-config; then
    flags=$(PKG_CONFIG_PATH=$BUILD/lib/pkgconfig pkg-config --cflags --libs ukasan-$w) || fail "pkg-config ukasan-$w"
    # shellcheck disable=SC2086
    $w -O1 -g "$SRC/tests/instrumentation/consumer/main.c" $flags -o "$WORK/pc-$w" && "$WORK/pc-$w" >"$WORK/pc-$w.out" 2>&1
    check "$WORK/pc-$w.out" "pkg-config ukasan-$w"
  fi
done
# The wrapper's own option and the include path of <ukasan/slab.h>.
"$BUILD/bin/ukasan-cc" --ukasan-mode=outline -O1 -g "$SRC/tests/instrumentation/consumer/main.c" -o "$WORK/w" &&
  nm "$WORK/w" | grep -q '__asan_load4_noabort' && "$WORK/w" >"$WORK/w.out" 2>&1 && check "$WORK/w.out" "ukasan-cc --ukasan-mode=outline" ||
  fail "ukasan-cc --ukasan-mode=outline"
# -static: one clear line and exit 2 when linking (the runtime needs the
# dynamic linker); compiling with it is left alone.
"$BUILD/bin/ukasan-cc" -static "$SRC/tests/instrumentation/consumer/main.c" -o "$WORK/st" 2>"$WORK/st.err"
rc=$?
[ $rc = 2 ] && grep -q '^ukasan: -static is not supported' "$WORK/st.err" && [ ! -e "$WORK/st" ] || fail "-static link: rc $rc, $(cat "$WORK/st.err")"
"$BUILD/bin/ukasan-cc" -static -c "$SRC/tests/instrumentation/consumer/main.c" -o "$WORK/st.o" || fail "-static -c refused"
echo "consumer: $FAILS failed"
[ $FAILS = 0 ]
