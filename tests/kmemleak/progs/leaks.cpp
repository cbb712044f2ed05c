// kmemleak's acceptance program: every object has a unique size, so the
// checker (tests/kmemleak/kmemleak.sh) can tell exactly which ones were
// reported. Leaked: 1001 (malloc), 1002 (new[]), 1003 (kmalloc), 1004
// (kmem_cache_alloc), 4 x 1005 (a list whose head was dropped), 3002 (a
// custom object, kmemleak_alloc). Everything else stays referenced or is
// annotated, and must not be reported. The ukasan API is looked up with
// dlsym, so the same program runs under LD_PRELOAD and built with ukasan-cc.
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

template <class F>
static F sym(const char* name) {
  F f = reinterpret_cast<F>(dlsym(RTLD_DEFAULT, name));
  if (!f) {
    fprintf(stderr, "missing %s\n", name);
    exit(2);
  }
  return f;
}

static void* volatile sink;
void* g_global;      // -> 2001
void** g_table;      // 2002 -> 2003
void* g_cache;
char* g_arena;       // custom objects live here (not heap memory)
static volatile int g_stop, g_ready;

#define NOINLINE __attribute__((noinline))

NOINLINE static void leak_malloc() { sink = malloc(1001); sink = nullptr; }
NOINLINE static void leak_new() { sink = new char[1002]; sink = nullptr; }
NOINLINE static void leak_kmalloc() {
  sink = sym<void* (*)(size_t, unsigned)>("kmalloc")(1003, 0);
  sink = nullptr;
}
NOINLINE static void leak_cache_object() {
  g_cache = sym<void* (*)(const char*, unsigned, unsigned, unsigned, void (*)(void*))>("kmem_cache_create")(
      "kmemleak_test", 1004, 0, 0, nullptr);
  sink = sym<void* (*)(void*, unsigned)>("kmem_cache_alloc")(g_cache, 0);
  sink = nullptr;
}
NOINLINE static void leak_list() {
  void** head = nullptr;
  for (int i = 0; i < 4; i++) {
    void** n = static_cast<void**>(malloc(1005));
    n[0] = head;
    head = n;
  }
  sink = head;
  sink = nullptr;
}
NOINLINE static void custom_objects() {
  auto kmemleak_alloc = sym<void (*)(const void*, size_t, int, unsigned)>("kmemleak_alloc");
  g_arena = static_cast<char*>(mmap(nullptr, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  kmemleak_alloc(g_arena, 3001, 1, 0);          // referenced by g_arena
  kmemleak_alloc(g_arena + 4096, 3002, 1, 0);   // referenced by nothing: leaked
  // A never-reported custom object is scanned: what it points to is referenced.
  kmemleak_alloc(g_arena + 12288, 100, 0, 0);
  *reinterpret_cast<void**>(g_arena + 12288) = malloc(2012);
  // A root region is scanned like a global.
  *reinterpret_cast<void**>(g_arena + 8192) = malloc(2011);
  sym<void (*)(const void*, size_t)>("__lsan_register_root_region")(g_arena + 8192, 64);
  // A custom object that was freed is no longer tracked.
  kmemleak_alloc(g_arena + 16384, 3003, 1, 0);
  sym<void (*)(const void*)>("kmemleak_free")(g_arena + 16384);
}
NOINLINE static void annotated() {
  sym<void (*)(const void*)>("kmemleak_not_leak")(malloc(2007));
  sym<void (*)(const void*)>("kmemleak_ignore")(malloc(2008));
  sym<void (*)(const void*)>("__lsan_ignore_object")(static_cast<char*>(malloc(2009)) + 5);
  sym<void (*)()>("__lsan_disable")();
  sink = malloc(2010);
  sym<void (*)()>("__lsan_enable")();
  sink = nullptr;
}

// A pointer only this thread's registers hold while the scan runs.
static void* holder(void*) {
  register void* p asm("r12") = malloc(2006);
  asm volatile("" : "+r"(p));
  g_ready = 1;
  while (!g_stop) asm volatile("" : "+r"(p));
  free(p);
  return nullptr;
}

int main() {
  g_global = malloc(2001);
  g_table = static_cast<void**>(malloc(2002));
  g_table[0] = malloc(2003);
  void* volatile on_stack = malloc(2004);
  char* volatile interior = static_cast<char*>(malloc(2005)) + 1000;
  leak_malloc();
  leak_new();
  leak_kmalloc();
  leak_cache_object();
  leak_list();
  custom_objects();
  annotated();
  pthread_t t;
  pthread_create(&t, nullptr, holder, nullptr);
  while (!g_ready) usleep(1000);
  unsigned long n = sym<unsigned long (*)()>("ukasan_leak_scan")();
  printf("first scan: %lu\n", n);
  // A second scan reports nothing new.
  printf("second scan: %lu\n", sym<unsigned long (*)()>("ukasan_leak_scan")());
  g_stop = 1;
  pthread_join(t, nullptr);
  printf("recoverable: %d\n", sym<int (*)()>("__lsan_do_recoverable_leak_check")());
  free(on_stack);
  free(interior - 1000);
  return 0;
}
