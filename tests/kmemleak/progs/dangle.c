/* quarantine_keep_referenced's acceptance program: a pointer to a freed
 * object stays stored in a live heap object while 20x the 4 MiB quarantine
 * is freed and everything that size class left free is allocated again;
 * then it is written through. Without the option the object's slot has been
 * recycled into a live object and the write is missed; with it, the scans
 * found the pointer, the object was kept in the second quarantine, and the
 * write is reported (at once when instrumented, at exit under LD_PRELOAD). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void** g_holder;
void* g_ring[256];
void* g_live[300000];

__attribute__((noinline)) static void make_dangling(void) {
  g_holder = malloc(64);
  char* victim = malloc(100);
  memset(victim, 1, 100);
  g_holder[0] = victim;
  free(victim); /* g_holder[0] now dangles */
}

__attribute__((noinline)) static void churn(size_t bytes, size_t size) {
  for (size_t i = 0, done = 0; done < bytes; i++, done += size) {
    free(g_ring[i % 256]);
    g_ring[i % 256] = malloc(size);
    memset(g_ring[i % 256], 2, size);
  }
}

int main(void) {
  make_dangling();
  churn(64u << 20, 100);  /* 16x the quarantine */
  churn(16u << 20, 1000); /* and every 100-byte object leaves it */
  for (int i = 0; i < 300000; i++) g_live[i] = malloc(100);
  char* p = g_holder[0];
  p[50] = 'X'; /* a use after free, long after the free */
  printf("written\n");
  return 0;
}
