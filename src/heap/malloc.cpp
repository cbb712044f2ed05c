// The C allocation entry points (and glibc's __libc_* aliases, so a pointer
// from one allocator never reaches the other's free). Each records its
// caller's address for stacks and report headers.
#include <errno.h>
#include <malloc.h>  // memalign, pvalloc, malloc_usable_size
#include <stddef.h>
#include <stdio.h>

#include "heap/heap.h"
#include "stackdepot/stackdepot.h"
#include "platform/arch.h"
#include "runtime/runtime.h"
#include "slab/slab.h"

using namespace ukasan;

namespace {
constexpr size_t kMaxAlign = size_t(1) << 30;

UKASAN_ALWAYS_INLINE void* enomem_if_null(void* p) {
  if (UKASAN_UNLIKELY(!p)) errno = ENOMEM;
  return p;
}

// memalign's leniency (glibc): a non-power-of-two alignment is rounded up.
UKASAN_ALWAYS_INLINE size_t fix_align(size_t a) {
  if (a <= 16) return 16;
  if (!is_pow2(a)) a = size_t(1) << (64 - __builtin_clzll(a));
  return a;
}
}  // namespace

UKASAN_EXPORT void* malloc(size_t n) noexcept { return enomem_if_null(heap_alloc(n, 16, kKindMalloc, false, UKASAN_ENTRY_IP)); }

UKASAN_EXPORT void free(void* p) noexcept {
  if (p) heap_free(p, kKindMalloc, kNoSize, UKASAN_ENTRY_IP);
}

UKASAN_EXPORT void cfree(void* p) noexcept {
  if (p) heap_free(p, kKindMalloc, kNoSize, UKASAN_ENTRY_IP);
}

UKASAN_EXPORT void* calloc(size_t n, size_t m) noexcept {
  size_t bytes;
  if (__builtin_mul_overflow(n, m, &bytes)) {
    errno = ENOMEM;
    return nullptr;
  }
  return enomem_if_null(heap_alloc(bytes, 16, kKindMalloc, true, UKASAN_ENTRY_IP));
}

UKASAN_EXPORT void* realloc(void* p, size_t n) noexcept {
  uptr ip = UKASAN_ENTRY_IP;
  if (!p) return enomem_if_null(heap_alloc(n, 16, kKindMalloc, false, ip));
  if (n == 0) {  // glibc: frees and returns NULL
    heap_free(p, kKindMalloc, kNoSize, ip);
    return nullptr;
  }
  return enomem_if_null(heap_realloc(p, n, ip));
}

UKASAN_EXPORT void* reallocarray(void* p, size_t n, size_t m) noexcept {
  uptr ip = UKASAN_ENTRY_IP;
  size_t bytes;
  if (__builtin_mul_overflow(n, m, &bytes)) {
    errno = ENOMEM;
    return nullptr;
  }
  if (!p) return enomem_if_null(heap_alloc(bytes, 16, kKindMalloc, false, ip));
  if (bytes == 0) {
    heap_free(p, kKindMalloc, kNoSize, ip);
    return nullptr;
  }
  return enomem_if_null(heap_realloc(p, bytes, ip));
}

UKASAN_EXPORT void* memalign(size_t a, size_t n) noexcept {
  if (a > kMaxAlign) {
    errno = EINVAL;
    return nullptr;
  }
  return enomem_if_null(heap_alloc(n, fix_align(a), kKindMalloc, false, UKASAN_ENTRY_IP));
}

UKASAN_EXPORT void* aligned_alloc(size_t a, size_t n) noexcept {
  if (!is_pow2(a) || a > kMaxAlign) {  // C17 / glibc >= 2.38: an unsupported alignment fails
    errno = EINVAL;
    return nullptr;
  }
  return enomem_if_null(heap_alloc(n, a < 16 ? 16 : a, kKindMalloc, false, UKASAN_ENTRY_IP));
}

UKASAN_EXPORT int posix_memalign(void** out, size_t a, size_t n) noexcept {
  if (!is_pow2(a) || a % sizeof(void*) != 0 || a > kMaxAlign) return EINVAL;
  void* p = heap_alloc(n, a < 16 ? 16 : a, kKindMalloc, false, UKASAN_ENTRY_IP);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}

UKASAN_EXPORT void* valloc(size_t n) noexcept {
  return enomem_if_null(heap_alloc(n, kPageSize, kKindMalloc, false, UKASAN_ENTRY_IP));
}

UKASAN_EXPORT void* pvalloc(size_t n) noexcept {
  if (n > ~size_t(0) - kPageSize) {
    errno = ENOMEM;
    return nullptr;
  }
  size_t r = round_up(n ? n : 1, kPageSize);
  return enomem_if_null(heap_alloc(r, kPageSize, kKindMalloc, false, UKASAN_ENTRY_IP));
}

UKASAN_EXPORT size_t malloc_usable_size(void* p) noexcept { return heap_usable_size(p); }

// <sanitizer/allocator_interface.h>: libFuzzer counts allocations (its
// -malloc_limit_mb, its leak mode) through these.
extern "C" UKASAN_EXPORT int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void*, size_t),
                                                                        void (*free_hook)(const volatile void*));
extern "C" UKASAN_EXPORT int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void*, size_t),
                                                                        void (*free_hook)(const volatile void*)) {
  return heap_install_hooks(malloc_hook, free_hook);
}

