// The kernel slab API: semantics, shadow state, quarantine FIFO, destroy.
#include <gtest/gtest.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <algorithm>
#include <set>
#include <thread>
#include <vector>

#include "shadow/shadow.h"
#include "slab/slab.h"
#include "kasan_test.h"
#include "ukasan/kslab.h"
#include "ukasan/slab.h"

namespace {

class SlabTest : public ukasan_test::KasanTest {};

bool accessible(const void* p, size_t n) {
  uintptr_t a = reinterpret_cast<uintptr_t>(p);
  return ukasan::find_first_bad(a, n) == 0;
}

TEST_F(SlabTest, KmallocSizeClassesAndPoison) {
  const size_t sizes[] = {1, 7, 8, 9, 16, 17, 33, 64, 65, 96, 97, 128, 129, 192, 193, 256, 300, 512, 1000, 2048, 4000, 8192};
  const size_t classes[] = {8, 8, 8, 16, 16, 32, 64, 64, 96, 96, 128, 128, 192, 192, 256, 256, 512, 512, 1024, 2048, 4096, 8192};
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    char* p = static_cast<char*>(kmalloc(sizes[i], GFP_KERNEL));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 16, 0u) << sizes[i];
    EXPECT_EQ(ksize(p), classes[i]) << sizes[i];
    EXPECT_TRUE(accessible(p, sizes[i])) << sizes[i];
    EXPECT_FALSE(accessible(p + sizes[i], 1)) << "byte after " << sizes[i];
    EXPECT_FALSE(accessible(p - 1, 1)) << "byte before " << sizes[i];
    // ksize() reports the slack but does not unpoison it.
    if (classes[i] > sizes[i]) {
      EXPECT_FALSE(accessible(p + sizes[i], classes[i] - sizes[i]));
    }
    memset(p, 0xab, sizes[i]);
    kfree(p);
    EXPECT_FALSE(accessible(p, 1));
  }
}

TEST_F(SlabTest, LargeKmallocIsPageBackedWithRedzones) {
  char* p = static_cast<char*>(kmalloc(20000, GFP_KERNEL));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 4096, 0u);
  EXPECT_TRUE(accessible(p, 20000));
  EXPECT_FALSE(accessible(p + 20000, 1));
  EXPECT_FALSE(accessible(p - 1, 1));
  EXPECT_EQ(ksize(p), 20480u);
  EXPECT_EQ(*ukasan::mem_to_shadow(reinterpret_cast<uintptr_t>(p) - 8), 0xFE);
  kfree(p);
  EXPECT_EQ(*ukasan::mem_to_shadow(reinterpret_cast<uintptr_t>(p)), 0xFF);
}

TEST_F(SlabTest, ZeroingAndOverflowChecks) {
  char* p = static_cast<char*>(kzalloc(100, GFP_KERNEL));
  for (int i = 0; i < 100; i++) ASSERT_EQ(p[i], 0);
  kfree(p);
  EXPECT_EQ(kmalloc_array(SIZE_MAX / 2, 3, GFP_KERNEL), nullptr);
  EXPECT_EQ(kcalloc(SIZE_MAX / 8, 16, GFP_KERNEL), nullptr);
  int* a = static_cast<int*>(kcalloc(10, sizeof(int), GFP_KERNEL));
  for (int i = 0; i < 10; i++) ASSERT_EQ(a[i], 0);
  kfree(a);
  EXPECT_EQ(kmalloc(0, GFP_KERNEL), ZERO_SIZE_PTR);
  kfree(nullptr);
  kfree(ZERO_SIZE_PTR);
}

TEST_F(SlabTest, KreallocPoisonsAndUnpoisonsTheTail) {
  char* p = static_cast<char*>(kmalloc(10, GFP_KERNEL));
  memcpy(p, "0123456789", 10);
  char* q = static_cast<char*>(krealloc(p, 14, GFP_KERNEL));  // same kmalloc-16 object
  EXPECT_EQ(q, p);
  EXPECT_TRUE(accessible(q, 14));
  EXPECT_FALSE(accessible(q + 14, 1));
  q = static_cast<char*>(krealloc(q, 5, GFP_KERNEL));
  EXPECT_EQ(q, p);
  EXPECT_TRUE(accessible(q, 5));
  EXPECT_FALSE(accessible(q + 5, 1));
  char* r = static_cast<char*>(krealloc(q, 3000, GFP_KERNEL));  // moves
  EXPECT_NE(r, q);
  EXPECT_EQ(memcmp(r, "01234", 5), 0);
  EXPECT_FALSE(accessible(q, 1));  // the old block was freed
  EXPECT_TRUE(accessible(r, 3000));
  char* big = static_cast<char*>(krealloc(r, 50000, GFP_KERNEL));
  EXPECT_EQ(memcmp(big, "01234", 5), 0);
  EXPECT_EQ(krealloc(big, 0, GFP_KERNEL), ZERO_SIZE_PTR);
  EXPECT_FALSE(accessible(big, 1));
  char* n = static_cast<char*>(krealloc(nullptr, 8, GFP_KERNEL));
  EXPECT_TRUE(accessible(n, 8));
  kfree(n);
}

