// kmemleak in user space (the kernel's mm/kmemleak.c; LeakSanitizer's
// interface on top): a conservative scan, with every other thread stopped,
// of the roots (writable segments of every loaded module, each thread's
// stack from its stack pointer and its registers, the main thread's TCB,
// registered root regions) and transitively of every allocated object they
// reach; an allocated object reached by no aligned word (interior pointers
// count) is reported as unreferenced, once.
//
// Objects are the slab layer's (slab objects and large blocks, read from
// the page map: no other bookkeeping) and the custom ones registered with
// kmemleak_alloc() (an allocator ukasan does not know).
#pragma once
#include "platform/types.h"

namespace ukasan {

struct LeakScanResult {
  u64 new_objects, new_bytes;  // reported by this scan
  u64 objects;                 // unreferenced now (reported before or not)
  bool complete;               // every root was seen (else nothing was reported)
};
// Scans; report: print the new leaks in kmemleak's format. Any thread; one
// scan at a time (a concurrent one returns complete = false).
// refresh_only: only flag the freed objects live memory points into
// (quarantine_keep_referenced); no leak is looked for, and the cost is the
// reachable heap, not a walk over every object.
// stack_from: where the calling thread's stack is scanned from (0: the
// scan's own frame; the exit-time scan passes exit()'s caller's frame).
LeakScanResult leak_scan(bool report, bool refresh_only = false, uptr stack_from = 0);
// Leaks reported by every scan so far (the exit status counts them).
u64 leak_reported_total();
// quarantine_keep_referenced: a scan that reports nothing and refreshes
// which freed objects live memory still points into (the slab layer's
// refresh hook).
void leak_refresh_dangling();

// ---- annotations (<ukasan/kmemleak.h>, LSan's interface) ---------------------------
// Sets kMetaNoLeak or kMetaNoScan on the object (heap or custom) that
// starts at p (any byte of it for LSan's calls: interior). False if p is no
// allocated object's.
bool leak_set_flag(const void* p, u8 flag, bool interior);

// Custom objects: [p, p + size) allocated by the program's own allocator.
// min_count: the kernel's (0: never reported, scanned; < 0: neither
// scanned nor reported; > 0: reported when unreferenced).
void leak_register(const void* p, uptr size, int min_count, uptr ip);
// false if p was not registered.
bool leak_unregister(const void* p);

// Root regions (__lsan_register_root_region): scanned like a global.
void leak_add_root_region(const void* p, uptr size);
bool leak_remove_root_region(const void* p, uptr size);

// __lsan_disable / __lsan_enable: this thread's allocations are not leaks
// in between (they nest).
void leak_disable_thread();
bool leak_enable_thread();  // false if not disabled

// fork(): the registry's lock.
void leak_fork_prepare();
void leak_fork_parent();
void leak_fork_child();

}  // namespace ukasan
