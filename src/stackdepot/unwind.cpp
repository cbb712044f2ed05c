// Stack capture: the frame-pointer walk (x86-64 SysV: [rbp] = caller's rbp,
// [rbp + 8] = return address into the caller), and the DWARF CFI unwinder
// for code built without frame pointers.
//
// The walk must never fault, including when it starts in (or passes through)
// code built without frame pointers, where rbp holds arbitrary data. A frame
// pointer p is followed only if it is 8-aligned, strictly above the previous
// one, and either
//   * lies in [sp, stack_top - 16] while sp is inside the calling thread's
//     known stack (that range is in use by this thread, hence mapped), or
//   * (sp is not on the known stack: sigaltstack handler, fiber, raw clone
//     thread) the 16 bytes at p were read successfully with
//     process_vm_readv, which reports EFAULT instead of faulting.
//
// The stack bounds are computed once per thread into initial-exec TLS. The
// computation may call pthread_getattr_np, which allocates; since this
// runtime can be the process's malloc, a TLS flag marks the computation and a
// re-entrant capture returns 0 frames meanwhile.
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include <dlfcn.h>
#include <unwind.h>

#include "platform/platform.h"
#include "stackdepot/stackdepot.h"

namespace ukasan {

UKASAN_TLS u8 t_bounds_state;
UKASAN_TLS uptr t_walk_lo;
UKASAN_TLS uptr t_walk_top;

namespace {

constexpr uptr kUserSpaceEnd = uptr(1) << 47;  // x86-64, 4-level paging

UKASAN_NOINLINE void compute_stack_bounds() {
  t_bounds_state = kBoundsComputing;
  uptr lo, top;
  query_thread_stack(&lo, &top);
  t_walk_lo = lo;
  t_walk_top = top;
  t_bounds_state = kBoundsReady;
}

// Reads 16 bytes at p without faulting. Returns false if unreadable.
bool safe_read16(uptr p, uptr out[2]) {
  struct iovec local = {out, 16};
  struct iovec remote = {reinterpret_cast<void*>(p), 16};
  long r = syscall(SYS_process_vm_readv, static_cast<long>(getpid()), &local, 1UL, &remote, 1UL,
                   0UL);
  return r == 16;
}

// Walks from frame pointer `fp` (capture_stack's own frame); sp is the
// current stack pointer. Frames are recorded after `skip` of them and, when
// `from` is not 0, only from the one returning to `from` on (the runtime's
// own frames above an entry point are walked, not recorded or searched
// afterwards). A "return address" inside the thread's stack, in the first
// page or outside user space is not code: the walk has left the chain
// (code without frame pointers) and stops there.
UKASAN_ALWAYS_INLINE unsigned walk_frames(uptr fp, uptr sp, uptr* pcs, unsigned max,
                                          unsigned skip, uptr from = 0) {
  if (UKASAN_UNLIKELY(t_bounds_state != kBoundsReady)) {
    if (t_bounds_state == kBoundsComputing) return 0;  // re-entered from pthread_getattr_np
    compute_stack_bounds();
  }
  const uptr top = t_walk_top;
  const uptr lo = t_walk_lo;
  // Fast range: valid only while sp is on the known stack.
  const bool on_stack = top != 0 && sp >= lo && sp < top;
  const uptr fast_lo = on_stack ? sp : 1;
  const uptr fast_hi = on_stack ? top - 16 : 0;  // inclusive bound for p
  uptr checked_page = 0;                        // page verified by safe_read16 (slow mode)

  unsigned n = 0;
  uptr prev = 0;
  uptr p = fp;
  while (n < max) {
    if ((p & 7) != 0 || p <= prev) break;
    uptr next_fp, ret;
    if (p >= fast_lo && p <= fast_hi) {
      const uptr* f = reinterpret_cast<const uptr*>(p);
      next_fp = f[0];
      ret = f[1];
    } else {
      // On the thread's own stack, a frame pointer outside it is garbage from
      // code built without frame pointers: stop (cheap), do not probe it.
      if (on_stack || p < sp) break;
      // Slow mode: a whole page is readable once any 16 bytes of it were.
      const uptr page = p & ~(kPageSize - 1);
      if (page == checked_page && ((p + 15) & ~(kPageSize - 1)) == page) {
        const uptr* f = reinterpret_cast<const uptr*>(p);
        next_fp = f[0];
        ret = f[1];
      } else {
        uptr buf[2];
        if (!safe_read16(p, buf)) break;
        next_fp = buf[0];
        ret = buf[1];
        if (((p + 15) & ~(kPageSize - 1)) == page) checked_page = page;
      }
    }
    if (ret < kPageSize || ret >= kUserSpaceEnd || (ret >= lo && ret < top)) break;
    if (from && ret == from) from = 0;
    if (skip)
      --skip;
    else if (!from)
      pcs[n++] = ret;
    prev = p;
    p = next_fp;
  }
  return n;
}

struct DwarfWalk {
  uptr* pcs;
  unsigned n, max, skip;
};

_Unwind_Reason_Code dwarf_step(struct _Unwind_Context* ctx, void* arg) {
  DwarfWalk* w = static_cast<DwarfWalk*>(arg);
  int before_insn = 0;
  uptr pc = _Unwind_GetIPInfo(ctx, &before_insn);
  if (pc == 0) return _URC_END_OF_STACK;
  // The frame a signal interrupted: pc is the interrupted instruction itself.
  // Stored + 1 so every entry reads as a return address (printers and the
  // fault handler's ip look at pc - 1).
  if (before_insn) pc++;
  if (w->skip) {
    w->skip--;
    return _URC_NO_REASON;
  }
  w->pcs[w->n++] = pc;
  return w->n < w->max ? _URC_NO_REASON : _URC_END_OF_STACK;
}

}  // namespace

// libgcc's unwinder reads the .eh_frame of each module (found through
// dl_iterate_phdr, so it takes the loader's lock and allocates nothing for
// dynamically linked modules) and steps through signal frames. It costs
// microseconds per frame: reports use it, allocations only when asked
// (fast_unwind_on_malloc=0).
UKASAN_NOINLINE unsigned capture_stack_dwarf(uptr* pcs, unsigned max, unsigned skip) {
  if (max == 0) return 0;
  DwarfWalk w = {pcs, 0, max, skip + 1};  // + this function's own frame
  _Unwind_Backtrace(dwarf_step, &w);
  return w.n;
}

namespace {
struct CallerOf {
  uptr fn, sp;
};
_Unwind_Reason_Code caller_step(struct _Unwind_Context* ctx, void* arg) {
  CallerOf* c = static_cast<CallerOf*>(arg);
  const uptr pc = _Unwind_GetIP(ctx);
  if (pc == 0) return _URC_END_OF_STACK;
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(pc - 1), &info) && reinterpret_cast<uptr>(info.dli_saddr) == c->fn) {
    c->sp = _Unwind_GetCFA(ctx);
    return _URC_END_OF_STACK;
  }
  return _URC_NO_REASON;
}
}  // namespace

uptr caller_sp_of(uptr fn) {
  CallerOf c = {fn, 0};
  _Unwind_Backtrace(caller_step, &c);
  return c.sp;
}

UKASAN_TLS uptr t_entry_fp;

UKASAN_NOINLINE unsigned capture_stack_after(uptr ip, uptr* pcs, unsigned max) {
  uptr sp;
  __asm__ volatile("mov %%rsp, %0" : "=r"(sp));
  // From the entry point's frame when it is usable: the walk records from
  // its first frame.
  if (const uptr hint = usable_entry_frame(ip, sp)) return walk_frames(hint, sp, pcs, max, 0);
  const uptr fp = reinterpret_cast<uptr>(__builtin_frame_address(0));
  return walk_frames(fp, sp, pcs, max, 0, ip);
}

UKASAN_NOINLINE unsigned capture_stack(uptr* pcs, unsigned max, unsigned skip) {
  uptr sp;
  __asm__ volatile("mov %%rsp, %0" : "=r"(sp));
  const uptr fp = reinterpret_cast<uptr>(__builtin_frame_address(0));
  return walk_frames(fp, sp, pcs, max, skip);
}

}  // namespace ukasan
