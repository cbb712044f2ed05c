/* Multi-threaded allocation churn with a deterministic output (a checksum
 * per thread): identical with and without the preload. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 4
#define SLOTS 1024

static void* worker(void* arg) {
  uint64_t seed = (uintptr_t)arg * 0x9e3779b97f4a7c15ull + 1, sum = 0;
  unsigned char* slot[SLOTS] = {0};
  size_t len[SLOTS] = {0};
  for (int i = 0; i < 200000; i++) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    unsigned k = (unsigned)(seed >> 33) % SLOTS;
    size_t n = (size_t)(seed >> 20) % ((seed & 0xf) == 0 ? 20000 : 600);
    if (slot[k]) {
      for (size_t j = 0; j < len[k]; j += 61) sum += slot[k][j];
      if (seed & 0x100) {
        slot[k] = realloc(slot[k], n + 1);
        if (n + 1 > len[k]) memset(slot[k] + len[k], (int)(n & 0xff), n + 1 - len[k]);
        len[k] = n + 1;
        continue;
      }
      free(slot[k]);
    }
    slot[k] = (seed & 0x200) ? calloc(1, n + 1) : malloc(n + 1);
    memset(slot[k], (int)(k & 0xff), n + 1);
    len[k] = n + 1;
  }
  for (int k = 0; k < SLOTS; k++) free(slot[k]);
  return (void*)(uintptr_t)sum;
}

int main(void) {
  pthread_t t[THREADS];
  for (long i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, worker, (void*)i);
  for (int i = 0; i < THREADS; i++) {
    void* r;
    pthread_join(t[i], &r);
    printf("thread %d checksum %lu\n", i, (unsigned long)(uintptr_t)r);
  }
  return 0;
}
