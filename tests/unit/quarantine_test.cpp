// The generic quarantine on its own: a fake node type, no slabs.
#include <gtest/gtest.h>

#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <vector>

#include "quarantine/quarantine.h"

namespace {

struct FakeNode {
  FakeNode* next;
  unsigned id;
  unsigned size;
  int freed;
};

std::vector<unsigned> g_order;

struct FakeCb {
  using Node = FakeNode;
  static Node* next(Node* n) { return n->next; }
  static void set_next(Node* n, Node* x) { n->next = x; }
  static ukasan::uptr size(Node* n) { return n->size; }
  static void in_flight() {}
  static void relax(unsigned) {}
  static void prefetch(Node*) {}
  static void* map(ukasan::uptr bytes) { return calloc(1, bytes); }
  static void recycle(Node* n, void*);
};
using Q = ukasan::Quarantine<FakeCb>;
extern void (*g_recycle_hook)(FakeNode*);
void FakeCb::recycle(Node* n, void*) {
  n->freed++;
  g_order.push_back(n->id);
  if (g_recycle_hook) g_recycle_hook(n);
}

TEST(Quarantine, FifoOrderAndByteBound) {
  static Q q;
  q.init(/*max=*/10000, /*cache=*/1000);
  Q::Queue pcpu;
  std::vector<FakeNode> nodes(1000);
  g_order.clear();
  for (unsigned i = 0; i < nodes.size(); i++) {
    nodes[i] = {nullptr, i, 100, 0};
    q.put(pcpu, &nodes[i], 100, 1);
    Q::Evicting ev;
    while (q.over_limit()) ASSERT_GT(q.reduce(nullptr, ev), 0u);
    EXPECT_LE(q.stats().bytes, 10000u);
  }
  // Oldest first.
  for (size_t i = 1; i < g_order.size(); i++) ASSERT_LT(g_order[i - 1], g_order[i]);
  // Whatever was not evicted is still in the per-CPU queue or the FIFO.
  EXPECT_GE(g_order.size(), 1000u - 10000 / 100 - 1000 / 100 - 1);
  EXPECT_LE(q.stats().max_evict_bytes, 1000u + 100u) << "one batch per step";
}

TEST(Quarantine, OneBatchPerReduce) {
  static Q q;
  q.init(/*max=*/1000, /*cache=*/100);
  Q::Queue pcpu;
  std::vector<FakeNode> nodes(200);
  for (unsigned i = 0; i < nodes.size(); i++) {
    nodes[i] = {nullptr, i, 50, 0};
    q.put(pcpu, &nodes[i], 50, 1);
  }
  auto before = q.stats();
  ASSERT_GT(before.bytes, 1000u);
  Q::Evicting ev;
  q.reduce(nullptr, ev);
  auto after = q.stats();
  EXPECT_EQ(after.evictions, before.evictions + 1);
  EXPECT_LE(before.bytes - after.bytes, 150u);  // one batch: >= 100 bytes, < 100 + one put
}

// Odd ids carry tag 2: extract with that tag finds every odd node, in the
// per-CPU queue, its nested stack (tags unknown there) and the FIFO.
TEST(Quarantine, ExtractAndNestedPut) {
  static Q q;
  q.init(1 << 20, 1 << 10);
  Q::Queue pcpu;
  std::vector<FakeNode> nodes(100);
  for (unsigned i = 0; i < 100; i++) {
    nodes[i] = {nullptr, i, 64, 0};
    if (i % 10 == 0)
      q.put_nested(pcpu, &nodes[i]);  // as from a signal handler
    else
      q.put(pcpu, &nodes[i], 64, 1u << (i % 2));
  }
  Q::Evicting odd;
  auto is_odd = [](FakeNode* n) { return n->id % 2 == 1; };
  auto just_pcpu = [&](auto fn) { fn(pcpu); };
  q.extract(is_odd, /*tag=*/2, just_pcpu, odd, true);
  EXPECT_EQ(odd.batch.count, 50u);
  odd.batch.for_each([](FakeNode* n) { EXPECT_EQ(n->id % 2, 1u); });
  g_order.clear();
  q.free_extracted(odd, nullptr);
  Q::Evicting rest;
  auto all = [](FakeNode*) { return true; };
  q.extract(all, 0, just_pcpu, rest, true);
  EXPECT_EQ(rest.batch.count, 50u);
  q.free_extracted(rest, nullptr);
  for (auto& n : nodes) EXPECT_EQ(n.freed, 1) << n.id;
  EXPECT_EQ(q.stats().bytes, 0u);
}

// A batch being evicted stays findable: a synchronizer that runs while the
// evictor is stopped in the middle of it (here: inside the first recycle)
// takes the matching nodes of the groups the evictor has not claimed, and
// every node is freed exactly once.
void (*g_recycle_hook)(FakeNode*) = nullptr;

TEST(Quarantine, ExtractFromBatchBeingEvicted) {
  static Q q;
  q.init(/*max=*/100, /*cache=*/100000);
  static Q::Queue pcpu;
  std::vector<FakeNode> nodes(100);
  for (unsigned i = 0; i < nodes.size(); i++) {
    nodes[i] = {nullptr, i, 10, 0};
    q.put(pcpu, &nodes[i], 10, 1);
  }
  q.flush(pcpu);  // one batch of 100 nodes: groups [0,32) [32,64) [64,96) [96,100)
  ASSERT_TRUE(q.over_limit());
  static Q::Evicting taken;
  g_order.clear();
  // The first group is the evictor's (no match there: no wait); the odd ids
  // of the others are the synchronizer's.
  g_recycle_hook = [](FakeNode* n) {
    g_recycle_hook = nullptr;
    EXPECT_EQ(n->id, 0u);
    q.extract([](FakeNode* x) { return x->id >= Q::kGroup && x->id % 2 == 1; }, 0, [](auto fn) { fn(pcpu); },
              taken, true);
  };
  Q::Evicting ev;
  q.reduce(nullptr, ev);
  ASSERT_EQ(g_recycle_hook, nullptr) << "the hook ran";
  EXPECT_EQ(g_order.size(), 100u - 34u);
  for (unsigned id : g_order) EXPECT_TRUE(id < Q::kGroup || id % 2 == 0) << id;
  EXPECT_EQ(taken.batch.count, 34u);
  q.free_extracted(taken, nullptr);
  for (auto& n : nodes) EXPECT_EQ(n.freed, 1) << n.id;
  EXPECT_EQ(q.stats().bytes, 0u);
}

// What a synchronizer extracted stays findable until it is freed: a second
// synchronizer (a destroy while another thread drains everything) that runs
// while the first is stopped inside its first free takes the matching nodes
// the first has not claimed yet, so when it returns none of them is left.
TEST(Quarantine, ExtractedListIsVisibleToAnotherSynchronizer) {
  static Q q;
  q.init(/*max=*/1 << 20, /*cache=*/100000);
  static Q::Queue pcpu;
  std::vector<FakeNode> nodes(100);
  for (unsigned i = 0; i < nodes.size(); i++) {
    nodes[i] = {nullptr, i, 10, 0};
    q.put(pcpu, &nodes[i], 10, 1);
  }
  static Q::Evicting drained, destroyed;
  g_order.clear();
  g_recycle_hook = [](FakeNode* n) {
    g_recycle_hook = nullptr;
    EXPECT_EQ(n->id, 0u);
    q.extract([](FakeNode* x) { return x->id >= Q::kGroup && x->id % 3 == 0; }, 0, [](auto fn) { fn(pcpu); },
              destroyed, true);
    EXPECT_EQ(destroyed.batch.count, 23u);  // 33, 36, ..., 99
  };
  q.extract([](FakeNode*) { return true; }, 0, [](auto fn) { fn(pcpu); }, drained, false);
  EXPECT_EQ(drained.batch.count, 100u);
  q.free_extracted(drained, nullptr);
  ASSERT_EQ(g_recycle_hook, nullptr) << "the hook ran";
  EXPECT_EQ(g_order.size(), 100u - 23u);
  q.free_extracted(destroyed, nullptr);
  for (auto& n : nodes) EXPECT_EQ(n.freed, 1) << n.id;
}

// The chunk pool writes a chunk only when it hands it out: a queue that
// used three chunks has touched the pages of those three, not the rest of
// the block (linking a whole new block onto the free list wrote every page
// of it: 64 pages for a process that freed a few hundred objects).
struct LazyCb : FakeCb {
  static inline void* block = nullptr;
  static inline ukasan::uptr block_bytes = 0;
  static void* map(ukasan::uptr bytes) {
    void* m = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return nullptr;
    if (!block) block = m, block_bytes = bytes;
    return m;
  }
};

TEST(Quarantine, ChunkPoolTouchesOnlyTheChunksItHandsOut) {
  using LQ = ukasan::Quarantine<LazyCb>;
  static LQ q;
  q.init(/*max=*/1 << 30, /*cache=*/1 << 30);
  static LQ::Queue pcpu;
  const unsigned kNodes = 3 * LQ::kChunkNodes - 10;  // three chunks
  std::vector<FakeNode> nodes(kNodes);
  for (unsigned i = 0; i < kNodes; i++) {
    nodes[i] = {nullptr, i, 10, 0};
    q.put(pcpu, &nodes[i], 10, 1);
  }
  ASSERT_NE(LazyCb::block, nullptr);
  const long page = sysconf(_SC_PAGESIZE);
  const ukasan::uptr pages = LazyCb::block_bytes / static_cast<ukasan::uptr>(page);
  ASSERT_GE(pages, 8u);
  std::vector<unsigned char> vec(pages);
  ASSERT_EQ(mincore(LazyCb::block, LazyCb::block_bytes, vec.data()), 0);
  unsigned resident = 0;
  for (unsigned char v : vec) resident += v & 1;
  const ukasan::uptr used_bytes = 3 * sizeof(void*) * (LQ::kChunkNodes + 2);  // three 2 KiB chunks
  EXPECT_LE(resident, (used_bytes + static_cast<ukasan::uptr>(page) - 1) / static_cast<ukasan::uptr>(page))
      << "of " << pages << " pages";
  EXPECT_EQ(pcpu.count, static_cast<ukasan::uptr>(kNodes));
}

}  // namespace
