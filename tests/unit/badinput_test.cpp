// Bad input (issue #6, "Verification"): malformed UKASAN_OPTIONS, huge sizes
// and overflows, frees of pointers ukasan never handed out, destroy misuse,
// simulated out of memory (the fail_spans test knob) and reports from many threads.
#include <gtest/gtest.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "platform/options.h"
#include "platform/test_knobs.h"
#include "kasan_test.h"
#include "ukasan/slab.h"

namespace {

const char kRule[] = "==================================================================";

class BadInputTest : public ukasan_test::KasanTest {
 protected:
  void SetUp() override {
    KasanTest::SetUp();
    ukasan_set_options("symbolize=0:stacktrace=1");
    ukasan::g_test_knobs.fail_spans = 0;
  }
  void TearDown() override {
    ukasan_set_options("symbolize=1");
    ukasan::g_test_knobs.fail_spans = 0;
    KasanTest::TearDown();
  }

  // Each call must print exactly one invalid-free report.
  void expect_one_invalid_free(const char* what, const std::function<void()>& f) {
    SCOPED_TRACE(what);
    uint64_t before = ukasan_report_count();
    EXPECT_KASAN_REPORT(f(), "invalid-free");
    EXPECT_EQ(ukasan_report_count() - before, 1u);
    auto l = ukasan_test::split_lines(last_report());
    ASSERT_FALSE(l.empty());
    EXPECT_EQ(l.front(), kRule);
    EXPECT_EQ(l.back(), kRule);
  }
};

using ukasan_test::split_lines;

// ---- UKASAN_OPTIONS ---------------------------------------------------------

// The options that the malformed entries below target, to compare by value.
struct Snapshot {
  bool multi_shot, stacktrace, symbolize, print_stats;
  int exitcode;
  ukasan::FaultMode fault;
  uint64_t quarantine_size_mb, quarantine_cache_kb, poison_check_bytes;
  static Snapshot take() {
    const ukasan::Options& o = ukasan::options();
    return Snapshot{o.multi_shot, o.stacktrace,         o.symbolize,           o.print_stats,       o.exitcode,
                    o.fault,      o.quarantine_size_mb, o.quarantine_cache_kb, o.poison_check_bytes};
  }
  bool operator==(const Snapshot&) const = default;
};

// One malformed entry: exactly one stderr line naming it, that option back at
// its default, every other option unchanged.
struct Malformed {
  const char* entry;
  const char* named;  // what the stderr line must contain
};

TEST_F(BadInputTest, MalformedOptionEntriesAreNamedAndFallBackToDefaults) {
  const std::string long_path(600, 'x');
  const std::string long_entry = "log_path=" + long_path;
  const Malformed cases[] = {
      {"multi_shot=2", "multi_shot"},
      {"multi_shot=yes", "multi_shot"},
      {"multi_shot=", "multi_shot"},
      {"stacktrace=-1", "stacktrace"},
      {"quarantine_size_mb=abc", "quarantine_size_mb"},
      {"quarantine_size_mb=12MB", "quarantine_size_mb"},
      {"quarantine_size_mb=-5", "quarantine_size_mb"},
      {"quarantine_size_mb= 5", "quarantine_size_mb"},
      {"quarantine_size_mb=99999999999999999999999999", "quarantine_size_mb"},  // > 19 digits
      {"quarantine_cache_kb=18446744073709551616", "quarantine_cache_kb"},    // 2^64
      {"exitcode=256", "exitcode"},
      {"exitcode=-1", "exitcode"},
      {"exitcode=4294967297", "exitcode"},
      {"fault=explode", "fault"},
      {"fault=REPORT", "fault"},
      {"debug_fail_pages=1", "debug_fail_pages"},  // a test knob, not an option
      {"no_such_option=1", "no_such_option"},
      {"MULTI_SHOT=1", "MULTI_SHOT"},
      {"multi_shot", "multi_shot"},  // missing '=': no value, the option is left as it is
      {"=1", "unknown option ''"},   // missing name (the line shows the empty name, not "=1")
      {long_entry.c_str(), "log_path"},
  };
  for (const Malformed& m : cases) {
    SCOPED_TRACE(std::string(m.entry).substr(0, 60));
    // Non-default values everywhere, so a fallback to the default is visible.
    ASSERT_EQ(ukasan_set_options("multi_shot=1:stacktrace=0:exitcode=7:fault=report:quarantine_size_mb=3:"
                                 "quarantine_cache_kb=128"),
              0);
    Snapshot before = Snapshot::take();
    testing::internal::CaptureStderr();
    int errors = ukasan_set_options(m.entry);
    std::string err = testing::internal::GetCapturedStderr();
    EXPECT_EQ(errors, 1);
    std::vector<std::string> lines = split_lines(err);
    ASSERT_EQ(lines.size(), 1u) << err;
    EXPECT_NE(lines[0].find(m.named), std::string::npos) << lines[0];
    EXPECT_NE(lines[0].find("UKASAN_OPTIONS"), std::string::npos) << lines[0];
    // The entry's own option is back at its default; nothing else moved.
    Snapshot after = Snapshot::take();
    Snapshot expect = before;
    const std::string entry = m.entry;
    const std::string key = entry.find('=') == std::string::npos ? "" : entry.substr(0, entry.find('='));
    if (key == "multi_shot") expect.multi_shot = false;
    if (key == "stacktrace") expect.stacktrace = true;
    if (key == "quarantine_size_mb") expect.quarantine_size_mb = ukasan::kAutoSize;
    if (key == "quarantine_cache_kb") expect.quarantine_cache_kb = 1024;
    if (key == "exitcode") expect.exitcode = 1;
    if (key == "fault") expect.fault = ukasan::kFaultReport;
    EXPECT_TRUE(after == expect);
    if (key == "log_path") {
      EXPECT_STREQ(ukasan::options().log_path, "");
    }
  }
  ukasan_test::expect_reports_mode();
  ukasan_set_options("stacktrace=1:quarantine_size_mb=256:quarantine_cache_kb=1024");
}

// Start-up options (options.inc: startup) shape state that already exists
// (the canaries of live heap blocks, the pattern of quarantined ones): a
// run-time change is refused with one line and an error, never accepted and
// ignored.
TEST_F(BadInputTest, StartupOptionsCannotChangeAtRunTime) {
  for (const char* entry : {"poison_check_bytes=0", "redzone_check_bytes=64"}) {
    SCOPED_TRACE(entry);
    Snapshot before = Snapshot::take();
    testing::internal::CaptureStderr();
    EXPECT_EQ(ukasan_set_options(entry), 1);
    std::vector<std::string> lines = split_lines(testing::internal::GetCapturedStderr());
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_NE(lines[0].find(std::string(entry).substr(0, std::string(entry).find('='))), std::string::npos) << lines[0];
    EXPECT_NE(lines[0].find("start-up"), std::string::npos) << lines[0];
    EXPECT_TRUE(Snapshot::take() == before);
  }
  EXPECT_EQ(ukasan::options().poison_check_bytes, 4096u);
  EXPECT_EQ(ukasan::options().redzone_check_bytes, 16u);
  // The run-time entries around a refused one still apply.
  testing::internal::CaptureStderr();
  EXPECT_EQ(ukasan_set_options("exitcode=5:poison_check_bytes=1:exitcode=6"), 1);
  testing::internal::GetCapturedStderr();
  EXPECT_EQ(ukasan::options().exitcode, 6);
  ukasan_test::expect_reports_mode();
}

TEST_F(BadInputTest, EmptyEntriesAreIgnoredAndGoodEntriesAroundBadOnesApply) {
  testing::internal::CaptureStderr();
  EXPECT_EQ(ukasan_set_options(""), 0);
  EXPECT_EQ(ukasan_set_options(":"), 0);
  EXPECT_EQ(ukasan_set_options(":::exitcode=9::"), 0);
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
  EXPECT_EQ(ukasan::options().exitcode, 9);

  testing::internal::CaptureStderr();
  EXPECT_EQ(ukasan_set_options("exitcode=3:bogus:multi_shot=0:quarantine_size_mb=zz:print_stats=0"), 2);
  std::vector<std::string> lines = split_lines(testing::internal::GetCapturedStderr());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("bogus"), std::string::npos);
  EXPECT_NE(lines[1].find("quarantine_size_mb"), std::string::npos);
  EXPECT_EQ(ukasan::options().exitcode, 3);
  EXPECT_FALSE(ukasan::options().multi_shot);
  ukasan_test::expect_reports_mode();
}

