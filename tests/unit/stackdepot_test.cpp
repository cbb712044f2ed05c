// Stack capture (frame-pointer walk) and stack depot tests.
#include "stackdepot/stackdepot.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

using namespace ukasan;

namespace {

std::vector<uptr> synthetic_stack(unsigned id, unsigned depth) {
  std::vector<uptr> v(depth);
  for (unsigned i = 0; i < depth; i++) v[i] = 0x400000 + uptr(id) * 0x1000 + i * 0x10 + 1;
  return v;
}

// Fresh stack ids, so that tests stay valid under --gtest_repeat.
unsigned fresh_ids(unsigned count) {
  static unsigned next = 10000000;
  unsigned base = next;
  next += count;
  return base;
}

#define KEEP_FRAME() __asm__ volatile("" ::: "memory")

}  // namespace

// ------------------------------------------------------------------- depot

TEST(StackDepot, ZeroFramesGivesNoHandle) {
  uptr pc = 1;
  EXPECT_EQ(depot_save(&pc, 0), 0u);
  const uptr* out = reinterpret_cast<const uptr*>(1);
  EXPECT_EQ(depot_fetch(0, &out), 0u);
  EXPECT_EQ(out, nullptr);
}

TEST(StackDepot, SameStackSameHandleDifferentStackDifferentHandle) {
  auto a = synthetic_stack(1, 8);
  auto a2 = synthetic_stack(1, 8);
  auto b = synthetic_stack(2, 8);
  auto a_short = synthetic_stack(1, 7);  // a prefix of a
  depot_handle_t ha = depot_save(a.data(), a.size());
  ASSERT_NE(ha, 0u);
  EXPECT_EQ(depot_save(a2.data(), a2.size()), ha);
  depot_handle_t hb = depot_save(b.data(), b.size());
  ASSERT_NE(hb, 0u);
  EXPECT_NE(hb, ha);
  depot_handle_t hs = depot_save(a_short.data(), a_short.size());
  ASSERT_NE(hs, 0u);
  EXPECT_NE(hs, ha);
  // Differs only in the last frame.
  auto c = a;
  c.back() ^= 0x100;
  depot_handle_t hc = depot_save(c.data(), c.size());
  EXPECT_NE(hc, ha);
  EXPECT_NE(hc, 0u);
}

// Stacks that differ in one frame anywhere, or only in depth, are different
// stacks; equal ones share a handle (the hash mixes even and odd frames in
// separate chains: both must count).
TEST(StackDepot, EveryFrameAndTheDepthCount) {
  uptr base[12];
  for (int i = 0; i < 12; i++) base[i] = 0x8000000 + uptr(i) * 0x40;
  const depot_handle_t h0 = depot_save(base, 12);
  ASSERT_NE(h0, 0u);
  std::vector<depot_handle_t> seen{h0};
  for (int pos = 0; pos < 12; pos++) {
    uptr v[12];
    memcpy(v, base, sizeof(v));
    v[pos] += 8;
    depot_handle_t h = depot_save(v, 12);
    EXPECT_EQ(h, depot_save(v, 12)) << pos;
    seen.push_back(h);
  }
  for (unsigned n = 1; n < 12; n++) seen.push_back(depot_save(base, n));
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(std::unique(seen.begin(), seen.end()), seen.end()) << "a collision of handles";
  EXPECT_EQ(depot_save(base, 12), h0);
}

// Far more stacks than a thread's memo of recent ones holds, saved twice in
// different orders: every second save finds the first one's handle, whose
// frames are its own.
TEST(StackDepot, ManyStacksThroughTheMemoKeepTheirHandles) {
  constexpr unsigned kStacks = 2000;
  std::vector<depot_handle_t> h(kStacks);
  for (unsigned i = 0; i < kStacks; i++) {
    auto s = synthetic_stack(5000 + i, 3 + i % 9);
    h[i] = depot_save(s.data(), s.size());
    ASSERT_NE(h[i], 0u);
  }
  for (unsigned i = kStacks; i-- > 0;) {
    auto s = synthetic_stack(5000 + i, 3 + i % 9);
    ASSERT_EQ(depot_save(s.data(), s.size()), h[i]) << i;
    ASSERT_EQ(depot_save(s.data(), s.size()), h[i]) << i;  // now from the memo
    const uptr* out = nullptr;
    ASSERT_EQ(depot_fetch(h[i], &out), s.size());
    for (unsigned f = 0; f < s.size(); f++) ASSERT_EQ(out[f], s[f]) << i;
  }
}

