#include "platform/platform.h"

#include <errno.h>
#include <pthread.h>
#include <sys/resource.h>
#include <linux/membarrier.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>

extern "C" void* __libc_stack_end;  // glibc/ld.so: the stack pointer at process entry

namespace ukasan {

void* map_anon(uptr size, bool noreserve) {
  int flags = MAP_PRIVATE | MAP_ANONYMOUS | (noreserve ? MAP_NORESERVE : 0);
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, flags, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

void* map_fixed_noreplace(uptr addr, uptr size, bool accessible) {
  int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE;
  void* p = mmap(reinterpret_cast<void*>(addr), size, accessible ? PROT_READ | PROT_WRITE : PROT_NONE,
                 flags, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  if (reinterpret_cast<uptr>(p) != addr) {  // pre-4.17 kernels ignore the flag
    munmap(p, size);
    return nullptr;
  }
  return p;
}

void unmap(void* p, uptr size) { munmap(p, size); }

void release_pages(void* p, uptr size) { madvise(p, size, MADV_DONTNEED); }

static UKASAN_TLS int t_tid;
int current_tid() {
  if (UKASAN_UNLIKELY(t_tid == 0)) t_tid = static_cast<int>(syscall(SYS_gettid));
  return t_tid;
}
void platform_after_fork_child() { t_tid = 0; }

void query_thread_stack(uptr* lo, uptr* top) {
  uptr l = 0, t = 0;
  if (current_tid() == getpid()) {
    // The main thread: avoid pthread_getattr_np, which parses
    // /proc/self/maps with stdio. __libc_stack_end is below the arguments and
    // environment: round up so the top frames are covered.
    t = round_up(reinterpret_cast<uptr>(__libc_stack_end), kPageSize);
    struct rlimit rl;
    uptr size = uptr(8) << 20;
    if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) size = rl.rlim_cur;
    if (size > (uptr(1) << 30)) size = uptr(1) << 30;
    l = t > size ? t - size : 0;
  } else {
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
      void* addr = nullptr;
      size_t size = 0;
      if (pthread_attr_getstack(&attr, &addr, &size) == 0 && addr && size) {
        l = reinterpret_cast<uptr>(addr);
        t = l + size;
      }
      pthread_attr_destroy(&attr);
    }
  }
  *lo = l;
  *top = t;
}

void current_comm(char* buf, uptr len) {
  char name[17] = {};
  if (prctl(PR_GET_NAME, name, 0, 0, 0) != 0) strcpy(name, "?");
  uptr n = strlen(name);
  if (n >= len) n = len - 1;
  memcpy(buf, name, n);
  buf[n] = 0;
}

void write_all(int fd, const char* s, uptr n) {
  while (n > 0) {
    ssize_t r = write(fd, s, n);
    if (r < 0) {
      if (errno == EINTR) continue;
      return;
    }
    s += r;
    n -= static_cast<uptr>(r);
  }
}

void raw_puts(int fd, const char* s) { write_all(fd, s, strlen(s)); }

void die(const char* msg) {
  raw_puts(2, "ukasan: fatal: ");
  raw_puts(2, msg);
  raw_puts(2, "\n");
  abort();
}

// 0 = untried, 1 = private expedited, 2 = global, 3 = mprotect fallback.
static std::atomic<int> g_barrier_kind{0};

void heavy_barrier_init() {
  if (g_barrier_kind.load(std::memory_order_acquire) != 0) return;
  int kind = 3;
  long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
  if (cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
      syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0)
    kind = 1;
  else if (cmds > 0 && (cmds & MEMBARRIER_CMD_GLOBAL))
    kind = 2;
  g_barrier_kind.store(kind, std::memory_order_release);
}

void heavy_barrier() {
  heavy_barrier_init();
  switch (g_barrier_kind.load(std::memory_order_acquire)) {
    case 1:
      if (syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0) return;
      break;
    case 2:
      if (syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) == 0) return;
      break;
    default:
      break;
  }
  // Fallback: changing the protection of a touched page forces a TLB
  // shootdown IPI on every CPU running a thread of this process, which
  // serialises them (the same trick FlushProcessWriteBuffers uses).
  static char* page = nullptr;
  if (!page) page = static_cast<char*>(map_anon(kPageSize));
  if (page) {
    page[0] = 1;
    mprotect(page, kPageSize, PROT_READ);
    mprotect(page, kPageSize, PROT_READ | PROT_WRITE);
  }
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

u64 monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<u64>(ts.tv_sec) * 1000000000ull + static_cast<u64>(ts.tv_nsec);
}

}  // namespace ukasan
