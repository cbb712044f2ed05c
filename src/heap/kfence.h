// KFENCE for the heap (the kernel's mm/kfence): a sampled allocation goes on
// a page of its own between PROT_NONE guard pages, right- or left-aligned in
// it, the rest of the page a canary; its page is PROT_NONE once freed. Reads
// and writes out of bounds or after free then fault at the access, which
// needs no compiler instrumentation: what the preload cannot see otherwise.
// Off unless kfence_sample_interval is set.
#pragma once
#include "platform/types.h"

namespace ukasan {

// Maps the pool and registers the fault hook (heap bring-up; after options).
void kfence_init();

// Each thread's allocations until the next sampled one. Starts at 0, so a
// thread's first allocation takes the slow path once, which sets it (to
// "never" when KFENCE is off): one TLS decrement per allocation.
extern UKASAN_TLS long t_kfence_countdown;
// A sampled allocation: nullptr when it does not fit a page or the pool is
// full (the caller allocates normally).
void* kfence_alloc_slow(uptr size, uptr align, u8 kind, bool zero, uptr ip);

// The pool [g_kfence_lo, g_kfence_lo + g_kfence_size); size 0 when off.
extern uptr g_kfence_lo, g_kfence_size;
UKASAN_ALWAYS_INLINE bool kfence_owns(const void* p) {
  return reinterpret_cast<uptr>(p) - g_kfence_lo < g_kfence_size;
}
// free/delete/realloc of a pool address: frees a live object (its canary
// checked), reports any other pointer (invalid free).
void kfence_free(void* p, uptr ip);
// The allocating API (HeapKind) of the live object at p, 0 if p is none.
u8 kfence_kind(const void* p);
// Requested size of the live object at p, 0 if p is none.
uptr kfence_usable_size(const void* p);

}  // namespace ukasan
