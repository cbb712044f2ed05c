// ASan's user interface on ukasan's shadow: manual poisoning (ASan's
// "use-after-poison"), container annotations ("container-overflow"), stack
// traces, address descriptions, fibers, the death callback. Code built
// with -fsanitize=kernel-address sees __SANITIZE_ADDRESS__ and calls these.
//
// The shadow says "the first k bytes of this granule are accessible"
// (0: all 8, negative: none), nothing finer. Poisoning a range therefore
// shrinks a granule's accessible prefix when the range covers its tail and
// leaves the granule alone when the range is a hole in the middle (ASan's
// rule: it "may poison only a subregion"); unpoisoning grows the prefix to
// the range's end, which may also open bytes before the range's start in
// that granule. Either way a wrong guess can only miss a bug, never report
// an access the program was allowed to make.
#include <atomic>

#include "instrumentation/asan_interface.h"
#include "instrumentation/instrumentation.h"
#include "platform/arch.h"
#include "platform/print.h"
#include "report/report.h"
#include "shadow/shadow.h"

namespace ukasan {
namespace {

unsigned prefix_of(u8 v) {
  const s8 sv = static_cast<s8>(v);
  return sv == 0 ? 8 : sv > 0 ? static_cast<unsigned>(sv) : 0;
}

// [a, e) has shadow and is not empty.
bool shadowed(uptr a, uptr e) { return e > a && classify_range(a, e - a) == kRangeShadowed; }

void poison_range(uptr a, uptr e, u8 code) {
  if (!shadowed(a, e)) return;
  for (uptr g = round_down(a, kGranule); g < e; g += kGranule) {
    u8* s = mem_to_shadow(g);
    const unsigned have = prefix_of(*s);
    const unsigned p0 = static_cast<unsigned>((a > g ? a : g) - g);
    const unsigned p1 = static_cast<unsigned>((e < g + kGranule ? e : g + kGranule) - g);
    if (have == 0 || p1 < have) continue;  // nothing to take, or a hole the shadow cannot say
    const unsigned keep = p0 < have ? p0 : have;
    *s = keep == 0 ? code : static_cast<u8>(keep);
  }
}

void unpoison_range(uptr a, uptr e) {
  if (!shadowed(a, e)) return;
  for (uptr g = round_down(a, kGranule); g < e; g += kGranule) {
    u8* s = mem_to_shadow(g);
    const unsigned p1 = static_cast<unsigned>((e < g + kGranule ? e : g + kGranule) - g);
    const unsigned have = prefix_of(*s);
    const unsigned want = p1 > have ? p1 : have;
    *s = want == kGranule ? 0 : static_cast<u8>(want);
  }
}

}  // namespace
}  // namespace ukasan

using namespace ukasan;

UKASAN_EXPORT void __asan_poison_memory_region(void const volatile* addr, uptr size) {
  const uptr a = reinterpret_cast<uptr>(addr);
  poison_range(a, a + size, kShadowUserPoison);
}

UKASAN_EXPORT void __asan_unpoison_memory_region(void const volatile* addr, uptr size) {
  const uptr a = reinterpret_cast<uptr>(addr);
  unpoison_range(a, a + size);
}

UKASAN_EXPORT int __asan_address_is_poisoned(void const volatile* addr) {
  const uptr a = reinterpret_cast<uptr>(addr);
  return classify_range(a, 1) == kRangeShadowed && byte_is_poisoned(a);
}

UKASAN_EXPORT void* __asan_region_is_poisoned(void* beg, uptr size) {
  const uptr a = reinterpret_cast<uptr>(beg);
  if (size == 0 || classify_range(a, size) != kRangeShadowed) return nullptr;
  return reinterpret_cast<void*>(find_first_bad(a, size));
}

UKASAN_EXPORT void __asan_describe_address(void* addr) { report_describe_address(reinterpret_cast<uptr>(addr)); }

UKASAN_EXPORT void __sanitizer_print_stack_trace() { report_stack_trace(UKASAN_RET_IP); }

UKASAN_EXPORT void __sanitizer_set_death_callback(void (*callback)()) { report_set_death_callback(callback); }

