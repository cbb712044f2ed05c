// The entry points that -fsanitize=kernel-address code calls (GCC 12 and
// clang 14; the kernel's mm/kasan/generic.c and shadow.c ABI, user-space
// shadow offset 0x7fff8000):
//   outline:  __asan_{load,store}{1,2,4,8,16,N}_noabort (and the plain names)
//   inline:   __asan_report_{load,store}{1,2,4,8,16}_noabort,
//             __asan_report_{load,store}_n_noabort (and the plain names)
//   stack:    __asan_alloca_poison, __asan_allocas_unpoison,
//             __asan_set_shadow_{00,f1,f2,f3,f5,f8},
//             __asan_poison_stack_memory, __asan_unpoison_stack_memory
//             (__asan_handle_no_return: stack.cpp)
//   globals:  __asan_register_globals, __asan_unregister_globals,
//             __asan_before_dynamic_init, __asan_after_dynamic_init
//   mem:      __asan_memcpy, __asan_memmove, __asan_memset (interceptors.cpp)
#include <string.h>

#include <atomic>

#include "instrumentation/asan_interface.h"
#include "instrumentation/instrumentation.h"
#include "platform/lock.h"
#include "platform/print.h"
#include "report/report.h"
#include "shadow/shadow.h"
#include "runtime/runtime.h"
#include "symbolize/symbolizer.h"