TEST_F(SlabTest, KfreeSensitiveZeroes) {
  ukasan_set_options("quarantine_size_mb=16");
  char* p = static_cast<char*>(kmalloc(24, GFP_KERNEL));
  memset(p, 0x5a, 24);
  kfree_sensitive(p);
  // The object is quarantined (not reused), so its bytes are still ours to inspect.
  const unsigned char* raw = reinterpret_cast<const unsigned char*>(p);
  for (int i = 16; i < 32; i++) EXPECT_EQ(raw[i], 0) << i;  // beyond the free metadata
}

struct Obj {
  uint64_t magic;
  char payload[40];
};
std::atomic<int> ctor_calls{0};
void obj_ctor(void* p) {
  static_cast<Obj*>(p)->magic = 0xfeedf00d;
  ctor_calls++;
}

TEST_F(SlabTest, CtorCacheKeepsConstructedStateAcrossFree) {
  struct kmem_cache* c = kmem_cache_create("ctor_cache", sizeof(Obj), 0, 0, obj_ctor);
  ASSERT_NE(c, nullptr);
  EXPECT_STREQ(kmem_cache_name(c), "ctor_cache");
  EXPECT_EQ(kmem_cache_size(c), sizeof(Obj));
  Obj* o = static_cast<Obj*>(kmem_cache_alloc(c, GFP_KERNEL));
  EXPECT_GT(ctor_calls.load(), 0);
  EXPECT_EQ(o->magic, 0xfeedf00du);
  kmem_cache_free(c, o);
  // Free metadata lives in the redzone for ctor caches: the object is intact.
  EXPECT_EQ(reinterpret_cast<volatile Obj*>(o)->magic, 0xfeedf00du);
  ukasan_quarantine_drain();
  kmem_cache_destroy(c);
}

TEST_F(SlabTest, AlignmentAndHwcacheAlign) {
  struct kmem_cache* c1 = kmem_cache_create("align128", 72, 128, 0, nullptr);
  struct kmem_cache* c2 = kmem_cache_create("hwalign", 72, 0, SLAB_HWCACHE_ALIGN, nullptr);
  for (int i = 0; i < 50; i++) {
    void* a = kmem_cache_alloc(c1, GFP_KERNEL);
    void* b = kmem_cache_alloc(c2, GFP_KERNEL);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % 128, 0u);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b) % 64, 0u);
    kmem_cache_free(c1, a);
    kmem_cache_free(c2, b);
  }
  ukasan_quarantine_drain();
  kmem_cache_destroy(c1);
  kmem_cache_destroy(c2);
  EXPECT_EQ(kmem_cache_create("bad_align", 8, 3, 0, nullptr), nullptr);
  EXPECT_EQ(kmem_cache_create(nullptr, 8, 0, 0, nullptr), nullptr);
  EXPECT_EQ(kmem_cache_create("zero", 0, 0, 0, nullptr), nullptr);
  // A refused kmem_cache_create may warn (the kernel's pr_warn); it is no KASAN bug.
  EXPECT_TRUE(ukasan_test::kasan_headers(unclaimed()).empty()) << unclaimed();
  claim_all();
}

TEST_F(SlabTest, BulkAllocFree) {
  struct kmem_cache* c = kmem_cache_create("bulk", 48, 0, 0, nullptr);
  void* objs[100];
  ASSERT_EQ(kmem_cache_alloc_bulk(c, GFP_KERNEL, 100, objs), 100);
  std::set<void*> uniq(objs, objs + 100);
  EXPECT_EQ(uniq.size(), 100u);
  for (void* o : objs) EXPECT_TRUE(accessible(o, 48));
  kmem_cache_free_bulk(c, 100, objs);
  for (void* o : objs) EXPECT_FALSE(accessible(o, 1));
  ukasan_quarantine_drain();
  EXPECT_EQ(kmem_cache_shrink(c), 0);
  kmem_cache_destroy(c);
}

