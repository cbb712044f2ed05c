// The generic quarantine on its own: a fake node type, no slabs.
#include <gtest/gtest.h>

#include <stdlib.h>

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
  static void prefetch(Node*) {}
  static void* map(ukasan::uptr bytes) { return calloc(1, bytes); }
  static void recycle(Node* n, void*) {
    n->freed++;
    g_order.push_back(n->id);
  }
};
using Q = ukasan::Quarantine<FakeCb>;

TEST(Quarantine, FifoOrderAndByteBound) {
  static Q q;
  q.init(/*max=*/10000, /*cache=*/1000);
  Q::Queue pcpu;
  std::vector<FakeNode> nodes(1000);
  g_order.clear();
  for (unsigned i = 0; i < nodes.size(); i++) {
    nodes[i] = {nullptr, i, 100, 0};
    q.put(pcpu, &nodes[i], 100);
    while (q.over_limit()) ASSERT_GT(q.reduce(nullptr, false), 0u);
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
    q.put(pcpu, &nodes[i], 50);
  }
  auto before = q.stats();
  ASSERT_GT(before.bytes, 1000u);
  q.reduce(nullptr, false);
  auto after = q.stats();
  EXPECT_EQ(after.evictions, before.evictions + 1);
  EXPECT_LE(before.bytes - after.bytes, 150u);  // one batch: >= 100 bytes, < 100 + one put
}

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
      q.put(pcpu, &nodes[i], 64);
  }
  Q::List odd;
  auto is_odd = [](FakeNode* n) { return n->id % 2 == 1; };
  q.extract_from_queue(pcpu, is_odd, odd);
  q.extract_from_fifo(is_odd, odd);
  EXPECT_EQ(odd.count, 50u);
  odd.for_each([](FakeNode* n) { EXPECT_EQ(n->id % 2, 1u); });
  g_order.clear();
  q.free_list(odd, nullptr);
  Q::List rest;
  auto all = [](FakeNode*) { return true; };
  q.extract_from_queue(pcpu, all, rest);
  q.extract_from_fifo(all, rest);
  EXPECT_EQ(rest.count, 50u);
  q.free_list(rest, nullptr);
  for (auto& n : nodes) EXPECT_EQ(n.freed, 1) << n.id;
  EXPECT_EQ(q.stats().bytes, 0u);
}

}  // namespace
