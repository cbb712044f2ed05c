#include "platform/print.h"

#include <stdio.h>

#include "platform/platform.h"

namespace ukasan {

static int g_report_fd = 2;

int report_fd() { return g_report_fd; }
void set_report_fd(int fd) { g_report_fd = fd; }

void report_vprintf(const char* fmt, va_list ap) {
  char buf[1024];
  int n = vsnprintf(buf, sizeof(buf), fmt, ap);
  if (n < 0) return;
  if (static_cast<uptr>(n) >= sizeof(buf)) n = sizeof(buf) - 1;
  write_all(g_report_fd, buf, static_cast<uptr>(n));
}

void report_printf(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  report_vprintf(fmt, ap);
  va_end(ap);
}

}  // namespace ukasan
