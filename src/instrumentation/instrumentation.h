// The runtime side of compiler instrumentation (-fsanitize=kernel-address,
// GCC and clang, inline and outline) and the checks of libc functions that
// the compiler does not instrument. Internal to src/instrumentation.
#pragma once
#include <atomic>

#include "platform/types.h"
#include "shadow/shadow.h"

namespace ukasan {

// Set once the shadow is mapped and instr_init() ran; the outline checks
// test it before touching the shadow (an instrumented constructor may run
// before ours). (asan_abi.cpp)
extern std::atomic<bool> g_instr_ready;
// Set when a check reported a null/wild address on this thread: the access
// itself faults next, and the fault handler must not report it twice.
// (asan_abi.cpp)
extern UKASAN_TLS bool t_fault_reported;

// Resolves the libc functions the interceptors call (interceptors.cpp).
void interceptors_init();

// A string's length, char or wchar_t, by a loop the compiler may not turn
// back into strlen/wcslen (in libukasan.so those are the interceptors).
template <class C>
UKASAN_ALWAYS_INLINE uptr plain_len(const C* s) {
  uptr n = 0;
  while (s[n]) {
    asm volatile("");
    n++;
  }
  return n;
}

// Resolves the real functions of convert.cpp's interceptors (from
// interceptors_init).
void convert_interceptors_init();

// The next definition of a libc function (dlsym(RTLD_NEXT)); null if none.
// (interceptors.cpp)
void* next_symbol(const char* name);
// The real function behind an interceptor, resolved on first use (the
// runtime may format with snprintf before instr_init; a racing first use
// resolves it twice to the same value).
template <class T>
UKASAN_ALWAYS_INLINE T real_fn(T& slot, const char* name) {
  T f = __atomic_load_n(&slot, __ATOMIC_RELAXED);
  if (UKASAN_UNLIKELY(!f)) {
    f = reinterpret_cast<T>(next_symbol(name));
    __atomic_store_n(&slot, f, __ATOMIC_RELAXED);
  }
  return f;
}

// Sets up the instrumentation side (idempotent, cheap after the first call):
// runtime_init(), the libc entry points, the fault handler.
void instr_init();

// Checks [addr, addr+size) for an access by libc on behalf of the caller at
// ip; reports and returns false if bad. Addresses without shadow other than
// the null page are not checked (the runtime's own shadow writes).
// The common case (shadowed, accessible) is inline: intercepted calls are
// frequent and short.
bool instr_check_range_slow(uptr addr, uptr size, bool is_write, uptr ip);
UKASAN_ALWAYS_INLINE bool instr_check_range(uptr addr, uptr size, bool is_write, uptr ip) {
#if !UKASAN_DYNAMIC_SHADOW
  if (UKASAN_LIKELY(short_high_range_accessible(addr, size))) return true;
#endif
  if (UKASAN_LIKELY(size == 0 || (classify_range(addr, size) == kRangeShadowed && range_accessible(addr, size))))
    return true;
  return instr_check_range_slow(addr, size, is_write, ip);
}

// Whether an intercepted libc call from ip is checked: the runtime is up, the
// caller is not the runtime itself (it writes redzones), no report is being
// printed on this thread.
bool intercept_active(uptr ip);

// The memory an interceptor returns for the program to free (strdup's family
// in interceptors.cpp, wcsdup in wide.cpp): malloc(bytes) as called from ip,
// the interceptor's caller, whose frame the interceptor published with
// UKASAN_ENTRY_IP, so the block's stack starts at the program's call. Sets
// errno to ENOMEM when it fails.
void* malloc_for_caller(uptr bytes, uptr ip);

// __sanitizer_start_switch_fiber: the stack about to be switched to (its
// stale poison is cleared, as for swapcontext). (stack.cpp)
void note_fiber_stack(uptr lo, uptr size);

// Defines an interceptor under the C name via an asm label (<string.h> and
// <wchar.h> declare C++ overloads of some of these names).
#define UKASAN_INTERCEPT(ret, name, ...)                                                           \
  extern "C" __attribute__((visibility("default"))) ret ukasan_##name(__VA_ARGS__) __asm__(#name); \
  extern "C" __attribute__((visibility("default"))) ret ukasan_##name(__VA_ARGS__)

// The calling thread's stack [lo, top) (computed once per thread).
void thread_stack_bounds(uptr* lo, uptr* top);
// Forget the cached bounds (a new thread reusing TLS, fork child).
void thread_stack_reset();

// Stack/global descriptions for reports (installed as the report hook).
void describe_stack_or_global(uptr addr);

// fork() handlers of the globals registry (asan_abi.cpp).
void globals_fork_prepare();
void globals_fork_parent();
void globals_fork_child();

}  // namespace ukasan