TEST_F(BadInputTest, RuntimeStillWorksAfterMalformedOptions) {
  testing::internal::CaptureStderr();
  ukasan_set_options("quarantine_size_mb=:quarantine_cache_kb=x:multi_shot=2:fault=:log_path=");
  testing::internal::GetCapturedStderr();
  ukasan_test::expect_reports_mode();
  ukasan_set_options("symbolize=0");
  uint64_t before = ukasan_report_count();
  char* p = static_cast<char*>(kmalloc(40, GFP_KERNEL));
  ASSERT_NE(p, nullptr);
  memset(p, 1, 40);
  EXPECT_KASAN_REPORT(EXPECT_FALSE(kasan_check_read(p + 40, 1)), "slab-out-of-bounds");
  kfree(p);
  EXPECT_KASAN_REPORT(EXPECT_FALSE(kasan_check_read(p, 1)), "slab-use-after-free");
  EXPECT_KASAN_REPORT(kfree(p), "double-free");
  EXPECT_EQ(ukasan_report_count() - before, 3u);
}

// A quarantine size that does not fit in bytes (MiB << 20 overflows 64 bits)
// is malformed like any other value.
TEST_F(BadInputTest, QuarantineSizeThatOverflowsIsRejected) {
  testing::internal::CaptureStderr();
  int errors = ukasan_set_options("quarantine_size_mb=9999999999999999999");
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(errors, 1) << "quarantine bound now " << ukasan::options_quarantine_bytes() << " bytes";
  EXPECT_NE(err.find("quarantine_size_mb"), std::string::npos);
  ukasan_set_options("quarantine_size_mb=256");
}