// Fresh slabs hand their slots out in address order (carved, not linked):
// every slot exactly once, then the freelist's objects. Through a magazine
// (a run carved at a time) and without one (the 65th cache: one slot at a
// time). An object handed out twice shows as a duplicate address or as
// another object's bytes in it.
TEST_F(SlabTest, FreshSlabsHandOutEverySlotOnce) {
  std::vector<struct kmem_cache*> fillers;
  for (unsigned i = 0; i < 64; i++) fillers.push_back(kmem_cache_create("filler", 24, 0, 0, nullptr));
  struct kmem_cache* with_mag = fillers[0];  // created first: it has a magazine slot
  struct kmem_cache* no_mag = kmem_cache_create("no-magazine", 40, 0, 0, nullptr);
  for (struct kmem_cache* c : {with_mag, no_mag}) {
    const size_t size = c == no_mag ? 40 : 24;
    std::vector<unsigned char*> live;
    auto alloc_n = [&](unsigned n) {
      for (unsigned i = 0; i < n; i++) {
        auto* p = static_cast<unsigned char*>(kmem_cache_alloc(c, GFP_KERNEL));
        ASSERT_NE(p, nullptr);
        live.push_back(p);
        memset(p, static_cast<int>(live.size() & 0xff), size);
      }
    };
    auto expect_intact = [&]() {
      std::set<unsigned char*> uniq(live.begin(), live.end());
      EXPECT_EQ(uniq.size(), live.size());
      for (size_t i = 0; i < live.size(); i++)
        for (size_t b = 0; b < size; b++)
          if (live[i][b] != static_cast<unsigned char>((i + 1) & 0xff)) {
            ADD_FAILURE() << "object " << i << " byte " << b << " overwritten";
            return;
          }
    };
    alloc_n(1000);  // many slabs, each carved whole
    expect_intact();
    std::vector<unsigned char*> keep;
    for (size_t i = 0; i < live.size(); i++) {
      if (i % 2) {
        kmem_cache_free(c, live[i]);
      } else {
        memset(live[i], static_cast<int>((keep.size() + 1) & 0xff), size);
        keep.push_back(live[i]);
      }
    }
    live = keep;
    ukasan_quarantine_drain();  // the freed half goes back to its slabs' freelists
    alloc_n(1000);              // the freelists first, then fresh slabs again
    expect_intact();
    for (unsigned char* p : live) kmem_cache_free(c, p);
  }
  ukasan_quarantine_drain();
  kmem_cache_destroy(no_mag);
  for (struct kmem_cache* f : fillers) kmem_cache_destroy(f);
}

// A fresh slab's slots get their metadata when they are carved, not when the
// slab is built (writing it for every slot touched every page of the slab):
// a slot never handed out is left as the page allocator gave it, and
// freeing a pointer to it is an invalid free, not a double free.
TEST_F(SlabTest, NeverCarvedSlotsHaveNoMetadataAndCannotBeFreed) {
  struct kmem_cache* c = kmem_cache_create("carve-lazily", 64, 0, 0, nullptr);
  void* p = kmem_cache_alloc(c, GFP_KERNEL);
  ASSERT_NE(p, nullptr);
  ukasan::ObjectRef ref{};
  ASSERT_EQ(ukasan::lookup_object(reinterpret_cast<uintptr_t>(p), &ref), ukasan::kObjectStart);
  const uintptr_t last = ukasan::slab_slot(ref.cache, ref.span, ref.span->nobjs - 1);
  ASSERT_GT(ref.span->nobjs, 64u);
  EXPECT_FALSE(ukasan::slab_slot_carved(ref.span, last));
  EXPECT_EQ(ukasan::alloc_meta(ref.cache, last)->state.load(), 0u) << "the build wrote the last slot's metadata";
  EXPECT_KASAN_REPORT(kmem_cache_free(c, reinterpret_cast<void*>(last)), "invalid-free");
  EXPECT_NE(last_report().find("no object was ever allocated there"), std::string::npos) << last_report();
  kmem_cache_free(c, p);
  ukasan_quarantine_drain();
  kmem_cache_destroy(c);
  EXPECT_EQ(unclaimed(), "");
}

