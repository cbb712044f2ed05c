#!/bin/bash
# `cmake --install` into a temporary prefix, which is then moved (the
# installed files must find the prefix from where they are): the files are
# there, none of the installed text files names the build or source tree,
# and a program built with the installed ukasan-cc, with find_package(ukasan)
# and with pkg-config reports its bugs and references only the prefix.
# Usage: install.sh SOURCE_DIR BUILD_DIR
set -u
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/ukasan-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
cmake --install "$build" --prefix "$work/first" >"$work/install.log" 2>&1 || { cat "$work/install.log"; echo "FAIL: cmake --install"; exit 1; }
mv "$work/first" "$work/moved"
P=$work/moved
for f in bin/ukasan-cc bin/ukasan-c++ bin/ukasan-flags lib/libukasan.so lib/libukasan.so.0 lib/libukasan.a \
         lib/ukasan/ukasan_preinit.o include/ukasan/slab.h include/ukasan/ukasan.h include/ukasan/kmemleak.h \
         lib/cmake/ukasan/ukasanConfig.cmake lib/cmake/ukasan/ukasanConfigVersion.cmake lib/pkgconfig/ukasan.pc; do
  [ -e "$P/$f" ] || fail "not installed: $f"
done
if grep -rlF -e "$build" -e "$src" "$P/bin" "$P/lib/cmake" "$P/lib/pkgconfig" >"$work/hits" 2>/dev/null; then
  fail "installed files name the build or source tree: $(tr '\n' ' ' <"$work/hits")"
fi
consumer=$src/tests/instrumentation/consumer
cd "$work" || exit 1  # debug info records the compiler's working directory
check() {  # name, binary
  local out=$work/$1.out
  "$2" >"$out" 2>&1
  grep -q '^BUG: KASAN: slab-out-of-bounds in main' "$out" || fail "$1: no slab-out-of-bounds report"
  grep -q '^MARKER consumer continued' "$out" || fail "$1: did not continue"
  # Only the prefix: the runtime it loads and its RUNPATH.
  local lib
  lib=$(ldd "$2" | awk '/libukasan/ {print $3}')
  [ -n "$lib" ] && [ "$(realpath "$lib")" = "$(realpath "$P/lib/libukasan.so.0")" ] ||
    fail "$1: does not load $P/lib/libukasan.so.0: $(ldd "$2" | grep ukasan)"
  if strings -a "$2" | grep -qF -e "$build" -e "$work/first"; then fail "$1: names the build tree or the old prefix"; fi
}
"$P/bin/ukasan-cc" -O1 -g "$consumer/main.c" -o "$work/wrapped" && check wrapper "$work/wrapped" || fail "ukasan-cc build"
if cmake -S "$consumer" -B "$work/cm" -Dukasan_DIR="$P/lib/cmake/ukasan" >"$work/cm.log" 2>&1 &&
   cmake --build "$work/cm" >>"$work/cm.log" 2>&1; then
  check cmake "$work/cm/consumer"
else
  cat "$work/cm.log"; fail "find_package(ukasan) consumer"
fi
if command -v pkg-config >/dev/null; then
  flags=$(PKG_CONFIG_PATH=$P/lib/pkgconfig pkg-config --cflags --libs ukasan) || fail "pkg-config"
  # shellcheck disable=SC2086
  gcc -O1 -g "$consumer/main.c" $flags -o "$work/pc" && check pkg-config "$work/pc" || fail "pkg-config build"
fi
echo "install: $fails failed"
[ $fails = 0 ]