// Setting log_path repeatedly (e.g. a test harness switching log files) must
// keep working (string options used to take one of 4 static slots for good).
TEST_F(BadInputTest, LogPathCanBeSetRepeatedly) {
  for (int i = 0; i < 8; i++) {
    testing::internal::CaptureStderr();
    int errors = ukasan_set_options("log_path=");
    std::string err = testing::internal::GetCapturedStderr();
    EXPECT_EQ(errors, 0) << "attempt " << i << ": " << err;
  }
}

// Found by the slab fuzzer (tests/fuzz): ukasan_quarantine_drain() and
// kmem_cache_destroy() empty FIFO batches in place (extract_from_fifo) but the
// ring slots are only reclaimed by an eviction. After ~1024 transfers without
// an eviction the ring is full, the tail batch grows without bound, and the
// next eviction step frees the whole quarantine at once, including the object
// freed last. Fixed by compacting the ring after a removal.
TEST_F(BadInputTest, QuarantineRingSurvivesManyDrains) {
  ukasan_set_options("quarantine_size_mb=4:quarantine_cache_kb=64");
  for (int r = 0; r < 1100; r++) {
    for (int i = 0; i < 256; i++) kfree(kmalloc(400, GFP_KERNEL));
    ukasan_quarantine_drain();
  }
  for (int i = 0; i < 8000; i++) kfree(kmalloc(400, GFP_KERNEL));  // > 4 MiB: evictions start
  ukasan_stats st;
  ukasan_get_stats(&st);
  EXPECT_LT(st.max_evict_bytes, 512u << 10) << "one eviction step freed most of the quarantine";
  EXPECT_GT(st.quarantine_bytes, 3u << 20);
  ukasan_set_options("quarantine_size_mb=256:quarantine_cache_kb=1024");
}

