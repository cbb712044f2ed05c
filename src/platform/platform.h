// Thin OS layer: raw memory mapping, thread ids, output. Nothing here allocates
// from the C heap, so every function is usable from inside malloc/free.
#pragma once
#include "platform/types.h"

namespace ukasan {

// Reserve/commit anonymous memory. Return nullptr on failure (never abort).
void* map_anon(uptr size, bool noreserve = false);
// Map exactly at addr without replacing anything already there; nullptr on failure.
void* map_fixed_noreplace(uptr addr, uptr size, bool accessible);
void unmap(void* p, uptr size);
void release_pages(void* p, uptr size);  // give the pages back to the OS, keep the range

int current_tid();
void platform_after_fork_child();  // the forking thread has a new tid in the child
// Copies the current thread's name (like the kernel's current->comm) into buf.
void current_comm(char* buf, uptr len);

// Raw, unbuffered writes. write_all retries short writes / EINTR.
void write_all(int fd, const char* s, uptr n);
void raw_puts(int fd, const char* s);

[[noreturn]] void die(const char* msg);

// Asymmetric memory barrier: after it returns every other thread of the
// process has executed a full memory barrier (membarrier PRIVATE_EXPEDITED;
// falls back to MEMBARRIER_CMD_GLOBAL, then to a mprotect-based IPI).
void heavy_barrier();
// Call once early: registers for expedited membarrier. Idempotent.
void heavy_barrier_init();

u64 monotonic_ns();
}  // namespace ukasan
