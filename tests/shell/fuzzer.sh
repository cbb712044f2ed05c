#!/bin/bash
# libFuzzer with ukasan (ukasan-clang -fsanitize=fuzzer): under fault=abort
# a report ends the input and libFuzzer saves it as crash-*; libFuzzer's
# -malloc_limit_mb works through ukasan's malloc hooks. Skipped without
# clang's libFuzzer.
# Usage: fuzzer.sh SOURCE_DIR BUILD_DIR
. "$(dirname "$0")/../common/shell_test.sh"
command -v clang >/dev/null || { echo "no clang: skipped"; exit 77; }
[ -e "$(clang -print-resource-dir)/lib/linux/libclang_rt.fuzzer-x86_64.a" ] || { echo "no libFuzzer: skipped"; exit 77; }
cd "$WORK" || exit 1
"$BUILD/bin/ukasan-clang" -g -O1 -fsanitize=fuzzer "$SRC/examples/fuzz_target.c" -o fuzz_target 2>build.err ||
  { cat build.err; fail "build"; exit 1; }
nm -D fuzz_target | grep -q ' T __sanitizer_install_malloc_and_free_hooks' &&
  fail "a sanitizer runtime in the binary shadows ukasan's allocator interface"
mkdir corpus && printf 'FUZ' >corpus/seed
UKASAN_OPTIONS=fault=abort timeout 120 ./fuzz_target -seed=1 -max_total_time=60 corpus >fuzz.out 2>&1
ls crash-* >/dev/null 2>&1 || { tail -30 fuzz.out; fail "no crash-* file"; }
grep -q '^BUG: KASAN: slab-out-of-bounds in LLVMFuzzerTestOneInput' fuzz.out || fail "no KASAN report"
grep -q 'WARNING: Failed to find function' fuzz.out && fail "libFuzzer misses a function: $(grep 'Failed to find' fuzz.out)"
# -malloc_limit_mb: a 4-byte block is far below 1 MiB; a 2 MiB one above.
cat >big.c <<'C'
#include <stdint.h>
#include <stdlib.h>
static volatile char sink;
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
  char *p = malloc(n && d[0] == 'B' ? (2u << 20) : 4);
  sink = p[0];
  free(p);
  return 0;
}
C
"$BUILD/bin/ukasan-clang" -g -O1 -fsanitize=fuzzer big.c -o big || fail "build big"
printf 'B' >big.in
./big -malloc_limit_mb=1 big.in >big.out 2>&1
grep -q 'ERROR: libFuzzer: out-of-memory (malloc(2097152))' big.out || { cat big.out; fail "-malloc_limit_mb did not fire"; }
echo "fuzzer: $FAILS failed"
[ $FAILS = 0 ]
