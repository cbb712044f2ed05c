/* Whole-program allocator workloads for ukasan's benchmarks (bench/run.sh).
 * Plain C and libc malloc/free only, so the same binary runs under any
 * LD_PRELOAD allocator (glibc, ukasan, scudo, jemalloc, tcmalloc, mimalloc,
 * ASan) and can be rebuilt with ukasan-cc or -fsanitize=address.
 *
 * Usage: workloads WORKLOAD THREADS [OPS_PER_THREAD]
 *   churn      each thread: a window of 4096 live blocks, 16-1024 B; every op
 *              frees a random slot and allocates a new block there
 *   xthread    producer/consumer ring: thread i allocates, thread i+1 frees
 *              (a lock-free single-producer queue between neighbours)
 *   threads    many short-lived threads: THREADS run at a time, each does
 *              256 ops on a 64-block window of 16-512 B and exits; OPS is the
 *              total number of threads created (per running slot)
 *   large      like churn with 16 live blocks of 256 KiB - 1 MiB per thread
 *   longlived  a heap of 65536 long-lived blocks per thread (16-512 B) of
 *              which one in 16 ops replaces a random one; every op also makes
 *              a short-lived 16-256 B temporary
 * Environment: BENCH_WINDOW / BENCH_MIN / BENCH_MAX override the churn shape;
 * BENCH_OCC=file samples RSS (and, when ukasan is the allocator, the quarantine
 * bytes via ukasan_get_stats found with dlsym) every 20 ms into file.
 *
 * Prints one line: RESULT key=value ... with the wall time, ns per op
 * (op = one malloc + one free), peak RSS (getrusage, KiB), and malloc/free
 * latency percentiles (ns) from rdtsc around every 4th call (calibrated
 * against CLOCK_MONOTONIC over the run). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#define MAX_THREADS 64
#define SAMPLE_EVERY 4
#define MAX_SAMPLES (1 << 18) /* per thread and kind */

typedef struct {
  uint64_t* s;
  long n;
  uint64_t max;
  uint64_t seen;
} Lat;

typedef struct {
  long id;
  uint64_t x;   /* xorshift state */
  Lat mal, fre; /* malloc / free latencies in TSC ticks */
  long ops;
  uint64_t sum; /* keeps the touched bytes live */
} Ctx;

static const char* g_wl;
static int g_threads;
static long g_ops;
static long g_window = 4096, g_min = 16, g_max = 1024;

static void* raw_alloc(size_t n) { /* never from the allocator under test */
  void* p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    perror("mmap");
    exit(2);
  }
  return p;
}

static inline uint64_t rnd(Ctx* c) {
  uint64_t x = c->x;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return c->x = x;
}

static inline uint64_t ticks(void) {
  _mm_lfence();
  uint64_t t = __rdtsc();
  _mm_lfence();
  return t;
}

static inline void lat_add(Lat* l, uint64_t d) {
  if (d > l->max) l->max = d;
  l->seen++;
  if (l->n < MAX_SAMPLES)
    l->s[l->n++] = d;
  else
    l->s[l->seen % MAX_SAMPLES] = d; /* keep a spread of the run */
}

static inline void* xmalloc(Ctx* c, size_t n) {
  void* p;
  if ((c->ops & (SAMPLE_EVERY - 1)) == 0) {
    uint64_t t0 = ticks();
    p = malloc(n);
    lat_add(&c->mal, ticks() - t0);
  } else {
    p = malloc(n);
  }
  if (!p) {
    fprintf(stderr, "malloc(%zu) failed\n", n);
    exit(3);
  }
  ((volatile char*)p)[0] = (char)n;
  ((volatile char*)p)[n - 1] = (char)n;
  return p;
}

static inline void xfree(Ctx* c, void* p) {
  if (!p) return;
  c->sum += ((unsigned char*)p)[0];
  if ((c->ops & (SAMPLE_EVERY - 1)) == 0) {
    uint64_t t0 = ticks();
    free(p);
    lat_add(&c->fre, ticks() - t0);
  } else {
    free(p);
  }
}

static inline size_t rsize(Ctx* c, long lo, long hi) {
  return (size_t)(lo + (long)((rnd(c) >> 32) % (uint64_t)(hi - lo + 1)));
}

/* ---- churn / large ------------------------------------------------------ */

static void churn_loop(Ctx* c, long window, long lo, long hi, long ops) {
  void** win = raw_alloc((size_t)window * sizeof(void*));
  for (long i = 0; i < ops; i++, c->ops++) {
    long k = (long)(rnd(c) % (uint64_t)window);
    xfree(c, win[k]);
    win[k] = xmalloc(c, rsize(c, lo, hi));
  }
  for (long k = 0; k < window; k++) xfree(c, win[k]);
  munmap(win, (size_t)window * sizeof(void*));
}

/* ---- xthread: SPSC rings between neighbours --------------------------------- */

#define RING 1024
typedef struct {
  _Alignas(64) _Atomic long head; /* consumer */
  _Alignas(64) _Atomic long tail; /* producer */
  void* slot[RING];
} Ring;
static Ring* g_rings;
static _Atomic int g_producers_done;

