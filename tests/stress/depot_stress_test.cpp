// The stack depot's table grows while threads insert (a split-ordered list,
// src/stackdepot/stackdepot.cpp): more threads than cores insert the same
// stacks in different orders from a table of a few hundred buckets up to
// hundreds of thousands, and a timer's signal handler inserts them too,
// interrupting inserts and bucket links of its own thread mid-way. Every
// stack must get one handle whoever inserted it first, and keep it.
#include <gtest/gtest.h>
#include <signal.h>
#include <string.h>

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