TEST(StackDepot, FetchRoundTrip) {
  for (unsigned depth : {1u, 2u, 10u, kMaxStackFrames}) {
    auto s = synthetic_stack(100 + depth, depth);
    depot_handle_t h = depot_save(s.data(), depth);
    ASSERT_NE(h, 0u);
    const uptr* out = nullptr;
    ASSERT_EQ(depot_fetch(h, &out), depth);
    ASSERT_NE(out, nullptr);
    for (unsigned i = 0; i < depth; i++) EXPECT_EQ(out[i], s[i]) << "frame " << i;
    // The stored copy is independent of the caller's buffer.
    s[0] = 0;
    EXPECT_NE(out[0], 0u);
  }
}

TEST(StackDepot, DeepStackIsTruncated) {
  auto s = synthetic_stack(200, kMaxStackFrames + 10);
  depot_handle_t h = depot_save(s.data(), s.size());
  ASSERT_NE(h, 0u);
  const uptr* out = nullptr;
  EXPECT_EQ(depot_fetch(h, &out), kMaxStackFrames);
  EXPECT_EQ(depot_save(s.data(), kMaxStackFrames), h);
}

TEST(StackDepot, InvalidHandlesFetchNothing) {
  auto s = synthetic_stack(300, 4);
  depot_handle_t h = depot_save(s.data(), 4);
  ASSERT_NE(h, 0u);
  const uptr* out = nullptr;
  EXPECT_EQ(depot_fetch(h + 1, &out), 0u);  // points into the middle of a record
  EXPECT_EQ(depot_fetch(0xffffffffu, &out), 0u);
  EXPECT_EQ(depot_fetch(0x7fffffffu, &out), 0u);
  EXPECT_EQ(out, nullptr);
}

TEST(StackDepot, StatsCountUniqueStacks) {
  DepotStats before = depot_stats();
  auto s = synthetic_stack(fresh_ids(1), 5);
  depot_handle_t h = depot_save(s.data(), 5);
  ASSERT_NE(h, 0u);
  DepotStats mid = depot_stats();
  EXPECT_EQ(mid.unique_stacks, before.unique_stacks + 1);
  EXPECT_GE(mid.bytes_used, before.bytes_used + 5 * sizeof(uptr));
  EXPECT_EQ(depot_save(s.data(), 5), h);
  DepotStats after = depot_stats();
  EXPECT_EQ(after.unique_stacks, mid.unique_stacks);
  EXPECT_EQ(after.bytes_used, mid.bytes_used);
  EXPECT_EQ(after.dropped, before.dropped);
}

TEST(StackDepot, ConcurrentInsertsAgree) {
  constexpr unsigned kThreads = 4, kStacks = 5000;
  const unsigned base = fresh_ids(kStacks);
  DepotStats before = depot_stats();
  std::vector<std::vector<depot_handle_t>> handles(kThreads,
                                                   std::vector<depot_handle_t>(kStacks));
  std::atomic<unsigned> ready{0};
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < kThreads) {
      }
      // Every thread inserts the same stacks; threads 0/1 and 2/3 go in the
      // same order, so they race to publish the same record (CAS on the same
      // bucket, duplicate found after a lost CAS).
      for (unsigned k = 0; k < kStacks; k++) {
        unsigned i = (t / 2) ? kStacks - 1 - k : k;
        auto s = synthetic_stack(base + i, 3 + i % 20);
        handles[t][i] = depot_save(s.data(), s.size());
      }
    });
  }
  for (auto& th : threads) th.join();
  for (unsigned i = 0; i < kStacks; i++) {
    ASSERT_NE(handles[0][i], 0u);
    for (unsigned t = 1; t < kThreads; t++) ASSERT_EQ(handles[t][i], handles[0][i]) << i;
    auto s = synthetic_stack(base + i, 3 + i % 20);
    const uptr* out = nullptr;
    ASSERT_EQ(depot_fetch(handles[0][i], &out), s.size());
    ASSERT_EQ(memcmp(out, s.data(), s.size() * sizeof(uptr)), 0);
  }
  std::vector<depot_handle_t> sorted = handles[0];
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::unique(sorted.begin(), sorted.end()), sorted.end());
  EXPECT_EQ(depot_stats().unique_stacks, before.unique_stacks + kStacks);
}

