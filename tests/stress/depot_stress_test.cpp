// The stack depot's table grows while threads insert (a split-ordered list,
// src/stackdepot/stackdepot.cpp): more threads than cores insert the same
// stacks in different orders from a table of a few hundred buckets up to
// hundreds of thousands, and a timer's signal handler inserts them too,
// interrupting inserts and bucket links of its own thread mid-way. Every
// stack must get one handle whoever inserted it first, and keep it.
#include <gtest/gtest.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include "stackdepot/stackdepot.h"
#include "test_util.h"

using namespace ukasan;

namespace {

// Stack i: depth 1 + i % 7 frames; ids distinct across the tests of one run.
void stack_of(unsigned id, uptr* pcs, unsigned* n) {
  *n = 1 + id % 7;
  for (unsigned k = 0; k < *n; k++) pcs[k] = 0x7f0000000000ull + uptr(id) * 0x40 + k * 8 + 1;
}

depot_handle_t save_id(unsigned id) {
  uptr pcs[8];
  unsigned n;
  stack_of(id, pcs, &n);
  return depot_save(pcs, n);
}

// Checks every handle in `got` (one row per inserter) agrees with the first
// row, is distinct per stack, and fetches its own stack. Returns failures.
void expect_agreement(const std::vector<std::vector<depot_handle_t>>& got, unsigned base) {
  const unsigned n = static_cast<unsigned>(got[0].size());
  for (unsigned i = 0; i < n; i++) {
    ASSERT_NE(got[0][i], 0u) << i;
    for (size_t t = 1; t < got.size(); t++) ASSERT_EQ(got[t][i], got[0][i]) << "stack " << i << " inserter " << t;
    uptr pcs[8];
    unsigned depth;
    stack_of(base + i, pcs, &depth);
    const uptr* out = nullptr;
    ASSERT_EQ(depot_fetch(got[0][i], &out), depth);
    ASSERT_EQ(memcmp(out, pcs, depth * sizeof(uptr)), 0);
  }
  std::vector<depot_handle_t> sorted = got[0];
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::unique(sorted.begin(), sorted.end()), sorted.end()) << "two stacks share a handle";
}

TEST(DepotStress, ThreadsInsertingOneSetWhileTheTableGrowsAgree) {
  constexpr unsigned kThreads = 8, kStacks = 150000;  // 8 threads on however few cores
  const unsigned base = 1000;
  const u64 unique_before = depot_stats().unique_stacks;
  std::vector<std::vector<depot_handle_t>> got(kThreads, std::vector<depot_handle_t>(kStacks));
  std::atomic<unsigned> ready{0};
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      std::vector<unsigned> order(kStacks);
      for (unsigned i = 0; i < kStacks; i++) order[i] = i;
      // Pairs of threads share an order (they race for the same places);
      // the pairs go forward, backward, by a stride and shuffled.
      if (t / 2 == 1) std::reverse(order.begin(), order.end());
      if (t / 2 == 2)
        for (unsigned i = 0; i < kStacks; i++) order[i] = static_cast<unsigned>((u64(i) * 7919) % kStacks);
      if (t / 2 == 3) std::shuffle(order.begin(), order.end(), std::mt19937(42));
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();
      for (unsigned i : order) got[t][i] = save_id(base + i);
    });
  }
  for (auto& th : threads) th.join();
  expect_agreement(got, base);
  EXPECT_EQ(depot_stats().unique_stacks, unique_before + kStacks);
  // And again, now that every bucket is linked: the same handles.
  for (unsigned i = 0; i < kStacks; i += 97) EXPECT_EQ(save_id(base + i), got[0][i]);
}

