// Stacks under instrumentation: instrumented frames poison their redzones in
// the prologue and unpoison them in the epilogue, so any exit from a frame
// that skips the epilogue leaves stale poison below the stack pointer. Here:
//   __asan_handle_no_return   (called before throw, longjmp, noreturn calls)
//   thread start/exit         (pthread_create: a new thread may reuse a
//                              stack that died with poisoned frames)
//   vfork                     (the child ran on the parent's stack)
//   swapcontext               (a fiber stack may hold stale poison)
//   a SIGSEGV/SIGBUS handler  (inline checks of wild addresses fault on the
//                              shadow: report them, the kernel's GPF path)
// and instr_init(), which ties the instrumentation runtime together.
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>

#include "instrumentation/asan_interface.h"
#include "instrumentation/instrumentation.h"
#include "platform/platform.h"
#include "report/report.h"
#include "shadow/shadow.h"
#include "runtime/runtime.h"


namespace ukasan {


// ---- thread stacks ----------------------------------------------------------------

static UKASAN_TLS uptr t_stack_lo, t_stack_top;
static UKASAN_TLS uptr t_fiber_lo, t_fiber_top;  // the last swapcontext target

void thread_stack_reset() { t_stack_lo = t_stack_top = 0; }

void thread_stack_bounds(uptr* lo, uptr* top) {
  if (UKASAN_UNLIKELY(!t_stack_top)) query_thread_stack(&t_stack_lo, &t_stack_top);
  *lo = t_stack_lo;
  *top = t_stack_top;
}

// Unpoisons the stack from sp up to the top of the stack sp is on.
static void unpoison_stack_above(uptr sp) {
  uptr lo, top;
  thread_stack_bounds(&lo, &top);
  if (sp >= lo && sp < top) {
    shadow_clear(sp, top);
    return;
  }
  stack_t ss;
  if (sigaltstack(nullptr, &ss) == 0 && (ss.ss_flags & SS_ONSTACK)) {
    uptr alo = reinterpret_cast<uptr>(ss.ss_sp), atop = alo + ss.ss_size;
    if (sp >= alo && sp < atop) {
      shadow_clear(sp, atop);
      // A jump out of the handler may land anywhere on the thread's stack,
      // whose frames below the target we cannot tell: clear all of it.
      if (top) shadow_clear(lo, top);
      return;
    }
  }
  if (sp >= t_fiber_lo && sp < t_fiber_top) shadow_clear(sp, t_fiber_top);
}

}  // namespace ukasan

using namespace ukasan;

UKASAN_EXPORT void __asan_handle_no_return() {
  if (!g_instr_ready.load(std::memory_order_acquire)) return;
  // Our caller's frame is live; everything below it is dead.
  unpoison_stack_above(reinterpret_cast<uptr>(__builtin_frame_address(0)));
}

// ---- threads ------------------------------------------------------------------------

namespace {
struct StartArgs {
  void* (*fn)(void*);
  void* arg;
};
using pthread_create_t = int (*)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);
pthread_create_t g_real_pthread_create;
pthread_key_t g_exit_key;
std::atomic<bool> g_exit_key_ready{false};

void thread_exit_unpoison(void*) {
  // The stack may be reused by another thread or unmapped and reused by
  // anything: leave no poison behind.
  uptr lo, top;
  thread_stack_bounds(&lo, &top);
  if (top) shadow_clear(lo, top);
}

void* thread_start(void* p) {
  StartArgs a = *static_cast<StartArgs*>(p);
  free(p);
  thread_stack_reset();
  uptr lo, top;
  thread_stack_bounds(&lo, &top);
  // Below our frame: whatever a previous owner of this memory left.
  uptr sp = reinterpret_cast<uptr>(__builtin_frame_address(0));
  if (top && sp > lo && sp <= top) shadow_clear(lo, sp);
  if (g_exit_key_ready.load(std::memory_order_acquire)) pthread_setspecific(g_exit_key, reinterpret_cast<void*>(1));
  return a.fn(a.arg);
}
}  // namespace

UKASAN_EXPORT int pthread_create(pthread_t* th, const pthread_attr_t* attr, void* (*fn)(void*), void* arg) {
  if (!g_real_pthread_create) {
    g_real_pthread_create = reinterpret_cast<pthread_create_t>(dlsym(RTLD_NEXT, "pthread_create"));
    if (!g_real_pthread_create) die("pthread_create not found");
  }
  if (!g_instr_ready.load(std::memory_order_acquire)) instr_init();
  StartArgs* a = static_cast<StartArgs*>(malloc(sizeof(StartArgs)));
  if (!a) return EAGAIN;
  a->fn = fn;
  a->arg = arg;
  int r = g_real_pthread_create(th, attr, thread_start, a);
  if (r != 0) free(a);
  return r;
}

