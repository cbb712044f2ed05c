// Report printing: formats into a stack buffer (no heap) and writes to the
// report fd (stderr or UKASAN_OPTIONS log_path). Each call is one write(2), so
// lines from concurrent reports never interleave mid-line; report.cpp holds a
// report lock so whole reports do not interleave either.
#pragma once
#include <stdarg.h>
#include "platform/types.h"

namespace ukasan {
int report_fd();
void set_report_fd(int fd);
void report_printf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void report_vprintf(const char* fmt, va_list ap);
}  // namespace ukasan
