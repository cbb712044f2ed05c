// Stack capture (frame-pointer walk, DWARF unwinder) and a deduplicating stack depot.
// Depot: bounded memory, 32-bit handles, lock-free lookup; inserts of a new
// unique stack use one CAS on the bucket head. Handle 0 means "no stack".
// Spec owner: stackdepot helper. Used by slab (alloc/free tracks) and report.
#pragma once
#include "platform/types.h"

namespace ukasan {

using depot_handle_t = u32;
constexpr unsigned kMaxStackFrames = 32;

// Walk the frame-pointer chain of the calling thread, skipping `skip` innermost
// frames (the capture function itself is never included). Never faults: every
// frame pointer is checked against the current thread's stack bounds. Returns
// the number of return addresses written to pcs (<= max).
unsigned capture_stack(uptr* pcs, unsigned max, unsigned skip);

// The same walk by the DWARF CFI unwinder (libgcc's _Unwind_Backtrace): full
// stacks through code built without frame pointers, and through signal
// frames, at microseconds per frame. For reports, and allocations when
// fast_unwind_on_malloc=0.
unsigned capture_stack_dwarf(uptr* pcs, unsigned max, unsigned skip);

// The current stack as seen from an entry point: from the frame that returns
// to ip (its caller, UKASAN_RET_IP) outwards, so the runtime's own frames
// never show. buf (size entries, size >= 1) receives the whole chain, with
// room for the runtime's frames above ip; returns where ip's frame starts in
// it and sets *n to the frames from there. When ip is not on the chain (it
// could not be walked), the stack is ip alone. Inline, and no copy: it sits
// on every allocation and free (a copying version cost 5 % of the
// instructions of a malloc/free churn).
UKASAN_ALWAYS_INLINE const uptr* capture_stack_from(uptr ip, uptr* buf, unsigned size, unsigned* n,
                                                   bool dwarf = false) {
  const unsigned got = dwarf ? capture_stack_dwarf(buf, size, 0) : capture_stack(buf, size, 0);
  unsigned i = 0;
  while (i < got && buf[i] != ip) i++;
  if (i == got) {
    buf[0] = ip;
    *n = 1;
    return buf;
  }
  *n = got - i;
  return buf + i;
}

// Store a stack; identical stacks get the same handle. Returns 0 when n == 0
// or the depot's memory bound is reached (counted in stats.dropped). Stacks
// deeper than kMaxStackFrames are truncated to their innermost kMaxStackFrames.
depot_handle_t depot_save(const uptr* pcs, unsigned n);

// Fetch a stack by handle. Returns frame count and sets *pcs (0 for handle 0
// or an invalid handle).
unsigned depot_fetch(depot_handle_t h, const uptr** pcs);

// capture_stack + depot_save in one call; `skip` as for capture_stack.
depot_handle_t save_current_stack(unsigned skip);
// capture_stack_from + depot_save (alloc and free tracks).
depot_handle_t save_stack_from(uptr ip);

struct DepotStats {
  u64 unique_stacks;
  u64 bytes_used;
  u64 dropped;
};
DepotStats depot_stats();

}  // namespace ukasan
