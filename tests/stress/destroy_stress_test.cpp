// Destroy-while-freeing: many create/alloc/free/destroy rounds while other
// threads churn other caches and free this round's objects cross-thread, so
// objects of the cache being destroyed sit in other threads' per-CPU queues,
// in batches in flight to the global FIFO and in batches being evicted.
// Zero misses: no "still has objects", no report, no crash.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "platform/arch.h"
#include "platform/test_knobs.h"
#include "report/report.h"
#include "slab/slab.h"
#include "test_util.h"
#include "ukasan/slab.h"
#include "ukasan/ukasan.h"

using ukasan_test::ReportCapture;

namespace {

#if UKASAN_TSAN
constexpr int kRounds = 300;  // ThreadSanitizer is ~20x slower
#else
constexpr int kRounds = 2000;
#endif

struct Inbox {
  std::mutex mu;
  std::vector<std::pair<struct kmem_cache*, void*>> items;
};

// kChurn threads on this 2-core machine: with 16, most of them are
// descheduled at any moment, some in the middle of a free or an eviction.
void destroy_while_others_free(int kChurn, int kRounds) {
  ukasan_test::expect_reports_mode();
  // Small queues and FIFO: transfers and evictions happen all the time.
  ASSERT_EQ(ukasan_set_options("quarantine_size_mb=1:quarantine_cache_kb=4"), 0);
  ukasan::g_test_knobs.evict_yield = true;  // widen the protocol's race windows
  ReportCapture cap;
  std::vector<Inbox> inbox(kChurn);
  std::atomic<long> pending{0};
  std::mutex done_mu;
  std::condition_variable done_cv;
  std::atomic<bool> stop{false};
  std::vector<std::thread> churn;
  for (int t = 0; t < kChurn; t++) {
    churn.emplace_back([&, t] {
      struct kmem_cache* mine = kmem_cache_create("churn", 40 + 8 * t, 0, 0, nullptr);
      std::vector<void*> live;
      unsigned x = 12345 + t;
      while (!stop.load(std::memory_order_relaxed)) {
        // Private churn: kmalloc and a private cache.
        for (int i = 0; i < 16; i++) {
          x = x * 1103515245 + 12345;
          if (live.size() < 256 && (x & 1)) {
            live.push_back((x & 2) ? kmalloc(16 + (x >> 8) % 600, GFP_KERNEL) : kmem_cache_alloc(mine, GFP_KERNEL));
          } else if (!live.empty()) {
            void* p = live.back();
            live.pop_back();
            kfree(p);  // kfree works for kmem_cache objects too
          }
        }
        // Cross-thread frees of the destroyer's objects.
        std::vector<std::pair<struct kmem_cache*, void*>> mine_now;
        {
          std::lock_guard<std::mutex> g(inbox[t].mu);
          mine_now.swap(inbox[t].items);
        }
        for (auto& [c, p] : mine_now) {
          kmem_cache_free(c, p);
          if (pending.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            std::lock_guard<std::mutex> g(done_mu);
            done_cv.notify_one();
          }
        }
      }
      for (void* p : live) kfree(p);
      ukasan_quarantine_drain();
      kmem_cache_destroy(mine);
    });
  }
  for (int round = 0; round < kRounds; round++) {
    struct kmem_cache* c = kmem_cache_create("victim", 24 + (round % 7) * 16, 0, 0, nullptr);
    ASSERT_NE(c, nullptr);
    void* objs[48];
    for (auto& o : objs) o = kmem_cache_alloc(c, GFP_KERNEL);
    // Half are freed here, half by the churn threads.
    for (int i = 0; i < 48; i += 2) kmem_cache_free(c, objs[i]);
    pending.fetch_add(24);
    for (int i = 1; i < 48; i += 2) {
      Inbox& b = inbox[i % kChurn];
      std::lock_guard<std::mutex> g(b.mu);
      b.items.push_back({c, objs[i]});
    }
    {
      // Sleep (do not spin) until the churners have freed them: on 2 cores a
      // spinning waiter would starve the threads it waits for.
      std::unique_lock<std::mutex> lk(done_mu);
      done_cv.wait(lk, [&] { return pending.load(std::memory_order_acquire) == 0; });
    }
    // Every object of c has been freed (kmem_cache_free returned): destroy
    // must find each of them in the quarantine, wherever it is now.
    kmem_cache_destroy(c);
  }
  stop = true;
  for (auto& th : churn) th.join();
  std::string t = cap.text();
  EXPECT_EQ(t.find("still has objects"), std::string::npos) << t.substr(0, 4000);
  EXPECT_EQ(t.find("BUG: KASAN"), std::string::npos) << t.substr(0, 4000);
  // And a deliberately leaked object is reported.
  struct kmem_cache* leak = kmem_cache_create("leak_on_purpose", 64, 0, 0, nullptr);
  void* kept = kmem_cache_alloc(leak, GFP_KERNEL);
  void* freed = kmem_cache_alloc(leak, GFP_KERNEL);
  kmem_cache_free(leak, freed);
  kmem_cache_destroy(leak);
  EXPECT_NE(cap.text().find("kmem_cache_destroy leak_on_purpose: Slab cache still has objects"), std::string::npos);
  EXPECT_NE(cap.text().find("Objects remaining in leak_on_purpose on kmem_cache_destroy(): 1"), std::string::npos);
  (void)kept;
  ukasan_set_options("quarantine_size_mb=256:quarantine_cache_kb=1024");
  ukasan::g_test_knobs.evict_yield = false;
}

TEST(DestroyStress, DestroyWhileOthersFree) { destroy_while_others_free(2, kRounds); }

TEST(DestroyStress, DestroyWhile16ThreadsFreeOn2Cores) { destroy_while_others_free(16, kRounds); }

// kasan_record_aux_stack while other threads allocate and free in the same
// cache: the allocation path's lock-free look at the aux table (forget)
// races with the records and with other forgets; with more threads than
// cores, under ThreadSanitizer in CI. No report, no crash; afterwards a
// recorded object's description still shows its aux stack.
TEST(AuxStress, RecordWhileOthersAllocate) {
  struct kmem_cache* c = kmem_cache_create("aux_stress", 48, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  ReportCapture cap;
  std::atomic<bool> stop{false};
  constexpr int kThreads = 8;
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; t++)
    ts.emplace_back([&, t] {
      void* held[16] = {};
      for (unsigned i = 0; !stop.load(std::memory_order_relaxed); i++) {
        void*& slot = held[i % 16];
        if (slot) kmem_cache_free(c, slot);
        slot = kmem_cache_alloc(c, GFP_KERNEL);
        if (t % 2 == 0 && slot) kasan_record_aux_stack(slot);
      }
      for (void* p : held)
        if (p) kmem_cache_free(c, p);
    });
  std::this_thread::sleep_for(std::chrono::milliseconds(UKASAN_TSAN ? 1500 : 500));
  stop.store(true);
  for (auto& t : ts) t.join();
  EXPECT_EQ(cap.headers().size(), 0u) << cap.text();
  // After the churn the table still works: a recorded object's description
  // shows it (a description, not a report: the count stays 0 for the tests
  // after this one).
  void* p = kmem_cache_alloc(c, GFP_KERNEL);
  kasan_record_aux_stack(p);
  kmem_cache_free(c, p);
  ukasan::report_describe_address(reinterpret_cast<uintptr_t>(p));
  EXPECT_EQ(cap.headers().size(), 0u) << cap.text();
  EXPECT_NE(cap.text().find("Last potentially related work creation:"), std::string::npos) << cap.text();
  kmem_cache_destroy(c);
}

// Trimming (idle depot objects back to the slabs, empty slabs released)
// while other threads allocate, free cross-thread and evict in the same
// caches: 8 threads on 2 cores, under ThreadSanitizer in CI, each moving
// through phases of different sizes with a 2 MiB quarantine, so passes run
// often and find idle blocks. Every object carries its owner's mark while
// allocated: an object handed out twice, or released while in use, shows
// as a changed mark. No report, no crash, and slabs were released.
TEST(TrimStress, PhasesOfSizesWhileOthersChurn) {
  ukasan_set_options("quarantine_size_mb=2:quarantine_cache_kb=32");
  const uint64_t trimmed0 = ukasan::cache_trimmed_slabs();
  ReportCapture cap;
  constexpr int kThreads = 8;
  constexpr size_t kSizes[] = {40, 200, 500, 1500, 3000};
  constexpr int kHeld = 600;
  std::atomic<void*> exchange[kThreads] = {};
  std::atomic<int> bad{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; t++)
    ts.emplace_back([&, t] {
      std::vector<void*> held(kHeld);
      const unsigned char mark = static_cast<unsigned char>(0x40 + t);
      for (unsigned phase = 0; !stop.load(std::memory_order_relaxed); phase++) {
        const size_t n = kSizes[(phase + static_cast<unsigned>(t)) % 5];
        for (void*& p : held) {
          p = kmalloc(n, GFP_KERNEL);
          if (p) memset(p, mark, n);
        }
        for (void* p : held) {
          if (!p) continue;
          const unsigned char* b = static_cast<const unsigned char*>(p);
          if (b[0] != mark || b[n - 1] != mark) bad.fetch_add(1);
          // Every 8th object is freed by another thread.
          if ((reinterpret_cast<uintptr_t>(p) >> 4) % 8 == 0) {
            memset(p, 0, n);
            if (void* old = exchange[(t + 1) % kThreads].exchange(p)) kfree(old);
          } else {
            kfree(p);
          }
        }
      }
    });
  std::this_thread::sleep_for(std::chrono::milliseconds(UKASAN_TSAN ? 2000 : 700));
  stop.store(true);
  for (auto& t : ts) t.join();
  for (auto& e : exchange)
    if (void* p = e.load()) kfree(p);
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(cap.headers().size(), 0u) << cap.text();
  EXPECT_GT(ukasan::cache_trimmed_slabs(), trimmed0);
  ukasan_quarantine_drain();
  ukasan_set_options("quarantine_size_mb=256:quarantine_cache_kb=1024");
}

// A free from a signal handler that interrupts the same thread's free or
// alloc (inside the per-CPU section) must neither deadlock nor corrupt the
// queues: every object is accounted for afterwards.
std::atomic<int> g_sig_next{0};
void* g_sig_objs[20000];
std::atomic<int> g_sig_freed{0};

void on_signal(int) {
  int i = g_sig_next.fetch_add(1);
  if (i < 20000) {
    kfree(g_sig_objs[i]);
    g_sig_freed.fetch_add(1);
  }
}

TEST(SignalStress, FreeFromHandlerInterruptingFree) {
  ukasan_test::expect_reports_mode();
  ukasan_set_options("quarantine_size_mb=2:quarantine_cache_kb=8");
  ReportCapture cap;
  for (auto& o : g_sig_objs) o = kmalloc(48, GFP_KERNEL);
  struct sigaction sa = {};
  sa.sa_handler = on_signal;
  sigaction(SIGUSR1, &sa, nullptr);
  pthread_t self = pthread_self();
  std::atomic<bool> stop{false};
  std::thread killer([&] {
    while (!stop.load()) pthread_kill(self, SIGUSR1);
  });
  // Until every handler has run: how many signals land per iteration depends
  // on the scheduler (a loaded machine gives the killer thread less time), so
  // the bound is a hang guard in wall time, not an iteration count.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(240);
  for (long iters = 0; g_sig_freed.load() < 20000; iters++) {
    void* p = kmalloc(64, GFP_KERNEL);
    kfree(p);
    if ((iters & 0xffff) == 0 && std::chrono::steady_clock::now() > deadline) break;
  }
  stop = true;
  killer.join();
  signal(SIGUSR1, SIG_IGN);
  EXPECT_EQ(g_sig_freed.load(), 20000);
  EXPECT_EQ(cap.text(), "");
  // Every handler-freed object went through the quarantine exactly once: a
  // full drain leaves it empty, and freeing them again is a double free
  // (reported, not corruption).
  ukasan_quarantine_drain();
  struct ukasan_stats st;
  ukasan_get_stats(&st);
  EXPECT_EQ(st.quarantine_bytes, 0u);
  ukasan_set_options("quarantine_size_mb=256:quarantine_cache_kb=1024");
}

TEST(ForkStress, ChildAllocatesWhileParentThreadsChurn) {
  // A small quarantine: the child's destroy/drain walk the whole quarantine,
  // and every node they touch is a copy-on-write fault in the child.
  ukasan_set_options("quarantine_size_mb=4:quarantine_cache_kb=64");
  std::atomic<bool> stop{false};
  std::vector<std::thread> ts;
  for (int t = 0; t < 3; t++)
    ts.emplace_back([&] {
      while (!stop.load()) {
        void* v[32];
        for (auto& p : v) p = kmalloc(100, GFP_KERNEL);
        for (auto& p : v) kfree(p);
      }
    });
  for (int i = 0; i < 60; i++) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      struct kmem_cache* c = kmem_cache_create("in_child", 32, 0, 0, nullptr);
      for (int j = 0; j < 1000; j++) {
        void* p = kmem_cache_alloc(c, GFP_KERNEL);
        kmem_cache_free(c, p);
        kfree(kmalloc(j + 1, GFP_KERNEL));
      }
      kmem_cache_destroy(c);
      ukasan_quarantine_drain();
      _exit(ukasan_report_count() == 0 ? 0 : 3);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status)) << "child died: signal " << WTERMSIG(status);
    ASSERT_EQ(WEXITSTATUS(status), 0);
  }
  stop = true;
  for (auto& t : ts) t.join();
}

}  // namespace
