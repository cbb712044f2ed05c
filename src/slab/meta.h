// Per-object KASAN metadata, placed as the kernel does: the alloc metadata in
// the redzone after the object, the free metadata (quarantine link + free
// track) inside the freed object, or in the redzone for caches with a
// constructor or SLAB_TYPESAFE_BY_RCU and for objects smaller than it.
#pragma once
#include <atomic>

#include "platform/types.h"
#include "stackdepot/stackdepot.h"

namespace ukasan {

enum ObjState : u8 {
  kObjFree = 0x3c,         // on a slab freelist / magazine
  kObjAllocated = 0xa5,
  kObjQuarantined = 0x5a,
};

struct QNode {
  QNode* next;
};

struct AllocMeta {
  depot_handle_t alloc_stack;
  u32 alloc_tid;
  u32 requested;              // kmalloc'ed size (for large blocks: low 32 bits, see Span::user)
  std::atomic<u8> state;      // ObjState; CAS on free makes concurrent double frees safe
  u8 check;                   // integrity byte: corrupted metadata is detected, never trusted
  u8 kind;                    // allocation API (heap: malloc/new/new[]; 0: kernel API); see src/heap
  u8 guard;                   // heap: canary byte at obj - 1, guarding the object's start
};
static_assert(sizeof(AllocMeta) == 16);

struct FreeMeta {
  QNode node;                 // quarantine link, then slab freelist link
  depot_handle_t free_stack;
  u32 free_tid;
};
static_assert(sizeof(FreeMeta) == 16);

inline u8 meta_check(uptr obj) { return static_cast<u8>((obj >> 3) ^ (obj >> 11) ^ (obj >> 19) ^ 0x6b); }

}  // namespace ukasan
