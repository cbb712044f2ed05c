// kmemleak (src/kmemleak): what one scan reports, on the slab API's objects
// (the core library: gtest's own allocations are glibc's, not scanned as
// objects). Each test leaks objects of sizes no other test uses, and checks
// the exact set of sizes reported.
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <regex>
#include <string>
#include <vector>

#include "kmemleak/kmemleak.h"
#include "platform/test_knobs.h"
#include "shadow/shadow.h"
#include "test_util.h"
#include "ukasan/kmemleak.h"
#include "ukasan/slab.h"
#include "ukasan/ukasan.h"

using ukasan_test::ReportCapture;

// Roots the scan sees: external, so the compiler keeps every store to them.
void* volatile g_sink;
void* g_root;
void** g_chain;
void* g_interior;
char g_pool[3 * 4096] __attribute__((aligned(64)));
unsigned long g_leaked_inv;  // an address, complemented: no reference
// .bss no code touches: 4 MiB, so at least one aligned 2 MiB window of it
// shares no page (nor a transparent huge page) with another variable.
char g_untouched[4 << 20] __attribute__((aligned(4096)));

namespace {

struct Leak {
  unsigned long addr;
  unsigned long size;
};

// A conservative scan sees stale pointers in the uninitialised slots of the
// frames above it, left there by the helpers that allocated: zero the stack
// below the caller first (the scanning frames then start clean). Tests keep
// their pointers in globals or behind noinline helpers for the same reason.
__attribute__((noinline)) void scrub_stack() {
  volatile char buf[1 << 16];
  for (size_t i = 0; i < sizeof(buf); i += 8) *reinterpret_cast<volatile unsigned long*>(&buf[i]) = 0;
}

// Scans and returns the objects reported ("and N more" lines expand to N
// copies of the group's size, address 0).
__attribute__((noinline)) std::vector<Leak> scan_now(std::string* text = nullptr) {
  ReportCapture cap;
  ukasan_leak_scan();
  const std::string t = cap.text();
  if (text) *text = t;
  std::vector<Leak> v;
  static const std::regex head("^unreferenced object 0x([0-9a-f]+) \\(size ([0-9]+)\\):$");
  static const std::regex more("^  and ([0-9]+) more unreferenced objects with this backtrace.*");
  for (const std::string& l : ukasan_test::split_lines(t)) {
    std::smatch m;
    if (std::regex_match(l, m, head)) {
      v.push_back({std::stoul(m[1], nullptr, 16), std::stoul(m[2])});
    } else if (std::regex_match(l, m, more) && !v.empty()) {
      for (unsigned long i = 0; i < std::stoul(m[1]); i++) v.push_back({0, v.back().size});
    }
  }
  return v;
}

#define scan(...) (scrub_stack(), scan_now(__VA_ARGS__))

std::vector<unsigned long> sizes(const std::vector<Leak>& v) {
  std::vector<unsigned long> s;
  for (const Leak& l : v) s.push_back(l.size);
  std::sort(s.begin(), s.end());
  return s;
}

// Allocations from a helper frame that has returned by the time of the
// scan (the scan reads the stack only above the caller's stack pointer).
__attribute__((noinline)) void* make(size_t n) {
  void* p = kmalloc(n, GFP_KERNEL);
  memset(p, 0, n);
  return p;
}
__attribute__((noinline)) void drop(size_t n) { g_sink = make(n); g_sink = nullptr; }

class KmemleakTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // These tests leak on purpose: their leaks must not fail the process.
    ukasan_set_options("detect_leaks=1:exitcode=0");
    scan();  // whatever earlier tests left is reported now, not here
  }
};

__attribute__((noinline)) void leak_one(size_t n) {
  void* p = make(n);
  g_leaked_inv = ~reinterpret_cast<unsigned long>(p);
}

