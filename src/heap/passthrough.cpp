// The heap when ukasan steps aside (runtime_passthrough(): under valgrind):
// every call goes to libc's allocator, which valgrind replaces, so valgrind
// sees the program's heap. Resolved on first use; dlsym may itself allocate,
// and those calls are served from the bootstrap arena meanwhile.
#include <dlfcn.h>
#include <malloc.h>
#include <stdlib.h>

#include <atomic>

#include "heap/heap.h"

namespace ukasan {
namespace {

void* (*r_malloc)(size_t);
void* (*r_calloc)(size_t, size_t);
void* (*r_realloc)(void*, size_t);
void (*r_free)(void*);
int (*r_posix_memalign)(void**, size_t, size_t);
size_t (*r_usable)(void*);
std::atomic<int> g_state{0};  // 0 unresolved, 1 resolving, 2 resolved

bool resolved() {
  if (UKASAN_LIKELY(g_state.load(std::memory_order_acquire) == 2)) return true;
  int expected = 0;
  if (!g_state.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) return false;  // in dlsym now
  r_malloc = reinterpret_cast<void* (*)(size_t)>(dlsym(RTLD_NEXT, "malloc"));
  r_calloc = reinterpret_cast<void* (*)(size_t, size_t)>(dlsym(RTLD_NEXT, "calloc"));
  r_realloc = reinterpret_cast<void* (*)(void*, size_t)>(dlsym(RTLD_NEXT, "realloc"));
  r_free = reinterpret_cast<void (*)(void*)>(dlsym(RTLD_NEXT, "free"));
  r_posix_memalign = reinterpret_cast<int (*)(void**, size_t, size_t)>(dlsym(RTLD_NEXT, "posix_memalign"));
  r_usable = reinterpret_cast<size_t (*)(void*)>(dlsym(RTLD_NEXT, "malloc_usable_size"));
  const bool ok = r_malloc && r_calloc && r_realloc && r_free && r_posix_memalign && r_usable;
  g_state.store(ok ? 2 : 0, std::memory_order_release);
  return ok;
}

}  // namespace

void* passthrough_alloc(uptr size, uptr align, bool zero) {
  if (!resolved()) return boot_alloc(size, align);
  if (align <= 16) return zero ? r_calloc(1, size) : r_malloc(size);
  void* p = nullptr;
  if (r_posix_memalign(&p, align, size) != 0) return nullptr;
  if (zero && p) __builtin_memset(p, 0, size);
  return p;
}

void passthrough_free(void* p) {
  if (resolved()) r_free(p);
}

void* passthrough_realloc(void* p, uptr n) { return resolved() ? r_realloc(p, n) : nullptr; }

uptr passthrough_usable_size(const void* p) { return resolved() ? r_usable(const_cast<void*>(p)) : 0; }

}  // namespace ukasan
