// Stack capture (frame-pointer walk) and a deduplicating stack depot.
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

// Index of ip in pcs (the frame that returns into the caller of interest),
// or n when ip is not on the frame chain (e.g. a tail call).
inline unsigned frame_index_of(const uptr* pcs, unsigned n, uptr ip) {
  unsigned i = 0;
  while (i < n && pcs[i] != ip) i++;
  return i;
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

struct DepotStats {
  u64 unique_stacks;
  u64 bytes_used;
  u64 dropped;
};
DepotStats depot_stats();

}  // namespace ukasan
