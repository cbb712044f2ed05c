// Report format: the exact kernel header lines and the report's structure.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>
#include <string.h>

#include <regex>

#include "kasan_test.h"
#include "ukasan/slab.h"

namespace {

class ReportTest : public ukasan_test::KasanTest {};

// Death tests fork: the child's report must reach the stderr they match, not
// a KasanTest's capture.
class ReportDeathTest : public ::testing::Test {
 protected:
  void SetUp() override { ukasan_test::expect_reports_mode(); }
};

// No tail calls: the report must name these functions (as it names the
// function that makes an instrumented access).
__attribute__((noinline, noclone)) void read_at(const void* p, unsigned n) {
  kasan_check_read(p, n);
  asm volatile("" ::: "memory");
}
__attribute__((noinline, noclone)) void write_at(void* p, unsigned n) {
  kasan_check_write(p, n);
  asm volatile("" ::: "memory");
}

bool contains(const std::string& s, const std::string& what) { return s.find(what) != std::string::npos; }

TEST_F(ReportTest, SlabOutOfBoundsHeaderAndStructure) {
  char* p = static_cast<char*>(kmalloc(13, GFP_KERNEL));
  EXPECT_KASAN_REPORT(write_at(p + 13, 1), "slab-out-of-bounds");
  kfree(p);
  const std::string t = last_report();
  auto lines = ukasan_test::split_lines(t);
  ASSERT_GE(lines.size(), 10u) << t;
  EXPECT_EQ(lines[0], std::string(66, '='));
  EXPECT_EQ(ukasan_test::without_offset(lines[1]), "BUG: KASAN: slab-out-of-bounds in _anonymous_namespace___write_at") << t;
  EXPECT_TRUE(std::regex_match(lines[2], std::regex("Write of size 1 at addr [0-9a-f]{16} by task [^/]+/[0-9]+")))
      << lines[2];
  EXPECT_TRUE(contains(t, "\nCall Trace:\n")) << t;
  EXPECT_TRUE(contains(t, "report_test.cpp:")) << t;
  EXPECT_TRUE(contains(t, "\nAllocated by task ")) << t;
  EXPECT_FALSE(contains(t, "\nFreed by task ")) << t;
  EXPECT_TRUE(contains(t, " which belongs to the cache kmalloc-16 of size 16\n")) << t;
  EXPECT_TRUE(contains(t, "The buggy address is located 0 bytes to the right of\n allocated 13-byte region [")) << t;
  EXPECT_TRUE(contains(t, "Memory state around the buggy address:\n")) << t;
  // 5 shadow rows, one marked, a caret under the bad granule (00 05 -> the 05).
  int rows = 0, marked = 0;
  size_t caret_line = 0;
  for (size_t i = 0; i < lines.size(); i++) {
    if (std::regex_match(lines[i], std::regex("[ >][0-9a-f]{16}:( [0-9a-f]{2}){16}"))) {
      rows++;
      if (lines[i][0] == '>') {
        marked++;
        caret_line = i + 1;
      }
    }
  }
  EXPECT_EQ(rows, 5) << t;
  EXPECT_EQ(marked, 1) << t;
  ASSERT_LT(caret_line, lines.size());
  size_t col = lines[caret_line].find('^');
  ASSERT_NE(col, std::string::npos);
  EXPECT_EQ(lines[caret_line - 1].substr(col, 2), "05") << lines[caret_line - 1] << "\n" << lines[caret_line];
  EXPECT_EQ(lines.back(), std::string(66, '='));
}

TEST_F(ReportTest, SlabUseAfterFreeHasBothStacks) {
  struct kmem_cache* c = kmem_cache_create("report_uaf", 40, 0, 0, nullptr);
  char* p = static_cast<char*>(kmem_cache_alloc(c, GFP_KERNEL));
  kmem_cache_free(c, p);
  EXPECT_KASAN_REPORT(read_at(p + 8, 8), "slab-use-after-free");
  const std::string t = last_report();
  EXPECT_EQ(ukasan_test::without_offset(last_header()), "BUG: KASAN: slab-use-after-free in _anonymous_namespace___read_at");
  EXPECT_TRUE(contains(t, "Read of size 8 at addr ")) << t;
  EXPECT_TRUE(contains(t, "\nAllocated by task ")) << t;
  EXPECT_TRUE(contains(t, "\nFreed by task ")) << t;
  EXPECT_TRUE(contains(t, " which belongs to the cache report_uaf of size 40\n")) << t;
  EXPECT_TRUE(contains(t, "The buggy address is located 8 bytes inside of\n freed 40-byte region [")) << t;
  ukasan_quarantine_drain();
  kmem_cache_destroy(c);
}

TEST_F(ReportTest, LargeUseAfterFree) {
  char* p = static_cast<char*>(kmalloc(100000, GFP_KERNEL));
  ASSERT_NE(p, nullptr);
  p[99999] = 1;
  kfree(p);
  EXPECT_KASAN_REPORT(read_at(p + 5000, 4), "use-after-free");
}

TEST_F(ReportTest, LargeOutOfBounds) {
  char* p = static_cast<char*>(kmalloc(10000, GFP_KERNEL));
  EXPECT_KASAN_REPORT(write_at(p + 10000, 1), "slab-out-of-bounds");
  EXPECT_KASAN_REPORT(write_at(p - 1, 1), "slab-out-of-bounds");
  EXPECT_TRUE(contains(last_report(), "1 bytes to the left of")) << last_report();
  kfree(p);
}

__attribute__((noinline)) void free_twice(void* p) {
  kfree(p);
  kfree(p);
  asm volatile("" ::: "memory");
}

TEST_F(ReportTest, DoubleFree) {
  void* p = kmalloc(64, GFP_KERNEL);
  EXPECT_KASAN_REPORT(free_twice(p), "double-free");
  const std::string t = last_report();
  EXPECT_EQ(ukasan_test::without_offset(last_header()), "BUG: KASAN: double-free in _anonymous_namespace___free_twice");
  EXPECT_TRUE(std::regex_search(t, std::regex("\nFree of addr [0-9a-f]{16} by task "))) << t;
  EXPECT_TRUE(contains(t, "\nFreed by task ")) << t;
}

TEST_F(ReportTest, InvalidFreeOfStackAndInterior) {
  int on_stack = 0;
  EXPECT_KASAN_REPORT(kfree(&on_stack), "invalid-free");
  EXPECT_TRUE(contains(last_report(), "not allocated by ukasan")) << last_report();
  char* p = static_cast<char*>(kmalloc(64, GFP_KERNEL));
  EXPECT_KASAN_REPORT(kfree(p + 8), "invalid-free");
  EXPECT_TRUE(contains(last_report(), "not at the start of an object")) << last_report();
  kfree(p);
  EXPECT_EQ(unclaimed(), "") << "freeing the object itself is no bug";
}

TEST_F(ReportTest, NullAndWild) {
  EXPECT_KASAN_REPORT(read_at(reinterpret_cast<void*>(8), 8), "null-ptr-deref");
  EXPECT_EQ(ukasan_test::without_offset(last_header()), "BUG: KASAN: null-ptr-deref in _anonymous_namespace___read_at");
  EXPECT_FALSE(contains(last_report(), "Memory state around")) << last_report();
  // Beyond user space: no shadow.
  EXPECT_KASAN_REPORT(read_at(reinterpret_cast<void*>(0x900000000000ull), 1), "wild-memory-access");
  EXPECT_EQ(ukasan_test::without_offset(last_header()), "BUG: KASAN: wild-memory-access in _anonymous_namespace___read_at");
  EXPECT_FALSE(contains(last_report(), "Memory state around")) << last_report();
}

TEST_F(ReportTest, ZeroSizePtrIsNullDeref) {
  void* z = kmalloc(0, GFP_KERNEL);
  EXPECT_EQ(z, ZERO_SIZE_PTR);
  EXPECT_KASAN_REPORT(read_at(z, 1), "null-ptr-deref");
  kfree(z);  // no-op, no report
  EXPECT_EQ(unclaimed(), "");
}

TEST_F(ReportTest, ValidAccessesDoNotReport) {
  char* p = static_cast<char*>(kmalloc(13, GFP_KERNEL));
  EXPECT_TRUE(kasan_check_write(p, 13));
  EXPECT_TRUE(kasan_check_read(p + 12, 1));
  EXPECT_EQ(unclaimed(), "");
  EXPECT_KASAN_REPORT(EXPECT_FALSE(kasan_check_read(p + 12, 2)), "slab-out-of-bounds");
  kfree(p);
  uint64_t before = ukasan_report_count();
  EXPECT_KASAN_REPORT(EXPECT_FALSE(kasan_check_read(p, 1)), "slab-use-after-free");
  EXPECT_EQ(ukasan_report_count(), before + 1);
}

TEST_F(ReportTest, MultiShotOffPrintsOnlyTheFirst) {
  ukasan_set_options("multi_shot=0");
  char* p = static_cast<char*>(kmalloc(8, GFP_KERNEL));
  uint64_t before = ukasan_report_count();
  read_at(p + 8, 1);
  read_at(p + 9, 1);
  // Earlier tests already reported in this process: with multi_shot=0 nothing more is printed.
  EXPECT_EQ(ukasan_test::kasan_headers(unclaimed()).size(), before == 0 ? 1u : 0u) << unclaimed();
  claim_all();
  EXPECT_EQ(ukasan_report_count(), before + 2);
  kfree(p);
  ukasan_set_options("multi_shot=1");
}

// ---- the fixture itself: what EXPECT_KASAN_REPORT and KasanTest reject ----

using KasanTestSelfTest = ReportTest;

// Prints one slab-out-of-bounds report.
void report_out_of_bounds() {
  char* p = static_cast<char*>(kmalloc(8, GFP_KERNEL));
  read_at(p + 8, 1);
  kfree(p);
}

TEST_F(KasanTestSelfTest, ExpectWithoutAReportFails) {
  char* p = static_cast<char*>(kmalloc(8, GFP_KERNEL));
  EXPECT_NONFATAL_FAILURE(EXPECT_KASAN_REPORT(read_at(p, 8), "slab-out-of-bounds"),
                          "expected one KASAN report, got 0");
  kfree(p);
}

TEST_F(KasanTestSelfTest, ExpectOfTheWrongTypeFails) {
  EXPECT_NONFATAL_FAILURE(EXPECT_KASAN_REPORT(report_out_of_bounds(), "slab-use-after-free"),
                          "expected a 'slab-use-after-free' report, got: BUG: KASAN: slab-out-of-bounds in ");
  // The type is matched as a whole word, not as a prefix.
  EXPECT_NONFATAL_FAILURE(EXPECT_KASAN_REPORT(report_out_of_bounds(), "slab"), "expected a 'slab' report");
}

TEST_F(KasanTestSelfTest, ExpectOfTwoReportsFails) {
  EXPECT_NONFATAL_FAILURE(EXPECT_KASAN_REPORT((report_out_of_bounds(), report_out_of_bounds()), "slab-out-of-bounds"),
                          "expected one KASAN report, got 2");
}

// A KasanTest run by hand, to watch its TearDown.
class KasanTestProbe : public ukasan_test::KasanTest {
 public:
  void TestBody() override {}
  using KasanTest::SetUp;
  using KasanTest::TearDown;
};

TEST(KasanTestTearDown, UnclaimedReportFails) {
  KasanTestProbe probe;
  probe.SetUp();
  report_out_of_bounds();
  EXPECT_NONFATAL_FAILURE(probe.TearDown(), "unexpected KASAN report(s), claimed by no EXPECT_KASAN_REPORT");
}

TEST(KasanTestTearDown, ClaimedReportPasses) {
  KasanTestProbe probe;
  probe.SetUp();
  report_out_of_bounds();
  probe.claim_all();
  probe.TearDown();  // no failure
}

TEST_F(ReportDeathTest, FaultAbortDies) {
  EXPECT_DEATH(
      {
        ukasan_set_options("fault=abort");
        char* p = static_cast<char*>(kmalloc(8, GFP_KERNEL));
        read_at(p + 8, 1);
      },
      "BUG: KASAN: slab-out-of-bounds in");
}

TEST_F(ReportDeathTest, ExitCodeAfterReport) {
  EXPECT_EXIT(
      {
        ukasan_set_options("exitcode=42");
        char* p = static_cast<char*>(kmalloc(8, GFP_KERNEL));
        read_at(p + 8, 1);
        exit(0);
      },
      ::testing::ExitedWithCode(42), "BUG: KASAN: slab-out-of-bounds");
}

}  // namespace
