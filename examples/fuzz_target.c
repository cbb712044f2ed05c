/* A libFuzzer target under ukasan (make fuzz-example): an input starting
 * with "FUZ" longer than 4 bytes overflows a 4-byte heap block. Build:
 *   ukasan-clang -g -O1 -fsanitize=fuzzer examples/fuzz_target.c -o fuzz_target
 * Run with UKASAN_OPTIONS=fault=abort so the report ends the input and
 * libFuzzer saves it as crash-<sha1>. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static volatile char sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size >= 3 && data[0] == 'F' && data[1] == 'U' && data[2] == 'Z') {
    char *p = malloc(4);
    memcpy(p, data, size); /* the bug: size may exceed 4 */
    sink = p[0];
    free(p);
  }
  return 0;
}
