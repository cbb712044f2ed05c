// Test-only knobs: never user options (UKASAN_OPTIONS does not know them).
// Tests that link the runtime's core set them directly; production code
// only reads them, on paths where a relaxed load of a zero costs nothing.
#pragma once
#include <atomic>

#include "platform/types.h"

namespace ukasan {

struct TestKnobs {
  // Yield after each group a quarantine evictor claims, to widen the race
  // windows of the protocol (slab/quarantine.cpp).
  std::atomic<bool> evict_yield{false};
  // The page allocator fails its next N span allocations (simulated out of
  // memory; slab/page_alloc.cpp).
  std::atomic<u64> fail_spans{0};
  // kmemleak's work stack holds at most this many ranges (0: its real
  // capacity), to drive the overflow rescan (kmemleak/scan.cpp).
  std::atomic<u64> leak_work_max{0};
};
extern TestKnobs g_test_knobs;

}  // namespace ukasan