// ---- huge sizes and overflows -------------------------------------------------

TEST_F(BadInputTest, HugeSizesAndOverflowsReturnNull) {
  uint64_t before = ukasan_report_count();
  const size_t huge[] = {SIZE_MAX, SIZE_MAX - 1, SIZE_MAX / 2, SIZE_MAX / 2 + 1, size_t(1) << 62,
                         size_t(1) << 40, (size_t(1) << 40) - 1, (size_t(1) << 40) - 3 * 4096 + 1};
  for (size_t n : huge) {
    SCOPED_TRACE(n);
    EXPECT_EQ(kmalloc(n, GFP_KERNEL), nullptr);
    EXPECT_EQ(kzalloc(n, GFP_KERNEL), nullptr);
    EXPECT_EQ(kmalloc_array(n, 1, GFP_KERNEL), nullptr);
    EXPECT_EQ(kmalloc_array(1, n, GFP_KERNEL), nullptr);
    EXPECT_EQ(kcalloc(1, n, GFP_KERNEL), nullptr);
    EXPECT_EQ(krealloc(nullptr, n, GFP_KERNEL), nullptr);
  }
  // Products that overflow size_t.
  EXPECT_EQ(kmalloc_array(SIZE_MAX, 2, GFP_KERNEL), nullptr);
  EXPECT_EQ(kmalloc_array(size_t(1) << 32, size_t(1) << 32, GFP_KERNEL), nullptr);
  EXPECT_EQ(kmalloc_array(3, SIZE_MAX / 2, GFP_KERNEL), nullptr);
  EXPECT_EQ(kcalloc(SIZE_MAX, SIZE_MAX, GFP_KERNEL), nullptr);
  EXPECT_EQ(kcalloc(size_t(1) << 33, size_t(1) << 31, GFP_KERNEL), nullptr);
  // krealloc to a huge size fails and leaves the old block intact and usable.
  for (size_t old : {size_t(24), size_t(5000), size_t(70000)}) {
    SCOPED_TRACE(old);
    char* p = static_cast<char*>(kmalloc(old, GFP_KERNEL));
    ASSERT_NE(p, nullptr);
    memset(p, 0x3c, old);
    EXPECT_EQ(krealloc(p, SIZE_MAX, GFP_KERNEL), nullptr);
    EXPECT_EQ(krealloc(p, SIZE_MAX / 2, GFP_KERNEL | __GFP_ZERO), nullptr);
    EXPECT_EQ(krealloc(p, size_t(1) << 40, GFP_KERNEL), nullptr);
    EXPECT_TRUE(kasan_check_write(p, static_cast<unsigned>(old)));
    for (size_t i = 0; i < old; i++) ASSERT_EQ(p[i], 0x3c) << i;
    kfree(p);
  }
  // kmem_cache_create with impossible geometry returns NULL (no SLAB_PANIC).
  EXPECT_EQ(kmem_cache_create("huge", UINT32_MAX, 0, 0, nullptr), nullptr);
  EXPECT_EQ(kmem_cache_create("huge", (1u << 30) + 1, 0, 0, nullptr), nullptr);
  EXPECT_EQ(kmem_cache_create("huge", 0x80000000u, 8, SLAB_HWCACHE_ALIGN, nullptr), nullptr);
  EXPECT_EQ(kmem_cache_create("zero", 0, 0, 0, nullptr), nullptr);
  EXPECT_EQ(kmem_cache_create(nullptr, 64, 0, 0, nullptr), nullptr);
  EXPECT_EQ(kmem_cache_create("align3", 64, 3, 0, nullptr), nullptr);
  EXPECT_EQ(kmem_cache_create("align_huge", 64, 1u << 31, 0, nullptr), nullptr);
  EXPECT_EQ(kmem_cache_create("align_8k", 64, 8192, 0, nullptr), nullptr);
  EXPECT_EQ(ukasan_report_count() - before, 0u);
  // Each refusal says why with a stack (the kernel's pr_warn + dump_stack); none is a KASAN bug.
  const std::string t = report_text();
  size_t warnings = 0;
  for (size_t at = t.find("kmem_cache_create("); at != std::string::npos; at = t.find("kmem_cache_create(", at + 1))
    warnings++;
  EXPECT_EQ(warnings, 8u) << t;
  EXPECT_EQ(t.find("BUG: KASAN"), std::string::npos) << t;
  claim_all();
  // And the allocator still works.
  void* q = kmalloc(100, GFP_KERNEL);
  ASSERT_NE(q, nullptr);
  kfree(q);
}

