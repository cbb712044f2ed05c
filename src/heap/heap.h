// The heap front end: malloc/free/new/delete of a whole process served by the
// slab core (kmalloc caches, large blocks), with the quarantine, and checks
// that need no compiler instrumentation (SLUB-debug style):
//   * alloc-dealloc mismatch (AllocMeta::kind records the allocating API),
//   * redzone canaries verified on free (out-of-bounds writes),
//   * a free pattern verified when the object leaves the quarantine (writes
//     after free), over at most poison_check_bytes bytes per object.
// Entry points: malloc.cpp (C, glibc __libc_* aliases), new.cpp (C++).
#pragma once
#include "platform/types.h"

namespace ukasan {

// AllocMeta::kind values. 0 is the kernel API (kmalloc, kmem_cache_alloc):
// never checked for mismatches.
enum HeapKind : u8 {
  kKindKernel = 0,
  kKindMalloc = 1,
  kKindNew = 2,
  kKindNewArray = 3,
  kKindMask = 0x07,  // 0x08-0x40: the slab layer's kMeta* flags
  kKindPoisoned = 0x80,  // the free pattern was written: verify it at eviction
};

constexpr u8 kPoisonFree = 0x6b;   // SLUB's POISON_FREE
constexpr u8 kRedzoneByte = 0xcc;  // SLUB's SLUB_RED_ACTIVE
constexpr uptr kNoSize = ~uptr(0);

// Allocation: align is a power of two (>= 16 is applied). Returns nullptr on
// failure (errno is the caller's business). zero: calloc semantics.
void* heap_alloc(uptr size, uptr align, u8 kind, bool zero, uptr ip);
// Free: kind is the API freeing it, size the size given to a sized delete
// (kNoSize otherwise). Reports mismatches, out-of-bounds canary damage,
// double/invalid frees.
void heap_free(void* p, u8 kind, uptr size, uptr ip);
// realloc semantics for malloc'ed blocks (p != nullptr, n != 0).
void* heap_realloc(void* p, uptr n, uptr ip);
// Requested size of a live block, 0 otherwise.
uptr heap_usable_size(const void* p);

// __sanitizer_install_malloc_and_free_hooks: up to 5 pairs, called after
// each allocation and before each free; returns the pair's number (0: full).
int heap_install_hooks(void (*malloc_hook)(const volatile void*, uptr), void (*free_hook)(const volatile void*));

// The bootstrap arena (heap.cpp): allocations made while the runtime starts.
void* boot_alloc(uptr size, uptr align);
// The heap when ukasan steps aside (runtime_passthrough(), passthrough.cpp):
// libc's allocator.
void* passthrough_alloc(uptr size, uptr align, bool zero);
void passthrough_free(void* p);
void* passthrough_realloc(void* p, uptr n);
uptr passthrough_usable_size(const void* p);

}  // namespace ukasan

// glibc still exports cfree (an alias of free) but no longer declares it.
extern "C" void cfree(void* p) noexcept;
