#include "platform/platform.h"

#include <elf.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/single_threaded.h>
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

void* map_anon_shared(uptr size) {
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
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

// One call instead of a fault per page: 1.03 against 1.69 us per 4 KiB
// page on one VM, about 1 against 11 on another (the work left is the
// kernel's allocation and zeroing). Set once a kernel refuses the advice
// (EINVAL before 5.14); a racing thread may try once more, which is harmless.
static std::atomic<bool> g_no_populate{false};
static void populate(void* p, uptr size, int advice) {
  if (g_no_populate.load(std::memory_order_relaxed)) return;
  const int saved = errno;
  // Other failures (ENOMEM, EFAULT) are not remembered: the accesses that
  // follow fault the pages in, or fail, as they would have anyway.
  if (madvise(p, size, advice) != 0 && (errno == EINVAL || errno == ENOSYS))
    g_no_populate.store(true, std::memory_order_relaxed);
  errno = saved;
}
void populate_pages(void* p, uptr size) {
#ifndef MADV_POPULATE_WRITE
  constexpr int MADV_POPULATE_WRITE = 23;
#endif
  populate(p, size, MADV_POPULATE_WRITE);
}
void populate_pages_read(void* p, uptr size) {
#ifndef MADV_POPULATE_READ
  constexpr int MADV_POPULATE_READ = 22;
#endif
  populate(p, size, MADV_POPULATE_READ);
}

bool pages_resident(void* p, uptr npages, u8* vec) {
  const int saved = errno;
  const bool ok = mincore(p, npages * kPageSize, vec) == 0;
  errno = saved;
  return ok;
}

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

bool write_all(int fd, const char* s, uptr n) {
  const int saved = errno;  // a report must not change what the program sees in errno
  bool ok = true;
  while (n > 0) {
    ssize_t r = write(fd, s, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      ok = false;
      break;
    }
    s += r;
    n -= static_cast<uptr>(r);
  }
  errno = saved;
  return ok;
}

bool process_is_secure() { return getauxval(AT_SECURE) != 0; }

bool process_single_threaded() { return __libc_single_threaded; }

static UKASAN_TLS bool t_fork_locks;
bool fork_locks_decide() { return t_fork_locks = !process_single_threaded(); }
bool fork_locks_taken() { return t_fork_locks; }

bool loader_text(uptr* lo, uptr* hi) {
  const uptr base = getauxval(AT_BASE);
  if (!base) return false;
  // ld.so's first segment maps its ELF header and program headers.
  const auto* eh = reinterpret_cast<const ElfW(Ehdr)*>(base);
  if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_phentsize != sizeof(ElfW(Phdr))) return false;
  const auto* ph = reinterpret_cast<const ElfW(Phdr)*>(base + eh->e_phoff);
  uptr l = ~uptr(0), h = 0;
  for (unsigned i = 0; i < eh->e_phnum; i++) {
    if (ph[i].p_type != PT_LOAD || !(ph[i].p_flags & PF_X)) continue;
    const uptr s = base + ph[i].p_vaddr, e = s + ph[i].p_memsz;
    if (s < l) l = s;
    if (e > h) h = e;
  }
  if (l >= h) return false;
  *lo = l;
  *hi = h;
  return true;
}

// Valgrind puts its vgpreload_<tool>-<arch>.so objects in the client's
// LD_PRELOAD: vgpreload_core always, and one of the tool's own when the tool
// replaces malloc (memcheck, helgrind, drd, massif, dhat). Read once: the
// environment may change later.
static int valgrind_preloads() {
  static int cached = -1;
  if (cached < 0) {
    const char* p = getenv("LD_PRELOAD");
    int found = 0;
    for (const char* at = p; at && (at = strstr(at, "/vgpreload_")) != nullptr; at++)
      found |= strncmp(at, "/vgpreload_core-", 16) == 0 ? 1 : 2;
    cached = found;
  }
  return cached;
}

bool running_under_valgrind() { return valgrind_preloads() != 0; }

bool valgrind_replaces_malloc() { return (valgrind_preloads() & 2) != 0; }

u64 address_space_limit() {
  struct rlimit rl;
  if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 0;
  return rl.rlim_cur;
}

void raw_puts(int fd, const char* s) { write_all(fd, s, strlen(s)); }

void die(const char* msg) {
  raw_puts(2, "ukasan: fatal: ");
  raw_puts(2, msg);
  raw_puts(2, "\n");
  abort();
}




uptr parse_hex(const char*& p) {
  while (*p == ' ') p++;
  if (p[0] == '0' && p[1] == 'x') p += 2;
  uptr v = 0;
  for (;; p++) {
    const char c = *p;
    const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) return v;
    v = v * 16 + static_cast<uptr>(d);
  }
}

}  // namespace ukasan