TEST_F(KmemleakTest, ReportsAnUnreferencedObjectOnceInTheKernelFormat) {
  leak_one(3101);
  std::string text;
  std::vector<Leak> v = scan(&text);
  ASSERT_EQ(sizes(v), std::vector<unsigned long>{3101}) << text;
  EXPECT_EQ(v[0].addr, ~g_leaked_inv);
  char head[96];
  snprintf(head, sizeof(head), "unreferenced object 0x%08lx (size 3101):\n", ~g_leaked_inv);
  EXPECT_NE(text.find(head), std::string::npos) << text;
  EXPECT_NE(text.find("  hex dump (first 32 bytes):\n    00 00 00 00"), std::string::npos) << text;
  EXPECT_NE(text.find("  backtrace:\n    [<"), std::string::npos) << text;
  EXPECT_NE(text.find("kmemleak: 1 new suspected memory leaks (3101 bytes, 1 backtraces)"), std::string::npos);
  EXPECT_TRUE(scan().empty()) << "a leak is reported by one scan only";
}

__attribute__((noinline)) void build_chain() {  // global -> a -> b -> (interior) c
  void** a = static_cast<void**>(make(3201));
  void** b = static_cast<void**>(make(3202));
  char* c = static_cast<char*>(make(3203));
  a[0] = b;
  b[5] = c + 3000;
  g_chain = a;
}
__attribute__((noinline)) void drop_chain() { g_chain = nullptr; }

TEST_F(KmemleakTest, ReachableFromGlobalsHeapStackAndInteriorPointersIsNot) {
  build_chain();
  void* volatile on_stack = make(3204);
  drop(3205);
  EXPECT_EQ(sizes(scan()), std::vector<unsigned long>{3205});
  // Dropping the root leaks the whole chain (kmemleak reports each object).
  drop_chain();
  std::vector<unsigned long> want{3201, 3202, 3203};
  EXPECT_EQ(sizes(scan()), want);
  kfree(on_stack);
}

__attribute__((noinline)) void point_past_end() {
  char* p = static_cast<char*>(make(3301));
  g_interior = p + 3301;
}

TEST_F(KmemleakTest, OnePastTheEndIsNotAReference) {
  point_past_end();
  EXPECT_EQ(sizes(scan()), std::vector<unsigned long>{3301});
  g_interior = nullptr;
}

__attribute__((noinline)) void annotate() {
  void** keep = static_cast<void**>(make(3401));
  keep[0] = make(3402);  // referenced by a not-leak object
  kmemleak_not_leak(keep);
  void** black = static_cast<void**>(make(3403));
  black[0] = make(3404);  // referenced only by an ignored object: reported
  kmemleak_ignore(black);
}

TEST_F(KmemleakTest, NotLeakIsScannedIgnoreIsNot) {
  annotate();
  EXPECT_EQ(sizes(scan()), std::vector<unsigned long>{3404});
}

__attribute__((noinline)) void register_custom() {
  kmemleak_alloc(g_pool + 4096, 3501, 1, 0);
  kmemleak_alloc(g_pool + 8192, 3502, 1, 0);
  *reinterpret_cast<void**>(g_pool) = g_pool + 8192 + 10;  // an interior reference from the root
}
__attribute__((noinline)) void free_custom() {
  kmemleak_free(g_pool + 4096);
  kmemleak_free(g_pool + 8192);
  *reinterpret_cast<void**>(g_pool) = nullptr;
}

TEST_F(KmemleakTest, CustomObjectsAreTrackedUntilFreed) {
  register_custom();
  EXPECT_EQ(sizes(scan()), std::vector<unsigned long>{3501});
  free_custom();
  EXPECT_TRUE(scan().empty());
  ReportCapture cap;
  kmemleak_free(g_pool + 4096);  // not registered any more
  EXPECT_NE(cap.text().find("kmemleak: Freeing unknown object at 0x"), std::string::npos) << cap.text();
}

__attribute__((noinline)) void lsan_annotated() {
  __lsan_disable();
  drop(3601);
  __lsan_enable();
  __lsan_ignore_object(static_cast<char*>(make(3602)) + 100);  // interior, as LSan accepts
  drop(3603);
}