namespace ukasan {

std::atomic<bool> g_instr_ready{false};
UKASAN_TLS bool t_fault_reported;

// Precise check, slow path: null, wild, then the exact first bad byte.
UKASAN_NOINLINE static void check_slow(uptr addr, uptr size, bool is_write, uptr ip) {
  if (UKASAN_UNLIKELY(!g_instr_ready.load(std::memory_order_acquire))) instr_init();
  if (classify_range(addr, size) != kRangeShadowed) {
    t_fault_reported = true;
    report_access(addr, size, is_write, ip);
    return;
  }
  if (!range_accessible(addr, size)) report_access(addr, size, is_write, ip);
}

// Fast path for 1..16 bytes: both end granules (and the middle one for 16)
// fully accessible. Unaligned accesses are checked exactly.
template <uptr N>
UKASAN_ALWAYS_INLINE static void check_n(uptr addr, bool is_write, uptr ip) {
  if (UKASAN_LIKELY(g_instr_ready.load(std::memory_order_relaxed) && classify_range(addr, N) == kRangeShadowed)) {
    u8 a = *mem_to_shadow(addr), b = *mem_to_shadow(addr + N - 1);
    if (N <= 8) {
      if (UKASAN_LIKELY((a | b) == 0)) return;
      // One granule, partially accessible: the compiler's own rule.
      if ((addr >> kShadowScale) == ((addr + N - 1) >> kShadowScale) && static_cast<s8>(a) > 0 &&
          static_cast<s8>((addr + N - 1) & (kGranule - 1)) < static_cast<s8>(a))
        return;
    } else {
      if (UKASAN_LIKELY((a | b | *mem_to_shadow(addr + 8)) == 0)) return;
    }
  }
  check_slow(addr, N, is_write, ip);
}

// ---- globals --------------------------------------------------------------------

// struct kasan_global (ABI of both compilers: 8 words).
struct AsanGlobal {
  uptr beg;
  uptr size;
  uptr size_with_redzone;
  const char* name;
  const char* module_name;
  uptr has_dynamic_init;
  void* location;
  uptr odr_indicator;
};

namespace {
struct GlobalsRange {
  AsanGlobal* g;
  uptr n;
};
constexpr unsigned kMaxGlobalRanges = 8192;
GlobalsRange g_globals[kMaxGlobalRanges];
std::atomic<unsigned> g_nglobals{0};
Lock g_globals_lock;
}  // namespace

// fork(): a dlopen/dlclose in another thread may hold the lock; the child
// (which may dlopen an instrumented library) must not inherit it held.
// Registered by instr_init, after the runtime's handlers, so its prepare
// runs first: the globals lock is never taken with a runtime lock held.
void globals_fork_prepare() {
  if (!in_report() && fork_locks_decide()) g_globals_lock.lock();
}
void globals_fork_parent() {
  if (!in_report() && fork_locks_taken()) g_globals_lock.unlock();
}
void globals_fork_child() {
  if (!in_report() && fork_locks_taken()) g_globals_lock.reset();
}

static bool global_sane(const AsanGlobal& g) {
  return g.size <= g.size_with_redzone && addr_has_shadow(g.beg) && g.beg % kGranule == 0 &&
         (g.size_with_redzone == 0 || addr_has_shadow(g.beg + g.size_with_redzone - 1));
}

static void register_globals(AsanGlobal* gs, uptr n) {
  for (uptr i = 0; i < n; i++) {
    const AsanGlobal& g = gs[i];
    if (!global_sane(g)) continue;
    unpoison(g.beg, g.size);
    uptr aligned = round_up(g.size, kGranule);
    if (g.size_with_redzone > aligned) poison(g.beg + aligned, g.size_with_redzone - aligned, kShadowGlobalRedzone);
  }
  g_globals_lock.lock();
  unsigned k = g_nglobals.load(std::memory_order_relaxed);
  if (k < kMaxGlobalRanges) {
    g_globals[k] = {gs, n};
    g_nglobals.store(k + 1, std::memory_order_release);
  }
  g_globals_lock.unlock();
}

static void unregister_globals(AsanGlobal* gs, uptr n) {
  g_globals_lock.lock();
  unsigned k = g_nglobals.load(std::memory_order_relaxed);
  for (unsigned i = 0; i < k; i++) {
    if (g_globals[i].g != gs) continue;
    g_globals[i] = g_globals[k - 1];
    g_nglobals.store(k - 1, std::memory_order_release);
    break;
  }
  g_globals_lock.unlock();
  // The module goes away (dlclose): its memory may be reused by anything.
  for (uptr i = 0; i < n; i++)
    if (global_sane(gs[i])) shadow_clear(gs[i].beg, gs[i].beg + gs[i].size_with_redzone);
}

static const AsanGlobal* find_global(uptr addr) {
  unsigned k = g_nglobals.load(std::memory_order_acquire);
  const AsanGlobal* best = nullptr;
  for (unsigned i = 0; i < k; i++) {
    const GlobalsRange& r = g_globals[i];
    for (uptr j = 0; j < r.n; j++) {
      const AsanGlobal& g = r.g[j];
      if (addr >= g.beg && addr < g.beg + g.size_with_redzone) return &g;
      // A left overflow lands in the previous variable's redzone: remember
      // the nearest variable to the right too.
      if (addr < g.beg && g.beg - addr <= 64 && (!best || g.beg < best->beg)) best = &g;
    }
  }
  return best;
}

// ---- stack frames ---------------------------------------------------------------

constexpr uptr kFrameMagic = 0x41B58AB3;  // both compilers' frame descriptor magic

static void describe_frame(uptr addr) {
  // The frame starts with its left redzone (0xF1); its first words are the
  // magic, the description string and the function's pc.
  uptr a = round_down(addr, kGranule);
  uptr limit = a > (64u << 10) ? a - (64u << 10) : 0;
  while (a > limit && addr_has_shadow(a) && *mem_to_shadow(a) != kShadowStackLeft) a -= kGranule;
  if (!addr_has_shadow(a) || *mem_to_shadow(a) != kShadowStackLeft) return;
  while (a > limit && addr_has_shadow(a - kGranule) && *mem_to_shadow(a - kGranule) == kShadowStackLeft)
    a -= kGranule;
  const uptr* frame = reinterpret_cast<const uptr*>(a);
  if (frame[0] != kFrameMagic) return;
  const char* descr = reinterpret_cast<const char*>(frame[1]);
  uptr pc = frame[2];
  char fn[256];
  function_title_for_pc(pc + 1, fn, sizeof(fn));  // the kernel's %pS (pc itself, not a return address)
  report_printf(" and is located at offset %lu in frame:\n %s\n", static_cast<unsigned long>(addr - a),
                fn[0] ? fn : "?");
  if (!descr || !addr_has_shadow(reinterpret_cast<uptr>(descr))) return;
  // "N off size namelen name[:line] ..."
  char* p;
  unsigned long nobj = strtoul(descr, &p, 10);
  if (nobj == 0 || nobj > 256) return;
  report_printf("\nThis frame has %lu object%s:\n", nobj, nobj == 1 ? "" : "s");
  for (unsigned long i = 0; i < nobj; i++) {
    unsigned long off = strtoul(p, &p, 10), sz = strtoul(p, &p, 10), len = strtoul(p, &p, 10);
    if (*p == ' ') p++;
    if (len > 200) return;
    report_printf(" [%lu, %lu) '%.*s'\n", off, off + sz, static_cast<int>(len), p);
    p += len;
  }
}

void describe_stack_or_global(uptr addr) {
  if (!addr_has_shadow(addr)) return;
  u8 v = *mem_to_shadow(addr);
  if (v > 0 && v < kGranule) v = *mem_to_shadow(addr + kGranule);
  switch (v) {
    case kShadowStackLeft:
    case kShadowStackMid:
    case kShadowStackRight:
    case kShadowStackAfterReturn:
    case kShadowStackUseAfterScope:
    case kShadowAllocaLeft:
    case kShadowAllocaRight: {
      char comm[32];
      current_comm(comm, sizeof(comm));
      report_printf("The buggy address belongs to stack of task %s/%d\n", comm, current_tid());
      if (v != kShadowAllocaLeft && v != kShadowAllocaRight) describe_frame(addr);
      report_printf("\n");
      return;
    }
    default:
      break;
  }
  if (const AsanGlobal* g = find_global(addr)) {
    report_printf("The buggy address belongs to the variable:\n %s+0x%lx/0x%lx\n", g->name ? g->name : "?",
                  static_cast<unsigned long>(addr - g->beg), static_cast<unsigned long>(g->size_with_redzone));
    if (addr < g->beg || addr >= g->beg + g->size)
      report_printf("The buggy address is located %lu bytes %s the %lu-byte variable '%s' of %s\n",
                    static_cast<unsigned long>(addr < g->beg ? g->beg - addr : addr - (g->beg + g->size)),
                    addr < g->beg ? "to the left of" : "to the right of", static_cast<unsigned long>(g->size),
                    g->name ? g->name : "?", g->module_name ? g->module_name : "?");
    report_printf("\n");
  }
}

}  // namespace ukasan

