/* An AFL++ target on ukasan (README, "Fuzzing"): reads one record from
 * stdin; a "FUZ" record whose fourth byte has bit 3 set reads past an
 * 8-byte heap buffer.
 *   UKASAN_CC=afl-clang-fast ukasan-cc -g -O1 afl_target.c -o afl_target
 *   UKASAN_OPTIONS=fault=abort:detect_leaks=0:symbolize=0 \
 *     afl-fuzz -m none -i seeds -o findings -- ./afl_target */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static __attribute__((noinline)) int parse_record(const unsigned char *d, size_t n) {
  if (n < 4 || d[0] != 'F' || d[1] != 'U' || d[2] != 'Z') return 0;
  unsigned char *field = malloc(8);
  memcpy(field, d + 4, n - 4 < 8 ? n - 4 : 8);
  int r = field[d[3] & 15]; /* the bug: the index may reach 15 */
  free(field);
  return r;
}

int main(void) {
  unsigned char in[64];
  ssize_t n = read(0, in, sizeof in);
  printf("%d\n", parse_record(in, n > 0 ? (size_t)n : 0));
  return 0;
}