TEST_F(SlabTest, ZallocZeroes) {
  struct kmem_cache* c = kmem_cache_create("zalloc", 200, 0, 0, nullptr);
  for (int round = 0; round < 3; round++) {
    char* o = static_cast<char*>(kmem_cache_zalloc(c, GFP_KERNEL));
    for (int i = 0; i < 200; i++) ASSERT_EQ(o[i], 0);
    memset(o, 0xff, 200);
    kmem_cache_free(c, o);
    ukasan_quarantine_drain();
  }
  kmem_cache_destroy(c);
}

// FIFO: a freed object is not handed out again until at least the configured
// quarantine bytes were freed after it.
TEST_F(SlabTest, QuarantineFifoDelaysReuse) {
  ukasan_set_options("quarantine_size_mb=1:quarantine_cache_kb=64");
  ukasan_quarantine_drain();
  struct kmem_cache* c = kmem_cache_create("fifo", 100, 0, 0, nullptr);
  struct ukasan_stats st;
  ukasan_get_stats(&st);
  const uint64_t bound = st.quarantine_max_bytes;
  ASSERT_EQ(bound, 1u << 20);
  // The accounted size is the full slot (object + redzone + metadata;
  // neighbours in a fresh slab are one slot apart) plus its shadow (1/8) and
  // its 8-byte pointer in a batch chunk.
  char* n1 = static_cast<char*>(kmem_cache_alloc(c, GFP_KERNEL));
  char* n2 = static_cast<char*>(kmem_cache_alloc(c, GFP_KERNEL));
  const uint64_t slot_bytes = n1 > n2 ? n1 - n2 : n2 - n1;
  EXPECT_GE(slot_bytes, 100u + 16u);
  const uint64_t slot = slot_bytes + slot_bytes / 8 + 8;
  void* victim = kmem_cache_alloc(c, GFP_KERNEL);
  kmem_cache_free(c, victim);
  kmem_cache_free(c, n1);
  kmem_cache_free(c, n2);
  uint64_t freed_after = 2 * slot;
  bool reused = false;
  std::vector<void*> live;
  for (int i = 0; i < 200000 && !reused; i++) {
    void* o = kmem_cache_alloc(c, GFP_KERNEL);
    if (o == victim) {
      reused = true;
      break;
    }
    kmem_cache_free(c, o);
    freed_after += slot;
  }
  EXPECT_TRUE(reused) << "the victim must come back once the quarantine cycles";
  if (reused) kmem_cache_free(c, victim);
  EXPECT_GE(freed_after, bound) << "reused after only " << freed_after << " bytes";
  ukasan_get_stats(&st);
  EXPECT_GT(st.evictions, 0u);
  // One eviction step frees one batch: at most batch + one per-CPU queue.
  EXPECT_LE(st.max_evict_bytes, (64u << 10) * 2 + slot);
  ukasan_quarantine_drain();
  kmem_cache_destroy(c);
  ukasan_set_options("quarantine_size_mb=256:quarantine_cache_kb=1024");
}

// Frees with no allocation in between (tearing down a big structure) must
// not grow the quarantine past its bound: the freeing thread evicts once the
// FIFO is two batches over.
TEST_F(SlabTest, FreeBurstKeepsTheQuarantineBound) {
  ukasan_set_options("quarantine_size_mb=1:quarantine_cache_kb=64");
  ukasan_quarantine_drain();
  struct kmem_cache* c = kmem_cache_create("burst", 200, 0, 0, nullptr);
  std::vector<void*> v;
  for (int i = 0; i < 40000; i++) v.push_back(kmem_cache_alloc(c, GFP_KERNEL));  // ~10 MiB of slots
  struct ukasan_stats st;
  uint64_t peak = 0;
  for (void* o : v) {
    kmem_cache_free(c, o);
    ukasan_get_stats(&st);
    peak = std::max(peak, st.quarantine_bytes);
  }
  // bound + 2 batches (64 KiB each at this bound) + the transfer that tipped it.
  EXPECT_LE(peak, st.quarantine_max_bytes + 3 * (64u << 10) + 1024) << "evictions " << st.evictions;
  EXPECT_GT(st.evictions, 0u);
  ukasan_quarantine_drain();
  kmem_cache_destroy(c);
  ukasan_set_options("quarantine_size_mb=256:quarantine_cache_kb=1024");
}