// A forked child shares its parent's depot: a stack the child saved is the
// parent's (same handle, counted once), and the two never hand out the same
// space (the pool's cursor is shared too). A private depot fails all three.
TEST(StackDepot, ForkedChildSharesTheDepot) {
  auto a = synthetic_stack(fresh_ids(1), 6), b = synthetic_stack(fresh_ids(1), 5), c = synthetic_stack(fresh_ids(1), 4);
  const depot_handle_t ha = depot_save(a.data(), a.size());
  ASSERT_NE(ha, 0u);
  const u64 unique_before = depot_stats().unique_stacks;
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const uptr* out = nullptr;
    depot_handle_t hb = depot_fetch(ha, &out) == a.size() ? depot_save(b.data(), b.size()) : 0;
    _exit(write(fds[1], &hb, sizeof(hb)) == sizeof(hb) ? 0 : 1);
  }
  depot_handle_t hb = 0;
  ASSERT_EQ(read(fds[0], &hb, sizeof(hb)), static_cast<ssize_t>(sizeof(hb)));
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  close(fds[0]);
  close(fds[1]);
  ASSERT_NE(hb, 0u);
  EXPECT_EQ(depot_stats().unique_stacks, unique_before + 1) << "the child's stack is in the parent's depot";
  EXPECT_EQ(depot_save(b.data(), b.size()), hb) << "the parent finds the child's record";
  EXPECT_EQ(depot_stats().unique_stacks, unique_before + 1);
  const depot_handle_t hc = depot_save(c.data(), c.size());
  ASSERT_NE(hc, 0u);
  EXPECT_NE(hc, hb);
  const uptr* out = nullptr;
  ASSERT_EQ(depot_fetch(hb, &out), b.size());
  EXPECT_EQ(memcmp(out, b.data(), b.size() * sizeof(uptr)), 0) << "the parent's insert overwrote the child's record";
}

// After a fork, the parent's inserts write only new records' pages: none of
// the bucket array or of the records before them on the list is copy-on-
// write (with a private depot each such page faulted again after every fork:
// 291 faults here, against 24).
TEST(StackDepot, InsertsAfterForkFaultOnlyNewPages) {
  constexpr unsigned kOld = 20000, kNew = 2000;
  const unsigned base = fresh_ids(kOld + kNew);
  uptr pcs[4];
  auto save = [&](unsigned id) {
    for (unsigned k = 0; k < 4; k++) pcs[k] = 0x500000 + uptr(id) * 0x40 + k * 8 + 1;
    return depot_save(pcs, 4);
  };
  for (unsigned i = 0; i < kOld; i++) ASSERT_NE(save(base + i), 0u);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) _exit(0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  struct rusage before, after;
  getrusage(RUSAGE_SELF, &before);
  for (unsigned i = kOld; i < kOld + kNew; i++)
    if (save(base + i) == 0) break;
  getrusage(RUSAGE_SELF, &after);
  const long faults = after.ru_minflt - before.ru_minflt;
  // 2000 records of 48 bytes: 24 new pages (and the bucket pages the table's
  // growth reaches for the first time).
  EXPECT_LT(faults, 100) << "page faults of " << kNew << " inserts after a fork";
}

TEST(StackDepot, FullDepotDropsButKeepsOldStacks) {
  // Filling the depot is permanent, and a forked child shares its parent's
  // depot: do it in a child that re-executes the test binary (its own).
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        auto first = synthetic_stack(5000000, 4);
        depot_handle_t h0 = depot_save(first.data(), 4);
        if (h0 == 0) _exit(2);
        unsigned i = 0;
        std::vector<uptr> s(kMaxStackFrames);
        for (;; i++) {
          for (unsigned k = 0; k < kMaxStackFrames; k++) s[k] = 0x10000000 + uptr(i) * 64 + k;
          if (depot_save(s.data(), kMaxStackFrames) == 0) break;
          if (i > 10000000) _exit(3);
        }
        DepotStats st = depot_stats();
        if (st.dropped == 0) _exit(4);
        if (st.bytes_used > (uptr(64) << 20)) _exit(5);
        // Existing stacks are still found and fetched; new ones are dropped.
        if (depot_save(first.data(), 4) != h0) _exit(6);
        const uptr* out = nullptr;
        if (depot_fetch(h0, &out) != 4 || out[3] != first[3]) _exit(7);
        auto fresh = synthetic_stack(6000000, 2);
        if (depot_save(fresh.data(), 2) != 0) _exit(8);
        if (depot_stats().dropped != st.dropped + 1) _exit(9);
        fprintf(stderr, "filled after %u stacks\n", i);
        _exit(0);
      },
      ::testing::ExitedWithCode(0), "filled after");
}

