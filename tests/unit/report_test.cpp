// Report format: the exact kernel header lines and the report's structure.
#include <gtest/gtest.h>
#include <string.h>

#include <regex>

#include "test_util.h"
#include "ukasan/slab.h"

using ukasan_test::ReportCapture;

namespace {

class ReportTest : public ::testing::Test {
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
  ReportCapture cap;
  char* p = static_cast<char*>(kmalloc(13, GFP_KERNEL));
  write_at(p + 13, 1);
  kfree(p);
  auto lines = cap.lines();
  ASSERT_GE(lines.size(), 10u) << cap.text();
  EXPECT_EQ(lines[0], std::string(66, '='));
  EXPECT_EQ(lines[1], "BUG: KASAN: slab-out-of-bounds in (anonymous namespace)::write_at(void*, unsigned int)")
      << cap.text();
  EXPECT_TRUE(std::regex_match(lines[2], std::regex("Write of size 1 at addr [0-9a-f]{16} by task [^/]+/[0-9]+")))
      << lines[2];
  std::string t = cap.text();
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
  ReportCapture cap;
  struct kmem_cache* c = kmem_cache_create("report_uaf", 40, 0, 0, nullptr);
  char* p = static_cast<char*>(kmem_cache_alloc(c, GFP_KERNEL));
  kmem_cache_free(c, p);
  read_at(p + 8, 8);
  std::string t = cap.text();
  ASSERT_EQ(cap.headers().size(), 1u) << t;
  EXPECT_EQ(cap.headers()[0], "BUG: KASAN: slab-use-after-free in (anonymous namespace)::read_at(void const*, unsigned int)");
  EXPECT_TRUE(contains(t, "Read of size 8 at addr ")) << t;
  EXPECT_TRUE(contains(t, "\nAllocated by task ")) << t;
  EXPECT_TRUE(contains(t, "\nFreed by task ")) << t;
  EXPECT_TRUE(contains(t, " which belongs to the cache report_uaf of size 40\n")) << t;
  EXPECT_TRUE(contains(t, "The buggy address is located 8 bytes inside of\n freed 40-byte region [")) << t;
  ukasan_quarantine_drain();
  kmem_cache_destroy(c);
}

TEST_F(ReportTest, LargeUseAfterFree) {
  ReportCapture cap;
  char* p = static_cast<char*>(kmalloc(100000, GFP_KERNEL));
  ASSERT_NE(p, nullptr);
  p[99999] = 1;
  kfree(p);
  read_at(p + 5000, 4);
  ASSERT_EQ(cap.headers().size(), 1u) << cap.text();
  EXPECT_EQ(cap.headers()[0].rfind("BUG: KASAN: use-after-free in ", 0), 0u) << cap.headers()[0];
}

TEST_F(ReportTest, LargeOutOfBounds) {
  ReportCapture cap;
  char* p = static_cast<char*>(kmalloc(10000, GFP_KERNEL));
  write_at(p + 10000, 1);
  write_at(p - 1, 1);
  kfree(p);
  auto h = cap.headers();
  ASSERT_EQ(h.size(), 2u) << cap.text();
  EXPECT_EQ(h[0].rfind("BUG: KASAN: slab-out-of-bounds in ", 0), 0u);
  EXPECT_EQ(h[1].rfind("BUG: KASAN: slab-out-of-bounds in ", 0), 0u);
  EXPECT_TRUE(contains(cap.text(), "1 bytes to the left of")) << cap.text();
}

__attribute__((noinline)) void free_twice(void* p) {
  kfree(p);
  kfree(p);
  asm volatile("" ::: "memory");
}

TEST_F(ReportTest, DoubleFree) {
  ReportCapture cap;
  void* p = kmalloc(64, GFP_KERNEL);
  free_twice(p);
  std::string t = cap.text();
  ASSERT_EQ(cap.headers().size(), 1u) << t;
  EXPECT_EQ(cap.headers()[0], "BUG: KASAN: double-free in (anonymous namespace)::free_twice(void*)");
  EXPECT_TRUE(std::regex_search(t, std::regex("\nFree of addr [0-9a-f]{16} by task "))) << t;
  EXPECT_TRUE(contains(t, "\nFreed by task ")) << t;
}

TEST_F(ReportTest, InvalidFreeOfStackAndInterior) {
  ReportCapture cap;
  int on_stack = 0;
  kfree(&on_stack);
  char* p = static_cast<char*>(kmalloc(64, GFP_KERNEL));
  kfree(p + 8);
  kfree(p);
  auto h = cap.headers();
  ASSERT_EQ(h.size(), 2u) << cap.text();
  EXPECT_EQ(h[0].rfind("BUG: KASAN: invalid-free in ", 0), 0u);
  EXPECT_EQ(h[1].rfind("BUG: KASAN: invalid-free in ", 0), 0u);
  EXPECT_TRUE(contains(cap.text(), "not allocated by ukasan")) << cap.text();
  EXPECT_TRUE(contains(cap.text(), "not at the start of an object")) << cap.text();
}

TEST_F(ReportTest, NullAndWild) {
  ReportCapture cap;
  read_at(reinterpret_cast<void*>(8), 8);
  read_at(reinterpret_cast<void*>(0x900000000000ull), 1);  // beyond user space: no shadow
  auto h = cap.headers();
  ASSERT_EQ(h.size(), 2u) << cap.text();
  EXPECT_EQ(h[0], "BUG: KASAN: null-ptr-deref in (anonymous namespace)::read_at(void const*, unsigned int)");
  EXPECT_EQ(h[1], "BUG: KASAN: wild-memory-access in (anonymous namespace)::read_at(void const*, unsigned int)");
  EXPECT_FALSE(contains(cap.text(), "Memory state around")) << cap.text();
}

TEST_F(ReportTest, ZeroSizePtrIsNullDeref) {
  ReportCapture cap;
  void* z = kmalloc(0, GFP_KERNEL);
  EXPECT_EQ(z, ZERO_SIZE_PTR);
  read_at(z, 1);
  kfree(z);  // no-op, no report
  ASSERT_EQ(cap.headers().size(), 1u) << cap.text();
  EXPECT_EQ(cap.headers()[0].rfind("BUG: KASAN: null-ptr-deref in ", 0), 0u);
}

TEST_F(ReportTest, ValidAccessesDoNotReport) {
  ReportCapture cap;
  char* p = static_cast<char*>(kmalloc(13, GFP_KERNEL));
  EXPECT_TRUE(kasan_check_write(p, 13));
  EXPECT_TRUE(kasan_check_read(p + 12, 1));
  EXPECT_FALSE(kasan_check_read(p + 12, 2));
  kfree(p);
  uint64_t before = ukasan_report_count();
  EXPECT_FALSE(kasan_check_read(p, 1));
  EXPECT_EQ(ukasan_report_count(), before + 1);
}

TEST_F(ReportTest, MultiShotOffPrintsOnlyTheFirst) {
  ukasan_set_options("multi_shot=0");
  ReportCapture cap;
  char* p = static_cast<char*>(kmalloc(8, GFP_KERNEL));
  uint64_t before = ukasan_report_count();
  read_at(p + 8, 1);
  read_at(p + 9, 1);
  // Earlier tests already reported in this process: with multi_shot=0 nothing more is printed.
  EXPECT_EQ(cap.headers().size(), before == 0 ? 1u : 0u) << cap.text();
  EXPECT_EQ(ukasan_report_count(), before + 2);
  kfree(p);
  ukasan_set_options("multi_shot=1");
}

TEST_F(ReportTest, FaultAbortDies) {
  EXPECT_DEATH(
      {
        ukasan_set_options("fault=abort");
        char* p = static_cast<char*>(kmalloc(8, GFP_KERNEL));
        read_at(p + 8, 1);
      },
      "BUG: KASAN: slab-out-of-bounds in");
}

TEST_F(ReportTest, ExitCodeAfterReport) {
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
