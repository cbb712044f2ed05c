// KUnit's KUNIT_EXPECT_KASAN_FAIL for ukasan's GoogleTest suites.
//
//   class MyTest : public ukasan_test::KasanTest {};
//   TEST_F(MyTest, UseAfterFree) {
//     ...
//     EXPECT_KASAN_REPORT(kasan_check_read(p, 1), "slab-use-after-free");
//   }
//
// Inside a KasanTest every report is captured; EXPECT_KASAN_REPORT(expr, type)
// expects expr to print exactly one report, whose header is
// "BUG: KASAN: <type> in ..." (or, for a pattern the heap found changed,
// SLUB debug's "BUG <cache> (Not tainted): <type>"), and claims it. A report no EXPECT claims (an
// unexpected report: a false positive, or a bug reported twice) fails the
// test when it ends, as does an EXPECT whose expr printed none.
//
// The fixture owns the report fd for the whole test: do not open a
// ReportCapture inside a KasanTest (its destructor sends reports to stderr).
// Keep death tests in a plain fixture: a forked child would print its report
// into this capture, not to the stderr the death test matches.
#pragma once
#include <gtest/gtest.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "test_util.h"

namespace ukasan_test {

class KasanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    expect_reports_mode();
    cap_ = std::make_unique<ReportCapture>();
  }
  void TearDown() override {
    EXPECT_EQ(unclaimed(), "") << "unexpected KASAN report(s), claimed by no EXPECT_KASAN_REPORT";
    cap_.reset();
  }

 public:
  // The text of the report(s) the last EXPECT_KASAN_REPORT claimed (for checks
  // beyond the header).
  std::string last_report() const { return last_; }
  // Its "BUG: KASAN: ..." line ("" if it printed none).
  std::string last_header() const {
    std::vector<std::string> h = kasan_headers(last_);
    return h.empty() ? std::string() : h[0];
  }
  // Everything captured so far.
  std::string report_text() const { return cap_->text(); }
  // What was printed since the last claim (must be "" when the test ends).
  std::string unclaimed() const { return cap_->text().substr(claimed_); }
  // Marks reports printed so far as expected (for tests that check them by hand).
  void claim_all() { claimed_ = cap_->text().size(); }

  // Used by EXPECT_KASAN_REPORT.
  size_t report_mark() const { return cap_->text().size(); }
  void expect_report(size_t mark, const char* type, const char* expr, const char* file, int line) {
    const std::string all = cap_->text();
    if (mark < claimed_) mark = claimed_;
    const std::string text = all.substr(mark);
    const std::vector<std::string> headers = kasan_headers(text);
    const std::string want = std::string("BUG: KASAN: ") + type + " in ";
    ::testing::ScopedTrace trace(file, line, std::string("EXPECT_KASAN_REPORT(") + expr + ", " + type + ")");
    if (headers.size() != 1)
      ADD_FAILURE() << "expected one KASAN report, got " << headers.size() << ":\n" << text;
    else if (headers[0].rfind(want, 0) != 0 && !slub_header_of(headers[0], type))
      ADD_FAILURE() << "expected a '" << type << "' report, got: " << headers[0] << "\n" << text;
    last_ = text;
    claimed_ = all.size();
  }

 private:
  // SLUB debug's "BUG <cache> (Not tainted): <type>" (a pattern found changed).
  static bool slub_header_of(const std::string& h, const char* type) {
    const std::string tail = std::string(" (Not tainted): ") + type;
    return h.rfind("BUG ", 0) == 0 && h.size() > tail.size() && h.compare(h.size() - tail.size(), tail.size(), tail) == 0;
  }
  std::unique_ptr<ReportCapture> cap_;
  size_t claimed_ = 0;
  std::string last_;
};

}  // namespace ukasan_test

// expr must print exactly one KASAN report of bug type `type` (a string).
#define EXPECT_KASAN_REPORT(expr, type)                                        \
  do {                                                                         \
    const size_t ukasan_report_mark_ = this->report_mark();                    \
    expr;                                                                      \
    this->expect_report(ukasan_report_mark_, type, #expr, __FILE__, __LINE__); \
  } while (0)
