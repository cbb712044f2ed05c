// A 5 kHz timer signal whose handler allocates and frees, interrupting the
// main thread while it allocates, frees and destroys caches, while other
// threads churn (so evictions and transfers are in flight everywhere). No
// deadlock, no livelock (the old protocol took a nested allocation's failed
// try-lock for out-of-memory and waited for its own interrupted section), no
// report, and every object is accounted for at the end.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "test_util.h"
#include "ukasan/slab.h"
#include "ukasan/ukasan.h"

using ukasan_test::ReportCapture;

namespace {

std::atomic<long> g_handled{0}, g_refused{0};

void on_tick(int) {
  // Allocate and free in the handler, as a program's logging or a
  // profiler's handler would (not async-signal-safe by POSIX, but programs
  // do it and the runtime must survive it).
  void* a = kmalloc(24 + (g_handled.load(std::memory_order_relaxed) % 300), GFP_KERNEL);
  void* b = kmalloc(64, GFP_KERNEL);
  if (!a || !b) g_refused.fetch_add(1, std::memory_order_relaxed);
  kfree(a);
  kfree(b);
  g_handled.fetch_add(1, std::memory_order_relaxed);
}

TEST(SignalStress, AllocFreeInHandlerInterruptingAllocFreeDestroy) {
  ukasan_test::expect_reports_mode();
  ukasan_set_options("quarantine_size_mb=2:quarantine_cache_kb=16");
  ReportCapture cap;
  // A per-thread CPU-independent timer aimed at this thread: 200 us = 5 kHz.
  ukasan_test::ThreadTimer timer(SIGUSR2, on_tick, 200000);
  ASSERT_TRUE(timer.ok());

  std::atomic<bool> stop{false};
  std::vector<std::thread> churn;
  for (int t = 0; t < 2; t++)
    churn.emplace_back([&] {
      void* v[64] = {};
      unsigned x = 7;
      while (!stop.load(std::memory_order_relaxed)) {
        for (auto& p : v) {
          x = x * 1103515245 + 12345;
          kfree(p);
          p = kmalloc(16 + (x >> 8) % 2000, GFP_KERNEL);
        }
      }
      for (auto& p : v) kfree(p);
    });

  ASSERT_TRUE(timer.start());
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  long rounds = 0;
  while (std::chrono::steady_clock::now() < end) {
    struct kmem_cache* c = kmem_cache_create("sig_victim", 40 + (rounds % 5) * 24, 0, 0, nullptr);
    ASSERT_NE(c, nullptr);
    void* objs[32];
    for (auto& o : objs) o = kmem_cache_alloc(c, GFP_KERNEL);
    for (int i = 0; i < 200; i++) kfree(kmalloc(8 + i * 13, GFP_KERNEL));
    for (auto& o : objs) kmem_cache_free(c, o);
    kmem_cache_destroy(c);
    rounds++;
  }
  timer.stop();
  stop = true;
  for (auto& th : churn) th.join();

  EXPECT_GT(rounds, 10);
  EXPECT_GT(g_handled.load(), 1000) << "the timer fired";
  EXPECT_EQ(cap.text(), "");
  // Every handler-freed object went through the quarantine exactly once.
  ukasan_quarantine_drain();
  struct ukasan_stats st;
  ukasan_get_stats(&st);
  EXPECT_EQ(st.quarantine_bytes, 0u);
  std::fprintf(stderr, "rounds %ld, handler runs %ld, nested allocations refused %ld\n", rounds, g_handled.load(),
               g_refused.load());
  ukasan_set_options("quarantine_size_mb=256:quarantine_cache_kb=1024");
}

}  // namespace