static long ring_drain(Ctx* c, Ring* r) {
  long h = atomic_load_explicit(&r->head, memory_order_relaxed);
  long t = atomic_load_explicit(&r->tail, memory_order_acquire);
  long n = t - h;
  for (; h < t; h++) xfree(c, r->slot[h % RING]);
  atomic_store_explicit(&r->head, h, memory_order_release);
  return n;
}

static void xthread_loop(Ctx* c) {
  Ring* out = &g_rings[(c->id + 1) % g_threads];
  Ring* in = &g_rings[c->id];
  for (long i = 0; i < g_ops; i++, c->ops++) {
    void* p = xmalloc(c, rsize(c, g_min, g_max));
    for (;;) {
      long t = atomic_load_explicit(&out->tail, memory_order_relaxed);
      if (t - atomic_load_explicit(&out->head, memory_order_acquire) < RING) {
        out->slot[t % RING] = p;
        atomic_store_explicit(&out->tail, t + 1, memory_order_release);
        break;
      }
      if (!ring_drain(c, in)) sched_yield();
    }
    if ((i & 63) == 63) ring_drain(c, in);
  }
  atomic_fetch_add(&g_producers_done, 1);
  for (;;) {
    int done = atomic_load(&g_producers_done) == g_threads;
    if (!ring_drain(c, in) && done && atomic_load(&in->tail) == atomic_load(&in->head)) break;
    if (!done) sched_yield();
  }
}

/* ---- threads: many short-lived threads -------------------------------------- */

static void* short_thread(void* arg) {
  Ctx* c = arg;
  churn_loop(c, 64, 16, 512, 256);
  return NULL;
}

static void threads_loop(Ctx* c) {
  /* This slot creates g_ops threads one after the other; each does 256 ops. */
  for (long i = 0; i < g_ops; i++) {
    Ctx sub = *c;
    sub.x = c->x + (uint64_t)i * 0x9e3779b97f4a7c15ull;
    pthread_t t;
    if (pthread_create(&t, NULL, short_thread, &sub) != 0) {
      perror("pthread_create");
      exit(4);
    }
    pthread_join(t, NULL);
    c->mal = sub.mal;
    c->fre = sub.fre;
    c->ops = sub.ops;
    c->sum += sub.sum;
  }
}

/* ---- longlived --------------------------------------------------------------- */

static void longlived_loop(Ctx* c) {
  const long heap = 65536;
  void** h = raw_alloc((size_t)heap * sizeof(void*));
  for (long k = 0; k < heap; k++, c->ops++) h[k] = xmalloc(c, rsize(c, 16, 512));
  for (long i = 0; i < g_ops; i++, c->ops++) {
    void* t = xmalloc(c, rsize(c, 16, 256));
    xfree(c, t);
    if ((i & 15) == 0) {
      long k = (long)(rnd(c) % (uint64_t)heap);
      xfree(c, h[k]);
      h[k] = xmalloc(c, rsize(c, 16, 512));
    }
  }
  for (long k = 0; k < heap; k++) xfree(c, h[k]);
  munmap(h, (size_t)heap * sizeof(void*));
}

static void* worker(void* arg) {
  Ctx* c = arg;
  if (!strcmp(g_wl, "churn"))
    churn_loop(c, g_window, g_min, g_max, g_ops);
  else if (!strcmp(g_wl, "large"))
    churn_loop(c, 16, 256 << 10, 1 << 20, g_ops);
  else if (!strcmp(g_wl, "xthread"))
    xthread_loop(c);
  else if (!strcmp(g_wl, "threads"))
    threads_loop(c);
  else if (!strcmp(g_wl, "longlived"))
    longlived_loop(c);
  return NULL;
}

/* ---- occupancy sampler ---------------------------------------------------------- */

struct ukasan_stats_view { /* prefix of struct ukasan_stats (include/ukasan/ukasan.h) */
  uint64_t quarantine_bytes, quarantine_peak_bytes, quarantine_max_bytes, rest[16];
};
typedef void (*get_stats_fn)(struct ukasan_stats_view*);
static _Atomic int g_stop;
static double g_t0;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kib(void) {
  char buf[128];
  int fd = open("/proc/self/statm", O_RDONLY);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  long size = 0, res = 0;
  char* p = buf;
  size = strtol(p, &p, 10);
  res = strtol(p, &p, 10);
  (void)size;
  return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static void* sampler(void* arg) {
  const char* path = arg;
  get_stats_fn gs = (get_stats_fn)dlsym(RTLD_DEFAULT, "ukasan_get_stats");
  enum { CAP = 100000 };
  double* t = raw_alloc(CAP * sizeof(double));
  long* r = raw_alloc(CAP * sizeof(long));
  uint64_t* q = raw_alloc(CAP * sizeof(uint64_t));
  long n = 0;
  while (!atomic_load(&g_stop) && n < CAP) {
    struct ukasan_stats_view st = {0};
    if (gs) gs(&st);
    t[n] = now_s() - g_t0;
    r[n] = rss_kib();
    q[n] = st.quarantine_bytes;
    n++;
    struct timespec d = {0, 20 * 1000 * 1000};
    nanosleep(&d, NULL);
  }
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) {
    char line[128];
    for (long i = 0; i < n; i++) {
      int len = snprintf(line, sizeof(line), "%.3f %ld %.1f\n", t[i], r[i], (double)q[i] / 1024.0);
      if (write(fd, line, (size_t)len) != len) break;
    }
    close(fd);
  }
  return NULL;
}