// ------------------------------------------------------------------ capture

namespace {
uptr g_ra_c, g_ra_b, g_ra_a;
uptr g_pcs[kMaxStackFrames];
unsigned g_n;
uptr g_pcs_skip[kMaxStackFrames];
unsigned g_n_skip;
depot_handle_t g_saved;
}  // namespace

extern "C" UKASAN_NOINLINE void capture_c() {
  g_ra_c = reinterpret_cast<uptr>(__builtin_return_address(0));
  g_n = capture_stack(g_pcs, kMaxStackFrames, 0);
  g_n_skip = capture_stack(g_pcs_skip, kMaxStackFrames, 1);
  g_saved = save_current_stack(0);
  KEEP_FRAME();
}
extern "C" UKASAN_NOINLINE void capture_b() {
  g_ra_b = reinterpret_cast<uptr>(__builtin_return_address(0));
  capture_c();
  KEEP_FRAME();
}
extern "C" UKASAN_NOINLINE void capture_a() {
  g_ra_a = reinterpret_cast<uptr>(__builtin_return_address(0));
  capture_b();
  KEEP_FRAME();
}

TEST(CaptureStack, NestedFunctionsInOrder) {
  capture_a();
  ASSERT_GE(g_n, 4u);
  // pcs[0] is the return address into capture_c itself.
  uptr c = reinterpret_cast<uptr>(&capture_c);
  EXPECT_GT(g_pcs[0], c);
  EXPECT_LT(g_pcs[0], c + 4096);
  EXPECT_EQ(g_pcs[1], g_ra_c);  // into capture_b
  EXPECT_EQ(g_pcs[2], g_ra_b);  // into capture_a
  EXPECT_EQ(g_pcs[3], g_ra_a);  // into this test
  // skip = 1 drops exactly the innermost frame.
  ASSERT_EQ(g_n_skip + 1, g_n < kMaxStackFrames ? g_n : g_n_skip + 1);
  EXPECT_EQ(g_pcs_skip[0], g_ra_c);
  EXPECT_EQ(g_pcs_skip[1], g_ra_b);
  // save_current_stack: same frames except the (different) call site in c.
  const uptr* saved = nullptr;
  unsigned ns = depot_fetch(g_saved, &saved);
  ASSERT_GE(ns, 4u);
  EXPECT_GT(saved[0], c);
  EXPECT_LT(saved[0], c + 4096);
  EXPECT_NE(saved[0], g_pcs[0]);
  EXPECT_EQ(saved[1], g_ra_c);
  EXPECT_EQ(saved[2], g_ra_b);
  EXPECT_EQ(saved[3], g_ra_a);
}

TEST(CaptureStack, MaxAndSkipLimits) {
  uptr pcs[kMaxStackFrames];
  EXPECT_EQ(capture_stack(pcs, 0, 0), 0u);
  EXPECT_EQ(capture_stack(pcs, 1, 0), 1u);
  EXPECT_EQ(capture_stack(pcs, kMaxStackFrames, 1000), 0u);
}

// A frame whose saved rbp is an arbitrary value, as in code built without
// frame pointers: call_with_rbp(v, pcs, max) sets rbp = v and calls
// test_capture, whose frame then links to v.
extern "C" UKASAN_NOINLINE unsigned test_capture(uptr* pcs, unsigned max) {
  unsigned n = capture_stack(pcs, max, 0);
  KEEP_FRAME();
  return n;
}
extern "C" unsigned call_with_rbp(uptr rbp, uptr* pcs, unsigned max);
__asm__(R"(
  .text
  .p2align 4
  .globl call_with_rbp
  .type call_with_rbp, @function
call_with_rbp:
  push %rbp
  push %rbx
  sub $8, %rsp
  mov %rdi, %rbp
  mov %rsi, %rdi
  mov %edx, %esi
  call test_capture
  add $8, %rsp
  pop %rbx
  pop %rbp
  ret
  .size call_with_rbp, .-call_with_rbp
)");

