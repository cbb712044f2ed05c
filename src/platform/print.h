// Report printing: formats into a stack buffer (no heap) and writes to the
// report fd (stderr or UKASAN_OPTIONS log_path). Between report_buffer_begin
// and report_buffer_end (report.cpp, under its report lock) the output is
// gathered and written in one write(2): reports of concurrent threads and
// of other processes sharing the file do not interleave. Outside, each
// call is one write(2).
#pragma once
#include <stdarg.h>
#include "platform/types.h"

namespace ukasan {
int report_fd();
void set_report_fd(int fd);
void report_printf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void report_vprintf(const char* fmt, va_list ap);
// n bytes as they are (no length limit, unlike report_printf's 1 KiB).
void report_write(const char* s, uptr n);
// Until report_capture_end (which returns the length), this thread's
// report output goes to buf instead (cut at cap - 1 bytes, NUL-terminated):
// text that a JSON report carries as a string.
void report_capture_begin(char* buf, uptr cap);
uptr report_capture_end();
void report_buffer_begin();
void report_buffer_end();
// Called with each report's text after it is written (ASan's
// __asan_set_error_report_callback); null: none.
void report_set_text_hook(void (*hook)(const char*));
}  // namespace ukasan