/* ---- percentiles -------------------------------------------------------------------- */

static int cmp_u64(const void* a, const void* b) {
  uint64_t x = *(const uint64_t*)a, y = *(const uint64_t*)b;
  return x < y ? -1 : x > y;
}

static void report_lat(const char* name, Ctx* cs, int n, double ns_per_tick) {
  long total = 0;
  uint64_t mx = 0;
  for (int i = 0; i < n; i++) total += name[0] == 'm' ? cs[i].mal.n : cs[i].fre.n;
  uint64_t* all = raw_alloc((size_t)(total + 1) * sizeof(uint64_t));
  long k = 0;
  for (int i = 0; i < n; i++) {
    Lat* l = name[0] == 'm' ? &cs[i].mal : &cs[i].fre;
    memcpy(all + k, l->s, (size_t)l->n * sizeof(uint64_t));
    k += l->n;
    if (l->max > mx) mx = l->max;
  }
  qsort(all, (size_t)k, sizeof(uint64_t), cmp_u64);
#define PCT(p) (k ? (double)all[(long)((double)(k - 1) * (p))] * ns_per_tick : 0.0)
  printf(" %s_p50=%.0f %s_p99=%.0f %s_p999=%.0f %s_max=%.0f", name, PCT(0.5), name, PCT(0.99), name, PCT(0.999),
         name, (double)mx * ns_per_tick);
#undef PCT
  munmap(all, (size_t)(total + 1) * sizeof(uint64_t));
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s churn|xthread|threads|large|longlived THREADS [OPS_PER_THREAD]\n", argv[0]);
    return 2;
  }
  g_wl = argv[1];
  g_threads = atoi(argv[2]);
  if (g_threads < 1 || g_threads > MAX_THREADS) return 2;
  g_ops = argc > 3 ? atol(argv[3]) : 1000000;
  if (getenv("BENCH_WINDOW")) g_window = atol(getenv("BENCH_WINDOW"));
  if (getenv("BENCH_MIN")) g_min = atol(getenv("BENCH_MIN"));
  if (getenv("BENCH_MAX")) g_max = atol(getenv("BENCH_MAX"));
  if (strcmp(g_wl, "churn") && strcmp(g_wl, "xthread") && strcmp(g_wl, "threads") && strcmp(g_wl, "large") &&
      strcmp(g_wl, "longlived")) {
    fprintf(stderr, "unknown workload %s\n", g_wl);
    return 2;
  }
  if (!strcmp(g_wl, "xthread")) g_rings = raw_alloc(sizeof(Ring) * (size_t)g_threads);

  Ctx* cs = raw_alloc(sizeof(Ctx) * (size_t)g_threads);
  for (int i = 0; i < g_threads; i++) {
    cs[i].id = i;
    cs[i].x = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
    cs[i].mal.s = raw_alloc(MAX_SAMPLES * sizeof(uint64_t));
    cs[i].fre.s = raw_alloc(MAX_SAMPLES * sizeof(uint64_t));
  }
  g_t0 = now_s();
  pthread_t samp;
  const char* occ = getenv("BENCH_OCC");
  if (occ && *occ) pthread_create(&samp, NULL, sampler, (void*)occ);

  double t0 = now_s();
  uint64_t k0 = __rdtsc();
  pthread_t t[MAX_THREADS];
  for (int i = 0; i < g_threads; i++) pthread_create(&t[i], NULL, worker, &cs[i]);
  for (int i = 0; i < g_threads; i++) pthread_join(t[i], NULL);
  uint64_t k1 = __rdtsc();
  double secs = now_s() - t0;
  if (occ && *occ) {
    atomic_store(&g_stop, 1);
    pthread_join(samp, NULL);
  }
  double ns_per_tick = secs * 1e9 / (double)(k1 - k0);

  long ops = 0;
  uint64_t sum = 0;
  for (int i = 0; i < g_threads; i++) ops += cs[i].ops, sum += cs[i].sum;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("RESULT wl=%s threads=%d ops=%ld secs=%.4f ns_op=%.1f cpu_s=%.3f rss_kib=%ld", g_wl, g_threads, ops, secs,
         secs * 1e9 / (double)ops,
         (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
             (double)ru.ru_stime.tv_usec / 1e6,
         ru.ru_maxrss);
  report_lat("malloc", cs, g_threads, ns_per_tick);
  report_lat("free", cs, g_threads, ns_per_tick);
  printf(" check=%llu\n", (unsigned long long)(sum & 0xff));
  return 0;
}
