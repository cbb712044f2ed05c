// Large blocks: kmalloc sizes above the largest cache (and the heap's
// page-aligned blocks), page-backed with a redzone page on each side, their
// metadata in the span descriptor.
#include <string.h>

#include "platform/options.h"
#include "shadow/shadow.h"
#include "slab/internal.h"

namespace ukasan {

static Span* large_span_alloc(uptr npages) {
  reduce_on_alloc();
  Span* s = page_allocator().alloc_span(npages, kSpanLarge);
  if (!s) {
    quarantine_drain_all();
    s = page_allocator().alloc_span(npages, kSpanLarge);
  }
  return s;
}

void* large_alloc(uptr size, gfp_t flags, uptr ip, uptr align) {
  if (size > (1ull << 40) - 3 * kPageSize || !is_pow2(align) || align > (1ull << 30)) return nullptr;
  uptr data = round_up(size, kPageSize);
  uptr extra = align > kPageSize ? align - kPageSize : 0;  // slack to place the block at `align`
  uptr npages = (data + extra) / kPageSize + 2;  // a redzone page on each side
  Span* s = large_span_alloc(npages);
  if (!s) return nullptr;
  uptr user = round_up(s->start + kPageSize, align > kPageSize ? align : kPageSize);
  s->user = user;
  ThreadState* ts = thread_state();
  AllocMeta& am = s->large_alloc;
  am.alloc_tid = static_cast<u32>(ts->tid);
  am.requested = static_cast<u32>(size);
  am.kind = t_leak_disabled ? kMetaNoLeak : 0;
  am.alloc_stack = options().stacktrace ? save_stack_from(ip) : 0;
  am.check = meta_check(user);
  s->large_free.free_stack = 0;
  s->large_free.free_tid = 0;
  s->large_free.node.next = link_encode(nullptr);
  s->cache = nullptr;
  s->large_size = size;
  // The shadow: redzone before the block, accessible bytes, redzone to the
  // span's end. The accessible part is cleared by giving its shadow pages
  // back (shadow_clear), so a huge block costs no shadow writes or memory.
  const uptr body = round_down(size, kGranule), end = s->start + npages * kPageSize;
  poison(s->start, user - s->start, kShadowPageRedzone);
  shadow_clear(user, user + body);
  unpoison_within(user + body, size - body, end - (user + body), kShadowPageRedzone);
  am.state.store(kObjAllocated, std::memory_order_release);
  count_bytes(ts->alloc_bytes, (npages - 2) * kPageSize);
  // __GFP_ZERO (kzalloc, calloc) needs no write: every span the page
  // allocator hands out reads as zero (fresh arena, or released with
  // MADV_DONTNEED when freed), so calloc of a huge block touches no page.
  (void)flags;
  return reinterpret_cast<void*>(user);
}

void large_release(Span* s) {
  s->large_alloc.state.store(kObjFree, std::memory_order_relaxed);
  // The shadow keeps saying "freed page" so a dangling pointer into the
  // released range is still reported as use-after-free.
  page_allocator().free_span(s);
}

void large_free(Span* s, uptr ip) {
  ThreadState* ts = thread_state();
  count_bytes(ts->freed_bytes, (s->npages - 2) * kPageSize);
  s->large_free.free_tid = static_cast<u32>(ts->tid);
  s->large_free.free_stack = options().stacktrace ? save_stack_from(ip) : 0;
  poison(s->user, round_up(s->large_size, kPageSize), kShadowPageFree);
  if (UKASAN_UNLIKELY(!runtime_enter(ts))) {
    quarantine().put_nested(ts->queue, &s->large_free.node);
    return;
  }
  if (g_quarantine_enabled) {
    if (UKASAN_UNLIKELY(quarantine().put(ts->queue, &s->large_free.node, quarantine_charge(s->npages * kPageSize), 0)))
      reduce_after_transfer(ts);
  } else
    large_release(s);
  runtime_exit(ts);
}

}  // namespace ukasan
