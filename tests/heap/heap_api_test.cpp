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

#include <gtest/gtest.h>

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

// Captures reports into a temporary file for the duration of a scope.
class ReportCapture {
 public:
  ReportCapture() {
    char path[] = "/tmp/ukasan_heap_test_XXXXXX";
    fd_ = mkstemp(path);
    unlink(path);
    ukasan_set_options("multi_shot=1:exitcode=0:symbolize=0");
    ukasan_set_report_fd(fd_);
  }
  ~ReportCapture() {
    ukasan_set_report_fd(2);
    close(fd_);
  }
  std::string text() {
    std::string s;
    char buf[4096];
    off_t off = 0;
    ssize_t n;
    while ((n = pread(fd_, buf, sizeof(buf), off)) > 0) {
      s.append(buf, static_cast<size_t>(n));
      off += n;
    }
    return s;
  }

 private:
  int fd_;
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

TEST(HeapReports, DoubleInvalidMismatch) {
  ReportCapture cap;
  uint64_t before = ukasan_report_count();
  char* volatile p = static_cast<char*>(malloc(32));
  free(p);
  free(p);
  char local[16];
  char* volatile s = local;
  free(s);
  char* volatile m = static_cast<char*>(malloc(64));
  free(m + 16);
  free(m);
  int* volatile n = new int[4];
  delete n;
  EXPECT_EQ(ukasan_report_count() - before, 4u);
  std::string t = cap.text();
  EXPECT_NE(t.find("BUG: KASAN: double-free"), std::string::npos) << t;
  EXPECT_NE(t.find("BUG: KASAN: invalid-free"), std::string::npos);
  EXPECT_NE(t.find("not at the start of an object"), std::string::npos);
  EXPECT_NE(t.find("BUG: KASAN: alloc-dealloc-mismatch"), std::string::npos);
  EXPECT_NE(t.find("allocated with operator new [] and is being freed with operator delete"), std::string::npos);
}

// Heap-only classes between and past the kmalloc ones: 4097..6144 and
// 8193..16384 come from slabs (malloc-6144/12288/16384), larger blocks are
// page-backed.
TEST(HeapReports, HeapOnlySizeClasses) {
  struct Case {
    size_t n;
    const char* cache;
  };
  for (Case k : {Case{5000, "malloc-6144"}, Case{6144, "malloc-6144"}, Case{6145, "kmalloc-8192"},
                 Case{9000, "malloc-12288"}, Case{12289, "malloc-16384"}, Case{16384, "malloc-16384"}}) {
    ReportCapture cap;
    volatile char* p = static_cast<char*>(malloc(k.n));
    EXPECT_EQ(malloc_usable_size(const_cast<char*>(p)), k.n);
    p[k.n] = 1;
    free(const_cast<char*>(p));
    std::string t = cap.text();
    EXPECT_NE(t.find(std::string("which belongs to the cache ") + k.cache + " of size"), std::string::npos)
        << k.n << "\n" << t;
  }
  void* big = malloc(16385);
  EXPECT_TRUE(aligned(big, 4096)) << "past the heap classes: a page-backed block";
  free(big);
}

TEST(HeapReports, CanariesAtFree) {
  ReportCapture cap;
  uint64_t before = ukasan_report_count();
  volatile char* p = static_cast<char*>(malloc(20));
  p[20] = 1;  // right after the end (slack of the 32-byte class)
  free(const_cast<char*>(p));
  volatile char* q = static_cast<char*>(malloc(48));
  q[-1] = 1;
  free(const_cast<char*>(q));
  volatile char* r = static_cast<char*>(malloc(10000));  // large block: tail of its last page
  r[10003] = 1;
  free(const_cast<char*>(r));
  volatile char* w = static_cast<char*>(malloc(4096));  // large, page multiple: the guard page
  w[4096 + 3] = 1;
  free(const_cast<char*>(w));
  EXPECT_EQ(ukasan_report_count() - before, 4u);
  std::string t = cap.text();
  EXPECT_NE(t.find("BUG: KASAN: slab-out-of-bounds"), std::string::npos) << t;
  EXPECT_NE(t.find("the redzone after the 20-byte object was overwritten at offset 20"), std::string::npos) << t;
  EXPECT_NE(t.find("the redzone before the 48-byte object"), std::string::npos) << t;
  EXPECT_NE(t.find("at offset 10003"), std::string::npos) << t;
}

TEST(HeapReports, WriteAfterFreeAtEviction) {
  ReportCapture cap;
  uint64_t before = ukasan_report_count();
  for (size_t n : {24ul, 200ul, 6000ul, 50000ul}) {
    volatile char* p = static_cast<char*>(malloc(n));
    free(const_cast<char*>(p));
    p[n - 1] = 7;  // the last byte: covered by the tail range too
  }
  EXPECT_EQ(ukasan_report_count(), before);
  ukasan_quarantine_drain();
  EXPECT_EQ(ukasan_report_count() - before, 4u);
  std::string t = cap.text();
  EXPECT_NE(t.find("BUG: KASAN: slab-use-after-free"), std::string::npos) << t;
  EXPECT_NE(t.find("BUG: KASAN: use-after-free"), std::string::npos) << t;
  EXPECT_NE(t.find("1 bytes at offset 23 of the freed 24-byte object"), std::string::npos) << t;
  EXPECT_NE(t.find("Freed by task"), std::string::npos);
}

TEST(HeapReports, CleanChurnReportsNothing) {
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
