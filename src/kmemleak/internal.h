// Shared by the files of src/kmemleak only.
#pragma once
#include "platform/types.h"
#include "stackdepot/stackdepot.h"

namespace ukasan {

// An object of the program's own allocator (kmemleak_alloc).
struct CustomObject {
  uptr ptr, size;
  int min_count;
  u8 flags;  // kMeta* (NoLeak, NoScan, Reported)
  u32 tid;
  depot_handle_t stack;
};

// The registry of custom objects and root regions. The scanner holds its
// lock from before it stops the world until the threads run again, so no
// stopped thread can be half-way through a registry update.
void registry_lock();
void registry_unlock();
// With the lock held: the objects (unordered) and the root regions.
CustomObject* registry_objects(uptr* n);
const uptr* registry_root_regions(uptr* n);  // pairs: start, size

}  // namespace ukasan