TEST_F(KmemleakTest, LsanDisableAndIgnoreObject) {
  lsan_annotated();
  EXPECT_EQ(sizes(scan()), std::vector<unsigned long>{3603});
}

// The scan skips slots whose shadow says freed (the quarantine is most of
// a heap at exit). Objects in recycled slots, whose shadow said freed until
// they were allocated, are still found, and so are objects the program
// poisoned whole (their shadow never says accessible). Returns whether
// objects of both kinds reused freed slots.
constexpr int kRecycled = 32;
__attribute__((noinline)) bool leak_in_recycled_slots() {
  void* old[4 * kRecycled];
  for (void*& o : old) o = make(3901);
  for (void* o : old) kfree(o);
  ukasan_quarantine_drain();  // the slots are free again
  int reused_a = 0, reused_b = 0;
  for (int i = 0; i < kRecycled; i++) {
    void* a = make(3901);
    void* b = make(3902);
    ukasan::poison(reinterpret_cast<ukasan::uptr>(b), 3904, ukasan::kShadowUserPoison);  // as __asan_poison_memory_region
    for (void* o : old) {
      reused_a += o == a;
      reused_b += o == b;
    }
  }
  g_sink = nullptr;
  return reused_a && reused_b;
}

TEST_F(KmemleakTest, ObjectsInRecycledSlotsAndPoisonedObjectsAreFound) {
  ASSERT_TRUE(leak_in_recycled_slots());
  std::vector<unsigned long> want(kRecycled, 3901);
  want.insert(want.end(), kRecycled, 3902);
  EXPECT_EQ(sizes(scan()), want);
}

constexpr int kTable = 200;
__attribute__((noinline)) void build_table() {
  void** table = static_cast<void**>(make(kTable * sizeof(void*) + 8));
  for (int i = 0; i < kTable; i++) {
    void** o = static_cast<void**>(make(3700 + i % 3));
    o[1] = make(3710);  // reached only through o
    table[i] = o;
  }
  g_root = table;
}
__attribute__((noinline)) void free_table() {
  void** table = static_cast<void**>(g_root);
  for (int i = 0; i < kTable; i++) {
    kfree(static_cast<void**>(table[i])[1]);
    kfree(table[i]);
  }
  kfree(table);
  g_root = nullptr;
}

// A full work stack leaves marked objects unscanned; the rescan must still
// reach what they point to.
TEST_F(KmemleakTest, WorkStackOverflowRescans) {
  build_table();
  ukasan::g_test_knobs.leak_work_max.store(4);
  std::vector<Leak> v = scan();
  ukasan::g_test_knobs.leak_work_max.store(0);
  EXPECT_TRUE(v.empty()) << v.size() << " objects reported";
  free_table();
}

// Other threads' stacks and registers are roots: one blocked in a system
// call with the pointer on its stack, one that blocks the stop signal (it
// is read from the system call it waits in), one spinning with the pointer
// in a register.
struct Holder {
  std::atomic<int> ready{0};
  std::atomic<int> stop{0};
  int pipe_rd = -1;
};

// Blocks in read() with the pointer in a local; with block_signals, after
// blocking every signal (the scan then reads it from its system call).
void* hold_blocked(Holder* h, bool block_signals, size_t size) {
  if (block_signals) {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
  }
  void* volatile mine = make(size);
  h->ready.store(1);
  char c;
  while (read(h->pipe_rd, &c, 1) < 0) {
  }
  kfree(mine);
  return nullptr;
}
void* hold_on_stack(void* arg) { return hold_blocked(static_cast<Holder*>(arg), false, 3801); }
void* hold_blocking_signals(void* arg) { return hold_blocked(static_cast<Holder*>(arg), true, 3802); }

