// No false positives: exceptions, longjmp, threads (stack reuse after a thread
// died with poisoned frames), fork, vfork+exec, signals on an alternate stack
// (and siglongjmp out of one), swapcontext, large frames, varargs. After each
// one, uninstrumented code walks the stack below through checked libc calls.
#include <csetjmp>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <pthread.h>
#include <stdexcept>
#include <sys/uio.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>
#include <strings.h>
#include <wchar.h>

extern "C" long plain_touch_stack(int kb);
#define NI __attribute__((noinline))
static volatile long sink;
static void touch() { sink = plain_touch_stack(60); }

NI void use(volatile char *p) { sink = p[0]; }
NI void deep_throw(int d) {
  volatile char buf[200];
  use(buf);
  if (d == 0) throw std::runtime_error("deep");
  deep_throw(d - 1);
  use(buf);
}
static jmp_buf jb;
NI void deep_longjmp(int d) {
  volatile char buf[300];
  use(buf);
  if (d == 0) longjmp(jb, 1);
  deep_longjmp(d - 1);
  use(buf);
}
NI void *thread_deep_exit(void *) {
  volatile char buf[500];
  use(buf);
  pthread_exit(nullptr);
}
NI void thread_deep2(int d) {
  volatile char buf[256];
  use(buf);
  if (d == 0) pthread_exit(nullptr);
  thread_deep2(d - 1);
  use(buf);
}
NI void *thread_deep_exit2(void *) { thread_deep2(20); return nullptr; }
NI void *thread_touch(void *) {
  try { deep_throw(10); } catch (const std::exception &) {}
  touch();
  return nullptr;
}
NI int vsum(int n, ...) {
  va_list ap;
  va_start(ap, n);
  int s = 0;
  for (int i = 0; i < n; i++) s += va_arg(ap, int);
  va_end(ap);
  return s;
}
NI long big_frame(int i) {
  volatile char big[1 << 20];
  big[i] = 1;
  big[(1 << 20) - 1 - i] = 2;
  char small[10];
  snprintf(small, sizeof small, "%d", i);
  return big[i] + big[(1 << 20) - 1 - i] + small[0];
}
NI void vfork_child_deep(int d) {
  volatile char buf[400];
  use(buf);
  if (d == 0) {
    execl("/bin/true", "true", (char *)nullptr);
    _exit(127);
  }
  vfork_child_deep(d - 1);
  use(buf);
}
static sigjmp_buf sjb;
static volatile int sig_mode;
NI void handler_deep(int d) {
  volatile char buf[128];
  use(buf);
  if (d == 0) {
    if (sig_mode == 1) siglongjmp(sjb, 1);
    return;
  }
  handler_deep(d - 1);
  use(buf);
}
void on_sig(int) { handler_deep(5); }
static ucontext_t main_ctx, fib_ctx;
NI void fiber_fn() {
  try { deep_throw(5); } catch (const std::exception &) {}
  sink = plain_touch_stack(8);
  swapcontext(&fib_ctx, &main_ctx);
}

// The wide-string interceptors (src/instrumentation/wide.cpp implement them):
// libc's results on exact-size buffers, and no report.
NI int check_wide() {
  wchar_t *a = static_cast<wchar_t *>(malloc(6 * sizeof(wchar_t)));
  wchar_t *b = static_cast<wchar_t *>(malloc(12 * sizeof(wchar_t)));
  int bad = 0;
  bad |= wcscpy(a, L"hello") != a || wcslen(a) != 5 || wcsnlen(a, 3) != 3 || wcsnlen(a, 9) != 5;
  bad |= wcsncpy(b, a, 12) != b || b[5] != 0 || b[11] != 0 || wcscmp(a, b) != 0;
  bad |= wcscat(b, L" you") != b || wcscmp(b, L"hello you") != 0 || wcslen(b) != 9;
  bad |= wcsncat(b, L"!!!", 2) != b || wcscmp(b, L"hello you!!") != 0;
  bad |= wcsncmp(a, L"help", 3) != 0 || wcsncmp(a, L"help", 4) >= 0 || wcscmp(L"b", L"a") <= 0;
  bad |= wcscmp(L"\x80000000", L"a") >= 0;  // signed wchar_t, as glibc compares
  bad |= wcschr(a, L'l') != a + 2 || wcschr(a, L'z') != nullptr || wcschr(a, 0) != a + 5;
  bad |= wmemset(b, L'x', 11) != b || b[10] != L'x' || b[11] != 0;
  bad |= wmemcpy(b, a, 6) != b || wmemcmp(a, b, 6) != 0 || wmemcmp(a, L"hellp", 5) >= 0;
  bad |= wmemmove(b + 1, b, 5) != b + 1 || wmemcmp(b + 1, L"hello", 5) != 0;  // overlapping, forward
  bad |= wmemmove(b, b + 1, 5) != b || wmemcmp(b, L"hello", 5) != 0;          // overlapping, backward
  free(a);
  free(b);
  return bad;
}

