/* Loop-heavy: a sieve, a 256x256 integer matrix multiply and a byte histogram,
 * on malloc'ed, global and stack arrays. */
#include <stdio.h>
#include <stdlib.h>
#define N 256
static int ga[N * N];
int main(void) {
  int *b = malloc(sizeof(int) * N * N), *c = malloc(sizeof(int) * N * N);
  char *sieve = malloc(1 << 22);
  long total = 0;
  for (int r = 0; r < 4; r++) {
    for (int i = 0; i < N * N; i++) { ga[i] = i * 7 + r; b[i] = i ^ r; }
    for (int i = 0; i < N; i++)
      for (int j = 0; j < N; j++) {
        int s = 0;
        for (int k = 0; k < N; k++) s += ga[i * N + k] * b[k * N + j];
        c[i * N + j] = s;
      }
    for (int i = 0; i < (1 << 22); i++) sieve[i] = 1;
    for (int i = 2; i * i < (1 << 22); i++)
      if (sieve[i]) for (int j = i * i; j < (1 << 22); j += i) sieve[j] = 0;
    int hist[256] = {0};
    for (int i = 0; i < N * N; i++) hist[(unsigned char)c[i]]++;
    for (int i = 0; i < (1 << 22); i++) total += sieve[i];
    total += c[r] + hist[r];
  }
  printf("%ld\n", total);
  free(b); free(c); free(sieve);
  return 0;
}
