/* Thousands of short-lived threads, each allocating and freeing: the
 * resident set must stay bounded (thread states and their magazines and
 * quarantine queues are recycled). Prints the RSS growth in KiB between
 * thread 1000 and the end; the driver bounds it. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long rss_kib(void) {
  FILE* f = fopen("/proc/self/statm", "r");
  long size = 0, res = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &size, &res) != 2) res = 0;
    fclose(f);
  }
  return res * 4;
}

static void* worker(void* arg) {
  size_t n = (size_t)arg;
  void* keep[64];
  for (int i = 0; i < 64; i++) {
    keep[i] = malloc(n + (size_t)i * 8);
    memset(keep[i], i, n);
  }
  for (int i = 0; i < 64; i++) free(keep[i]);
  return NULL;
}

int main(int argc, char** argv) {
  int total = argc > 1 ? atoi(argv[1]) : 6000;
  long base = 0;
  for (int i = 0; i < total; i += 4) {
    pthread_t t[4];
    for (int j = 0; j < 4; j++) pthread_create(&t[j], NULL, worker, (void*)(size_t)(16 + (i + j) % 700));
    for (int j = 0; j < 4; j++) pthread_join(t[j], NULL);
    if (i == 1000) base = rss_kib();
  }
  printf("%ld\n", rss_kib() - base);
  return 0;
}
