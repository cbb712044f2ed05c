// Stack capture (frame-pointer walk, DWARF unwinder) and a deduplicating stack depot.
// Depot: bounded memory, 32-bit handles, lock-free lookup; a new unique
// stack is linked into a split-ordered list by one CAS (stackdepot.cpp).
// Handle 0 means "no stack".
// Spec owner: stackdepot helper. Used by slab (alloc/free tracks) and report.
#pragma once
#include <emmintrin.h>

#include "platform/options.h"
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

// The stack pointer of the caller of the innermost active call to the
// function that starts at fn (the DWARF unwinder's CFA of that frame): the
// caller's frame and the ones above it start there. 0 if fn is not on the
// calling thread's stack. (The leak scan at exit starts the exiting
// thread's stack at exit()'s caller: below it lie only the exit path's
// frames, over stale words the runtime's own malloc frames left.)
uptr caller_sp_of(uptr fn);

// The frame of the entry point (malloc, free, operator new ...) the thread
// is in: a hint that lets the walk start there instead of walking the
// runtime's own frames to find it. Trusted only when it lies on the
// current stack above sp and the word after it is the return address being
// looked for (a value left by a signal handler's malloc, or by an entry
// point that did not set it, is ignored).
extern UKASAN_TLS uptr t_entry_fp;
// UKASAN_RET_IP that also notes the caller's frame (entry points only).
#define UKASAN_ENTRY_IP \
  (::ukasan::t_entry_fp = reinterpret_cast<::ukasan::uptr>(__builtin_frame_address(0)), UKASAN_RET_IP)

// The calling thread's stack, for the walk: computed on its first capture.
enum : u8 { kBoundsUnknown = 0, kBoundsComputing = 1, kBoundsReady = 2 };
extern UKASAN_TLS u8 t_bounds_state;
extern UKASAN_TLS uptr t_walk_lo;   // lowest address of the thread's stack (0: unknown)
extern UKASAN_TLS uptr t_walk_top;  // one past the highest address (0: unknown)

// The entry point's frame (t_entry_fp) when the walk may start there: 8-
// aligned, on this thread's known stack above sp (so mapped and live), its
// return address ip. 0 otherwise (a hint left by a signal handler's malloc,
// or by an entry point that did not set it). sp: the current stack pointer.
UKASAN_ALWAYS_INLINE uptr usable_entry_frame(uptr ip, uptr sp) {
  const uptr hint = t_entry_fp;
  if (t_bounds_state != kBoundsReady || (hint & 7) != 0 || hint < sp || hint + 16 > t_walk_top || sp < t_walk_lo ||
      reinterpret_cast<const uptr*>(hint)[1] != ip)
    return 0;
  return hint;
}

// True when capture_stack_after(ip) would record ip alone, decided from the
// entry point's frame without walking: the frame is usable (the walk would
// start there) and the caller's saved frame pointer in it fails the walk's
// first test, which is what code built without frame pointers (every
// distribution binary) leaves there. Then a stack is one return address,
// known before any capture. Any other case answers false and takes the walk.
UKASAN_ALWAYS_INLINE bool entry_stack_is_one_frame(uptr ip, uptr sp) {
  const uptr hint = usable_entry_frame(ip, sp);
  if (!hint) return false;
  // walk_frames' test of the next frame pointer p (with prev = hint): p is
  // followed only if 8-aligned, above hint and at most top - 16.
  const uptr next = reinterpret_cast<const uptr*>(hint)[0];
  return (next & 7) != 0 || next <= hint || next > t_walk_top - 16;
}

// The frame-pointer walk from the frame that returns to ip on (the caller
// of an entry point, UKASAN_RET_IP): the runtime's frames above it are
// walked but not recorded. Returns 0 when ip is not on the chain.
unsigned capture_stack_after(uptr ip, uptr* pcs, unsigned max);

// The current stack as seen from an entry point: from the frame that returns
// to ip (its caller, UKASAN_RET_IP) outwards, so the runtime's own frames
// never show. buf (size entries, size >= 1) receives it; returns buf and
// sets *n. When ip is not on the chain (it could not be walked), the stack
// is ip alone. dwarf: by the DWARF unwinder (then buf has room for the
// runtime's frames too, and they are skipped by searching for ip).
UKASAN_ALWAYS_INLINE const uptr* capture_stack_from(uptr ip, uptr* buf, unsigned size, unsigned* n,
                                                   bool dwarf = false) {
  if (UKASAN_LIKELY(!dwarf)) {
    *n = capture_stack_after(ip, buf, size);
    if (UKASAN_UNLIKELY(*n == 0)) {
      buf[0] = ip;
      *n = 1;
    }
    return buf;
  }
  const unsigned got = capture_stack_dwarf(buf, size, 0);
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
// One-frame stacks by their return address: a thread's recent ones, so
// that code without frame pointers (every distribution binary's malloc and
// free callers) pays neither the walk nor the hash for its stacks. Only the
// thread and its signal handlers touch an entry, and an entry is read and
// written by one 16-byte instruction each (movdqa): a signal arrives between
// instructions, so a handler never sees half an entry and never leaves the
// interrupted code one. (Three stores behind an invalidation would not do: a
// handler that rewrites the entry between the interrupted writer's stores
// leaves it its address with the other's handle.)
struct alignas(16) PcMemo {
  uptr ip;
  u64 handle;  // depot_handle_t, widened: the entry is one 16-byte word
};
constexpr unsigned kPcMemoSize = 1024;
extern UKASAN_TLS PcMemo t_pc_memo[kPcMemoSize];
UKASAN_ALWAYS_INLINE unsigned pc_memo_slot(uptr ip) { return (ip ^ (ip >> 10)) & (kPcMemoSize - 1); }
UKASAN_ALWAYS_INLINE __m128i pc_memo_load(const PcMemo& m) {
  __m128i v;
  __asm__ volatile("movdqa %1, %0" : "=x"(v) : "m"(m));
  return v;
}
UKASAN_ALWAYS_INLINE void pc_memo_store(PcMemo& m, uptr ip, depot_handle_t h) {
  const __m128i v = _mm_set_epi64x(static_cast<long long>(h), static_cast<long long>(ip));
  __asm__ volatile("movdqa %1, %0" : "=m"(m) : "x"(v));
}
// Stores [ip] in the depot and in m.
depot_handle_t save_one_frame_slow(PcMemo& m, uptr ip);
// capture_stack_from + depot_save.
depot_handle_t save_stack_walk(uptr ip);

// The alloc and free tracks: the stack from an entry point's caller (ip) on.
UKASAN_ALWAYS_INLINE depot_handle_t save_stack_from(uptr ip) {
  if (UKASAN_LIKELY(options().fast_unwind_on_malloc)) {
    uptr sp;
    __asm__ volatile("mov %%rsp, %0" : "=r"(sp));
    if (entry_stack_is_one_frame(ip, sp)) {
      PcMemo& m = t_pc_memo[pc_memo_slot(ip)];
      const __m128i v = pc_memo_load(m);
      if (static_cast<uptr>(_mm_cvtsi128_si64(v)) == ip)
        return static_cast<depot_handle_t>(_mm_cvtsi128_si32(_mm_unpackhi_epi64(v, v)));
      return save_one_frame_slow(m, ip);
    }
  }
  return save_stack_walk(ip);
}

// Of the depot this process shares with the processes it forked and was
// forked from (those that did not exec since): the stacks any of them saved.
struct DepotStats {
  u64 unique_stacks;
  u64 bytes_used;
  u64 dropped;
};
DepotStats depot_stats();

}  // namespace ukasan