// A finished phase's objects, evicted into their cache's depot and never
// asked for again, are given back: their slabs are released once the idle
// depot blocks pass a sixteenth of the quarantine bound (1 MiB at least).
// A cache the program keeps drawing from keeps its depot.
TEST_F(SlabTest, IdleMemoryOfAFinishedPhaseIsReleased) {
  ukasan_set_options("quarantine_size_mb=4:quarantine_cache_kb=64");
  ukasan_quarantine_drain();
  const uint64_t trimmed0 = ukasan::cache_trimmed_slabs();
  std::vector<void*> v;
  for (int i = 0; i < 20000; i++) v.push_back(kmalloc(500, GFP_KERNEL));  // ~13 MiB of kmalloc-512 slots
  const uint64_t slabs_live = ukasan::mem_stats().slab_bytes;
  for (void* o : v) kfree(o);
  // The next phase: another size, whose frees push the rest of the first
  // phase's objects through the quarantine (4 MiB) into kmalloc-512's depot.
  for (int i = 0; i < 400000; i++) kfree(kmalloc(40, GFP_KERNEL));
  const uint64_t slabs_after = ukasan::mem_stats().slab_bytes;
  EXPECT_GT(ukasan::cache_trimmed_slabs(), trimmed0);
  // Left: the quarantine (4 MiB), kmalloc-64's slabs, what each cache keeps.
  EXPECT_LT(slabs_after + (6u << 20), slabs_live)
      << "with phase 1 live: " << (slabs_live >> 10) << " KiB of slabs, after phase 2: " << (slabs_after >> 10);
  // The released memory is usable again, by any size.
  for (int i = 0; i < 20000; i++) v[i] = kmalloc(i % 2 ? 500 : 40, GFP_KERNEL);
  for (void* o : v) {
    ASSERT_TRUE(accessible(o, 40));
    kfree(o);
  }
  ukasan_quarantine_drain();
  ukasan_set_options("quarantine_size_mb=256:quarantine_cache_kb=1024");
}

TEST_F(SlabTest, TypesafeByRcuIsNotQuarantined) {
  ukasan_set_options("quarantine_size_mb=64");
  struct kmem_cache* c = kmem_cache_create("rcu", 64, 0, SLAB_TYPESAFE_BY_RCU, nullptr);
  void* a = kmem_cache_alloc(c, GFP_KERNEL);
  kmem_cache_free(c, a);
  EXPECT_TRUE(accessible(a, 64)) << "RCU objects stay readable after free";
  void* b = kmem_cache_alloc(c, GFP_KERNEL);
  EXPECT_EQ(a, b) << "not quarantined: reused at once (LIFO magazine)";
  kmem_cache_free(c, b);
  kmem_cache_destroy(c);
}

TEST_F(SlabTest, DestroyWithLiveObjectsKeepsMemoryAndReports) {
  struct kmem_cache* c = kmem_cache_create("leaky_cache", 32, 0, 0, nullptr);
  char* keep = static_cast<char*>(kmem_cache_alloc(c, GFP_KERNEL));
  void* gone = kmem_cache_alloc(c, GFP_KERNEL);
  kmem_cache_free(c, gone);
  strcpy(keep, "still here");
  kmem_cache_destroy(c);
  std::string t = unclaimed();
  EXPECT_NE(t.find("kmem_cache_destroy leaky_cache: Slab cache still has objects"), std::string::npos) << t;
  EXPECT_NE(t.find("Objects remaining in leaky_cache on kmem_cache_destroy(): 1"), std::string::npos) << t;
  EXPECT_NE(t.find("slab_test.cpp:"), std::string::npos) << "alloc stack of the leaked object\n" << t;
  EXPECT_TRUE(ukasan_test::kasan_headers(t).empty()) << "the kernel's pr_err, not a KASAN bug\n" << t;
  claim_all();
  EXPECT_STREQ(keep, "still here");
  EXPECT_TRUE(accessible(keep, 32));
}

TEST_F(SlabTest, CleanDestroyPrintsNothing) {
  for (int round = 0; round < 20; round++) {
    struct kmem_cache* c = kmem_cache_create("clean", 24 + round, 0, 0, nullptr);
    std::vector<void*> v;
    for (int i = 0; i < 500; i++) v.push_back(kmem_cache_alloc(c, GFP_KERNEL));
    for (void* o : v) kmem_cache_free(c, o);  // all of them sit in the quarantine
    kmem_cache_destroy(c);
  }
  EXPECT_EQ(report_text(), "");
}

