// Page-run ("span") allocator over one reserved arena, with a page map from
// any arena address to its span descriptor (the kernel's virt_to_slab).
// Span descriptors live outside the arena, so a wild write into the arena
// cannot corrupt them, and "is this pointer ours?" is a range check.
#pragma once
#include <atomic>

#include "platform/lock.h"
#include "platform/types.h"
#include "slab/meta.h"

namespace ukasan {

struct KmemCache;

enum SpanKind : u8 { kSpanFree = 0, kSpanSlab = 1, kSpanLarge = 2 };

struct Span {
  uptr start = 0;
  uptr npages = 0;
  SpanKind kind = kSpanFree;
  // --- slab spans (all fields under the owning cache's lock) ---
  KmemCache* cache = nullptr;
  u32 nobjs = 0;
  u32 inuse = 0;          // objects handed out (neither on the freelist nor uncarved)
  u32 carved = 0;         // slots [carved, nobjs) were never handed out (see build_slab)
  FreeMeta* freelist = nullptr;
  Span* partial_next = nullptr;
  Span* partial_prev = nullptr;
  bool on_partial = false;
  Span* slab_next = nullptr;  // all slabs of the cache
  // --- large (page-backed kmalloc) spans ---
  uptr user = 0;          // user pointer
  uptr large_size = 0;    // requested size
  AllocMeta large_alloc;
  FreeMeta large_free;    // holds the quarantine node
  // --- page allocator free lists ---
  Span* free_next = nullptr;
  bool resident = false;  // handed out with the pages of an earlier large block (free_span_resident)
  bool guards_present = false;  // a large span's first and last pages are resident (large_guards_touched)
  u8 resident_reuses = 0;       // times handed out with `resident` set, up to kGuardPopulateReuses
};

class PageAllocator {
 public:
  bool init();  // reserves the arena and the page map; idempotent
  bool contains(uptr p) const { return p - base_ < size_; }
  uptr base() const { return base_; }
  uptr size() const { return size_; }

  // nullptr if the arena is exhausted or the OS refuses memory. The span's
  // pages read as zero (large_alloc's __GFP_ZERO relies on it).
  Span* alloc_span(uptr npages, SpanKind kind);
  // Gives the span's memory back to the OS (MADV_DONTNEED: it reads as zero
  // when reused) and its pages to the free lists.
  void free_span(Span* s);
  // A large block's span whose pages stay resident for the next large block
  // of the same page count, which alloc_span(kSpanLarge) hands out with
  // `resident` set: its pages hold the old block's bytes. As scudo's
  // secondary cache keeps freed mappings: a buffer that grows by realloc
  // otherwise faults fresh pages in at every step (python3's lists: 5 % of
  // its time). Bounded by kResidentSpans spans and kResidentPages pages; the
  // oldest past that is given back as free_span does.
  void free_span_resident(Span* s);

  // Span of an arena address, or nullptr. Lock-free: page map entries are
  // written before the span is handed out (release) and read with acquire.
  Span* span_of(uptr p) const {
    if (!contains(p)) return nullptr;
    return map_[(p - base_) / kPageSize].load(std::memory_order_acquire);
  }

  Lock& lock() { return lock_; }
  // Pages ever handed out from the arena's start (every span lies below).
  uptr pages_used() const { return __atomic_load_n(&bump_, __ATOMIC_ACQUIRE); }

  // Pages handed out, by kind (read without the lock: statistics).
  uptr pages_of(SpanKind kind) const { return __atomic_load_n(&pages_[kind], __ATOMIC_RELAXED); }
  uptr spans_of(SpanKind kind) const { return __atomic_load_n(&spans_[kind], __ATOMIC_RELAXED); }

 private:
  Span* new_descriptor();
  void set_map(Span* s);
  void push_free_locked(Span* s);  // onto its free list (lock_ held)
  Span* take_resident_locked(uptr npages);  // a kept span of exactly npages, or nullptr
  // alloc_span under lock_; [*shadow_lo, *shadow_hi): arena offsets whose
  // shadow to populate (shadow_ahead_locked) once the lock is dropped.
  Span* take_span(uptr npages, SpanKind kind, uptr* shadow_lo, uptr* shadow_hi);
  void shadow_ahead_locked(const Span* s, uptr* lo, uptr* hi);
  void count_locked(SpanKind kind, uptr npages, sptr spans);

  static constexpr uptr kSmallRuns = 256;
  // Spans whose shadow their user writes whole (every slab; a large block
  // below kLargeProtectBytes = 256 pages plus its guard pages): shadow_ahead.
  static constexpr uptr kShadowAheadPages = 257;
  static constexpr u32 kResidentSpans = 32;
  static constexpr uptr kResidentPages = 2048;  // 8 MiB
  Lock lock_;
  uptr base_ = 0, size_ = 0;
  std::atomic<Span*>* map_ = nullptr;
  uptr bump_ = 0;  // pages handed out from the arena start
  uptr shadow_ready_ = 0;  // arena offset below which slabs' shadow was populated
  Span* small_free_[kSmallRuns + 1] = {};
  Span* big_free_ = nullptr;
  Span* resident_ = nullptr;  // newest first, linked by free_next
  u32 resident_spans_ = 0;
  uptr resident_pages_ = 0;
  Span* desc_pool_ = nullptr;
  uptr pages_[3] = {}, spans_[3] = {};  // by SpanKind, under lock_
  uptr desc_pool_left_ = 0;
};

extern PageAllocator g_pages;
// Inline: every free maps its pointer through the page map.
inline PageAllocator& page_allocator() { return g_pages; }

}  // namespace ukasan
