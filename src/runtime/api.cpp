// kasan_check_read/write (the kernel's kasan-checks.h) and runtime controls (<ukasan/ukasan.h>).
#include "ukasan/ukasan.h"
#include "platform/arch.h"
#include "platform/options.h"
#include "platform/print.h"
#include "report/report.h"
#include "runtime/runtime.h"
#include "shadow/shadow.h"
#include "slab/slab.h"

namespace ukasan {

// The generic check: null and wild addresses first, then the shadow.
UKASAN_ALWAYS_INLINE static bool check_range(uptr addr, uptr size, bool is_write, uptr ip) {
  if (UKASAN_UNLIKELY(size == 0)) return true;
  if (UKASAN_LIKELY(classify_range(addr, size) == kRangeShadowed && range_accessible(addr, size))) return true;
  report_access(addr, size, is_write, ip);
  return false;
}
}  // namespace ukasan

using namespace ukasan;

UKASAN_EXPORT bool kasan_check_read(const volatile void* p, unsigned int size) {
  runtime_init();
  return check_range(reinterpret_cast<uptr>(p), size, false, UKASAN_RET_IP);
}

UKASAN_EXPORT bool kasan_check_write(const volatile void* p, unsigned int size) {
  runtime_init();
  return check_range(reinterpret_cast<uptr>(p), size, true, UKASAN_RET_IP);
}

UKASAN_EXPORT int ukasan_set_options(const char* opts) {
  runtime_init();
  u64 before = options().quarantine_size_mb, cache_before = options().quarantine_cache_kb;
  int errors = options_parse(opts, /*at_runtime=*/true);
  if (options().quarantine_size_mb != before || options().quarantine_cache_kb != cache_before)
    slab_set_quarantine(options_quarantine_bytes(), options().quarantine_cache_kb << 10);
  report_init();
  return errors;
}

UKASAN_EXPORT void ukasan_get_stats(struct ukasan_stats* out) {
  runtime_init();
  runtime_stats(out);
}

UKASAN_EXPORT unsigned ukasan_check_quarantine(void) {
  runtime_init();
  return quarantine_check();
}

UKASAN_EXPORT void ukasan_quarantine_drain(void) {
  runtime_init();
  quarantine_drain_all();
}

UKASAN_EXPORT void ukasan_set_report_fd(int fd) { set_report_fd(fd); }

UKASAN_EXPORT uint64_t ukasan_report_count(void) { return report_count(); }