// Frees beyond a magazine go to the cache's depot as whole magazines; they
// are free objects for reuse, for destroy's leak count and for shrink.
TEST_F(SlabTest, DepotObjectsAreReusedAndCountedFree) {
  // SLAB_TYPESAFE_BY_RCU: not quarantined, so frees reach the depot at once.
  struct kmem_cache* c = kmem_cache_create("depot_cache", 48, 0, SLAB_TYPESAFE_BY_RCU, nullptr);
  std::vector<void*> v;
  for (int i = 0; i < 2000; i++) v.push_back(kmem_cache_alloc(c, GFP_KERNEL));
  std::set<void*> first(v.begin(), v.end());
  for (void* o : v) kmem_cache_free(c, o);
  v.clear();
  for (int i = 0; i < 2000; i++) v.push_back(kmem_cache_alloc(c, GFP_KERNEL));
  EXPECT_EQ(std::set<void*>(v.begin(), v.end()), first) << "freed objects come back from the depot";
  for (size_t i = 1; i < v.size(); i++) kmem_cache_free(c, v[i]);
  kmem_cache_destroy(c);
  std::string t = unclaimed();
  EXPECT_NE(t.find("Objects remaining in depot_cache on kmem_cache_destroy(): 1\n"), std::string::npos) << t;
  claim_all();
  EXPECT_TRUE(accessible(v[0], 48)) << "the leaked object stays usable";

  // Shrink gives back slabs whose objects are all in the depot.
  struct kmem_cache* d = kmem_cache_create("depot_shrink", 48, 0, SLAB_TYPESAFE_BY_RCU, nullptr);
  v.clear();
  for (int i = 0; i < 2000; i++) v.push_back(kmem_cache_alloc(d, GFP_KERNEL));
  for (void* o : v) kmem_cache_free(d, o);
  kmem_cache_shrink(d);
  size_t released = 0;
  for (void* o : v) released += *ukasan::mem_to_shadow(reinterpret_cast<uintptr_t>(o)) == ukasan::kShadowPageFree;
  EXPECT_GT(released, 1000u) << "slabs holding only depot objects are released";
  kmem_cache_destroy(d);
}

// slab_object_of maps every byte of a slab to its slot with a reciprocal
// multiply; it must agree with the division everywhere.
TEST_F(SlabTest, SlotOfEveryByteMatchesDivision) {
  for (unsigned size : {8u, 24u, 100u, 192u, 1000u, 4000u, 8192u, 20000u, 70000u, 300000u}) {
    struct kmem_cache* kc = kmem_cache_create("slot_map", size, 0, 0, nullptr);
    void* o = kmem_cache_alloc(kc, GFP_KERNEL);
    ukasan::Span* s = ukasan::page_allocator().span_of(reinterpret_cast<uintptr_t>(o));
    ASSERT_NE(s, nullptr);
    const ukasan::KmemCache* c = s->cache;
    const uintptr_t first = s->start + c->lead, end = s->start + s->npages * ukasan::kPageSize;
    for (uintptr_t p = first; p < end; p++) {
      uintptr_t idx = (p - first) / c->slot_size;
      if (idx >= s->nobjs) idx = s->nobjs - 1;
      ASSERT_EQ(ukasan::slab_object_of(s, p), first + idx * c->slot_size) << "size " << size << " offset " << p - first;
    }
    kmem_cache_free(kc, o);
    ukasan_quarantine_drain();
    kmem_cache_destroy(kc);
  }
}

TEST_F(SlabTest, DoubleDestroyIsReportedNotACrash) {
  struct kmem_cache* c = kmem_cache_create("twice", 16, 0, 0, nullptr);
  kmem_cache_destroy(c);
  // The kernel's report: a use of the freed kmem_cache.
  EXPECT_KASAN_REPORT(kmem_cache_destroy(c), "slab-use-after-free");
  EXPECT_EQ(last_header(), "BUG: KASAN: slab-use-after-free in kmem_cache_destroy");
  int not_a_cache[16] = {};
  EXPECT_KASAN_REPORT(kmem_cache_destroy(reinterpret_cast<struct kmem_cache*>(not_a_cache)), "invalid-free");
  EXPECT_EQ(last_header(), "BUG: KASAN: invalid-free in kmem_cache_destroy");
  kmem_cache_destroy(nullptr);
  EXPECT_EQ(unclaimed(), "");
}

