#!/bin/bash
# `cmake --install` into a temporary prefix, which is then moved (the
# installed files must find the prefix from where they are): the files are
# there, none of the installed text files names the build or source tree,
# and a program built with the installed ukasan-cc, with find_package(ukasan)
# with pkg-config and with Meson reports its bugs and references only the
# prefix.
# Usage: install.sh SOURCE_DIR BUILD_DIR
. "$(dirname "$0")/../common/shell_test.sh"
cmake --install "$BUILD" --prefix "$WORK/first" >"$WORK/install.log" 2>&1 || { cat "$WORK/install.log"; echo "FAIL: cmake --install"; exit 1; }
mv "$WORK/first" "$WORK/moved"
P=$WORK/moved
for f in bin/ukasan bin/ukasan-cc bin/ukasan-c++ bin/ukasan-gcc bin/ukasan-g++ bin/ukasan-clang bin/ukasan-clang++ bin/ukasan-flags lib/libukasan.so lib/libukasan.so.0 lib/libukasan.a \
         lib/ukasan/ukasan_preinit.o include/ukasan/slab.h include/ukasan/kslab.h include/ukasan/ukasan.h include/ukasan/kmemleak.h \
         lib/cmake/ukasan/ukasanConfig.cmake lib/cmake/ukasan/ukasanConfigVersion.cmake lib/pkgconfig/ukasan.pc lib/pkgconfig/ukasan-gcc.pc lib/pkgconfig/ukasan-clang.pc; do
  [ -e "$P/$f" ] || fail "not installed: $f"
done
if grep -rlF -e "$BUILD" -e "$SRC" "$P/bin" "$P/lib/cmake" "$P/lib/pkgconfig" >"$WORK/hits" 2>/dev/null; then
  fail "installed files name the build or source tree: $(tr '\n' ' ' <"$WORK/hits")"
fi
# The launcher preloads the moved prefix's runtime.
UKASAN_OPTIONS=help=1 "$P/bin/ukasan" run /bin/true 2>&1 | grep -q '^ukasan ' || fail "installed launcher"
consumer=$SRC/tests/instrumentation/consumer
cd "$WORK" || exit 1  # debug info records the compiler's working directory
check() {  # name, binary
  local out=$WORK/$1.out
  "$2" >"$out" 2>&1
  grep -q '^BUG: KASAN: slab-out-of-bounds in main' "$out" || fail "$1: no slab-out-of-bounds report"
  grep -q '^MARKER consumer continued' "$out" || fail "$1: did not continue"
  # Only the prefix: the runtime it loads and its RUNPATH.
  local lib
  lib=$(ldd "$2" | awk '/libukasan/ {print $3}')
  [ -n "$lib" ] && [ "$(realpath "$lib")" = "$(realpath "$P/lib/libukasan.so.0")" ] ||
    fail "$1: does not load $P/lib/libukasan.so.0: $(ldd "$2" | grep ukasan)"
  if strings -a "$2" | grep -qF -e "$BUILD" -e "$WORK/first"; then fail "$1: names the build tree or the old prefix"; fi
}
"$P/bin/ukasan-cc" -O1 -g "$consumer/main.c" -o "$WORK/wrapped" && check wrapper "$WORK/wrapped" || fail "ukasan-cc build"
if cmake -S "$consumer" -B "$WORK/cm" -Dukasan_DIR="$P/lib/cmake/ukasan" >"$WORK/cm.log" 2>&1 &&
   cmake --build "$WORK/cm" >>"$WORK/cm.log" 2>&1; then
  check cmake "$WORK/cm/consumer"
else
  cat "$WORK/cm.log"; fail "find_package(ukasan) consumer"
fi
if command -v pkg-config >/dev/null; then
  flags=$(PKG_CONFIG_PATH=$P/lib/pkgconfig pkg-config --cflags --libs ukasan) || fail "pkg-config"
  # shellcheck disable=SC2086
  gcc -O1 -g "$consumer/main.c" $flags -o "$WORK/pc" && check pkg-config "$WORK/pc" || fail "pkg-config build"
fi
# Meson, through pkg-config (dependency('ukasan'), 'ukasan-clang' with CC=clang).
if command -v meson >/dev/null && command -v ninja >/dev/null; then
  for cc in gcc clang; do
    command -v $cc >/dev/null || continue
    if CC=$cc PKG_CONFIG_PATH=$P/lib/pkgconfig meson setup "$WORK/ms-$cc" "$consumer" >"$WORK/ms.log" 2>&1 &&
       ninja -C "$WORK/ms-$cc" >>"$WORK/ms.log" 2>&1; then
      check meson-$cc "$WORK/ms-$cc/consumer"
    else
      cat "$WORK/ms.log"; fail "meson consumer ($cc)"
    fi
  done
else
  echo "install: meson or ninja not installed; the Meson consumer is not tried"
fi
echo "install: $FAILS failed"
[ $FAILS = 0 ]