namespace {

std::vector<uptr> garbage_values() {
  uptr local = 0;
  uptr sp = reinterpret_cast<uptr>(&local);
  static uptr fake_loop[4];
  // A self-referencing "frame" above the current sp (a loop).
  uptr frame[4];
  frame[0] = reinterpret_cast<uptr>(&frame[0]);
  frame[1] = 0x1234;
  __asm__ volatile("" : : "r"(frame) : "memory");
  fake_loop[0] = reinterpret_cast<uptr>(&fake_loop[0]);
  fake_loop[1] = 0x4321;
  std::vector<uptr> v = {0,
                         1,
                         8,
                         0x1000,
                         0xdeadbeef,
                         0xdeadbeefdeadbee8,
                         0xffff800000000000,
                         0xfffffffffffffff8,
                         0x00007ffffffff000,
                         sp + 3,                        // unaligned
                         sp - 4096,                     // below sp
                         sp + (uptr(64) << 20),         // far above the stack
                         sp + (uptr(1) << 32),          // farther
                         (sp | 0xfff) - 7,              // last 8 bytes of a page
                         reinterpret_cast<uptr>(&frame[0]),
                         reinterpret_cast<uptr>(&fake_loop[0]),
                         reinterpret_cast<uptr>(&garbage_values)};
  return v;
}

void run_garbage_checks(const char* where) {
  for (uptr g : garbage_values()) {
    uptr pcs[kMaxStackFrames];
    unsigned n = call_with_rbp(g, pcs, kMaxStackFrames);
    // At least: into test_capture, into call_with_rbp.
    ASSERT_GE(n, 2u) << where << " rbp=" << std::hex << g;
    ASSERT_LE(n, kMaxStackFrames);
    uptr tc = reinterpret_cast<uptr>(&test_capture);
    EXPECT_GT(pcs[0], tc) << where;
    EXPECT_LT(pcs[0], tc + 4096) << where;
  }
}

void* garbage_thread(void* arg) {
  run_garbage_checks(static_cast<const char*>(arg));
  return nullptr;
}

void run_in_thread(size_t stack_size, const char* name) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  ASSERT_EQ(pthread_attr_setstacksize(&attr, stack_size), 0);
  pthread_t t;
  ASSERT_EQ(pthread_create(&t, &attr, garbage_thread, const_cast<char*>(name)), 0);
  pthread_join(t, nullptr);
  pthread_attr_destroy(&attr);
}

}  // namespace

TEST(CaptureStack, GarbageFramePointerNeverFaultsMainThread) { run_garbage_checks("main"); }

TEST(CaptureStack, GarbageFramePointerNeverFaultsSmallStackThread) {
  run_in_thread(64 * 1024, "64k thread");
  run_in_thread(256 * 1024, "256k thread");
}

// An entry point called from code without frame pointers: call_entry_with_rbp
// sets rbp = v and calls test_entry, which notes its frame as malloc does
// (UKASAN_ENTRY_IP) and saves the stack from its caller both ways.
namespace {
depot_handle_t g_fast, g_walked;
}  // namespace
extern "C" UKASAN_NOINLINE void test_entry() {
  const uptr ip = UKASAN_ENTRY_IP;
  g_fast = save_stack_from(ip);
  g_walked = save_stack_walk(ip);
  KEEP_FRAME();
}
extern "C" void call_entry_with_rbp(uptr rbp);
__asm__(R"(
  .text
  .p2align 4
  .globl call_entry_with_rbp
  .type call_entry_with_rbp, @function
call_entry_with_rbp:
  push %rbp
  mov %rdi, %rbp
  call test_entry
  pop %rbp
  ret
  .size call_entry_with_rbp, .-call_entry_with_rbp
)");

// The one-frame shortcut (entry_stack_is_one_frame and the per-thread memo
// of one-frame stacks) gives the handle the walk gives, whatever the
// caller's rbp holds: garbage (one frame, the caller's return address), or
// a real frame pointer (the whole chain, which the shortcut must not cut).
TEST(CaptureStack, OneFrameShortcutAgreesWithTheWalk) {
  const bool fast = g_options.fast_unwind_on_malloc;
  g_options.fast_unwind_on_malloc = true;  // the default (tests leave options zero)
  for (int round = 0; round < 2; round++) {  // the second round through the memo
    for (uptr g : garbage_values()) {
      call_entry_with_rbp(g);
      ASSERT_NE(g_walked, 0u);
      EXPECT_EQ(g_fast, g_walked) << "rbp=" << std::hex << g;
    }
    call_entry_with_rbp(reinterpret_cast<uptr>(__builtin_frame_address(0)));
    const uptr* pcs = nullptr;
    EXPECT_GE(depot_fetch(g_walked, &pcs), 2u);
    EXPECT_EQ(g_fast, g_walked);
    test_entry();
    EXPECT_GE(depot_fetch(g_walked, &pcs), 2u);
    EXPECT_EQ(g_fast, g_walked);
  }
  g_options.fast_unwind_on_malloc = fast;
}