TEST_F(SlabTest, WrongCacheFreeIsInvalid) {
  struct kmem_cache* a = kmem_cache_create("cache_a", 64, 0, 0, nullptr);
  struct kmem_cache* b = kmem_cache_create("cache_b", 64, 0, 0, nullptr);
  void* o = kmem_cache_alloc(a, GFP_KERNEL);
  EXPECT_KASAN_REPORT(kmem_cache_free(b, o), "invalid-free");
  EXPECT_NE(last_report().find("belongs to another cache"), std::string::npos) << last_report();
  kmem_cache_free(a, o);  // still valid
  ukasan_quarantine_drain();
  kmem_cache_destroy(a);
  kmem_cache_destroy(b);
  EXPECT_EQ(unclaimed(), "");
}

TEST_F(SlabTest, StatsTrackQuarantine) {
  ukasan_set_options("quarantine_size_mb=8:quarantine_cache_kb=16");
  ukasan_quarantine_drain();
  struct ukasan_stats before, after;
  ukasan_get_stats(&before);
  std::vector<void*> v;
  for (int i = 0; i < 2000; i++) v.push_back(kmalloc(128, GFP_KERNEL));
  for (void* p : v) kfree(p);
  ukasan_get_stats(&after);
  EXPECT_GT(after.transfers, before.transfers);
  EXPECT_GT(after.quarantine_bytes, 0u);
  ukasan_quarantine_drain();
  ukasan_get_stats(&after);
  EXPECT_EQ(after.quarantine_bytes, 0u);
  ukasan_set_options("quarantine_size_mb=256:quarantine_cache_kb=1024");
}

}  // namespace

namespace {
// Page-backed blocks are evicted on the allocation path too: churning only
// large blocks keeps the quarantine within its bound (plus one batch).
TEST_F(SlabTest, LargeBlocksRespectTheQuarantineBound) {
  ukasan_set_options("quarantine_size_mb=8:quarantine_cache_kb=256");
  ukasan_quarantine_drain();
  struct ukasan_stats st;
  for (int i = 0; i < 400; i++) {
    void* p = kmalloc(300 * 1024, GFP_KERNEL);
    ASSERT_NE(p, nullptr);
    kfree(p);
    ukasan_get_stats(&st);
    ASSERT_LE(st.quarantine_bytes, (8u << 20) + 2 * (300u << 10) + (256u << 10) + 8 * 4096) << "at " << i;
  }
  EXPECT_GT(st.evictions, 0u);
  ukasan_quarantine_drain();
  ukasan_set_options("quarantine_size_mb=256:quarantine_cache_kb=1024");
}
}  // namespace

