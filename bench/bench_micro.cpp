// Micro benchmarks of the ukasan core (Google Benchmark), linked against the
// static ukasan_core library: no malloc interposition, the kernel API only.
//
//   BM_QuarantinePut_QueueOnly   Quarantine::put() into the per-CPU queue (no transfer)
//   BM_QuarantinePut_Amortised   put() with the default 1 MiB queue: transfers included
//   BM_QuarantineReduce_Fake     one eviction step (one batch) of a full FIFO of fake nodes
//   BM_QuarantineReduce_Slab     one eviction step of the real slab quarantine (256 MiB full)
//   BM_KmemCacheAllocFree        kmem_cache_alloc + kmem_cache_free; args: quarantine on/off,
//                                stacktrace 0/1; 1 and 2 threads
//   BM_CaptureStack / BM_SaveStack  frame-pointer walk, walk + depot save (dedup hit)
//   BM_DepotLookup / BM_DepotInsert the depot's table: lookups past the memo, new stacks
//   BM_Poison / BM_Unpoison      shadow writes for N bytes
//   BM_KmallocKfree              kmalloc + kfree by size, 16 B .. 1 MiB, in steady state
//                                (the 256 MiB quarantine cycled through first)
//
// Eviction steps are timed one by one (UseManualTime); the counters max_us and
// mean_us are the longest and the average single step.
#include <benchmark/benchmark.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <ukasan/slab.h>
#include <ukasan/ukasan.h>

#include <algorithm>
#include <new>
#include <vector>

#include "platform/platform.h"
#include "quarantine/quarantine.h"
#include "shadow/shadow.h"
#include "runtime/runtime.h"
#include "slab/slab.h"
#include "stackdepot/stackdepot.h"

namespace {

using ukasan::uptr;

double now_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return double(ts.tv_sec) * 1e9 + double(ts.tv_nsec);
}

// ---- the generic quarantine over a fake node ------------------------------

struct FakeNode {
  FakeNode* next;
  uptr size;
};

struct FakeCb {
  using Node = FakeNode;
  static Node* next(Node* n) { return n->next; }
  static void set_next(Node* n, Node* x) { n->next = x; }
  static uptr size(Node* n) { return n->size; }
  static void in_flight() {}
  static void relax(unsigned) {}
  static void prefetch(Node* n) { __builtin_prefetch(n); }
  static void* map(uptr bytes) { return ukasan::map_anon(bytes); }
  static void recycle(Node* n, void* ctx) {
    // Touch the node like a real free would (a counter, not optimised away).
    ++*static_cast<uptr*>(ctx);
    benchmark::DoNotOptimize(n->size);
  }
};
using FakeQ = ukasan::Quarantine<FakeCb>;

alignas(64) unsigned char g_fakeq_storage[sizeof(FakeQ)];

FakeQ* fresh_fake_quarantine(uptr max_bytes, uptr cache_bytes) {
  FakeQ* q = new (g_fakeq_storage) FakeQ();
  q->init(max_bytes, cache_bytes);
  return q;
}

constexpr size_t kFakeNodes = 1 << 20;
constexpr uptr kFakeNodeBytes = 512;  // accounted size (a kmalloc-512-ish slot)

void BM_QuarantinePut_QueueOnly(benchmark::State& state) {
  std::vector<FakeNode> nodes(kFakeNodes);
  FakeQ* q = fresh_fake_quarantine(~uptr(0) / 2, ~uptr(0) / 4);  // never transfers
  FakeQ::Queue pcpu;
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(q->put(pcpu, &nodes[i], kFakeNodeBytes, 1));
    if (++i == kFakeNodes) {
      i = 0;
      FakeQ::Evicting all;  // chunks back to the pool (steady state, no page faults)
      q->extract([](FakeNode*) { return true; }, 0, [&](auto fn) { fn(pcpu); }, all, false);
      uptr dropped = 0;
      q->free_extracted(all, &dropped);
    }
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
}
BENCHMARK(BM_QuarantinePut_QueueOnly);