// The k-th return address from base on that shares base's memo slot.
static uptr colliding_ip(uptr base, uptr k) {
  uptr ip = base + 1;
  for (uptr found = 0; found < k;)
    if (pc_memo_slot(++ip) == pc_memo_slot(base + 1)) found++;
  return ip;
}

// Return addresses that share a memo slot each keep their own stack.
TEST(CaptureStack, OneFrameMemoKeysOnTheReturnAddress) {
  const bool fast = g_options.fast_unwind_on_malloc;
  g_options.fast_unwind_on_malloc = true;
  const unsigned id = fresh_ids(1);
  for (int round = 0; round < 3; round++) {
    for (uptr k = 0; k < 4; k++) {
      const uptr ip = colliding_ip(0x500000 + uptr(id) * 0x100000, k);
      uptr frame[2] = {1, ip};  // the entry's frame: a misaligned saved rbp, then ip
      __asm__ volatile("" : : "r"(frame) : "memory");
      t_entry_fp = reinterpret_cast<uptr>(frame);
      const depot_handle_t h = save_stack_from(ip);
      EXPECT_EQ(h, depot_save(&ip, 1)) << "k=" << k << " round " << round;
    }
  }
  g_options.fast_unwind_on_malloc = fast;
}

// Signal handlers that save other one-frame stacks through the same memo
// slot, between any two instructions of the interrupted save: every save
// still gets its own stack's handle.
namespace {
uptr g_sig_one_ip;
depot_handle_t g_sig_one_handle;
std::atomic<unsigned> g_sig_count, g_sig_bad;
void one_frame_handler(int) {
  uptr frame[2] = {1, g_sig_one_ip};
  __asm__ volatile("" : : "r"(frame) : "memory");
  const uptr saved = t_entry_fp;
  t_entry_fp = reinterpret_cast<uptr>(frame);
  if (save_stack_from(g_sig_one_ip) != g_sig_one_handle) g_sig_bad++;
  t_entry_fp = saved;
  g_sig_count++;
}
}  // namespace

TEST(CaptureStack, OneFrameMemoUnderSignals) {
  const bool fast = g_options.fast_unwind_on_malloc;
  g_options.fast_unwind_on_malloc = true;
  const unsigned id = fresh_ids(1);
  uptr ips[3];
  depot_handle_t hs[3];
  for (uptr k = 0; k < 3; k++) {
    ips[k] = colliding_ip(0x600000 + uptr(id) * 0x100000, k);
    hs[k] = depot_save(&ips[k], 1);
  }
  g_sig_one_ip = ips[2];
  g_sig_one_handle = hs[2];
  g_sig_count = g_sig_bad = 0;
  struct sigaction sa = {}, old;
  sa.sa_handler = one_frame_handler;
  sa.sa_flags = SA_RESTART;
  ASSERT_EQ(sigaction(SIGALRM, &sa, &old), 0);
  struct itimerval it = {{0, 50}, {0, 50}}, off = {};
  ASSERT_EQ(setitimer(ITIMER_REAL, &it, nullptr), 0);
  unsigned bad = 0;
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (unsigned i = 0;; i++) {
    const unsigned k = i % 3;  // the handler's stack too: a damaged entry it left would show
    uptr frame[2] = {1, ips[k]};
    __asm__ volatile("" : : "r"(frame) : "memory");
    t_entry_fp = reinterpret_cast<uptr>(frame);
    if (save_stack_from(ips[k]) != hs[k]) bad++;
    if ((i & 1023) == 0) {
      clock_gettime(CLOCK_MONOTONIC, &t);
      if ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) > 200000000L && g_sig_count >= 100)
        break;
    }
  }
  setitimer(ITIMER_REAL, &off, nullptr);
  sigaction(SIGALRM, &old, nullptr);
  g_options.fast_unwind_on_malloc = fast;
  EXPECT_EQ(bad, 0u);
  EXPECT_EQ(g_sig_bad.load(), 0u);
  EXPECT_GE(g_sig_count.load(), 100u);
}

