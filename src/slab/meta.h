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
  QNode* next;  // stored encoded: link_encode / link_decode
};

// The links inside free objects (slab freelist, quarantine spill lists) are
// stored with the top bit flipped, as SLAB_FREELIST_HARDENED obfuscates
// SLUB's: a stale link left in the first word of an allocated object then
// never looks like a pointer to a conservative scan (kmemleak), which
// would otherwise take every object for referenced by its freelist
// predecessor.
constexpr uptr kLinkKey = uptr(1) << 63;
inline QNode* link_encode(QNode* p) { return reinterpret_cast<QNode*>(reinterpret_cast<uptr>(p) ^ kLinkKey); }
inline QNode* link_decode(QNode* v) { return reinterpret_cast<QNode*>(reinterpret_cast<uptr>(v) ^ kLinkKey); }

struct AllocMeta {
  depot_handle_t alloc_stack;
  u32 alloc_tid;
  u32 requested;              // kmalloc'ed size (for large blocks: low 32 bits, see Span::user)
  std::atomic<u8> state;      // ObjState; CAS on free makes concurrent double frees safe
  u8 check;                   // integrity byte: corrupted metadata is detected, never trusted
  u8 kind;                    // allocation API (heap: malloc/new/new[]; 0: kernel API; see src/heap), and kMeta* flags
  u8 guard;                   // heap: canary byte at obj - 1, guarding the object's start
};
static_assert(sizeof(AllocMeta) == 16);

struct FreeMeta {
  QNode node;                 // quarantine link, then slab freelist link
  depot_handle_t free_stack;
  u32 free_tid;
};
static_assert(sizeof(FreeMeta) == 16);

// Flags in AllocMeta::kind that belong to the slab layer and kmemleak (the
// heap keeps the API in the low three bits and its free-pattern mark in 0x80).
enum MetaFlags : u8 {
  kMetaReported = 0x08,  // reported as a leak by an earlier scan (kmemleak reports each leak once)
  kMetaNoLeak = 0x10,  // never reported as a leak, still scanned (kmemleak_not_leak, __lsan_ignore_object,
                       // allocated between __lsan_disable and __lsan_enable)
  kMetaNoScan = 0x20,  // neither scanned nor reported (kmemleak_ignore)
  kMetaMarked = 0x40,  // reached by the running scan (0 outside a scan)
  // While the object is freed (quarantined), 0x08 means: the last scan found
  // a pointer into it in live memory (a dangling pointer; see
  // quarantine_keep_referenced). Every scan rewrites it for every freed object.
  kMetaDangling = 0x08,
};

// The integrity byte of an object's AllocMeta: a hash of the object's
// address, so metadata that was overwritten, or that is not this address's,
// fails the compare (but for 1 in 256 by chance). Fibonacci hashing: one
// multiply, and the top byte depends on every address bit.
inline u8 meta_check(uptr obj) { return static_cast<u8>((obj * 0x9e3779b97f4a7c15ull) >> 56); }

}  // namespace ukasan