void* hold_in_register(void* arg) {
  Holder* h = static_cast<Holder*>(arg);
  register void* p asm("r12") = make(3803);
  asm volatile("" : "+r"(p));
  h->ready.store(1);
  while (!h->stop.load(std::memory_order_relaxed)) asm volatile("" : "+r"(p));
  kfree(p);
  return nullptr;
}

TEST_F(KmemleakTest, OtherThreadsStacksAndRegistersAreRoots) {
  void* (*fns[])(void*) = {hold_on_stack, hold_blocking_signals, hold_in_register};
  Holder h[3];
  pthread_t t[3];
  int fds[2][2];
  for (int i = 0; i < 2; i++) {
    ASSERT_EQ(pipe(fds[i]), 0);
    h[i].pipe_rd = fds[i][0];
  }
  for (int i = 0; i < 3; i++) ASSERT_EQ(pthread_create(&t[i], nullptr, fns[i], &h[i]), 0);
  for (int i = 0; i < 3; i++)
    while (!h[i].ready.load()) usleep(1000);
  usleep(20000);  // the readers are now blocked in read()
  drop(3804);
  std::string text;
  std::vector<Leak> v = scan(&text);
  EXPECT_EQ(sizes(v), std::vector<unsigned long>{3804}) << text;
  h[2].stop.store(1);
  for (int i = 0; i < 2; i++) {
    ASSERT_EQ(write(fds[i][1], "x", 1), 1);
  }
  for (int i = 0; i < 3; i++) pthread_join(t[i], nullptr);
  for (int i = 0; i < 2; i++) {
    close(fds[i][0]);
    close(fds[i][1]);
  }
  // The blocked thread's stop signal stayed pending: it is consumed, not
  // delivered to the default action (which would end the process).
  EXPECT_TRUE(scan().empty());
}

}  // namespace

// A module's pages the process never touched hold nothing and are not read:
// reading maps each (a page fault; the zero page, resident to mincore).
TEST_F(KmemleakTest, ModulePagesNeverTouchedAreNotRead) {
  scan();
  const uintptr_t huge = 2u << 20;
  const uintptr_t lo = (reinterpret_cast<uintptr_t>(g_untouched) + huge - 1) & ~(huge - 1);
  ASSERT_LE(lo + huge, reinterpret_cast<uintptr_t>(g_untouched) + sizeof(g_untouched));
  std::vector<unsigned char> vec(huge / 4096);
  ASSERT_EQ(mincore(reinterpret_cast<void*>(lo), huge, vec.data()), 0);
  EXPECT_EQ(std::count_if(vec.begin(), vec.end(), [](unsigned char c) { return c & 1; }), 0)
      << "the leak scan read pages of .bss nothing had touched";
}


void* g_big;  // a 256 KiB object, reached from here

__attribute__((noinline)) void make_big_with_one_reference() {
  char* big = static_cast<char*>(kmalloc(256 << 10, GFP_KERNEL));
  big[0] = 1;
  *reinterpret_cast<void**>(big + (150 << 10)) = make(3401);  // the only reference, on a page of its own
  g_big = big;
}

// A big object's pages the program never touched are not read either (the
// same pagemap test), while a pointer on one it wrote is found.
TEST_F(KmemleakTest, BigObjectsPagesNeverTouchedAreNotRead) {
  make_big_with_one_reference();
  EXPECT_TRUE(scan().empty());
  const uintptr_t mid = reinterpret_cast<uintptr_t>(g_big) + (64 << 10);  // 64 KiB of it nothing wrote
  std::vector<unsigned char> vec(16);
  ASSERT_EQ(mincore(reinterpret_cast<void*>(mid), 64 << 10, vec.data()), 0);
  EXPECT_EQ(std::count_if(vec.begin(), vec.end(), [](unsigned char c) { return c & 1; }), 0)
      << "the leak scan read pages of a heap object nothing had touched";
  kfree(g_big);
  g_big = nullptr;
  EXPECT_EQ(sizes(scan()), std::vector<unsigned long>{3401});
}