// Processes share the depot after fork() (its mapping is MAP_SHARED): the
// parent and two children insert one set of stacks in different orders while
// the table grows, each also a set of its own, and a third child inserts the
// set over and over until it is killed, at whatever instruction: the others
// must finish, agree on every handle, and the parent must find them all.
TEST(DepotStress, ForkedProcessesInsertingOneSetAgree) {
  constexpr unsigned kStacks = 60000, kOwn = 5000, kProcs = 3;  // the parent and two children finish
  const unsigned base = 5000000, own_base = 6000000;
  ASSERT_NE(save_id(own_base - 1), 0u);  // the depot is mapped before the forks (else each maps its own)
  const u64 unique_before = depot_stats().unique_stacks;
  // Rows of handles, written by each process, and a start barrier.
  const size_t bytes = sizeof(std::atomic<unsigned>) * 2 + sizeof(depot_handle_t) * kStacks * kProcs;
  void* m = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(m, MAP_FAILED);
  auto* ready = new (m) std::atomic<unsigned>(0);
  auto* killed_rounds = new (ready + 1) std::atomic<unsigned>(0);
  auto* rows = reinterpret_cast<depot_handle_t*>(ready + 2);
  auto run = [&](unsigned p) {
    std::vector<unsigned> order(kStacks);
    for (unsigned i = 0; i < kStacks; i++) order[i] = i;
    if (p == 1) std::reverse(order.begin(), order.end());
    if (p >= 2) std::shuffle(order.begin(), order.end(), std::mt19937(p));
    ready->fetch_add(1);
    while (ready->load() < kProcs + 1) sched_yield();
    if (p == kProcs) {  // the one killed: round after round, never finishing
      for (;; killed_rounds->fetch_add(1))
        for (unsigned i : order) save_id(base + i);
    }
    for (unsigned k = 0; k < kStacks; k++) {
      const unsigned i = order[k];
      rows[p * kStacks + i] = save_id(base + i);
      if (k % 12 == 0) save_id(own_base + p * kOwn + k / 12);  // this process's own stacks
    }
  };
  pid_t pids[kProcs];
  for (unsigned p = 1; p <= kProcs; p++) {
    pids[p - 1] = fork();
    ASSERT_GE(pids[p - 1], 0);
    if (pids[p - 1] == 0) {
      run(p);
      _exit(0);
    }
  }
  run(0);
  for (unsigned p = 1; p < kProcs; p++) {
    int status = 0;
    ASSERT_EQ(waitpid(pids[p - 1], &status, 0), pids[p - 1]);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child " << p;
  }
  kill(pids[kProcs - 1], SIGKILL);  // mid-insert, most likely
  ASSERT_EQ(waitpid(pids[kProcs - 1], nullptr, 0), pids[kProcs - 1]);
  std::vector<std::vector<depot_handle_t>> got(kProcs, std::vector<depot_handle_t>(kStacks));
  for (unsigned p = 0; p < kProcs; p++)
    for (unsigned i = 0; i < kStacks; i++) got[p][i] = rows[p * kStacks + i];
  expect_agreement(got, base);
  for (unsigned i = 0; i < kStacks; i += 7) ASSERT_EQ(save_id(base + i), got[0][i]) << i;
  // Every process's own stacks, found by the parent (kOwn of each, by ids).
  const u64 unique_before_own = depot_stats().unique_stacks;
  for (unsigned p = 0; p < kProcs; p++)
    for (unsigned k = 0; k < kOwn; k++) ASSERT_NE(save_id(own_base + p * kOwn + k), 0u);
  EXPECT_EQ(depot_stats().unique_stacks, unique_before_own) << "a process's stacks missing from the shared depot";
  // The killed child may have died between linking a record and counting it.
  const u64 unique = depot_stats().unique_stacks, want = unique_before + kStacks + kProcs * kOwn;
  EXPECT_TRUE(unique == want || unique + 1 == want) << unique << " stacks, " << want << " expected";
  printf("the killed child did %u whole rounds\n", killed_rounds->load());
  munmap(m, bytes);
}

// The handler's inserts interrupt the thread's own, at any instruction: it
// saves the stacks the thread is about to save (so the two race for the
// same places and buckets), while a second thread saves them backwards.
constexpr unsigned kSigStacks = 300000;
std::atomic<unsigned> g_main_pos{0};
std::atomic<depot_handle_t>* g_handler_got;
unsigned g_handler_base;
std::atomic<unsigned long> g_ticks{0};

void on_tick(int) {
  const unsigned pos = g_main_pos.load(std::memory_order_relaxed);
  for (unsigned k = 0; k < 3 && pos + k < kSigStacks; k++)
    g_handler_got[pos + k].store(save_id(g_handler_base + pos + k), std::memory_order_relaxed);
  g_ticks.fetch_add(1, std::memory_order_relaxed);
}

TEST(DepotStress, SignalHandlerInsertingTheSameStacksAgrees) {
  const unsigned base = 2000000;
  std::vector<std::atomic<depot_handle_t>> handler_got(kSigStacks);
  for (auto& h : handler_got) h.store(0);
  g_handler_got = handler_got.data();
  g_handler_base = base;
  std::vector<std::vector<depot_handle_t>> got(2, std::vector<depot_handle_t>(kSigStacks));
  ukasan_test::ThreadTimer timer(SIGUSR2, on_tick, 30000);  // 33 kHz asked; the kernel gives what it can
  ASSERT_TRUE(timer.start());
  std::thread other([&] {
    for (unsigned i = kSigStacks; i-- > 0;) got[1][i] = save_id(base + i);
  });
  for (unsigned i = 0; i < kSigStacks; i++) {
    g_main_pos.store(i, std::memory_order_relaxed);
    got[0][i] = save_id(base + i);
  }
  other.join();
  timer.stop();
  unsigned seen = 0;
  for (unsigned i = 0; i < kSigStacks; i++) {
    const depot_handle_t h = handler_got[i].load();
    if (!h) continue;
    seen++;
    ASSERT_EQ(h, got[0][i]) << "stack " << i;
  }
  EXPECT_GT(seen, 0u) << "the handler ran";
  expect_agreement(got, base);
  printf("handler ran %lu times, saved %u of the stacks\n", g_ticks.load(), seen);
}

}  // namespace
