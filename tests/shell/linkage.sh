#!/bin/bash
# libukasan.so's dynamic linkage: it needs neither libgcc_s nor libstdc++ (the
# reports' DWARF unwinder comes from libgcc_eh.a, linked in), and exports
# none of that unwinder's symbols, so a preloaded library never replaces
# the program's own (its C++ exceptions keep libgcc_s's unwinder, and still
# work).
# Usage: linkage.sh SOURCE_DIR BUILD_DIR
set -u
build=${2:?build dir}
lib="$build/lib/libukasan.so"
[ -f "$lib" ] || { echo "no $lib"; exit 1; }
command -v readelf >/dev/null && command -v nm >/dev/null || { echo "skip: no binutils"; exit 77; }
fail=0
needed=$(readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' ')
case "$needed" in
  *libgcc_s*|*libstdc++*) echo "FAIL: NEEDED '$needed': no libgcc_s or libstdc++ wanted"; fail=1 ;;
  *libc.so*) echo "ok: NEEDED $needed" ;;
  *) echo "FAIL: NEEDED '$needed', want libc"; fail=1 ;;
esac
if nm -D --defined-only "$lib" | grep -E ' (_Unwind_|__register_frame|__deregister_frame|__gcc_personality)'; then
  echo "FAIL: the library exports unwinder symbols (above)"; fail=1
else
  echo "ok: no unwinder symbol exported"
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cat > "$WORK/exc.cpp" <<'CPP'
#include <cstdio>
#include <stdexcept>
#include <string>
__attribute__((noinline)) int f(int i) {
  if (i % 3 == 0) throw std::runtime_error("e" + std::to_string(i));
  return 1;
}
int main() {
  int thrown = 0;
  for (int i = 0; i < 300; i++) {
    try { f(i); } catch (const std::exception& e) { thrown += e.what()[0] == 'e'; }
  }
  std::printf("caught %d\n", thrown);
  return thrown == 100 ? 0 : 1;
}
CPP
if g++ -O2 "$WORK/exc.cpp" -o "$WORK/exc" 2>"$WORK/cc.log"; then
  out=$(LD_PRELOAD="$lib" "$WORK/exc" 2>&1)
  if [ "$out" = "caught 100" ]; then echo "ok: C++ exceptions under the preload"; else echo "FAIL: exceptions: $out"; fail=1; fi
else
  echo "cannot build exc.cpp (no g++?)"; cat "$WORK/cc.log"; fail=1
fi
[ $fail = 0 ] && echo "linkage: ok"
exit $fail
