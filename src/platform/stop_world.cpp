// Stopping the other threads with a signal (see stop_world.h).
//
// Protocol (one stop at a time, g_busy):
//   scanner: publishes a slot {tid} per thread in g_slots, then tgkill()s it.
//   handler: finds its slot by tid, stores its stack pointer and thread
//            pointer, sets acked (release), then sleeps on the futex g_gen
//            until the generation it saw at entry has passed.
//   scanner: once every slot is acked or described another way, calls fn,
//            then bumps g_gen and wakes the futex; a slot carries the
//            generation of its stop, so a late handler never takes a later
//            stop's slot (see handler()).
// Why it is safe: a slot's sp/tp are written before acked (release) and read
// after acked (acquire); a thread sleeping in the handler cannot touch the
// heap, so what fn reads is what the thread left. A thread that blocks the
// signal never acks; its pending signal is consumed later by the handler,
// which stays installed for that (g_stale) and forwards everything else to
// the action it replaced.
#include "platform/stop_world.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>

#include "platform/platform.h"

namespace ukasan {

namespace {

constexpr int kStopSignal = SIGPWR;  // Boehm GC's choice on Linux: rarely used otherwise
constexpr unsigned kMaxSlots = 1u << 16;

struct Slot {
  int tid;
  int gen;  // the stop it belongs to (g_gen while that stop runs)
  std::atomic<u8> acked;
  StoppedThread::How how;
  bool dead;  // gone before it could be signalled
  uptr sp, tp, altstack;
  u64 switches;  // kSyscall: its context switches when it was read
  bool given_syscall;  // handed to fn as kSyscall
};

Slot* g_slots;            // kMaxSlots, mapped on first use
StoppedThread* g_out;     // what fn gets
std::atomic<unsigned> g_nslots{0};
std::atomic<bool> g_busy{false};
std::atomic<bool> g_active{false};
std::atomic<int> g_gen{0};       // futex word: the stop generation
std::atomic<int> g_stale{0};     // our signals left pending in threads that block it
std::atomic<int> g_acks{0};      // futex word: bumped by each handler that acknowledged
bool g_installed;
struct sigaction g_old;

long sys_futex(std::atomic<int>* w, int op, int val) {
  return syscall(SYS_futex, reinterpret_cast<int*>(w), op, val, nullptr, nullptr, 0);
}

void forward(int sig, siginfo_t* si, void* uc) {
  if (g_old.sa_flags & SA_SIGINFO) {
    if (g_old.sa_sigaction) g_old.sa_sigaction(sig, si, uc);
    return;
  }
  if (g_old.sa_handler == SIG_IGN) return;
  if (g_old.sa_handler == SIG_DFL) {  // terminate, as it would have
    sigaction(sig, &g_old, nullptr);
    g_installed = false;
    syscall(SYS_tgkill, getpid(), current_tid(), sig);
    return;
  }
  g_old.sa_handler(sig);
}

void handler(int sig, siginfo_t* si, void* uc) {
  const int saved_errno = errno;
  const bool ours = si && si->si_code == SI_TKILL && si->si_pid == getpid();
  // gen, then active (seq_cst): if active is still true here, the resume
  // (active = false, then gen++) has not begun, so gen is the generation
  // that resume ends, and this thread's wait below ends with it. A slot
  // counts only if it belongs to that generation: a thread that stalls here
  // past the end of its stop cannot take a later stop's slot for its own
  // (it would leave at once instead of staying stopped); the later stop's
  // signal, still pending, brings it back.
  const int gen = g_gen.load();
  if (!g_active.load() || !ours) {
    int stale = g_stale.load(std::memory_order_relaxed);
    if (ours && stale > 0) {
      g_stale.compare_exchange_strong(stale, stale - 1, std::memory_order_relaxed);
    } else {
      forward(sig, si, uc);
    }
    errno = saved_errno;
    return;
  }
  const int tid = static_cast<int>(syscall(SYS_gettid));
  const unsigned n = g_nslots.load(std::memory_order_acquire);
  for (unsigned i = 0; i < n; i++) {
    Slot& s = g_slots[i];
    if (s.tid != tid || s.gen != gen || s.acked.load(std::memory_order_relaxed)) continue;
    volatile uptr anchor = 0;  // everything above it: this frame, the signal frame, the thread's frames
    s.sp = reinterpret_cast<uptr>(&anchor) & ~uptr(7);
    s.tp = current_thread_pointer();
    s.altstack = current_altstack();
    s.how = StoppedThread::kStopped;
    s.acked.store(1, std::memory_order_release);
    // Wake the scanner at each acknowledgement (waking it only at the last
    // was slower: 16 spinning threads on 2 cores, median 28-32 ms vs 0.3 ms).
    g_acks.fetch_add(1);
    sys_futex(&g_acks, FUTEX_WAKE_PRIVATE, 1);
    while (g_gen.load(std::memory_order_acquire) == gen) sys_futex(&g_gen, FUTEX_WAIT_PRIVATE, gen);
    break;
  }
  errno = saved_errno;
}


// Reads a small /proc file into buf (NUL-terminated); false if it cannot.
bool read_small(const char* path, char* buf, uptr len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  uptr got = 0;
  while (got + 1 < len) {
    ssize_t r = read(fd, buf + got, len - 1 - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += static_cast<uptr>(r);
  }
  close(fd);
  buf[got] = 0;
  return got > 0;
}

void tid_path(char* out, int tid, const char* leaf) {
  // "/proc/self/task/<tid>/<leaf>" without snprintf (no locale, no allocation).
  const char* p = "/proc/self/task/";
  uptr i = 0;
  while (*p) out[i++] = *p++;
  char d[16];
  int k = 0;
  for (unsigned t = static_cast<unsigned>(tid); k == 0 || t; t /= 10) d[k++] = static_cast<char>('0' + t % 10);
  while (k) out[i++] = d[--k];
  out[i++] = '/';
  while (*leaf) out[i++] = *leaf++;
  out[i] = 0;
}


long parse_number(const char* p) {
  long v = 0;
  for (; *p >= '0' && *p <= '9'; p++) v = v * 10 + (*p - '0');
  return v;
}

// The value of a "Key:\tvalue" line of a thread's /proc status (the
// buffer), or nullptr.
const char* status_value(const char* buf, const char* key) {
  const uptr klen = __builtin_strlen(key);
  for (const char* l = buf; *l;) {
    if (!__builtin_strncmp(l, key, klen)) {
      const char* v = l + klen;
      while (*v == '\t' || *v == ' ') v++;
      return v;
    }
    const char* nl = __builtin_strchr(l, '\n');
    if (!nl) break;
    l = nl + 1;
  }
  return nullptr;
}

// The sum of a thread's voluntary and involuntary context switches (from
// its status): unchanged between two readings means it did not run between
// them. ~0 if unreadable.
u64 context_switches(int tid) {
  char path[64], buf[2048];
  tid_path(path, tid, "status");
  if (!read_small(path, buf, sizeof(buf))) return ~u64(0);
  const char* vol = status_value(buf, "voluntary_ctxt_switches:");
  const char* nonvol = status_value(buf, "nonvoluntary_ctxt_switches:");
  if (!vol || !nonvol) return ~u64(0);
  return static_cast<u64>(parse_number(vol)) + static_cast<u64>(parse_number(nonvol));
}

// Whether tid blocks the stop signal (SigBlk in its status).
bool blocks_signal(int tid) {
  char path[64], buf[2048];
  tid_path(path, tid, "status");
  if (!read_small(path, buf, sizeof(buf))) return false;
  const char* v = status_value(buf, "SigBlk:");
  return v && (parse_hex(v) >> (kStopSignal - 1)) & 1;
}

// Whether tid has exited (a joined thread lingers in /proc/self/task for a
// moment after its tid was cleared, and never runs a handler again).
bool thread_gone(int tid) {
  char path[64], buf[512];
  tid_path(path, tid, "stat");
  if (!read_small(path, buf, sizeof(buf))) return true;
  const char* p = buf;
  for (const char* q = buf; *q; q++)
    if (*q == ')') p = q;  // the state follows the last ')' (the name may hold one)
  return p[0] == ')' && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

// The user stack pointer of a thread blocked in a system call: the
// second-last field of /proc/self/task/TID/syscall ("running" otherwise).
// False also for a thread still in this file's handler (asleep on g_gen:
// a previous stop's, not yet scheduled to leave): it blocks every signal
// there, but it will take this stop's signal as soon as it leaves.
bool syscall_sp(int tid, uptr* sp) {
  char path[64], buf[256];
  tid_path(path, tid, "syscall");
  if (!read_small(path, buf, sizeof(buf)) || buf[0] < '0' || buf[0] > '9') return false;
  const char* fields[9];
  int n = 0;
  for (char* p = buf; *p && n < 9;) {
    while (*p == ' ') p++;
    if (!*p || *p == '\n') break;
    fields[n++] = p;
    while (*p && *p != ' ' && *p != '\n') p++;
  }
  if (n < 3) return false;
  const char* a0 = fields[1];
  if (parse_number(fields[0]) == SYS_futex && parse_hex(a0) == reinterpret_cast<uptr>(&g_gen)) return false;
  const char* f = fields[n - 2];
  *sp = parse_hex(f);
  return *sp != 0;
}

// Adds and signals every thread of /proc/self/task not yet in the slots.
// Returns how many were added, -1 if the directory cannot be read.
int signal_new_threads(int self) {
  int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  int added = 0;
  alignas(8) char buf[4096];
  for (;;) {
    long r = syscall(SYS_getdents64, fd, buf, sizeof(buf));
    if (r <= 0) break;
    for (long off = 0; off < r;) {
      struct Dirent {
        u64 ino;
        long long off;
        unsigned short reclen;
        unsigned char type;
        char name[1];
      };
      const Dirent* d = reinterpret_cast<const Dirent*>(buf + off);
      off += d->reclen;
      int tid = 0;
      const char* c = d->name;
      if (*c < '0' || *c > '9') continue;
      for (; *c >= '0' && *c <= '9'; c++) tid = tid * 10 + (*c - '0');
      if (tid == self) continue;
      const unsigned n = g_nslots.load(std::memory_order_relaxed);
      bool known = false;
      for (unsigned i = 0; i < n && !known; i++) known = g_slots[i].tid == tid;
      if (known || n == kMaxSlots) continue;
      Slot& s = g_slots[n];
      s.tid = tid;
      s.gen = g_gen.load(std::memory_order_relaxed);
      s.acked.store(0, std::memory_order_relaxed);
      s.how = StoppedThread::kUnknown;
      s.dead = false;
      s.given_syscall = false;
      s.sp = s.tp = s.altstack = 0;
      g_nslots.store(n + 1, std::memory_order_release);  // the handler finds it from here on
      if (syscall(SYS_tgkill, getpid(), tid, kStopSignal) != 0) s.dead = true;
      added++;
    }
  }
  close(fd);
  return added;
}

u64 now_us() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<u64>(ts.tv_sec) * 1000000 + static_cast<u64>(ts.tv_nsec) / 1000;
}

// Waits for the slots [from, n) to ack. A thread that blocks the signal is
// described by the system call it waits in; one still unknown after the
// patience runs out stays kUnknown.
void wait_for_acks(unsigned from, unsigned n) {
  constexpr u64 kPatienceUs = 2000000, kLookUs = 20000, kFirstLookUs = 1000, kSleepNs = 1000000;
  const u64 start = now_us();
  u64 next_look = start + kFirstLookUs;
  for (;;) {
    const int seen = g_acks.load();
    const u64 now = now_us();
    // After 1 ms, then every 20 ms: has a silent thread exited, or does it
    // block the signal?
    const bool look = now >= next_look;
    if (look) next_look = now + kLookUs;
    bool all = true;
    for (unsigned i = from; i < n; i++) {
      Slot& s = g_slots[i];
      if (s.dead || s.acked.load(std::memory_order_acquire)) continue;
      if (s.how == StoppedThread::kSyscall) continue;
      if (look && thread_gone(s.tid)) {
        s.dead = true;
        continue;
      }
      if (look && blocks_signal(s.tid)) {
        uptr sp;
        // The switch count first: if it is the same after the scan, the
        // thread did not run at any point after its stack pointer was read.
        s.switches = context_switches(s.tid);
        if (s.switches != ~u64(0) && syscall_sp(s.tid, &sp)) {
          s.sp = sp;
          s.how = StoppedThread::kSyscall;
          g_stale.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
      }
      all = false;
    }
    if (all || now - start >= kPatienceUs) {
      for (unsigned i = from; i < n; i++) {
        Slot& s = g_slots[i];
        if (!s.dead && !s.acked.load(std::memory_order_acquire) && s.how == StoppedThread::kUnknown)
          g_stale.fetch_add(1, std::memory_order_relaxed);  // its signal may still come
      }
      return;
    }
    // Sleep until a handler acknowledges (it wakes this futex) or 1 ms passes:
    // with more threads than cores, a poll loop competes with the very
    // threads it waits for.
    timespec ts{0, kSleepNs};
    syscall(SYS_futex, reinterpret_cast<int*>(&g_acks), FUTEX_WAIT_PRIVATE, seen, &ts, nullptr, 0);
  }
}

}  // namespace

uptr current_thread_pointer() {
  uptr tp;
  asm volatile("mov %%fs:0, %0" : "=r"(tp));
  return tp;
}

bool stopped_threads_stayed_still(int* tid) {
  const unsigned n = g_nslots.load(std::memory_order_relaxed);
  for (unsigned i = 0; i < n; i++) {
    const Slot& s = g_slots[i];
    // What fn was given (a thread may ack after it was read as kSyscall).
    if (s.dead || !s.given_syscall) continue;
    // A thread switched out since (count changed) ran; one running right
    // now has not been switched out yet, but is no longer in its system call.
    uptr sp = 0;
    if (context_switches(s.tid) != s.switches || !syscall_sp(s.tid, &sp) || sp != s.sp) {
      if (tid) *tid = s.tid;
      return false;
    }
  }
  return true;
}

uptr current_altstack() {
  stack_t ss;
  if (sigaltstack(nullptr, &ss) != 0 || (ss.ss_flags & SS_DISABLE)) return 0;
  return reinterpret_cast<uptr>(ss.ss_sp);
}

bool stop_the_world(StopWorldFn fn, void* arg, const char** why) {
  bool expected = false;
  if (!g_busy.compare_exchange_strong(expected, true, std::memory_order_acquire)) {
    if (why) *why = "another thread is stopping the world";
    return false;
  }
  if (!g_slots) {
    g_slots = static_cast<Slot*>(map_anon(sizeof(Slot) * kMaxSlots, true));
    g_out = static_cast<StoppedThread*>(map_anon(sizeof(StoppedThread) * kMaxSlots, true));
    if (!g_slots || !g_out) {
      g_busy.store(false, std::memory_order_release);
      if (why) *why = "out of memory";
      return false;
    }
  }
  if (!g_installed) {
    struct sigaction sa = {};
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&sa.sa_mask);
    if (sigaction(kStopSignal, &sa, &g_old) != 0) {
      g_busy.store(false, std::memory_order_release);
      if (why) *why = "cannot install the stop signal's handler";
      return false;
    }
    g_installed = true;
  }
  // No asynchronous signal reaches this thread while the others are
  // stopped: a handler that allocates would wait on a lock a stopped thread
  // holds. (Faults stay deliverable; blocking them is undefined.)
  sigset_t block, saved;
  sigfillset(&block);
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT}) sigdelset(&block, sig);
  pthread_sigmask(SIG_BLOCK, &block, &saved);
  g_nslots.store(0, std::memory_order_relaxed);
  g_active.store(true);
  const int self = current_tid();
  bool ok = true;
  // To a fixed point: a thread not yet stopped may have created another.
  for (;;) {
    const unsigned before = g_nslots.load(std::memory_order_relaxed);
    const int added = signal_new_threads(self);
    if (added < 0) {
      ok = false;
      break;
    }
    if (added == 0) break;
    wait_for_acks(before, g_nslots.load(std::memory_order_relaxed));
  }
  if (ok) {
    unsigned k = 0;
    const unsigned n = g_nslots.load(std::memory_order_relaxed);
    for (unsigned i = 0; i < n; i++) {
      Slot& s = g_slots[i];
      if (s.dead) continue;
      const bool acked = s.acked.load(std::memory_order_acquire);
      s.given_syscall = !acked && s.how == StoppedThread::kSyscall;
      g_out[k++] = StoppedThread{s.tid, acked ? StoppedThread::kStopped : s.how, acked || s.how == StoppedThread::kSyscall ? s.sp : 0,
                                 acked ? s.tp : 0, acked ? s.altstack : 0};
    }
    fn(g_out, k, arg);
  } else if (why) {
    *why = "/proc/self/task cannot be read";
  }
  // Resume: a new generation releases every sleeping handler.
  g_active.store(false);
  g_gen.fetch_add(1);
  sys_futex(&g_gen, FUTEX_WAKE_PRIVATE, 0x7fffffff);
  // Not waiting for the woken threads to leave the handler: with more
  // threads than cores that alone took 100+ ms (each must be scheduled).
  // The handler stays installed while signals of ours may still be pending
  // (it consumes them and forwards the rest); otherwise the old action is back.
  if (g_stale.load(std::memory_order_relaxed) == 0) {
    sigaction(kStopSignal, &g_old, nullptr);
    g_installed = false;
  }
  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  g_busy.store(false, std::memory_order_release);
  return ok;
}

}  // namespace ukasan
