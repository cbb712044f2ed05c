#include "platform/print.h"

#include <stdio.h>

#include <atomic>

#include "platform/platform.h"

namespace ukasan {

static std::atomic<int> g_report_fd{2};

int report_fd() { return g_report_fd.load(std::memory_order_relaxed); }
void set_report_fd(int fd) { g_report_fd.store(fd, std::memory_order_relaxed); }

static void write_out(const char* buf, uptr n) {
  const int fd = report_fd();
  if (UKASAN_LIKELY(write_all(fd, buf, n)) || fd == 2) return;
  // The report file failed (a full disk, /dev/full, a closed pipe): a report
  // must never be lost silently. Say so once, then report to stderr.
  set_report_fd(2);
  char note[128];
  int m = snprintf(note, sizeof(note), "ukasan: writing a report to fd %d failed; reporting to stderr from here on\n", fd);
  write_all(2, note, m > 0 ? static_cast<uptr>(m) : 0);
  write_all(2, buf, n);
}

// A report is gathered here and written in one write(2) when it ends (or
// when it outgrows the buffer): with a log or a terminal shared by several
// processes, reports do not interleave. One thread fills it at a time: the
// one holding the report lock (report.cpp), which alone has t_buffering set.
static char g_report_buf[64 << 10];
static uptr g_report_len;
static UKASAN_TLS bool t_buffering;

static std::atomic<void (*)(const char*)> g_text_hook{nullptr};
void report_set_text_hook(void (*hook)(const char*)) { g_text_hook.store(hook, std::memory_order_release); }

static void flush_buffer() {
  if (!g_report_len) return;
  write_out(g_report_buf, g_report_len);
  // The user's callback sees what was written (the whole report unless it
  // outgrew the buffer: then its last part), as text.
  if (void (*hook)(const char*) = g_text_hook.load(std::memory_order_acquire)) {
    const uptr n = g_report_len < sizeof(g_report_buf) ? g_report_len : sizeof(g_report_buf) - 1;
    g_report_buf[n] = 0;
    hook(g_report_buf);
  }
  g_report_len = 0;
}

void report_buffer_begin() {
  g_report_len = 0;
  t_buffering = true;
}

void report_buffer_end() {
  flush_buffer();
  t_buffering = false;
}

// report_capture_begin's buffer, while one is set on this thread.
struct Capture {
  char* buf;
  uptr cap, len;
};
static UKASAN_TLS Capture* t_capture;

void report_capture_begin(char* buf, uptr cap) {
  static UKASAN_TLS Capture c;
  c = Capture{buf, cap, 0};
  if (cap) buf[0] = 0;
  t_capture = &c;
}

uptr report_capture_end() {
  const uptr n = t_capture ? t_capture->len : 0;
  t_capture = nullptr;
  return n;
}

void report_write(const char* s, uptr n) {
  if (Capture* c = t_capture) {  // kept whole or cut at the buffer's end
    const uptr room = c->cap > c->len ? c->cap - c->len - 1 : 0;
    const uptr k = n < room ? n : room;
    __builtin_memcpy(c->buf + c->len, s, k);
    c->len += k;
    if (c->cap) c->buf[c->len] = 0;
    return;
  }
  if (!t_buffering) {
    write_out(s, n);
    return;
  }
  if (g_report_len + n > sizeof(g_report_buf)) flush_buffer();
  if (n > sizeof(g_report_buf)) {
    write_out(s, n);
    return;
  }
  __builtin_memcpy(g_report_buf + g_report_len, s, n);
  g_report_len += n;
}

void report_vprintf(const char* fmt, va_list ap) {
  char buf[1024];
  int n = vsnprintf(buf, sizeof(buf), fmt, ap);
  if (n < 0) return;
  if (static_cast<uptr>(n) >= sizeof(buf)) n = sizeof(buf) - 1;
  report_write(buf, static_cast<uptr>(n));
}

void report_printf(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  report_vprintf(fmt, ap);
  va_end(ap);
}

}  // namespace ukasan
