// kasan_check_read/write (the kernel's kasan-checks.h) and runtime controls (<ukasan/ukasan.h>).
#include "ukasan/ukasan.h"
#include "ukasan/kmemleak.h"

#include <stdio.h>
#include <unistd.h>

#include "kmemleak/kmemleak.h"
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
// kmemleak's warning for an annotation of a pointer it does not track.
static void report_unknown_leak_object(const void* ptr, const char* color, uptr ip) {
  char line[96];
  snprintf(line, sizeof(line), "kmemleak: Trying to color unknown object at 0x%08lx as %s",
           reinterpret_cast<unsigned long>(ptr), color);
  report_warning(line, ip);
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
  t_evict_ip = UKASAN_RET_IP;
  const unsigned n = quarantine_check();
  t_evict_ip = 0;
  return n;
}

UKASAN_EXPORT void ukasan_quarantine_drain(void) {
  runtime_init();
  t_evict_ip = UKASAN_RET_IP;
  quarantine_drain_all();
  t_evict_ip = 0;
}

UKASAN_EXPORT void ukasan_set_report_fd(int fd) { set_report_fd(fd); }

UKASAN_EXPORT uint64_t ukasan_report_count(void) { return report_count(); }

UKASAN_EXPORT const char* ukasan_version(void) { return UKASAN_VERSION_STRING; }

// ---- kmemleak (<ukasan/kmemleak.h>) and LeakSanitizer's interface ------------------------
// (<sanitizer/lsan_interface.h>: programs written for LSan run unchanged.)

UKASAN_EXPORT unsigned long ukasan_leak_scan(void) {
  runtime_init();
  return leak_scan(true).new_objects;
}

UKASAN_EXPORT void kmemleak_not_leak(const void* ptr) {
  runtime_init();
  if (ptr && !leak_set_flag(ptr, kMetaNoLeak, false)) report_unknown_leak_object(ptr, "Grey", UKASAN_RET_IP);
}

UKASAN_EXPORT void kmemleak_ignore(const void* ptr) {
  runtime_init();
  if (ptr && !leak_set_flag(ptr, kMetaNoScan, false)) report_unknown_leak_object(ptr, "Black", UKASAN_RET_IP);
}

UKASAN_EXPORT void kmemleak_alloc(const void* ptr, size_t size, int min_count, unsigned int /*gfp*/) {
  runtime_init();
  leak_register(ptr, size, min_count, UKASAN_RET_IP);
}

UKASAN_EXPORT void kmemleak_free(const void* ptr) {
  runtime_init();
  if (ptr && !leak_unregister(ptr)) {
    char line[96];
    snprintf(line, sizeof(line), "kmemleak: Freeing unknown object at 0x%08lx", reinterpret_cast<unsigned long>(ptr));
    report_warning(line, UKASAN_RET_IP);
  }
}

UKASAN_EXPORT void __lsan_ignore_object(const void* p) {
  runtime_init();
  if (p) leak_set_flag(p, kMetaNoLeak, true);
}

UKASAN_EXPORT void __lsan_register_root_region(const void* p, size_t size) {
  runtime_init();
  leak_add_root_region(p, size);
}

UKASAN_EXPORT void __lsan_unregister_root_region(const void* p, size_t size) {
  runtime_init();
  if (!leak_remove_root_region(p, size)) {
    char line[128];
    snprintf(line, sizeof(line), "__lsan_unregister_root_region(): region at 0x%lx of size %lu was not registered",
             reinterpret_cast<unsigned long>(p), static_cast<unsigned long>(size));
    report_warning(line, UKASAN_RET_IP);
  }
}

UKASAN_EXPORT void __lsan_disable(void) {
  runtime_init();
  leak_disable_thread();
}

UKASAN_EXPORT void __lsan_enable(void) {
  runtime_init();
  if (!leak_enable_thread()) report_warning("__lsan_enable called more times than __lsan_disable", UKASAN_RET_IP);
}

// The end-of-process check, now and once: a process that leaked exits with
// `exitcode` (the check at exit does not run again).
UKASAN_EXPORT void __lsan_do_leak_check(void) {
  runtime_init();
  if (!options().detect_leaks) return;
  if (runtime_leak_check_once() && options().exitcode != 0) {
    fflush(nullptr);
    _exit(options().exitcode);
  }
}

// Any number of times; nonzero if unreferenced objects exist (each is
// printed by the first scan that finds it).
UKASAN_EXPORT int __lsan_do_recoverable_leak_check(void) {
  runtime_init();
  if (!options().detect_leaks) return 0;
  return leak_scan(true).objects != 0;
}