using namespace ukasan;

// ---- loads and stores -------------------------------------------------------------

// The inline checks' report calls: the access is known to be bad.
static UKASAN_NOINLINE void report_n(uptr addr, uptr size, bool is_write, uptr ip) {
  runtime_init();
  report_access(addr, size, is_write, ip);
}
#define UKASAN_DEFINE_ACCESS(n)                                                                               \
  UKASAN_EXPORT void __asan_load##n##_noabort(uptr addr) { check_n<n>(addr, false, UKASAN_RET_IP); }         \
  UKASAN_EXPORT void __asan_store##n##_noabort(uptr addr) { check_n<n>(addr, true, UKASAN_RET_IP); }         \
  UKASAN_EXPORT void __asan_load##n(uptr addr) { check_n<n>(addr, false, UKASAN_RET_IP); }                   \
  UKASAN_EXPORT void __asan_store##n(uptr addr) { check_n<n>(addr, true, UKASAN_RET_IP); }                   \
  UKASAN_EXPORT void __asan_report_load##n##_noabort(uptr addr) { report_n(addr, n, false, UKASAN_RET_IP); } \
  UKASAN_EXPORT void __asan_report_store##n##_noabort(uptr addr) { report_n(addr, n, true, UKASAN_RET_IP); } \
  UKASAN_EXPORT void __asan_report_load##n(uptr addr) { report_n(addr, n, false, UKASAN_RET_IP); }           \
  UKASAN_EXPORT void __asan_report_store##n(uptr addr) { report_n(addr, n, true, UKASAN_RET_IP); }

UKASAN_DEFINE_ACCESS(1)
UKASAN_DEFINE_ACCESS(2)
UKASAN_DEFINE_ACCESS(4)
UKASAN_DEFINE_ACCESS(8)
UKASAN_DEFINE_ACCESS(16)

static UKASAN_ALWAYS_INLINE void check_any(uptr addr, uptr size, bool is_write, uptr ip) {
  if (UKASAN_UNLIKELY(size == 0)) return;
  if (UKASAN_LIKELY(g_instr_ready.load(std::memory_order_relaxed) && classify_range(addr, size) == kRangeShadowed &&
                    range_accessible(addr, size)))
    return;
  check_slow(addr, size, is_write, ip);
}