// The string-search and I/O interceptors: libc's results, no report.
NI int check_strings() {
  char *s = static_cast<char *>(malloc(12));
  memcpy(s, "Hello World", 12);
  char *d = static_cast<char *>(malloc(12));
  int bad = 0;
  bad |= strstr(s, "World") != s + 6 || strstr(s, "xyz") != nullptr || strstr(s, "") != s;
  bad |= strcasestr(s, "WORLD") != s + 6 || memmem(s, 11, "lo W", 4) != s + 3 || memmem(s, 11, "Wz", 2) != nullptr;
  bad |= strcasecmp(s, "hello world") != 0 || strcasecmp(s, "hello") <= 0 || strncasecmp(s, "HELP", 3) != 0;
  bad |= strspn(s, "Hel") != 4 || strcspn(s, " ") != 5 || strpbrk(s, "oW") != s + 4 || strpbrk(s, "z") != nullptr;
  bad |= stpcpy(d, "abc") != d + 3 || strcmp(d, "abc") != 0;
  bad |= static_cast<char *>(mempcpy(d, s, 5)) != d + 5 || memcmp(d, "Hello", 5) != 0;
  bad |= static_cast<char *>(memccpy(d, s, ' ', 11)) != d + 6 || memccpy(d, s, 'z', 11) != nullptr;
  int p[2];
  bad |= pipe(p) != 0;
  bad |= write(p[1], s, 12) != 12 || read(p[0], d, 12) != 12 || strcmp(d, s) != 0;
  close(p[0]);
  close(p[1]);
  FILE *f = fmemopen(s, 11, "r");
  bad |= !f || fgets(d, 12, f) != d || strcmp(d, "Hello World") != 0;
  if (f) fclose(f);
  free(s);
  free(d);
  return bad;
}

// Conversions, tokens, vectored I/O, sorting: exact-size buffers, no report.
static int cmp_int(const void *a, const void *b) { return *static_cast<const int *>(a) - *static_cast<const int *>(b); }
static int cmp_key(const void *k, const void *e) { return strcmp(static_cast<const char *>(k), *static_cast<char *const *>(e)); }
NI int check_convert() {
  int bad = 0;
  char *num = static_cast<char *>(malloc(4));
  memcpy(num, "42", 3);
  char **end = static_cast<char **>(malloc(sizeof(char *)));
  bad |= strtol(num, end, 10) != 42 || *end != num + 2 || atoi(num) != 42 || strtoull(num, nullptr, 16) != 0x42;
  bad |= strtod(num, end) != 42.0 || atof(num) != 42.0 || strtol(num + 2, end, 10) != 0 || *end != num + 2;
  char *w = static_cast<char *>(malloc(4));                 /* exactly "abc" */
  char *c = static_cast<char *>(malloc(2));                 /* %2c, no terminator */
  short *h = static_cast<short *>(malloc(sizeof(short)));   /* %hd */
  char *sc = static_cast<char *>(malloc(2));                /* %hhd */
  int *n = static_cast<int *>(malloc(sizeof(int)));         /* %n */
  char *m = nullptr;                                        /* %ms: allocated by libc */
  bad |= sscanf("abc xy 7 8 rest", "%s %2c %hd %hhd%n %ms", w, c, h, sc, n, &m) != 5;
  bad |= strcmp(w, "abc") != 0 || c[0] != 'x' || *h != 7 || sc[0] != 8 || *n != 10 || !m || strcmp(m, "rest") != 0;
  free(m);
  bad |= sscanf("12", "%d %s", n, w) != 1 || *n != 12;                     /* the second not written */
  bad |= sscanf("ab:cd", "%[^:]:%*s%n", w, n) != 1 || strcmp(w, "ab") != 0;  /* %* and a %n after it */
  bad |= sscanf("", "%d", n) != EOF;
  char *tok = static_cast<char *>(malloc(8));
  memcpy(tok, "a,bb,c", 7);
  char *save;
  bad |= strcmp(strtok(tok, ","), "a") != 0 || strcmp(strtok(nullptr, ","), "bb") != 0 || strcmp(strtok(nullptr, ","), "c") != 0;
  memcpy(tok, "x y", 4);
  bad |= strcmp(strtok_r(tok, " ", &save), "x") != 0 || strcmp(strtok_r(nullptr, " ", &save), "y") != 0;
  bad |= strtok_r(nullptr, " ", &save) != nullptr;
  memcpy(tok, "ab", 3);
  strncat(tok, "cdefghij", 5); /* 2 + 5 + 1 = 8 */
  bad |= strcmp(tok, "abcdefg") != 0;
  char *dup = strndup(tok, 3);
  bad |= strcmp(dup, "abc") != 0;
  free(dup);
  int *arr = static_cast<int *>(malloc(5 * sizeof(int)));
  for (int i = 0; i < 5; i++) arr[i] = 5 - i;
  qsort(arr, 5, sizeof(int), cmp_int);
  int key = 4;
  void *(*volatile bs)(const void *, const void *, size_t, size_t, int (*)(const void *, const void *)) = bsearch;
  bad |= arr[0] != 1 || bs(&key, arr, 5, sizeof(int), cmp_int) != arr + 3;
  static const char *names[] = {"ant", "bee", "cat"};
  char **table = static_cast<char **>(malloc(sizeof(names)));
  memcpy(table, names, sizeof(names));
  bad |= bs("cat", table, 3, sizeof(char *), cmp_key) != table + 2; /* a key that is no element */
  int p[2];
  bad |= pipe(p) != 0;
  struct iovec out[2] = {{num, 2}, {w, 3}}, in[2] = {{c, 2}, {tok, 8}};
  bad |= writev(p[1], out, 2) != 5 || readv(p[0], in, 2) != 5 || memcmp(c, "42", 2) != 0 || memcmp(tok, "ab", 3) != 0;
  close(p[1]);
  FILE *f = fmemopen(num, 2, "r");
  char *line = nullptr;
  size_t cap = 0;
  bad |= !f || getline(&line, &cap, f) != 2 || strcmp(line, "42") != 0;
  if (f) fclose(f);
  close(p[0]);
  for (void *q : {static_cast<void *>(num), static_cast<void *>(end), static_cast<void *>(w), static_cast<void *>(c),
                  static_cast<void *>(h), static_cast<void *>(sc), static_cast<void *>(n), static_cast<void *>(tok),
                  static_cast<void *>(arr), static_cast<void *>(table), static_cast<void *>(line)})
    free(q);
  return bad;
}