// Default queue size (1 MiB): one transfer (lock + append) per 2048 puts.
void BM_QuarantinePut_Amortised(benchmark::State& state) {
  std::vector<FakeNode> nodes(kFakeNodes);
  const uptr cache = uptr(state.range(0)) << 10;
  FakeQ* q = fresh_fake_quarantine(~uptr(0) / 2, cache);
  FakeQ::Queue pcpu;
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(q->put(pcpu, &nodes[i], kFakeNodeBytes, 1));
    if (++i == kFakeNodes) {  // nodes are reused: start from an empty quarantine
      state.PauseTiming();
      i = 0;
      FakeQ::Evicting all;
      q->extract([](FakeNode*) { return true; }, 0, [&](auto fn) { fn(pcpu); }, all, false);
      uptr dropped = 0;
      q->free_extracted(all, &dropped);
      q = fresh_fake_quarantine(~uptr(0) / 2, cache);
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
  state.counters["transfers"] = double(q->stats().transfers);
}
BENCHMARK(BM_QuarantinePut_Amortised)->Arg(1024)->Arg(64);

// Per-step timing of reduce(): max and mean over the steps that freed a batch.
struct StepStats {
  double max_ns = 0, sum_ns = 0;
  int64_t steps = 0;
  uptr max_batch = 0;
  void add(double dt, uptr freed) {
    if (!freed) return;
    max_ns = std::max(max_ns, dt);
    sum_ns += dt;
    steps++;
    max_batch = std::max(max_batch, freed);
  }
  void report(benchmark::State& state) const {
    state.counters["max_us"] = max_ns / 1e3;
    state.counters["mean_us"] = steps ? sum_ns / double(steps) / 1e3 : 0;
    state.counters["batch_KiB"] = double(max_batch) / 1024.0;
    state.counters["steps"] = double(steps);
  }
};

// One reduce() step on a FIFO that holds max_bytes (256 MiB of 512 B nodes):
// each iteration refills a fresh quarantine (untimed) and times one step,
// which pops the oldest batch and walks it.
void BM_QuarantineReduce_Fake(benchmark::State& state) {
  const uptr max_bytes = uptr(256) << 20;
  const size_t n = max_bytes / kFakeNodeBytes + 4096;
  std::vector<FakeNode> nodes(n);
  uptr recycled = 0;
  StepStats st;
  for (auto _ : state) {
    FakeQ* q = fresh_fake_quarantine(max_bytes, uptr(1) << 20);
    FakeQ::Queue pcpu;
    for (size_t i = 0; i < n; i++) q->put(pcpu, &nodes[i], kFakeNodeBytes, 1);
    FakeQ::Evicting ev;
    double t0 = now_ns();
    uptr freed = q->reduce(&recycled, ev);
    double dt = now_ns() - t0;
    state.SetIterationTime(dt / 1e9);
    st.add(dt, freed);
    // Give the chunks back so the next iteration does not fault in new ones.
    FakeQ::Evicting all;
    q->extract([](FakeNode*) { return true; }, 0, [&](auto fn) { fn(pcpu); }, all, false);
    q->free_extracted(all, &recycled);
  }
  st.report(state);
}
BENCHMARK(BM_QuarantineReduce_Fake)->UseManualTime()->Iterations(16);

// ---- the real slab quarantine ------------------------------------------------

void set_opts(const char* o) {
  if (ukasan_set_options(o) != 0) abort();
}

// Fill the quarantine (256 MiB) with kmalloc-512 objects, then shrink the
// bound to 1 MiB so that every reduce() evicts one full batch (batches keep
// the size they were formed with: max(256 MiB/1024, 1 MiB queue) = 1 MiB).
void BM_QuarantineReduce_Slab(benchmark::State& state) {
  set_opts("quarantine_size_mb=0:stacktrace=1");
  ukasan_quarantine_drain();
  set_opts("quarantine_size_mb=256");
  const size_t n = (size_t(256) << 20) / 640 + 4096;  // kmalloc-512 slot: 640 B
  std::vector<void*> objs(n);
  for (auto& p : objs) p = kmalloc(500, GFP_KERNEL);
  for (auto p : objs) kfree(p);
  set_opts("quarantine_size_mb=1");
  ukasan::ThreadState* ts = ukasan::thread_state();
  StepStats st;
  for (auto _ : state) {
    double t0 = now_ns();
    ukasan::runtime_enter(ts);
    uptr freed = ukasan::quarantine().reduce(ts, ts->evicting);
    ukasan::runtime_exit(ts);
    double dt = now_ns() - t0;
    state.SetIterationTime(dt / 1e9);
    st.add(dt, freed);
  }
  st.report(state);
  set_opts("quarantine_size_mb=0");
  ukasan_quarantine_drain();
}
BENCHMARK(BM_QuarantineReduce_Slab)->UseManualTime()->Iterations(200);

// ---- kmem_cache_alloc + kmem_cache_free ---------------------------------------

struct kmem_cache* g_cache;

void BM_KmemCacheAllocFree(benchmark::State& state) {
  if (state.thread_index() == 0) {
    if (!g_cache) g_cache = kmem_cache_create("bench-256", 256, 0, 0, nullptr);
    set_opts(state.range(1) ? "stacktrace=1" : "stacktrace=0");
    set_opts(state.range(0) ? "quarantine_size_mb=256" : "quarantine_size_mb=0");
    if (!state.range(0)) ukasan_quarantine_drain();
  }
  for (auto _ : state) {  // the loop start is a barrier for all threads
    void* p = kmem_cache_alloc(g_cache, GFP_KERNEL);
    benchmark::DoNotOptimize(p);
    *static_cast<volatile char*>(p) = 1;
    kmem_cache_free(g_cache, p);
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
  if (state.thread_index() == 0) state.SetLabel(std::string(state.range(0) ? "quarantine" : "no-quarantine") +
                                                (state.range(1) ? ",stacks" : ",no-stacks"));
}
BENCHMARK(BM_KmemCacheAllocFree)
    ->ArgNames({"quarantine", "stacktrace"})
    ->ArgsProduct({{0, 1}, {0, 1}})
    ->Threads(1)
    ->Threads(2)
    ->Threads(4)  // oversubscribed on 2 cores: where a spinning waiter can hurt
    ->UseRealTime();

// ---- stacks -------------------------------------------------------------------

template <typename F>
__attribute__((noinline)) uptr at_depth(int depth, F& f) {
  if (depth <= 0) return f();
  uptr r = at_depth(depth - 1, f) + 1;
  benchmark::DoNotOptimize(r);
  return r;
}

void BM_CaptureStack(benchmark::State& state) {
  auto f = [] {
    uptr pcs[ukasan::kMaxStackFrames];
    return uptr(ukasan::capture_stack(pcs, ukasan::kMaxStackFrames, 0));
  };
  uptr frames = 0;
  for (auto _ : state) frames = at_depth(int(state.range(0)), f);
  state.counters["frames"] = double(frames - uptr(state.range(0)));
}
BENCHMARK(BM_CaptureStack)->Arg(4)->Arg(16)->Arg(40);

void BM_SaveStack(benchmark::State& state) {
  ukasan::runtime_init();
  auto f = [] { return uptr(ukasan::save_current_stack(0)); };
  for (auto _ : state) benchmark::DoNotOptimize(at_depth(int(state.range(0)), f));
  state.counters["depot_stacks"] = double(ukasan::depot_stats().unique_stacks);
}
BENCHMARK(BM_SaveStack)->Arg(4)->Arg(16)->Arg(40);

// The depot's table itself (memo misses): range(0) distinct 8-frame stacks,
// saved (and looked up once) before the timing, then looked up in a
// scattered order that no per-thread memo of 64 entries holds.
void BM_DepotLookup(benchmark::State& state) {
  const unsigned n = unsigned(state.range(0));
  static std::vector<uptr> pcs[2];
  std::vector<uptr>& v = pcs[n > 1000];
  if (v.empty()) {
    static unsigned base = 50000000;
    base += n;
    v.resize(size_t(n) * 8);
    for (unsigned i = 0; i < n; i++)
      for (unsigned k = 0; k < 8; k++) v[size_t(i) * 8 + k] = 0x500000000000ull + uptr(base + i) * 0x100 + k * 8;
    for (int pass = 0; pass < 2; pass++)
      for (unsigned i = 0; i < n; i++) ukasan::depot_save(&v[size_t(i) * 8], 8);
  }
  unsigned i = 0;
  for (auto _ : state) {
    i = (i + 7919) % n;
    benchmark::DoNotOptimize(ukasan::depot_save(&v[size_t(i) * 8], 8));
  }
}
BENCHMARK(BM_DepotLookup)->Arg(1000)->Arg(100000);

// New stacks (insert path, including the table's growth).
void BM_DepotInsert(benchmark::State& state) {
  static uptr next = 0x600000000000ull;
  uptr pcs[8];
  for (auto _ : state) {
    next += 0x100;
    for (unsigned k = 0; k < 8; k++) pcs[k] = next + k * 8;
    benchmark::DoNotOptimize(ukasan::depot_save(pcs, 8));
  }
}
BENCHMARK(BM_DepotInsert)->Iterations(200000);

// ---- shadow ---------------------------------------------------------------------

alignas(4096) unsigned char g_shadow_buf[1 << 20];

void BM_Poison(benchmark::State& state) {
  ukasan::runtime_init();
  const uptr a = reinterpret_cast<uptr>(g_shadow_buf), n = uptr(state.range(0));
  for (auto _ : state) {
    ukasan::poison(a, n, ukasan::kShadowSlabFree);
    benchmark::ClobberMemory();
  }
  ukasan::unpoison(a, sizeof(g_shadow_buf));
  state.SetBytesProcessed(int64_t(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Poison)->RangeMultiplier(8)->Range(16, 1 << 20);

void BM_Unpoison(benchmark::State& state) {
  ukasan::runtime_init();
  const uptr a = reinterpret_cast<uptr>(g_shadow_buf), n = uptr(state.range(0));
  for (auto _ : state) {
    ukasan::unpoison(a, n - 3);  // with a partial last granule
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Unpoison)->RangeMultiplier(8)->Range(16, 1 << 20);

// ---- kmalloc + kfree by size ------------------------------------------------------

void BM_KmallocKfree(benchmark::State& state) {
  set_opts("quarantine_size_mb=256:stacktrace=1");
  const size_t n = size_t(state.range(0));
  // Steady state only: first cycle the whole quarantine through this size
  // (once per size), so the timed loop evicts as much as it frees instead of
  // measuring the first touch of 256 MiB of fresh slabs.
  static size_t warmed[32];
  static unsigned nwarmed;
  if (std::find(warmed, warmed + nwarmed, n) == warmed + nwarmed && nwarmed < 32) {
    warmed[nwarmed++] = n;
    ukasan_quarantine_drain();
    const size_t fill = (size_t(300) << 20) / (n + n / 8 + 32) + 64;
    for (size_t i = 0; i < fill; i++) kfree(kmalloc(n, GFP_KERNEL));
  }
  for (auto _ : state) {
    void* p = kmalloc(n, GFP_KERNEL);
    benchmark::DoNotOptimize(p);
    static_cast<volatile char*>(p)[n - 1] = 1;
    kfree(p);
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
}
BENCHMARK(BM_KmallocKfree)->RangeMultiplier(4)->Range(16, 1 << 20);

}  // namespace

BENCHMARK_MAIN();
