#include "platform/print.h"

#include <stdio.h>

#include <atomic>

#include "platform/platform.h"

namespace ukasan {

static std::atomic<int> g_report_fd{2};

int report_fd() { return g_report_fd.load(std::memory_order_relaxed); }
void set_report_fd(int fd) { g_report_fd.store(fd, std::memory_order_relaxed); }

void report_vprintf(const char* fmt, va_list ap) {
  char buf[1024];
  int n = vsnprintf(buf, sizeof(buf), fmt, ap);
  if (n < 0) return;
  if (static_cast<uptr>(n) >= sizeof(buf)) n = sizeof(buf) - 1;
  const int fd = report_fd();
  if (UKASAN_LIKELY(write_all(fd, buf, static_cast<uptr>(n))) || fd == 2) return;
  // The report file failed (a full disk, /dev/full, a closed pipe): a report
  // must never be lost silently. Say so once, then report to stderr.
  set_report_fd(2);
  char note[128];
  int m = snprintf(note, sizeof(note), "ukasan: writing a report to fd %d failed; reporting to stderr from here on\n", fd);
  write_all(2, note, m > 0 ? static_cast<uptr>(m) : 0);
  write_all(2, buf, static_cast<uptr>(n));
}

void report_printf(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  report_vprintf(fmt, ap);
  va_end(ap);
}

}  // namespace ukasan