// [beg, end) is a container's storage, [beg, new_mid) its elements: the rest
// becomes inaccessible. A last granule the storage shares with whatever
// follows it is left accessible (poisoning it would poison that too).
UKASAN_EXPORT void __sanitizer_annotate_contiguous_container(const void* beg, const void* end, const void*,
                                                             const void* new_mid) {
  const uptr b = reinterpret_cast<uptr>(beg), e = reinterpret_cast<uptr>(end), m = reinterpret_cast<uptr>(new_mid);
  if (e <= b || m < b || m > e) return;
  const uptr stop = round_down(e, kGranule);
  unpoison_range(b, m);
  if (stop > m) poison_range(m, stop, kShadowContainerOverflow);
}

UKASAN_EXPORT int __sanitizer_verify_contiguous_container(const void* beg, const void* mid, const void* end) {
  const uptr b = reinterpret_cast<uptr>(beg), m = reinterpret_cast<uptr>(mid), e = reinterpret_cast<uptr>(end);
  if (e < b || m < b || m > e) return 0;
  if (m > b && (!shadowed(b, m) || find_first_bad(b, m - b))) return 0;
  const uptr stop = round_down(e, kGranule);
  for (uptr x = round_up(m, kGranule); x < stop; x += kGranule)
    if (!byte_is_poisoned(x)) return 0;
  return 1;
}

// Double-ended containers (std::deque): [storage_beg, storage_end) is the
// storage, [new_beg, new_end) the elements. The shadow can only close a
// granule's tail: the granule where the elements start stays open before
// new_beg (a miss, never a false report).
UKASAN_EXPORT void __sanitizer_annotate_double_ended_contiguous_container(const void* storage_beg,
                                                                          const void* storage_end, const void*,
                                                                          const void*, const void* new_beg,
                                                                          const void* new_end) {
  const uptr sb = reinterpret_cast<uptr>(storage_beg), se = reinterpret_cast<uptr>(storage_end);
  const uptr nb = reinterpret_cast<uptr>(new_beg), ne = reinterpret_cast<uptr>(new_end);
  if (se <= sb || nb < sb || ne > se || ne < nb) return;
  const uptr stop = round_down(se, kGranule);
  const uptr front = round_down(nb, kGranule);  // granules wholly before the elements
  if (front > sb) poison_range(sb, front, kShadowContainerOverflow);
  if (ne > nb) unpoison_range(nb > front ? front : nb, ne);
  if (stop > ne) poison_range(ne, stop, kShadowContainerOverflow);
}

UKASAN_EXPORT int __sanitizer_verify_double_ended_contiguous_container(const void* storage_beg, const void* beg,
                                                                       const void* end, const void* storage_end) {
  const uptr sb = reinterpret_cast<uptr>(storage_beg), b = reinterpret_cast<uptr>(beg);
  const uptr e = reinterpret_cast<uptr>(end), se = reinterpret_cast<uptr>(storage_end);
  if (se < sb || b < sb || e > se || e < b) return 0;
  for (uptr x = round_up(sb, kGranule); x < round_down(b, kGranule); x += kGranule)  // granules wholly before
    if (!byte_is_poisoned(x)) return 0;
  return __sanitizer_verify_contiguous_container(reinterpret_cast<const void*>(b), end, storage_end);
}

// One crash report per process (libFuzzer asks before printing its own):
// true for the first caller only.
UKASAN_EXPORT int __sanitizer_acquire_crash_state() {
  static std::atomic<int> taken{0};
  return taken.exchange(1, std::memory_order_acq_rel) == 0;
}

UKASAN_EXPORT void __asan_set_error_report_callback(void (*callback)(const char*)) { report_set_text_hook(callback); }

UKASAN_EXPORT void __sanitizer_start_switch_fiber(void** fake_stack_save, const void* bottom, uptr size) {
  if (fake_stack_save) *fake_stack_save = nullptr;  // no fake stacks (no use-after-return instrumentation)
  note_fiber_stack(reinterpret_cast<uptr>(bottom), size);
}

UKASAN_EXPORT void __sanitizer_finish_switch_fiber(void*, const void** bottom_old, uptr* size_old) {
  if (bottom_old) *bottom_old = nullptr;
  if (size_old) *size_old = 0;
}
