#!/bin/bash
# `make deb`'s package (CPack, DEB): built from the build tree, it holds the
# installed files under /usr with the dependencies Debian needs; unpacked
# anywhere (the files are relocatable) its ukasan-cc builds a program that
# reports its bug and loads the package's own runtime.
# Usage: deb.sh SOURCE_DIR BUILD_DIR
. "$(dirname "$0")/../common/shell_test.sh"
command -v cpack >/dev/null && command -v dpkg-deb >/dev/null || { echo "deb: cpack or dpkg-deb missing"; exit 77; }
[ -f "$BUILD/CPackConfig.cmake" ] || { echo "FAIL: no CPackConfig.cmake in the build tree"; exit 1; }
cpack -G DEB -B "$WORK/pkg" --config "$BUILD/CPackConfig.cmake" >"$WORK/cpack.log" 2>&1 || { cat "$WORK/cpack.log"; echo "FAIL: cpack"; exit 1; }
deb=$(ls "$WORK"/pkg/ukasan_*_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || { cat "$WORK/cpack.log"; echo "FAIL: no ukasan_*.deb"; exit 1; }
dpkg-deb -f "$deb" Package | grep -qx ukasan || fail "Package field"
dpkg-deb -f "$deb" Depends | grep -q 'libc6' || fail "Depends lacks libc6: $(dpkg-deb -f "$deb" Depends)"
dpkg-deb -f "$deb" Depends | grep -q 'gcc | clang' || fail "Depends lacks a compiler: $(dpkg-deb -f "$deb" Depends)"
dpkg-deb -c "$deb" | awk '{print $6}' >"$WORK/files"
for f in ./usr/bin/ukasan-cc ./usr/bin/ukasan ./usr/lib/libukasan.so.0 ./usr/include/ukasan/slab.h ./usr/lib/pkgconfig/ukasan.pc \
         ./usr/lib/cmake/ukasan/ukasanConfig.cmake; do
  grep -qxF "$f" "$WORK/files" || fail "not in the package: $f"
done
dpkg-deb -x "$deb" "$WORK/root"
P=$WORK/root/usr
cd "$WORK" || exit 1
"$P/bin/ukasan-cc" -O1 -g "$SRC/tests/instrumentation/consumer/main.c" -o "$WORK/prog" || fail "the package's ukasan-cc"
"$WORK/prog" >"$WORK/out" 2>&1
grep -q '^BUG: KASAN: slab-out-of-bounds in main' "$WORK/out" || fail "no report: $(head -3 "$WORK/out")"
lib=$(ldd "$WORK/prog" | awk '/libukasan/ {print $3}')
[ -n "$lib" ] && [ "$(realpath "$lib")" = "$(realpath "$P/lib/libukasan.so.0")" ] || fail "loads $lib, not the package's"
echo "deb: $FAILS failed"
[ $FAILS = 0 ]