TEST(CaptureStack, ThreadStacksAreWalkedToTheThreadEntry) {
  std::thread t([] {
    uptr pcs[kMaxStackFrames];
    unsigned n = capture_stack(pcs, kMaxStackFrames, 0);
    // lambda -> std::thread internals -> start_thread: a few frames at least
    EXPECT_GE(n, 1u);
    EXPECT_LE(n, kMaxStackFrames);
  });
  t.join();
}

// Capture from a signal handler running on an alternate signal stack: sp is
// outside the known thread stack, so frames are read with the checked path.
namespace {
volatile unsigned g_sig_n;
volatile unsigned g_sig_garbage_ok;
volatile depot_handle_t g_sig_handle;
void on_sigusr1(int) {
  uptr pcs[kMaxStackFrames];
  g_sig_n = capture_stack(pcs, kMaxStackFrames, 0);
  g_sig_handle = save_current_stack(0);
  unsigned ok = 0;
  for (uptr g : {uptr(0), uptr(0xdeadbeefdeadbee8), uptr(0x00007ffffffff000)})
    ok += call_with_rbp(g, pcs, kMaxStackFrames) >= 2;
  g_sig_garbage_ok = ok;
}
}  // namespace

TEST(CaptureStack, SignalHandlerOnAltStack) {
  static char altstack[64 * 1024] __attribute__((aligned(16)));
  stack_t ss = {}, old_ss = {};
  ss.ss_sp = altstack;
  ss.ss_size = sizeof(altstack);
  ASSERT_EQ(sigaltstack(&ss, &old_ss), 0);
  struct sigaction sa = {}, old_sa = {};
  sa.sa_handler = on_sigusr1;
  sa.sa_flags = SA_ONSTACK;
  ASSERT_EQ(sigaction(SIGUSR1, &sa, &old_sa), 0);
  raise(SIGUSR1);
  sigaction(SIGUSR1, &old_sa, nullptr);
  ss.ss_flags = SS_DISABLE;
  sigaltstack(&ss, nullptr);
  EXPECT_GE(g_sig_n, 1u);
  EXPECT_NE(g_sig_handle, 0u);
  EXPECT_EQ(g_sig_garbage_ok, 3u);
}

// ------------------------------------------------------------------ timing

namespace {
volatile u64 g_sink;
unsigned g_timing_depth;
// mode 0: save_current_stack (whole stack); mode 1: capture_stack(max 10) +
// depot_save.
UKASAN_NOINLINE void timing_leaf(int mode, unsigned iters, u64* ns) {
  timespec a, b;
  uptr pcs[kMaxStackFrames];
  clock_gettime(CLOCK_MONOTONIC, &a);
  u64 acc = 0;
  if (mode == 0) {
    for (unsigned i = 0; i < iters; i++) acc += save_current_stack(0);
  } else {
    for (unsigned i = 0; i < iters; i++) {
      g_timing_depth = capture_stack(pcs, 10, 0);
      acc += depot_save(pcs, g_timing_depth);
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  g_sink = acc;
  *ns = u64(b.tv_sec - a.tv_sec) * 1000000000ull + u64(b.tv_nsec) - u64(a.tv_nsec);
}
UKASAN_NOINLINE void timing_recurse(unsigned depth, int mode, unsigned iters, u64* ns) {
  if (depth == 0)
    timing_leaf(mode, iters, ns);
  else
    timing_recurse(depth - 1, mode, iters, ns);
  KEEP_FRAME();
}
}  // namespace

TEST(CaptureStack, CostOfCaptureAndSave) {
  constexpr unsigned kIters = 500000;
  u64 ns = 0;
  timing_recurse(12, 1, kIters, &ns);  // warm-up
  timing_recurse(12, 1, kIters, &ns);
  EXPECT_EQ(g_timing_depth, 10u);
  printf("[ timing ] capture_stack(max=10) + depot_save, %u frames: %.1f ns/call\n",
         g_timing_depth, double(ns) / kIters);
  uptr pcs[kMaxStackFrames];
  unsigned base = capture_stack(pcs, kMaxStackFrames, 0);
  timing_recurse(8, 0, kIters, &ns);
  printf("[ timing ] save_current_stack, ~%u frames: %.1f ns/call\n", base + 9,
         double(ns) / kIters);
  EXPECT_LT(double(ns) / kIters, 20000.0);  // sanity only
}
