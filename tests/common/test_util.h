// Shared helpers for ukasan's GoogleTest suites.
#pragma once
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "ukasan/ukasan.h"

namespace ukasan_test {

// A periodic signal aimed at the calling thread (a per-thread timer, CPU-
// independent): `handler` runs on it every period_ns once start() is
// called, interrupting whatever the thread does. stop() (or destruction)
// disarms it and ignores the signal from then on.
class ThreadTimer {
 public:
  ThreadTimer(int signo, void (*handler)(int), long period_ns) : signo_(signo), period_ns_(period_ns) {
    struct sigaction sa = {};
    sa.sa_handler = handler;
    sa.sa_flags = SA_RESTART;
    struct sigevent sev = {};
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = signo;
    sev._sigev_un._tid = static_cast<pid_t>(syscall(SYS_gettid));
    ok_ = sigaction(signo, &sa, nullptr) == 0 && timer_create(CLOCK_MONOTONIC, &sev, &timer_) == 0;
  }
  ~ThreadTimer() { stop(); }
  bool ok() const { return ok_; }
  bool start() {
    struct itimerspec its = {{0, period_ns_}, {0, period_ns_}};
    return ok_ && timer_settime(timer_, 0, &its, nullptr) == 0;
  }
  void stop() {
    if (!ok_) return;
    struct itimerspec off = {};
    timer_settime(timer_, 0, &off, nullptr);
    timer_delete(timer_);
    signal(signo_, SIG_IGN);
    ok_ = false;
  }

 private:
  int signo_;
  long period_ns_;
  timer_t timer_{};
  bool ok_ = false;
};

// Splits text into lines (without the newlines; a last unterminated line counts).
inline std::vector<std::string> split_lines(const std::string& t) {
  std::vector<std::string> v;
  size_t s = 0;
  while (s < t.size()) {
    size_t e = t.find('\n', s);
    if (e == std::string::npos) e = t.size();
    v.push_back(t.substr(s, e - s));
    s = e + 1;
  }
  return v;
}

// The "BUG: KASAN: ..." header lines of report text, in order.
inline std::vector<std::string> kasan_headers(const std::string& text) {
  std::vector<std::string> v;
  for (const std::string& l : split_lines(text))
    if (l.rfind("BUG: KASAN: ", 0) == 0 || (l.rfind("BUG ", 0) == 0 && l.find(" (Not tainted): ") != std::string::npos))
      v.push_back(l);
  return v;
}

// A header without its "+0xOFF/0xSIZE" (the kernel's %pS: compiler-dependent
// numbers); "<malformed>" when the header does not end in that shape.
inline std::string without_offset(const std::string& header) {
  const size_t plus = header.rfind("+0x");
  const size_t slash = header.rfind("/0x");
  if (plus == std::string::npos || slash == std::string::npos || slash < plus) return "<malformed>";
  for (size_t i = plus + 3; i < header.size(); i++)
    if (i != slash && !(i > slash && i < slash + 3) && !isxdigit(static_cast<unsigned char>(header[i])))
      return "<malformed>";
  return header.substr(0, plus);
}

// Collects everything the runtime reports while in scope.
class ReportCapture {
 public:
  ReportCapture() {
    fd_ = memfd_create("ukasan-report", 0);
    ukasan_set_report_fd(fd_);
  }
  ~ReportCapture() {
    ukasan_set_report_fd(2);
    close(fd_);
  }
  std::string text() const {
    std::string out;
    off_t end = lseek(fd_, 0, SEEK_END);
    out.resize(static_cast<size_t>(end));
    if (end > 0) pread(fd_, out.data(), out.size(), 0);
    return out;
  }
  std::vector<std::string> lines() const { return split_lines(text()); }
  // The "BUG: KASAN: ..." lines, in order.
  std::vector<std::string> headers() const { return kasan_headers(text()); }

 private:
  int fd_;
};

// Reports are expected in these tests: print every one, do not change the
// exit status.
// Every report printed: tests make many bugs at one code location (a helper).
inline void expect_reports_mode() { ukasan_set_options("multi_shot=1:dedup_reports=0:exitcode=0:fault=report"); }

}  // namespace ukasan_test