// ---- vfork --------------------------------------------------------------------------
// The child runs on the parent's stack until exec/_exit and may leave poisoned
// frames below the parent's stack pointer: the parent clears them.

extern "C" __attribute__((visibility("hidden"), used)) long ukasan_vfork_parent(long r) {
  if (static_cast<unsigned long>(r) > static_cast<unsigned long>(-4096L)) {
    errno = static_cast<int>(-r);
    return -1;
  }
  if (g_instr_ready.load(std::memory_order_acquire)) {
    uptr lo, top;
    thread_stack_bounds(&lo, &top);
    uptr sp = reinterpret_cast<uptr>(__builtin_frame_address(0));
    if (top && sp > lo && sp <= top) shadow_clear(lo, sp);
  }
  return r;
}

UKASAN_DEFINE_VFORK(ukasan_vfork_parent);

// ---- swapcontext --------------------------------------------------------------------

void ukasan::note_fiber_stack(uptr lo, uptr size) {
  const uptr sp = reinterpret_cast<uptr>(__builtin_frame_address(0));
  if (!g_instr_ready.load(std::memory_order_acquire) || !lo || !size || size > (uptr(64) << 20) ||
      (sp >= lo && sp < lo + size))
    return;
  shadow_clear(lo, lo + size);
  t_fiber_lo = lo;
  t_fiber_top = lo + size;
}

UKASAN_EXPORT int swapcontext(ucontext_t* oucp, const ucontext_t* ucp) {
  using swapcontext_t = int (*)(ucontext_t*, const ucontext_t*);
  static swapcontext_t real;
  if (!real) real = reinterpret_cast<swapcontext_t>(dlsym(RTLD_NEXT, "swapcontext"));
  if (!real) die("swapcontext not found");
  // A fresh or reused fiber stack: no stale poison (not the stack we are on).
  note_fiber_stack(reinterpret_cast<uptr>(ucp->uc_stack.ss_sp), ucp->uc_stack.ss_size);
  return real(oucp, ucp);
}

// ---- faults ---------------------------------------------------------------------------

namespace ukasan {
namespace {
// Wild and null accesses: an inline check's shadow read of a wild address,
// a non-canonical address (a general protection fault: no address), or the
// null page. Reported; the access then dies (false: not handled).
bool instr_fault(int, siginfo_t* si, ucontext_t* uc) {
  uptr ip = static_cast<uptr>(UKASAN_UCONTEXT_PC(uc));
  uptr fa = reinterpret_cast<uptr>(si->si_addr);
  uptr shadow_lo = shadow_offset();
  uptr shadow_hi = (kHighMemEnd >> kShadowScale) + shadow_offset();
  if (si->si_code == SI_KERNEL || (fa >= shadow_lo && fa < shadow_hi) || fa < kPageSize) {
    uptr addr = (fa >= shadow_lo && fa < shadow_hi) ? (fa - shadow_lo) << kShadowScale : fa;
    if (si->si_code == SI_KERNEL && fa == 0) addr = ~uptr(0) - kPageSize;  // "somewhere non-canonical"
    // ip is the faulting instruction; report_access wants a return address.
    if (!in_report() && !t_fault_reported) report_access(addr, 1, false, ip + 1);
  }
  return false;
}
}  // namespace

void instr_init() {
  if (UKASAN_LIKELY(g_instr_ready.load(std::memory_order_acquire))) return;
  static std::atomic<int> state{0};
  runtime_init();
  if (runtime_passthrough()) return;  // no shadow: g_instr_ready stays false, nothing is checked
  int expected = 0;
  if (!state.compare_exchange_strong(expected, 1)) {
    // Another thread (or this one, re-entered) is initialising; the shadow is
    // mapped (runtime_init returned), which is all the checks need.
    return;
  }
  report_set_describe_hook(describe_stack_or_global);
  pthread_atfork(globals_fork_prepare, globals_fork_parent, globals_fork_child);
  interceptors_init();
  fault_hook_add(instr_fault);
  g_instr_ready.store(true, std::memory_order_release);
  if (pthread_key_create(&g_exit_key, thread_exit_unpoison) == 0)
    g_exit_key_ready.store(true, std::memory_order_release);
}

// Map the shadow before any instrumented constructor of the program that
// runs after the runtime's own (101) constructor.
__attribute__((constructor(102))) static void instr_ctor() { instr_init(); }

}  // namespace ukasan

// Linked into executables by the wrappers (tools/preinit.c puts it in
// .preinit_array): runs before every constructor of every library.
// glibc passes (argc, argv, envp); libc's own initialisation, which sets
// environ, has not run yet, and the runtime reads UKASAN_OPTIONS from it.
UKASAN_EXPORT void __ukasan_preinit(int, char**, char** envp) {
  if (!environ && envp) environ = envp;
  instr_init();
}