UKASAN_EXPORT void __asan_loadN_noabort(uptr addr, uptr size) { check_any(addr, size, false, UKASAN_RET_IP); }
UKASAN_EXPORT void __asan_storeN_noabort(uptr addr, uptr size) { check_any(addr, size, true, UKASAN_RET_IP); }
UKASAN_EXPORT void __asan_loadN(uptr addr, uptr size) { check_any(addr, size, false, UKASAN_RET_IP); }
UKASAN_EXPORT void __asan_storeN(uptr addr, uptr size) { check_any(addr, size, true, UKASAN_RET_IP); }
UKASAN_EXPORT void __asan_report_load_n_noabort(uptr addr, uptr size) { report_n(addr, size, false, UKASAN_RET_IP); }
UKASAN_EXPORT void __asan_report_store_n_noabort(uptr addr, uptr size) { report_n(addr, size, true, UKASAN_RET_IP); }
UKASAN_EXPORT void __asan_report_load_n(uptr addr, uptr size) { report_n(addr, size, false, UKASAN_RET_IP); }
UKASAN_EXPORT void __asan_report_store_n(uptr addr, uptr size) { report_n(addr, size, true, UKASAN_RET_IP); }

// ---- globals --------------------------------------------------------------------

UKASAN_EXPORT void __asan_register_globals(void* globals, uptr n) {
  instr_init();  // compilers' module constructors may run before ours
  register_globals(static_cast<AsanGlobal*>(globals), n);
}
UKASAN_EXPORT void __asan_unregister_globals(void* globals, uptr n) {
  if (!g_instr_ready.load(std::memory_order_acquire)) return;
  unregister_globals(static_cast<AsanGlobal*>(globals), n);
}
// C++ dynamic initialisation order checking: not a KASAN feature.
UKASAN_EXPORT void __asan_before_dynamic_init(const char*) {}
UKASAN_EXPORT void __asan_after_dynamic_init() {}

// ---- stack ----------------------------------------------------------------------

// Dynamic allocas (32-byte aligned, 32-byte redzones on both sides).
constexpr uptr kAllocaRz = 32;

UKASAN_EXPORT void __asan_alloca_poison(uptr addr, uptr size) {
  if (!g_instr_ready.load(std::memory_order_acquire)) instr_init();
  uptr left = addr - kAllocaRz;
  uptr partial = round_down(addr + size, kAllocaRz);
  uptr right = round_up(addr + size, kAllocaRz);
  poison(left, kAllocaRz, kShadowAllocaLeft);
  // [partial, right): the accessible tail of the object, then 0xCB.
  poison(partial, right - partial, kShadowAllocaRight);
  if (addr + size > partial) unpoison(partial, addr + size - partial);
  poison(right, kAllocaRz, kShadowAllocaRight);
}

UKASAN_EXPORT void __asan_allocas_unpoison(uptr top, uptr bottom) {
  if (!top || top > bottom || !g_instr_ready.load(std::memory_order_acquire)) return;
  memset(mem_to_shadow(top), 0, (bottom - top) >> kShadowScale);
}

#define UKASAN_SET_SHADOW(xx, v) \
  UKASAN_EXPORT void __asan_set_shadow_##xx(uptr shadow, uptr size) { memset(reinterpret_cast<void*>(shadow), v, size); }
UKASAN_SET_SHADOW(00, 0)
UKASAN_SET_SHADOW(f1, 0xf1)
UKASAN_SET_SHADOW(f2, 0xf2)
UKASAN_SET_SHADOW(f3, 0xf3)
UKASAN_SET_SHADOW(f5, 0xf5)
UKASAN_SET_SHADOW(f8, 0xf8)

// Use-after-scope (older compilers emit calls instead of inline shadow stores).
UKASAN_EXPORT void __asan_poison_stack_memory(uptr addr, uptr size) {
  if (!g_instr_ready.load(std::memory_order_acquire)) instr_init();
  poison(round_down(addr, kGranule), size + (addr & (kGranule - 1)), kShadowStackUseAfterScope);
}
UKASAN_EXPORT void __asan_unpoison_stack_memory(uptr addr, uptr size) {
  if (!g_instr_ready.load(std::memory_order_acquire)) instr_init();
  unpoison(round_down(addr, kGranule), size + (addr & (kGranule - 1)));
}
