// Reliability and security of the kernel API and the runtime's output
// (issue 16): destroyed caches, bad pointers to ksize & co.,
// kmem_cache_create's failures, option ranges, the report file.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "kasan_test.h"
#include "ukasan/slab.h"

namespace {

class ReliabilityTest : public ukasan_test::KasanTest {};

bool contains(const std::string& s, const std::string& what) { return s.find(what) != std::string::npos; }

// ---- a destroyed cache is a freed object -----------------------------------------

TEST_F(ReliabilityTest, UseOfADestroyedCacheIsSlabUseAfterFree) {
  struct kmem_cache* c = kmem_cache_create("gone_cache", 48, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  void* o = kmem_cache_alloc(c, GFP_KERNEL);
  kmem_cache_free(c, o);
  kmem_cache_destroy(c);
  EXPECT_KASAN_REPORT(EXPECT_EQ(kmem_cache_alloc(c, GFP_KERNEL), nullptr), "slab-use-after-free");
  EXPECT_TRUE(contains(last_report(), "BUG: KASAN: slab-use-after-free in kmem_cache_alloc\n")) << last_report();
  EXPECT_TRUE(contains(last_report(), "belongs to the kmem_cache 'gone_cache' (object size 48), destroyed by task "))
      << last_report();
  EXPECT_TRUE(contains(last_report(), "reliability_test.cpp:")) << "the destroy stack\n" << last_report();
  EXPECT_KASAN_REPORT(EXPECT_EQ(kmem_cache_zalloc(c, GFP_KERNEL), nullptr), "slab-use-after-free");
  void* bulk[2] = {};
  EXPECT_KASAN_REPORT(EXPECT_EQ(kmem_cache_alloc_bulk(c, GFP_KERNEL, 2, bulk), 0), "slab-use-after-free");
  EXPECT_KASAN_REPORT(kmem_cache_free(c, o), "slab-use-after-free");
  EXPECT_KASAN_REPORT(kmem_cache_shrink(c), "slab-use-after-free");
  EXPECT_KASAN_REPORT(EXPECT_EQ(kmem_cache_size(c), 0u), "slab-use-after-free");
  EXPECT_KASAN_REPORT(EXPECT_EQ(kmem_cache_name(c), nullptr), "slab-use-after-free");
  EXPECT_KASAN_REPORT(kmem_cache_destroy(c), "slab-use-after-free");
  EXPECT_TRUE(contains(last_report(), "BUG: KASAN: slab-use-after-free in kmem_cache_destroy\n")) << last_report();
}

TEST_F(ReliabilityTest, NotACacheIsAnInvalidAccess) {
  long not_a_cache[32] = {};
  struct kmem_cache* bogus = reinterpret_cast<struct kmem_cache*>(not_a_cache);
  EXPECT_KASAN_REPORT(EXPECT_EQ(kmem_cache_alloc(bogus, GFP_KERNEL), nullptr), "invalid-access");
  EXPECT_TRUE(contains(last_report(), "kmem_cache_alloc() of addr ")) << last_report();
  EXPECT_TRUE(contains(last_report(), "The pointer is not a kmem_cache created by kmem_cache_create.")) << last_report();
  EXPECT_KASAN_REPORT(kmem_cache_destroy(bogus), "invalid-free");
  EXPECT_TRUE(contains(last_report(), "BUG: KASAN: invalid-free in kmem_cache_destroy\n")) << last_report();
}

// ---- ksize & co. of a pointer the allocator never returned ------------------------

TEST_F(ReliabilityTest, BadPointersAreReportedInTheCallsOwnWords) {
  char on_stack[64];
  EXPECT_KASAN_REPORT(EXPECT_EQ(ksize(on_stack), 0u), "invalid-access");
  EXPECT_TRUE(contains(last_report(), "\nksize() of addr ")) << last_report();
  EXPECT_FALSE(contains(last_report(), "Free of addr")) << last_report();
  EXPECT_KASAN_REPORT(EXPECT_EQ(krealloc(on_stack, 100, GFP_KERNEL), nullptr), "invalid-free");
  EXPECT_TRUE(contains(last_report(), "\nkrealloc() of addr ")) << last_report();
  EXPECT_KASAN_REPORT(kfree_sensitive(on_stack), "invalid-free");
  EXPECT_TRUE(contains(last_report(), "\nkfree_sensitive() of addr ")) << last_report();
  // A freed heap object is a use-after-free of its first byte, as in the kernel.
  char* p = static_cast<char*>(kmalloc(40, GFP_KERNEL));
  kfree(p);
  EXPECT_KASAN_REPORT(ksize(p), "slab-use-after-free");
}

// ---- kmem_cache_create failures: the kernel's warning and a stack -----------------

TEST_F(ReliabilityTest, CreateFailuresSayWhyWithAStack) {
  struct Case {
    const char* name;
    unsigned size, align;
    const char* line;
  } cases[] = {
      {"zero_size", 0, 0, "kmem_cache_create(zero_size) failed with error -22 (the object size is 0)"},
      {nullptr, 8, 0, "kmem_cache_create((null)) failed with error -22 (the name is NULL)"},
      {"bad_align", 8, 3, "kmem_cache_create(bad_align) failed with error -22 (the alignment is not a power of two)"},
      {"big_align", 8, 8192, "kmem_cache_create(big_align) failed with error -22 (the alignment is above the page size)"},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.line);
    const uint64_t before = ukasan_report_count();
    const size_t mark = report_text().size();
    EXPECT_EQ(kmem_cache_create(k.name, k.size, k.align, 0, nullptr), nullptr);
    const std::string t = report_text().substr(mark);
    EXPECT_TRUE(contains(t, std::string(k.line) + "\nCall Trace:\n")) << t;
    EXPECT_TRUE(contains(t, "reliability_test.cpp:")) << t;
    EXPECT_FALSE(contains(t, "BUG: KASAN")) << t;
    EXPECT_EQ(ukasan_report_count(), before) << "a warning, not a KASAN bug";
  }
  claim_all();
}

// ---- option values outside sane ranges --------------------------------------------

TEST_F(ReliabilityTest, InsaneOptionValuesAreRejected) {
  for (const char* entry : {"quarantine_size_mb=4294967296", "quarantine_cache_kb=99999999999",
                            "quarantine_size_mb=1048577", "redzone_check_bytes=65537"}) {
    SCOPED_TRACE(entry);
    testing::internal::CaptureStderr();
    EXPECT_EQ(ukasan_set_options(entry), 1);
    EXPECT_NE(testing::internal::GetCapturedStderr(), "");
  }
  EXPECT_EQ(ukasan_set_options("quarantine_size_mb=1048576:quarantine_cache_kb=1024"), 0);  // 1 TiB: the maximum
  EXPECT_EQ(ukasan_set_options("quarantine_size_mb=256"), 0);
}

// ---- where reports go ----------------------------------------------------------------

// A failed write (a full disk) never loses a report silently.
TEST_F(ReliabilityTest, FailedReportWritesFallBackToStderr) {
  const int full = open("/dev/full", O_WRONLY | O_CLOEXEC);
  ASSERT_GE(full, 0);
  char* p = static_cast<char*>(kmalloc(16, GFP_KERNEL));
  testing::internal::CaptureStderr();
  ukasan_set_report_fd(full);
  const uint64_t before = ukasan_report_count();
  kasan_check_write(p + 16, 1);
  ukasan_set_report_fd(2);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(ukasan_report_count(), before + 1);
  EXPECT_TRUE(contains(err, "ukasan: writing a report to fd " + std::to_string(full) + " failed")) << err;
  EXPECT_TRUE(contains(err, "Write of size 1 at addr")) << err;
  close(full);
  kfree(p);
}

// log_path=P writes P.<pid>, a file this process creates; it never appends
// to a file that existed before, and a forked child gets its own.
TEST_F(ReliabilityTest, LogPathCreatesAPerProcessFileAndNeverAppendsToAnother) {
  char dir[] = "/tmp/ukasan_log_XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string base = std::string(dir) + "/rep";
  const std::string mine = base + "." + std::to_string(getpid());
  auto slurp = [](const std::string& path) {
    std::string s;
    int fd = open(path.c_str(), O_RDONLY);
    if (fd < 0) return std::string("<missing>");
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) s.append(buf, static_cast<size_t>(n));
    close(fd);
    return s;
  };
  // Someone else's file at that name: refused, reports go to stderr, the file is untouched.
  {
    int fd = open(mine.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, "precious\n", 9), 9);
    close(fd);
    testing::internal::CaptureStderr();
    EXPECT_EQ(ukasan_set_options(("log_path=" + base).c_str()), 0);
    char* p = static_cast<char*>(kmalloc(16, GFP_KERNEL));
    kasan_check_read(p + 16, 1);
    kfree(p);
    const std::string err = testing::internal::GetCapturedStderr();
    EXPECT_TRUE(contains(err, "cannot create the report file " + mine + " (it exists already)")) << err;
    EXPECT_TRUE(contains(err, "BUG: KASAN: slab-out-of-bounds")) << err;
    EXPECT_EQ(slurp(mine), "precious\n");
    ukasan_set_options("log_path=");
    unlink(mine.c_str());
  }
  // Our own file: created 0600, reports appended, a second set keeps it.
  {
    EXPECT_EQ(ukasan_set_options(("log_path=" + base).c_str()), 0);
    EXPECT_EQ(ukasan_set_options(("log_path=" + base).c_str()), 0);
    char* p = static_cast<char*>(kmalloc(16, GFP_KERNEL));
    kasan_check_read(p + 16, 1);
    struct stat st;
    ASSERT_EQ(stat(mine.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_TRUE(contains(slurp(mine), "BUG: KASAN: slab-out-of-bounds")) << slurp(mine);
    // A forked child reports into a file of its own.
    fflush(nullptr);
    pid_t child = fork();
    if (child == 0) {
      kasan_check_read(p + 17, 1);
      _exit(0);
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    const std::string theirs = slurp(base + "." + std::to_string(child));
    EXPECT_TRUE(contains(theirs, "BUG: KASAN: slab-out-of-bounds")) << theirs;
    const std::string parent = slurp(mine);
    EXPECT_EQ(parent.find("BUG: KASAN", parent.find("BUG: KASAN") + 1), std::string::npos)
        << "the child's report went to the parent's file\n" << parent;
    kfree(p);
    ukasan_set_options("log_path=");
    unlink((base + "." + std::to_string(child)).c_str());
    unlink(mine.c_str());
  }
  rmdir(dir);
}

}  // namespace

namespace {

// Destroyed descriptors are not reused while fresh ones remain: a stale
// pointer to a destroyed cache keeps being reported, even after thousands
// of caches came and went (the descriptor table used to wrap at 4096).
TEST_F(ReliabilityTest, DestroyedDescriptorsAreNotReusedSoon) {
  struct kmem_cache* first = kmem_cache_create("first_gone", 24, 0, 0, nullptr);
  ASSERT_NE(first, nullptr);
  kmem_cache_destroy(first);
  for (int i = 0; i < 5000; i++) {
    struct kmem_cache* c = kmem_cache_create("churn_cache", 24 + (i % 8) * 8, 0, 0, nullptr);
    ASSERT_NE(c, nullptr);
    ASSERT_NE(c, first) << "descriptor reused after " << i << " creations";
    kmem_cache_destroy(c);
  }
  EXPECT_KASAN_REPORT(kmem_cache_alloc(first, GFP_KERNEL), "slab-use-after-free");
  EXPECT_NE(last_report().find("'first_gone'"), std::string::npos) << last_report();
}

}  // namespace