namespace {
// evict_thread=1: a background thread evicts; the allocation path evicts only
// when the quarantine is two batches past its bound, so the bound (plus that
// slack) holds whatever the evictor's scheduling.
TEST_F(SlabTest, BackgroundEvictorKeepsTheBound) {
  ukasan_set_options("quarantine_size_mb=4:quarantine_cache_kb=64:evict_thread=1");
  ukasan_quarantine_drain();
  struct ukasan_stats st;
  const uint64_t slack = 2 * (64u << 10) + (64u << 10) + 4096;  // 2 batches + one queue in flight
  for (int i = 0; i < 200000; i++) {
    kfree(kmalloc(200, GFP_KERNEL));
    if (i % 1000 == 0) {
      ukasan_get_stats(&st);
      ASSERT_LE(st.quarantine_bytes, (4u << 20) + slack) << "at " << i;
    }
  }
  ukasan_get_stats(&st);
  EXPECT_GT(st.evictions, 0u);
  // The evictor thread exists (started when the quarantine first overflowed).
  bool found = false;
  if (DIR* d = opendir("/proc/self/task")) {
    while (struct dirent* e = readdir(d)) {
      std::string path = std::string("/proc/self/task/") + e->d_name + "/comm";
      if (FILE* f = fopen(path.c_str(), "r")) {
        char name[32] = {};
        if (fgets(name, sizeof(name), f) && std::string(name).rfind("ukasan-evict", 0) == 0) found = true;
        fclose(f);
      }
    }
    closedir(d);
  }
  EXPECT_TRUE(found);
  ukasan_set_options("quarantine_size_mb=256:quarantine_cache_kb=1024:evict_thread=0");
}

// ukasan_cache_stats: counts across threads (one thread allocates, another
// frees), a cache that takes a destroyed cache's counter slot starts at 0,
// and the alloc hook's vetoes are not counted. Also the caches beyond the
// magazine slots (counted in the descriptor).
static struct ukasan_cache_stats stats_of(struct kmem_cache* c) {
  struct ukasan_cache_stats st;
  EXPECT_EQ(ukasan_cache_stats(reinterpret_cast<ukasan_kmem_cache*>(c), &st), 0);
  return st;
}

TEST_F(SlabTest, CacheStatsCountEveryThreadAndStartAtZero) {
  for (int round = 0; round < 2; round++) {  // the second cache reuses the first one's slot
    struct kmem_cache* c = kmem_cache_create("stats_cache", 24, 0, 0, nullptr);
    void* objs[8];
    std::thread t([&] {
      for (void*& o : objs) o = kmem_cache_alloc(c, GFP_KERNEL);
    });
    t.join();
    struct ukasan_cache_stats st = stats_of(c);
    EXPECT_EQ(st.allocated, 8u) << round;
    EXPECT_EQ(st.live, 8u);
    EXPECT_EQ(st.object_size, 24u);
    EXPECT_GE(st.slot_size, 24u + 16u);
    for (int i = 0; i < 5; i++) kmem_cache_free(c, objs[i]);
    st = stats_of(c);
    EXPECT_EQ(st.freed, 5u);
    EXPECT_EQ(st.live, 3u);
    for (int i = 5; i < 8; i++) kmem_cache_free(c, objs[i]);
    EXPECT_EQ(stats_of(c).live, 0u);
    kmem_cache_destroy(c);
  }
  // More caches than magazine slots: the last ones count in their descriptor.
  std::vector<struct kmem_cache*> caches;
  for (unsigned i = 0; i < ukasan::kMagCaches + 2; i++) caches.push_back(kmem_cache_create("stats_many", 8, 0, 0, nullptr));
  struct kmem_cache* last = caches.back();
  EXPECT_LT(reinterpret_cast<ukasan::KmemCache*>(last)->mag_id, 0);
  void* o = kmem_cache_alloc(last, GFP_KERNEL);
  EXPECT_EQ(stats_of(last).live, 1u);
  kmem_cache_free(last, o);
  EXPECT_EQ(stats_of(last).freed, 1u);
  for (struct kmem_cache* c : caches) kmem_cache_destroy(c);
}

TEST_F(SlabTest, AllocHookVetoesKernelNamedCallsToo) {
  struct kmem_cache* c = kmem_cache_create("hook_cache", 32, 0, 0, nullptr);
  auto* uc = reinterpret_cast<ukasan_kmem_cache*>(c);
  static ukasan_gfp_t seen;
  ASSERT_EQ(ukasan_kmem_cache_set_alloc_hook(
                uc, [](ukasan_kmem_cache*, ukasan_gfp_t f, void* arg) { seen = f; return arg != nullptr; }, nullptr),
            0);
  EXPECT_EQ(kmem_cache_zalloc(c, GFP_KERNEL), nullptr);
  EXPECT_EQ(seen, (GFP_KERNEL | __GFP_ZERO) | UKASAN_GFP_ZERO);  // the caller's gfp_t, and ukasan's zero bit
  void* objs[4];
  EXPECT_EQ(kmem_cache_alloc_bulk(c, GFP_KERNEL, 4, objs), 0);
  EXPECT_EQ(kmem_cache_alloc_lru(c, nullptr, GFP_KERNEL), nullptr);
  EXPECT_EQ(stats_of(c).allocated, 0u);
  ukasan_kmem_cache_set_alloc_hook(uc, [](ukasan_kmem_cache*, ukasan_gfp_t, void*) { return true; }, nullptr);
  EXPECT_EQ(kmem_cache_alloc_bulk(c, GFP_KERNEL, 4, objs), 4);
  kmem_cache_free_bulk(c, 4, objs);
  ukasan_kmem_cache_set_alloc_hook(uc, nullptr, nullptr);
  void* o = kmem_cache_alloc_lru(c, nullptr, GFP_KERNEL);
  EXPECT_NE(o, nullptr);
  kmem_cache_free(c, o);
  EXPECT_EQ(stats_of(c).allocated, 5u);
  kmem_cache_destroy(c);
}
}  // namespace