// ---- heap statistics ------------------------------------------------------------
// glibc's fields filled with ukasan's figures: arena = slab pages, hblks /
// hblkhd = large blocks and their pages (guard pages included), uordblks =
// bytes allocated and not freed in slabs, fordblks = the rest of the slab
// pages (free, or freed and quarantined), fsmblks = bytes held by the
// quarantine (objects and their bookkeeping).

static MemStats heap_mem_stats() {
  runtime_init();
  return mem_stats();
}

UKASAN_EXPORT struct mallinfo2 mallinfo2() noexcept {
  const MemStats m = heap_mem_stats();
  struct mallinfo2 mi = {};
  mi.arena = m.slab_bytes;
  mi.hblks = m.large_blocks;
  mi.hblkhd = m.large_bytes;
  const u64 live_large = m.large_bytes - 2 * kPageSize * m.large_blocks;
  const u64 in_slabs = m.in_use_bytes > live_large ? m.in_use_bytes - live_large : 0;
  mi.uordblks = in_slabs < m.slab_bytes ? in_slabs : m.slab_bytes;
  mi.fordblks = m.slab_bytes - mi.uordblks;
  mi.fsmblks = m.quarantined_bytes;
  return mi;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
UKASAN_EXPORT struct mallinfo mallinfo() noexcept {
  const struct mallinfo2 m2 = mallinfo2();
  auto clamp = [](size_t v) { return static_cast<int>(v > 0x7fffffff ? 0x7fffffff : v); };
  struct mallinfo mi = {};
  mi.arena = clamp(m2.arena);
  mi.hblks = clamp(m2.hblks);
  mi.hblkhd = clamp(m2.hblkhd);
  mi.uordblks = clamp(m2.uordblks);
  mi.fordblks = clamp(m2.fordblks);
  mi.fsmblks = clamp(m2.fsmblks);
  return mi;
}
#pragma GCC diagnostic pop

UKASAN_EXPORT void malloc_stats() noexcept {
  const struct mallinfo2 m = mallinfo2();
  const MemStats s = heap_mem_stats();
  fprintf(stderr,
          "Arena 0:\nsystem bytes     = %10zu\nin use bytes     = %10zu\nTotal (incl. mmap):\n"
          "system bytes     = %10zu\nin use bytes     = %10zu\nmax mmap regions = %10zu\nmax mmap bytes   = %10zu\n"
          "quarantined bytes = %10llu\n",
          m.arena, m.uordblks, m.arena + m.hblkhd, m.uordblks + m.hblkhd, m.hblks, m.hblkhd,
          static_cast<unsigned long long>(s.quarantined_bytes));
}

UKASAN_EXPORT int malloc_info(int options, FILE* fp) noexcept {
  if (options != 0 || !fp) {
    errno = EINVAL;
    return -1;
  }
  const struct mallinfo2 m = mallinfo2();
  fprintf(fp,
          "<malloc version=\"1\">\n<heap nr=\"0\">\n<sizes>\n</sizes>\n"
          "<total type=\"rest\" count=\"0\" size=\"%zu\"/>\n"
          "<system type=\"current\" size=\"%zu\"/>\n<system type=\"max\" size=\"%zu\"/>\n"
          "<aspace type=\"total\" size=\"%zu\"/>\n<aspace type=\"mprotect\" size=\"%zu\"/>\n</heap>\n"
          "<total type=\"fast\" count=\"0\" size=\"0\"/>\n<total type=\"rest\" count=\"0\" size=\"%zu\"/>\n"
          "<total type=\"mmap\" count=\"%zu\" size=\"%zu\"/>\n<total type=\"quarantine\" count=\"0\" size=\"%zu\"/>\n"
          "<system type=\"current\" size=\"%zu\"/>\n<system type=\"max\" size=\"%zu\"/>\n"
          "<aspace type=\"total\" size=\"%zu\"/>\n<aspace type=\"mprotect\" size=\"%zu\"/>\n</malloc>\n",
          m.fordblks, m.arena, m.arena, m.arena, m.arena, m.fordblks, m.hblks, m.hblkhd, m.fsmblks,
          m.arena + m.hblkhd, m.arena + m.hblkhd, m.arena + m.hblkhd, m.arena + m.hblkhd);
  return 0;
}

// glibc's internal names (used by some libraries and by glibc itself).
#define UKASAN_ALIAS(target) __attribute__((alias(#target), visibility("default")))
// The aliases need not repeat glibc's attributes (leaf, malloc, alloc_size).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-attributes"
extern "C" {
void* __libc_malloc(size_t) noexcept UKASAN_ALIAS(malloc);
void __libc_free(void*) noexcept UKASAN_ALIAS(free);
void* __libc_calloc(size_t, size_t) noexcept UKASAN_ALIAS(calloc);
void* __libc_realloc(void*, size_t) noexcept UKASAN_ALIAS(realloc);
void* __libc_reallocarray(void*, size_t, size_t) noexcept UKASAN_ALIAS(reallocarray);
void* __libc_memalign(size_t, size_t) noexcept UKASAN_ALIAS(memalign);
void* __libc_valloc(size_t) noexcept UKASAN_ALIAS(valloc);
void* __libc_pvalloc(size_t) noexcept UKASAN_ALIAS(pvalloc);
int __posix_memalign(void**, size_t, size_t) noexcept UKASAN_ALIAS(posix_memalign);
size_t __malloc_usable_size(void*) noexcept UKASAN_ALIAS(malloc_usable_size);
}
#pragma GCC diagnostic pop
