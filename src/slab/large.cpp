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
  am.kind = 0;
  am.alloc_stack = options().stacktrace ? save_stack_from(ip) : 0;
  am.check = meta_check(user);
  s->large_free.free_stack = 0;
  s->large_free.free_tid = 0;
  s->large_free.node.next = nullptr;
  s->cache = nullptr;
  s->large_size = size;
  poison(s->start, npages * kPageSize, kShadowPageRedzone);
  unpoison(user, size);
  am.state.store(kObjAllocated, std::memory_order_release);
  if (flags & __GFP_ZERO) memset(reinterpret_cast<void*>(user), 0, size);
  return reinterpret_cast<void*>(user);
}

void large_release(Span* s) {
  s->large_alloc.state.store(kObjFree, std::memory_order_relaxed);
  // The shadow keeps saying "freed page" so a dangling pointer into the
  // released range is still reported as use-after-free.
  page_allocator().free_span(s, /*release=*/true);
}

void large_free(Span* s, uptr ip) {
  ThreadState* ts = thread_state();
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
