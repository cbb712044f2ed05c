// Unit tests of the heap entry points (linked with the static runtime, so
// this process's malloc/new IS ukasan's).
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <new>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kasan_test.h"
#include "ukasan/slab.h"
#include "ukasan/ukasan.h"

extern "C" {
void* __libc_malloc(size_t);
void __libc_free(void*);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
}

namespace {

bool aligned(const void* p, size_t a) { return (reinterpret_cast<uintptr_t>(p) & (a - 1)) == 0; }

// Reports are expected and captured; not symbolized (the checks read no
// function names, and symbolizing would only slow the reports down).
class HeapReports : public ukasan_test::KasanTest {
 protected:
  void SetUp() override {
    KasanTest::SetUp();
    ukasan_set_options("symbolize=0");
  }
  void TearDown() override {
    KasanTest::TearDown();
    ukasan_set_options("symbolize=1");
  }
};

TEST(HeapApi, MallocSizesAlignmentUsable) {
  for (size_t n : {0ul, 1ul, 7ul, 8ul, 15ul, 16ul, 17ul, 100ul, 192ul, 193ul, 4096ul, 8192ul, 8193ul, 100000ul,
                   3000000ul}) {
    char* p = static_cast<char*>(malloc(n));
    ASSERT_NE(p, nullptr) << n;
    EXPECT_TRUE(aligned(p, 16)) << n;
    EXPECT_EQ(malloc_usable_size(p), n);
    memset(p, 0x5a, n);
    free(p);
  }
  void* a = malloc(0);
  void* b = malloc(0);
  EXPECT_NE(a, b);
  free(a);
  free(b);
  free(nullptr);
  EXPECT_EQ(malloc_usable_size(nullptr), 0u);
}

TEST(HeapApi, HugeFailsWithEnomem) {
  errno = 0;
  EXPECT_EQ(malloc(SIZE_MAX), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  errno = 0;
  EXPECT_EQ(malloc(SIZE_MAX / 2), nullptr);
  EXPECT_EQ(errno, ENOMEM);
}

TEST(HeapApi, Calloc) {
  for (size_t n : {1ul, 33ul, 5000ul, 70000ul}) {
    unsigned char* p = static_cast<unsigned char*>(calloc(n, 3));
    ASSERT_NE(p, nullptr);
    for (size_t i = 0; i < 3 * n; i++) ASSERT_EQ(p[i], 0) << i;
    memset(p, 0xff, 3 * n);
    free(p);
  }
  errno = 0;
  EXPECT_EQ(calloc(SIZE_MAX / 2, 3), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  void* z = calloc(0, 5);
  EXPECT_NE(z, nullptr);
  free(z);
}

TEST(HeapApi, ReallocShrinkGrowInPlace) {
  char* p = static_cast<char*>(realloc(nullptr, 100));
  ASSERT_NE(p, nullptr);
  for (int i = 0; i < 100; i++) p[i] = static_cast<char>(i);
  char* q = static_cast<char*>(realloc(p, 120));  // same class (128): in place
  EXPECT_EQ(q, p);
  EXPECT_EQ(malloc_usable_size(q), 120u);
  char* r = static_cast<char*>(realloc(q, 50));  // shrink: in place
  EXPECT_EQ(r, q);
  EXPECT_EQ(malloc_usable_size(r), 50u);
  char* s = static_cast<char*>(realloc(r, 5000));  // grow: moves
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(malloc_usable_size(s), 5000u);
  for (int i = 0; i < 50; i++) ASSERT_EQ(s[i], static_cast<char>(i));
  char* t = static_cast<char*>(realloc(s, 200000));  // large
  for (int i = 0; i < 50; i++) ASSERT_EQ(t[i], static_cast<char>(i));
  char* u = static_cast<char*>(realloc(t, 199000));  // large, same pages: in place
  EXPECT_EQ(u, t);
  memset(u, 1, 199000);
  errno = 0;
  EXPECT_EQ(realloc(u, SIZE_MAX / 2), nullptr);  // fails, u stays valid
  EXPECT_EQ(errno, ENOMEM);
  EXPECT_EQ(u[198999], 1);
  EXPECT_EQ(realloc(u, 0), nullptr);  // glibc: frees
}

TEST(HeapApi, Reallocarray) {
  errno = 0;
  EXPECT_EQ(reallocarray(nullptr, SIZE_MAX / 4, 8), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  int* p = static_cast<int*>(reallocarray(nullptr, 10, sizeof(int)));
  ASSERT_NE(p, nullptr);
  for (int i = 0; i < 10; i++) p[i] = i;
  errno = 0;
  EXPECT_EQ(reallocarray(p, SIZE_MAX / 2, 4), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  int* q = static_cast<int*>(reallocarray(p, 1000, sizeof(int)));
  ASSERT_NE(q, nullptr);
  for (int i = 0; i < 10; i++) EXPECT_EQ(q[i], i);
  free(q);
}

TEST(HeapApi, AlignedEntryPoints) {
  for (size_t a = 16; a <= (1u << 16); a <<= 1) {
    for (size_t n : {1ul, 24ul, 100ul, 3000ul, 9000ul, 70000ul}) {
      void* p = memalign(a, n);
      ASSERT_NE(p, nullptr);
      EXPECT_TRUE(aligned(p, a)) << a << " " << n;
      EXPECT_EQ(malloc_usable_size(p), n);
      memset(p, 1, n);
      free(p);
      void* q = nullptr;
      ASSERT_EQ(posix_memalign(&q, a, n), 0);
      EXPECT_TRUE(aligned(q, a));
      memset(q, 1, n);
      free(q);
      void* r = aligned_alloc(a, n);
      ASSERT_NE(r, nullptr);
      EXPECT_TRUE(aligned(r, a));
      free(r);
    }
  }
  void* q = nullptr;
  EXPECT_EQ(posix_memalign(&q, 24, 10), EINVAL);
  EXPECT_EQ(posix_memalign(&q, 4, 10), EINVAL);
  EXPECT_EQ(posix_memalign(&q, 64, SIZE_MAX / 2), ENOMEM);
  errno = 0;
  EXPECT_EQ(aligned_alloc(48, 96), nullptr);
  EXPECT_EQ(errno, EINVAL);
  void* m = memalign(48, 10);  // rounded up to 64, like glibc
  EXPECT_TRUE(aligned(m, 64));
  free(m);
  void* v = valloc(10);
  EXPECT_TRUE(aligned(v, 4096));
  free(v);
  void* pv = pvalloc(10);
  EXPECT_TRUE(aligned(pv, 4096));
  EXPECT_EQ(malloc_usable_size(pv), 4096u);
  free(pv);
  void* pv0 = pvalloc(0);
  EXPECT_EQ(malloc_usable_size(pv0), 4096u);
  free(pv0);
}

TEST(HeapApi, LibcAliases) {
  void* p = __libc_malloc(40);
  EXPECT_EQ(malloc_usable_size(p), 40u);
  p = __libc_realloc(p, 80);
  EXPECT_EQ(malloc_usable_size(p), 80u);
  free(p);
  void* c = __libc_calloc(4, 4);
  EXPECT_EQ(malloc_usable_size(c), 16u);
  __libc_free(c);
  void* m = __libc_memalign(512, 10);
  EXPECT_TRUE(aligned(m, 512));
  __libc_free(m);
}

struct alignas(256) Big {
  char x[300];
};

TEST(HeapApi, OperatorNewForms) {
  int* a = new int(5);
  EXPECT_EQ(malloc_usable_size(a), sizeof(int));
  delete a;
  int* b = new int[7];
  delete[] b;
  int* c = new (std::nothrow) int[3];
  ASSERT_NE(c, nullptr);
  delete[] c;
  Big* d = new Big;
  EXPECT_TRUE(aligned(d, 256));
  delete d;
  Big* e = new Big[3];
  EXPECT_TRUE(aligned(e, 256));
  delete[] e;
  Big* f = new (std::nothrow) Big;
  EXPECT_TRUE(aligned(f, 256));
  delete f;
  void* g = ::operator new(100, std::align_val_t(8192));
  EXPECT_TRUE(aligned(g, 8192));
  ::operator delete(g, 100, std::align_val_t(8192));
  void* h = ::operator new[](64, std::align_val_t(64), std::nothrow);
  ::operator delete[](h, std::align_val_t(64), std::nothrow);
  void* i = ::operator new(0);
  EXPECT_NE(i, nullptr);
  ::operator delete(i, static_cast<size_t>(0));
  EXPECT_EQ(::operator new(SIZE_MAX / 2, std::nothrow), nullptr);
  EXPECT_EQ(::operator new[](SIZE_MAX / 2, std::align_val_t(64), std::nothrow), nullptr);
  EXPECT_THROW(::operator new(SIZE_MAX / 2), std::bad_alloc);
  EXPECT_THROW(::operator new[](SIZE_MAX / 2, std::align_val_t(128)), std::bad_alloc);
}

int g_handler_calls;
void handler() {
  if (++g_handler_calls == 3) std::set_new_handler(nullptr);
}

TEST(HeapApi, NewHandlerLoop) {
  g_handler_calls = 0;
  std::set_new_handler(handler);
  EXPECT_THROW(::operator new(SIZE_MAX / 2), std::bad_alloc);
  EXPECT_EQ(g_handler_calls, 3);
}

TEST_F(HeapReports, DoubleInvalidMismatch) {
  uint64_t before = ukasan_report_count();
  char* volatile p = static_cast<char*>(malloc(32));
  free(p);
  EXPECT_KASAN_REPORT(free(p), "double-free");
  char local[16];
  char* volatile s = local;
  EXPECT_KASAN_REPORT(free(s), "invalid-free");
  char* volatile m = static_cast<char*>(malloc(64));
  EXPECT_KASAN_REPORT(free(m + 16), "invalid-free");
  EXPECT_NE(last_report().find("not at the start of an object"), std::string::npos) << last_report();
  free(m);
  int* volatile n = new int[4];
  EXPECT_KASAN_REPORT(delete n, "alloc-dealloc-mismatch");
  EXPECT_NE(last_report().find("allocated with operator new [] and is being freed with operator delete"),
            std::string::npos)
      << last_report();
  EXPECT_EQ(ukasan_report_count() - before, 4u);
}

// Above 512 bytes malloc's classes are quarter steps of each power of two:
// heap-only malloc-<size> caches between kmalloc's, which serve the powers
// of two; up to 16384 from slabs, larger blocks page-backed.
TEST_F(HeapReports, HeapOnlySizeClasses) {
  struct Case {
    size_t n;
    const char* cache;
  };
  for (Case k : {Case{512, "kmalloc-512"}, Case{513, "malloc-640"}, Case{640, "malloc-640"}, Case{641, "malloc-768"},
                 Case{897, "kmalloc-1024"}, Case{1032, "malloc-1280"}, Case{2000, "kmalloc-2048"},
                 Case{3000, "malloc-3072"}, Case{4104, "malloc-5120"}, Case{6144, "malloc-6144"},
                 Case{6145, "malloc-7168"}, Case{7169, "kmalloc-8192"}, Case{9000, "malloc-10240"},
                 Case{12289, "malloc-14336"}, Case{16384, "malloc-16384"}}) {
    SCOPED_TRACE(k.n);
    volatile char* p = static_cast<char*>(malloc(k.n));
    EXPECT_EQ(malloc_usable_size(const_cast<char*>(p)), k.n);
    p[k.n] = 1;
    EXPECT_KASAN_REPORT(free(const_cast<char*>(p)), "Right Redzone overwritten");
    const std::string t = last_report();
    EXPECT_NE(t.find(std::string("BUG ") + k.cache + " (Not tainted): "), std::string::npos) << t;
  }
  void* big = malloc(16385);
  EXPECT_TRUE(aligned(big, 4096)) << "past the heap classes: a page-backed block";
  free(big);
}

// The right canary covers redzone_check_bytes (16) past the end and on to
// the end of that cache line: every byte of that window is checked at free,
// whatever the window's length (16..79) and alignment. kmalloc-512's
// redzone (112 bytes past any size) never clips the window.
TEST_F(HeapReports, EveryByteOfTheCanaryWindowIsChecked) {
  unsigned checked = 0;
  for (size_t req = 300; req < 300 + 64; req += 3) {  // every window length, every alignment
    for (size_t k = 0;; k++) {
      char* p = static_cast<char*>(malloc(req));
      const uintptr_t end = reinterpret_cast<uintptr_t>(p) + req;
      const size_t window = ((end + 16 + 63) & ~uintptr_t(63)) - end;
      if (k >= window) {
        free(p);
        break;
      }
      SCOPED_TRACE(testing::Message() << "size " << req << ", byte " << k << " of a " << window << "-byte window");
      p[req + k] = 0;
      EXPECT_KASAN_REPORT(free(p), "Right Redzone overwritten");
      checked++;
    }
  }
  EXPECT_GT(checked, 22u * 16);
}

// A realloc that grows a block out of its class takes the top class of the
// new size's octave (kmalloc's power of two), so the next growths stay in
// place; a plain malloc of that size takes the tight quarter step.
TEST(HeapApi, ReallocGrowthTakesTheOctavesTopClass) {
  char* p = static_cast<char*>(malloc(600));  // malloc-640
  ASSERT_NE(p, nullptr);
  memset(p, 7, 600);
  char* q = static_cast<char*>(realloc(p, 700));  // moves: into kmalloc-1024, not malloc-768
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q[599], 7);
  char* r = static_cast<char*>(realloc(q, 1000));
  EXPECT_EQ(r, q) << "grown within kmalloc-1024's slack: in place";
  EXPECT_EQ(malloc_usable_size(r), 1000u);
  char* s = static_cast<char*>(realloc(r, 1500));  // moves: into kmalloc-2048
  char* t = static_cast<char*>(realloc(s, 2000));
  EXPECT_EQ(t, s);
  free(t);
  void* m = malloc(700);  // a malloc keeps its tight class
  void* g = realloc(m, 760);
  EXPECT_EQ(g, m) << "700 and 760 share malloc-768";
  void* h = realloc(g, 800);
  EXPECT_NE(h, g) << "800 is past malloc-768";
  free(h);
}

// SLUB debug's line for the changed bytes [first, last] (pattern byte want).
static std::string changed_line(const volatile void* first, const volatile void* last, int got, int want) {
  char b[128];
  snprintf(b, sizeof(b), "0x%016lx-0x%016lx @offset=", reinterpret_cast<unsigned long>(first),
           reinterpret_cast<unsigned long>(last));
  std::string s = b;
  snprintf(b, sizeof(b), ". First byte 0x%x instead of 0x%x\n", got, want);
  return s + "|" + b;  // the offset (from the slab) between the two parts
}
static bool has_changed_line(const std::string& t, const std::string& line) {
  const size_t bar = line.find('|');
  const size_t at = t.find(line.substr(0, bar));
  return at != std::string::npos && t.find(line.substr(bar + 1), at) != std::string::npos;
}

// The canaries are checked at free: SLUB debug's reports, the stack that
// found them labelled.
TEST_F(HeapReports, CanariesAtFree) {
  uint64_t before = ukasan_report_count();
  volatile char* p = static_cast<char*>(malloc(20));
  p[20] = 1;  // right after the end (slack of the 32-byte class)
  p[22] = 2;
  EXPECT_KASAN_REPORT(free(const_cast<char*>(p)), "Right Redzone overwritten");
  std::string t = last_report();
  EXPECT_NE(t.find("BUG kmalloc-32 (Not tainted): Right Redzone overwritten\n"), std::string::npos) << t;
  EXPECT_TRUE(has_changed_line(t, changed_line(p + 20, p + 22, 1, 0xcc))) << t;
  EXPECT_NE(t.find("\nFound at free() by task "), std::string::npos) << t;
  EXPECT_NE(t.find("\nAllocated in "), std::string::npos) << t;
  volatile char* q = static_cast<char*>(malloc(48));
  q[-1] = 1;
  EXPECT_KASAN_REPORT(free(const_cast<char*>(q)), "Left Redzone overwritten");
  EXPECT_TRUE(has_changed_line(last_report(), changed_line(q - 1, q - 1, 1, 0xcc))) << last_report();
  volatile char* r = static_cast<char*>(malloc(10000));  // large block: tail of its last page
  r[10003] = 1;
  EXPECT_KASAN_REPORT(free(const_cast<char*>(r)), "Right Redzone overwritten");
  EXPECT_TRUE(has_changed_line(last_report(), changed_line(r + 10003, r + 10003, 1, 0xcc))) << last_report();
  volatile char* w = static_cast<char*>(malloc(20480));  // large, page multiple: the guard page
  w[20480 + 3] = 1;
  EXPECT_KASAN_REPORT(free(const_cast<char*>(w)), "Right Redzone overwritten");
  EXPECT_TRUE(has_changed_line(last_report(), changed_line(w + 20483, w + 20483, 1, 0))) << last_report();
  volatile char* x = static_cast<char*>(realloc(malloc(20), 20));
  x[21] = 3;
  EXPECT_KASAN_REPORT(x = static_cast<char*>(realloc(const_cast<char*>(x), 24)), "Right Redzone overwritten");
  EXPECT_NE(last_report().find("\nFound at realloc() by task "), std::string::npos) << last_report();
  free(const_cast<char*>(x));
  EXPECT_EQ(ukasan_report_count() - before, 5u);
}

// The four reports come from one drain: checked by hand, then claimed.
TEST_F(HeapReports, WriteAfterFreeAtEviction) {
  uint64_t before = ukasan_report_count();
  for (size_t n : {24ul, 200ul, 6000ul, 50000ul}) {
    volatile char* p = static_cast<char*>(malloc(n));
    free(const_cast<char*>(p));
    p[n - 1] = 7;  // the last byte: covered by the tail range too
  }
  EXPECT_EQ(ukasan_report_count(), before);
  ukasan_quarantine_drain();
  EXPECT_EQ(ukasan_report_count() - before, 4u);
  std::string t = unclaimed();
  EXPECT_EQ(ukasan_test::kasan_headers(t).size(), 4u) << t;
  EXPECT_NE(t.find("BUG kmalloc-32 (Not tainted): Poison overwritten\n"), std::string::npos) << t;
  EXPECT_NE(t.find("BUG kmalloc-large (Not tainted): Poison overwritten\n"), std::string::npos) << t;
  EXPECT_NE(t.find(". First byte 0x7 instead of 0x6b\n"), std::string::npos) << t;
  EXPECT_NE(t.find("\nFreed in "), std::string::npos) << t;
  // Found by the drain, named with its caller's stack.
  EXPECT_NE(t.find("\nFound when the object left the quarantine by task "), std::string::npos) << t;
  EXPECT_NE(t.find("WriteAfterFreeAtEviction", t.rfind("Found when")), std::string::npos) << t;
  claim_all();
}

TEST_F(HeapReports, CleanChurnReportsNothing) {
  uint64_t before = ukasan_report_count();
  for (int i = 0; i < 20000; i++) {
    size_t n = static_cast<size_t>(i * 7919 % 3000);
    char* p = static_cast<char*>(malloc(n));
    memset(p, i, n);
    p = static_cast<char*>(realloc(p, n / 2 + 1));
    free(p);
  }
  ukasan_quarantine_drain();
  EXPECT_EQ(ukasan_report_count(), before);
  EXPECT_EQ(report_text(), "");
}

TEST(HeapApi, LargeBlocksReturnMemoryAfterEviction) {
  const size_t n = 32u << 20;
  char* p = static_cast<char*>(malloc(n));
  memset(p, 1, n);
  free(p);
  ukasan_quarantine_drain();
  unsigned char vec[(32u << 20) / 4096];
  ASSERT_EQ(mincore(p, n, vec), 0);
  size_t resident = 0;
  for (unsigned char v : vec) resident += v & 1;
  EXPECT_EQ(resident, 0u);
}

}  // namespace

// ---- the kernel API's objects through libc's free (issue 16) ----------------------

// free()/delete of an object kmem_cache_alloc or kmalloc returned is a
// mismatch naming where it came from, never a (false) redzone report.
TEST_F(HeapReports, LibcFreeOfKernelObjectsIsAMismatch) {
  struct kmem_cache* c = kmem_cache_create("heap_test_cache", 40, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  void* o = kmem_cache_alloc(c, GFP_KERNEL);
  EXPECT_KASAN_REPORT(free(o), "alloc-dealloc-mismatch");
  EXPECT_NE(last_report().find("allocated with kmem_cache_alloc(heap_test_cache) and is being freed with free()"),
            std::string::npos)
      << last_report();
  EXPECT_EQ(last_report().find("slab-out-of-bounds"), std::string::npos) << last_report();
  void* k = kmalloc(100, GFP_KERNEL);
  EXPECT_KASAN_REPORT(free(k), "alloc-dealloc-mismatch");
  EXPECT_NE(last_report().find("allocated with kmalloc() and is being freed with free()"), std::string::npos)
      << last_report();
  void* big = kmalloc(100000, GFP_KERNEL);
  EXPECT_KASAN_REPORT(operator delete(big), "alloc-dealloc-mismatch");
  EXPECT_NE(last_report().find("allocated with kmalloc() and is being freed with operator delete"),
            std::string::npos)
      << last_report();
}

// ---- heap statistics (issue 16) -----------------------------------------------------

TEST(HeapApi, MallinfoReportsRealFigures) {
  ukasan_quarantine_drain();
  const struct mallinfo2 before = mallinfo2();
  EXPECT_GT(before.arena, 0u) << "the kmalloc caches' slabs";
  std::vector<void*> small;
  for (int i = 0; i < 1000; i++) small.push_back(malloc(1000));  // kmalloc-1024
  void* big = malloc(10 << 20);
  const struct mallinfo2 during = mallinfo2();
  EXPECT_GE(during.uordblks - before.uordblks, 1000u * 1000) << "in use grows by what was allocated";
  EXPECT_LT(during.uordblks - before.uordblks, 1000u * 1024 + 65536);
  EXPECT_EQ(during.hblks - before.hblks, 1u);
  EXPECT_GE(during.hblkhd - before.hblkhd, size_t(10) << 20);
  for (void* p : small) free(p);
  free(big);
  const struct mallinfo2 after = mallinfo2();
  EXPECT_LT(after.uordblks, during.uordblks - 1000u * 1000) << "frees lower it";
  EXPECT_GE(after.fsmblks, size_t(11) << 20) << "the freed blocks sit in the quarantine";
  ukasan_quarantine_drain();
  EXPECT_EQ(mallinfo2().hblks, before.hblks) << "the large block's pages went back after eviction";
  // The old interface and the printers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  EXPECT_GT(mallinfo().arena, 0);
#pragma GCC diagnostic pop
  char* buf = nullptr;
  size_t len = 0;
  FILE* f = open_memstream(&buf, &len);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(malloc_info(0, f), 0);
  fclose(f);
  EXPECT_NE(std::string(buf, len).find("<malloc version=\"1\">"), std::string::npos);
  EXPECT_NE(std::string(buf, len).find("<system type=\"current\" size=\""), std::string::npos);
  EXPECT_EQ(std::string(buf, len).find("size=\"0\"/>\n<system type=\"current\" size=\"0\""), std::string::npos);
  free(buf);
  EXPECT_EQ(malloc_info(1, stdout), -1);
  testing::internal::CaptureStderr();
  malloc_stats();
  const std::string st = testing::internal::GetCapturedStderr();
  EXPECT_NE(st.find("in use bytes     ="), std::string::npos) << st;
  EXPECT_NE(st.find("quarantined bytes ="), std::string::npos) << st;
}

// calloc of a page-backed block writes nothing: its pages read as zero even
// when they held a freed block before (released with MADV_DONTNEED).
TEST(HeapApi, CallocOfReusedPagesIsZero) {
  for (int round = 0; round < 4; round++) {
    unsigned char* p = static_cast<unsigned char*>(malloc(300000));
    ASSERT_NE(p, nullptr);
    memset(p, 0xff, 300000);
    free(p);
    ukasan_quarantine_drain();  // its span goes back to the page allocator
    unsigned char* q = static_cast<unsigned char*>(calloc(300000, 1));
    ASSERT_NE(q, nullptr);
    for (size_t i = 0; i < 300000; i++) ASSERT_EQ(q[i], 0) << "round " << round << " byte " << i;
    free(q);
  }
}

// The runtime never touches a fresh large block's guard pages (populating
// them cost two calls and two pages per block): after its free they are
// still not resident, and an underflow into the one before a block, or an
// overflow into the one after (CanariesAtFree), is still reported at
// free. Sizes of their own: no resident span of theirs exists yet.
TEST_F(HeapReports, FreshLargeBlocksGuardPagesStayUntouched) {
  const size_t n = 45 * 4096;
  char* p = static_cast<char*>(malloc(n));
  memset(p, 1, n);
  free(p);
  unsigned char v = 0xff;
  ASSERT_EQ(mincore(p - 4096, 4096, &v), 0);
  EXPECT_EQ(v & 1, 0) << "the guard page before the block was touched";
  v = 0xff;
  ASSERT_EQ(mincore(p + n, 4096, &v), 0);
  EXPECT_EQ(v & 1, 0) << "the guard page after the block was touched";
  volatile char* q = static_cast<char*>(malloc(46 * 4096));
  q[-5] = 7;
  EXPECT_KASAN_REPORT(free(const_cast<char*>(q)), "Left Redzone overwritten");
  EXPECT_TRUE(has_changed_line(last_report(), changed_line(q - 5, q - 5, 7, 0))) << last_report();
}

// A span kept resident is handed to the next block of its size with its
// guard pages untouched (mincore says which ones a program wrote); only a
// span reused again and again gets them populated, so that its later frees
// need no mincore. The spans of a short process are reused a few times at
// most (git gc: 1-3 times each).
TEST_F(HeapReports, ResidentSpansPopulateTheirGuardsOnlyWhenReusedOften) {
  {  // kernels before 5.14 have no MADV_POPULATE_READ: nothing is populated
    void* pg = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(pg, MAP_FAILED);
    const bool populate = madvise(pg, 4096, 22 /* MADV_POPULATE_READ */) == 0;
    munmap(pg, 4096);
    if (!populate) GTEST_SKIP() << "no MADV_POPULATE_READ";
  }
  const size_t n = 37 * 4096;  // a size of its own
  auto guards = [&](char* b) {
    unsigned char l = 0xff, r = 0xff;
    EXPECT_EQ(mincore(b - 4096, 4096, &l), 0);
    EXPECT_EQ(mincore(b + n, 4096, &r), 0);
    return (l & 1) + (r & 1);
  };
  ukasan_quarantine_drain();
  char* first = static_cast<char*>(malloc(n));
  memset(first, 1, n);
  free(first);
  ukasan_quarantine_drain();
  int populated_at = 0;
  for (int reuse = 1; reuse <= 6; reuse++) {
    char* b = static_cast<char*>(malloc(n));
    ASSERT_EQ(b, first) << "the resident span is reused";
    const int g = guards(b);
    if (!populated_at && g == 2) populated_at = reuse;
    EXPECT_TRUE(g == 0 || g == 2) << reuse;
    memset(b, 2, n);
    free(b);
    ukasan_quarantine_drain();
  }
  EXPECT_EQ(populated_at, 4) << "guards populated at this reuse";
}

// A large block's span stays resident after eviction for the next block of
// its size (free_span_resident): that block's guard bytes read as zero again
// (an overflow of the earlier block was reported once, at its free), and the
// pages kept resident are bounded (8 MiB).
TEST_F(HeapReports, ResidentSpansAreReusedCleanAndBounded) {
  ukasan_quarantine_drain();
  const uint64_t before = ukasan_report_count();
  volatile char* w = static_cast<char*>(malloc(20480));
  w[20480 + 3] = 1;  // the guard page after it
  EXPECT_KASAN_REPORT(free(const_cast<char*>(w)), "Right Redzone overwritten");
  ukasan_quarantine_drain();
  for (int i = 0; i < 4; i++) {
    char* again = static_cast<char*>(malloc(20480));
    memset(again, 1, 20480);
    free(again);
    ukasan_quarantine_drain();
  }
  EXPECT_EQ(ukasan_report_count() - before, 1u) << report_text();
  const size_t n = 512u << 10, count = 32;  // 16 MiB of blocks below the protection threshold
  std::vector<char*> blocks;
  for (size_t i = 0; i < count; i++) {
    blocks.push_back(static_cast<char*>(malloc(n)));
    memset(blocks.back(), 2, n);
  }
  for (char* b : blocks) free(b);
  ukasan_quarantine_drain();
  size_t resident = 0;
  std::vector<unsigned char> vec(n / 4096);
  for (char* b : blocks) {
    ASSERT_EQ(mincore(b, n, vec.data()), 0);
    for (unsigned char v : vec) resident += v & 1;
  }
  EXPECT_LE(resident * 4096, size_t(8) << 20);
  EXPECT_GT(resident, 0u) << "the newest spans stay resident";
}

// ukasan_check_quarantine(): a write after free is found while the object is
// still in the quarantine, reported once (not again at eviction).
TEST_F(HeapReports, CheckQuarantineFindsWritesAfterFreeOnce) {
  ukasan_quarantine_drain();
  volatile char* p = static_cast<volatile char*>(malloc(200));
  volatile char* big = static_cast<volatile char*>(malloc(100000));
  free(const_cast<char*>(p));
  free(const_cast<char*>(big));
  EXPECT_EQ(ukasan_check_quarantine(), 0u) << "intact patterns";
  p[50] = 'x';
  unsigned found = 0;
  EXPECT_KASAN_REPORT(found = ukasan_check_quarantine(), "Poison overwritten");
  EXPECT_EQ(found, 1u);
  const std::string t = last_report();
  EXPECT_NE(t.find("BUG kmalloc-256 (Not tainted): Poison overwritten\n"), std::string::npos) << t;
  EXPECT_TRUE(has_changed_line(t, changed_line(p + 50, p + 50, 'x', 0x6b))) << t;
  EXPECT_NE(t.find("\nFound by the quarantine check, the object still in the quarantine by task "), std::string::npos) << t;
  EXPECT_NE(t.find("CheckQuarantineFindsWritesAfterFreeOnce", t.find("Found by")), std::string::npos) << t;
  big[99999] = 'y';
  EXPECT_KASAN_REPORT(found = ukasan_check_quarantine(), "Poison overwritten");
  EXPECT_NE(last_report().find("BUG kmalloc-large (Not tainted): Poison overwritten\n"), std::string::npos);
  EXPECT_EQ(found, 1u) << "the first object was reported already";
  EXPECT_EQ(ukasan_check_quarantine(), 0u) << "reported once";
  ukasan_quarantine_drain();  // eviction: not reported again
  EXPECT_EQ(unclaimed(), "");
}