int main() {
  if (check_convert()) { std::printf("conversion/token/vector-I-O/sort functions gave wrong results\n"); return 6; }
  if (check_strings()) { std::printf("string/I-O functions gave wrong results\n"); return 5; }
  if (check_wide()) { std::printf("wide-string functions gave wrong results\n"); return 4; }
  for (int i = 0; i < 3; i++) {
    try { deep_throw(30); } catch (const std::exception &) {}
    touch();
  }
  if (setjmp(jb) == 0) deep_longjmp(30);
  touch();
  for (int round = 0; round < 3; round++) {
    pthread_t t[4];
    for (auto &x : t) pthread_create(&x, nullptr, round == 1 ? thread_deep_exit : thread_deep_exit2, nullptr);
    for (auto &x : t) pthread_join(x, nullptr);
    for (auto &x : t) pthread_create(&x, nullptr, thread_touch, nullptr);
    for (auto &x : t) pthread_join(x, nullptr);
  }
  pid_t pid = fork();
  if (pid == 0) {
    try { deep_throw(5); } catch (const std::exception &) {}
    touch();
    _exit(0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) { std::printf("fork child failed\n"); return 3; }
  pid = vfork();
  if (pid == 0) vfork_child_deep(10);
  waitpid(pid, &st, 0);
  touch();
  stack_t ss;
  ss.ss_sp = malloc(1 << 16);
  ss.ss_size = 1 << 16;
  ss.ss_flags = 0;
  sigaltstack(&ss, nullptr);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sig;
  sa.sa_flags = SA_ONSTACK;
  sigaction(SIGUSR1, &sa, nullptr);
  for (int i = 0; i < 3; i++) raise(SIGUSR1);
  sig_mode = 1;
  if (sigsetjmp(sjb, 1) == 0) raise(SIGUSR1);
  touch();
  static char fstack[1 << 17];
  getcontext(&fib_ctx);
  fib_ctx.uc_stack.ss_sp = fstack;
  fib_ctx.uc_stack.ss_size = sizeof fstack;
  fib_ctx.uc_link = &main_ctx;
  makecontext(&fib_ctx, fiber_fn, 0);
  swapcontext(&main_ctx, &fib_ctx);
  touch();
  sink = big_frame(3) + vsum(4, 1, 2, 3, 4);
  touch();
  std::printf("NFP-OK\n");
  return 0;
}