// ---- frees of pointers ukasan never handed out ----------------------------------

char g_global_buf[128];

TEST_F(BadInputTest, ForeignStackGlobalAndUnalignedFreesAreOneInvalidFreeEach) {
  char stack_buf[64];
  memset(stack_buf, 7, sizeof(stack_buf));
  void* foreign = malloc(48);  // glibc's malloc: ukasan_core does not interpose it
  ASSERT_NE(foreign, nullptr);
  memset(foreign, 9, 48);
  struct kmem_cache* c = kmem_cache_create("badinput_c", 40, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  void* ptrs[] = {foreign, static_cast<char*>(foreign) + 3, stack_buf, stack_buf + 1, g_global_buf,
                  g_global_buf + 5};
  for (void* p : ptrs) {
    expect_one_invalid_free("kfree", [&] { kfree(p); });
    expect_one_invalid_free("kmem_cache_free", [&] { kmem_cache_free(c, p); });
    expect_one_invalid_free("kfree_sensitive", [&] { kfree_sensitive(p); });
    EXPECT_KASAN_REPORT(EXPECT_EQ(ksize(p), 0u), "invalid-access");  // ksize frees nothing
    EXPECT_NE(last_report().find("\nksize() of addr "), std::string::npos) << last_report();
    expect_one_invalid_free("krealloc", [&] { EXPECT_EQ(krealloc(p, 128, GFP_KERNEL), nullptr); });
  }
  // Unaligned and interior pointers into live ukasan objects: reported, not freed.
  char* k = static_cast<char*>(kmalloc(100, GFP_KERNEL));
  char* big = static_cast<char*>(kmalloc(50000, GFP_KERNEL));
  void* o = kmem_cache_alloc(c, GFP_KERNEL);
  ASSERT_TRUE(k && big && o);
  memset(k, 1, 100);
  for (size_t off : {size_t(1), size_t(7), size_t(8), size_t(16), size_t(99)})
    expect_one_invalid_free("kfree interior", [&] { kfree(k + off); });
  for (size_t off : {size_t(1), size_t(4096), size_t(49999)})
    expect_one_invalid_free("kfree large interior", [&] { kfree(big + off); });
  expect_one_invalid_free("kmem_cache_free interior", [&] { kmem_cache_free(c, static_cast<char*>(o) + 8); });
  // Wrong cache: the object belongs to a kmalloc cache / is a large block.
  expect_one_invalid_free("kmem_cache_free of a kmalloc object", [&] { kmem_cache_free(c, k); });
  expect_one_invalid_free("kmem_cache_free of a large block", [&] { kmem_cache_free(c, big); });
  // All three are still live and intact.
  EXPECT_TRUE(kasan_check_write(k, 100));
  EXPECT_TRUE(kasan_check_write(big, 50000));
  EXPECT_TRUE(kasan_check_write(o, 40));
  for (int i = 0; i < 100; i++) ASSERT_EQ(k[i], 1);
  uint64_t before = ukasan_report_count();
  kfree(k);
  kfree(big);
  kmem_cache_free(c, o);
  kmem_cache_destroy(c);
  EXPECT_EQ(ukasan_report_count() - before, 0u);
  EXPECT_EQ(unclaimed(), "");
  for (int i = 0; i < 64; i++) ASSERT_EQ(stack_buf[i], 7);
  for (int i = 0; i < 48; i++) ASSERT_EQ(static_cast<char*>(foreign)[i], 9);
  free(foreign);
}

// ---- destroy misuse --------------------------------------------------------------

TEST_F(BadInputTest, DestroyWithLiveObjectsKeepsThemAndDestroyTwiceIsReported) {
  struct kmem_cache* c = kmem_cache_create("badinput_live", 72, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  void* a = kmem_cache_alloc(c, GFP_KERNEL);
  void* b = kmem_cache_alloc(c, GFP_KERNEL);
  void* f = kmem_cache_alloc(c, GFP_KERNEL);
  ASSERT_TRUE(a && b && f);
  memset(a, 0x11, 72);
  kmem_cache_free(c, f);
  {
    uint64_t before = ukasan_report_count();
    kmem_cache_destroy(c);
    EXPECT_EQ(ukasan_report_count() - before, 0u);  // the kernel's pr_err, not a KASAN bug
    std::string t = unclaimed();
    EXPECT_NE(t.find("kmem_cache_destroy badinput_live: Slab cache still has objects"), std::string::npos) << t;
    EXPECT_NE(t.find("Objects remaining in badinput_live on kmem_cache_destroy(): 2"), std::string::npos) << t;
    claim_all();
  }
  // The live objects stay valid; the freed one stays freed.
  EXPECT_TRUE(kasan_check_write(a, 72));
  EXPECT_TRUE(kasan_check_write(b, 72));
  for (int i = 0; i < 72; i++) ASSERT_EQ(static_cast<char*>(a)[i], 0x11);
  EXPECT_KASAN_REPORT(EXPECT_FALSE(kasan_check_read(f, 1)), "slab-use-after-free");
  // A use of the destroyed cache: the kernel's slab-use-after-free on it.
  EXPECT_KASAN_REPORT(kmem_cache_free(c, a), "slab-use-after-free");
  expect_one_invalid_free("kfree after destroy", [&] { kfree(b); });
  // Twice.
  for (int round = 0; round < 2; round++) {
    uint64_t before = ukasan_report_count();
    EXPECT_KASAN_REPORT(kmem_cache_destroy(c), "slab-use-after-free");
    EXPECT_EQ(ukasan_report_count() - before, 1u);
    EXPECT_EQ(last_header(), "BUG: KASAN: slab-use-after-free in kmem_cache_destroy");
    EXPECT_NE(last_report().find("destroyed by task"), std::string::npos) << last_report();
  }
}

TEST_F(BadInputTest, DestroyOfEmptyCacheTwiceAndOfBogusPointers) {
  struct kmem_cache* c = kmem_cache_create("badinput_empty", 300, 64, SLAB_HWCACHE_ALIGN, nullptr);
  ASSERT_NE(c, nullptr);
  void* p = kmem_cache_alloc(c, GFP_KERNEL);
  ASSERT_NE(p, nullptr);
  kmem_cache_free(c, p);
  {
    uint64_t before = ukasan_report_count();
    kmem_cache_destroy(c);
    kmem_cache_destroy(nullptr);  // a no-op, as in the kernel
    EXPECT_EQ(ukasan_report_count() - before, 0u);
    EXPECT_EQ(report_text(), "");
  }
  // The slab was released: a stale pointer into it is a use after free.
  EXPECT_KASAN_REPORT(EXPECT_FALSE(kasan_check_read(p, 8)), "use-after-free");
  EXPECT_KASAN_REPORT(kmem_cache_destroy(c), "slab-use-after-free");
  EXPECT_EQ(last_header(), "BUG: KASAN: slab-use-after-free in kmem_cache_destroy");
  char stack_buf[256];
  void* foreign = malloc(256);
  void* object = kmalloc(64, GFP_KERNEL);
  for (void* bogus : {static_cast<void*>(stack_buf), foreign, static_cast<void*>(g_global_buf),
                      static_cast<void*>(reinterpret_cast<char*>(c) + 8), object}) {
    uint64_t before = ukasan_report_count();
    EXPECT_KASAN_REPORT(kmem_cache_destroy(static_cast<struct kmem_cache*>(bogus)), "invalid-free");
    EXPECT_EQ(ukasan_report_count() - before, 1u);
    EXPECT_EQ(last_header(), "BUG: KASAN: invalid-free in kmem_cache_destroy");
  }
  kfree(object);
  free(foreign);
}

// ---- out of memory (g_test_knobs.fail_spans) ------------------------------------------

TEST_F(BadInputTest, DebugFailPagesCountsDown) {
  ukasan::g_test_knobs.fail_spans = 2;
  // A large block needs a span: the first attempt fails, the quarantine is
  // drained, the retry fails too: NULL. Both failures are consumed.
  EXPECT_EQ(kmalloc(100000, GFP_KERNEL), nullptr);
  EXPECT_EQ(ukasan::g_test_knobs.fail_spans, 0u);
  void* p = kmalloc(100000, GFP_KERNEL);
  EXPECT_NE(p, nullptr);
  kfree(p);
}

TEST_F(BadInputTest, LargeAllocationDrainsTheQuarantineAndRetriesOnce) {
  ukasan_set_options("quarantine_size_mb=64:quarantine_cache_kb=64");
  // Fill the quarantine's FIFO with freed large blocks.
  for (int i = 0; i < 40; i++) kfree(kmalloc(20000, GFP_KERNEL));
  ukasan_stats st;
  ukasan_get_stats(&st);
  ASSERT_GT(st.quarantine_bytes, 0u);
  uint64_t evicted_before = st.evicted_bytes;
  // Transient failure: one span allocation fails, the drain frees the
  // quarantine, the retry succeeds.
  ukasan::g_test_knobs.fail_spans = 1;
  char* p = static_cast<char*>(kmalloc(30000, GFP_KERNEL));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(ukasan::g_test_knobs.fail_spans, 0u);
  EXPECT_TRUE(kasan_check_write(p, 30000));
  ukasan_get_stats(&st);
  EXPECT_EQ(st.quarantine_bytes, 0u) << "the quarantine was not drained";
  EXPECT_EQ(st.evicted_bytes, evicted_before) << "a drain is not an eviction";
  // Persistent failure: drained again (one more freed block), still NULL.
  kfree(kmalloc(20000, GFP_KERNEL));
  ukasan::g_test_knobs.fail_spans = 1000;
  EXPECT_EQ(kmalloc(30000, GFP_KERNEL), nullptr);
  EXPECT_EQ(kzalloc(1 << 20, GFP_KERNEL), nullptr);
  EXPECT_EQ(krealloc(p, 90000, GFP_KERNEL), nullptr);  // the old block stays valid
  EXPECT_TRUE(kasan_check_write(p, 30000));
  ukasan_get_stats(&st);
  EXPECT_EQ(st.quarantine_bytes, 0u);
  ukasan::g_test_knobs.fail_spans = 0;
  kfree(p);
  EXPECT_EQ(report_text(), "");
  ukasan_set_options("quarantine_size_mb=256:quarantine_cache_kb=1024");
}

TEST_F(BadInputTest, CacheAllocationDrainsTheQuarantineAndRetriesOnce) {
  ukasan_set_options("quarantine_size_mb=64:quarantine_cache_kb=1");  // every free reaches the FIFO
  struct kmem_cache* c = kmem_cache_create("badinput_oom", 1000, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  // Page allocation fails from the second slab on: take every object of the
  // first slab until the cache runs dry.
  std::vector<void*> objs;
  objs.push_back(kmem_cache_alloc(c, GFP_KERNEL));
  ASSERT_NE(objs[0], nullptr);
  ukasan::g_test_knobs.fail_spans = 1000000;
  for (;;) {
    void* p = kmem_cache_alloc(c, GFP_KERNEL);
    if (!p) break;
    objs.push_back(p);
    ASSERT_LT(objs.size(), 100000u);
  }
  EXPECT_GT(objs.size(), 1u);
  // Persistent: NULL (after a drain and one retry), again and again.
  EXPECT_EQ(kmem_cache_alloc(c, GFP_KERNEL), nullptr);
  EXPECT_EQ(kmem_cache_zalloc(c, GFP_KERNEL), nullptr);
  void* bulk[4] = {};
  EXPECT_EQ(kmem_cache_alloc_bulk(c, GFP_KERNEL, 4, bulk), 0);
  // Free everything: the objects sit in the quarantine, not on the slab.
  for (void* p : objs) kmem_cache_free(c, p);
  ukasan_stats st;
  ukasan_get_stats(&st);
  ASSERT_GT(st.quarantine_bytes, 0u);
  // Pages still fail, yet the allocation succeeds: the drain handed the
  // quarantined objects back to the slab and the retry took one.
  void* p = kmem_cache_alloc(c, GFP_KERNEL);
  ASSERT_NE(p, nullptr);
  ukasan_get_stats(&st);
  EXPECT_EQ(st.quarantine_bytes, 0u);
  EXPECT_TRUE(kasan_check_write(p, 1000));
  ukasan::g_test_knobs.fail_spans = 0;
  kmem_cache_free(c, p);
  kmem_cache_destroy(c);
  EXPECT_EQ(report_text(), "");
  ukasan_set_options("quarantine_size_mb=256:quarantine_cache_kb=1024");
}

// ---- reports from many threads --------------------------------------------------

TEST_F(BadInputTest, ConcurrentReportsNeverInterleave) {
  constexpr int kThreads = 8, kPerThread = 150;
  uint64_t before = ukasan_report_count();
  std::atomic<int> done{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; t++)
    ts.emplace_back([&, t] {
      char local[16];
      for (int i = 0; i < kPerThread; i++) {
        switch ((t + i) % 3) {
          case 0: kfree(local); break;  // invalid-free
          case 1: {
            char* p = static_cast<char*>(kmalloc(24, GFP_KERNEL));
            kasan_check_read(p + 24, 1);  // slab-out-of-bounds
            kfree(p);
            break;
          }
          default: {
            char* p = static_cast<char*>(kmalloc(24, GFP_KERNEL));
            kfree(p);
            kfree(p);  // double-free
            break;
          }
        }
      }
      done.fetch_add(1);
    });
  // No deadlock: everything finishes well within the deadline.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (done.load() < kThreads && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (done.load() < kThreads) {
    ADD_FAILURE() << "report threads did not finish: deadlock?";
    abort();
  }
  for (auto& th : ts) th.join();
  const unsigned total = kThreads * kPerThread;
  EXPECT_EQ(ukasan_report_count() - before, total);
  // Every report is one block: rule, BUG line, ..., rule; blocks back to back.
  // Printed by other threads, many per expression: checked by hand, then claimed.
  std::vector<std::string> lines = ukasan_test::split_lines(report_text());
  claim_all();
  unsigned blocks = 0;
  size_t i = 0;
  while (i < lines.size()) {
    ASSERT_EQ(lines[i], kRule) << "line " << i << " outside a report block";
    ASSERT_LT(i + 1, lines.size());
    ASSERT_EQ(lines[i + 1].rfind("BUG: KASAN: ", 0), 0u) << "line " << i + 1 << ": " << lines[i + 1];
    size_t j = i + 2;
    while (j < lines.size() && lines[j] != kRule) {
      ASSERT_NE(lines[j].rfind("BUG: KASAN: ", 0), 0u) << "two headers in one block at line " << j;
      j++;
    }
    ASSERT_LT(j, lines.size()) << "unterminated report block at line " << i;
    blocks++;
    i = j + 1;
  }
  EXPECT_EQ(blocks, total);
}

}  // namespace
