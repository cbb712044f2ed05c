/* fork() in a process with one thread, then with two. With one, the
 * runtime's fork handlers take no lock (nothing else can hold one) and so
 * write nothing the fork made copy-on-write: the parent's page faults per
 * fork are printed (the driver bounds them). Either way the child allocates,
 * frees and reports a double free normally, and the parent goes on. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static int run_child(void) {
  char* volatile p = malloc(100);
  strcpy(p, "child");
  free(p);
  free(p); /* reported in the child, which then exits with 0 (exitcode=0) */
  void* volatile big = malloc(100000);
  free(big);
  return 0;
}

static int forks(int n) {
  for (int i = 0; i < n; i++) {
    pid_t pid = fork();
    if (pid == 0) _exit(run_child());
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return 1;
  }
  void* volatile q = malloc(64); /* the parent's allocator after the forks */
  free(q);
  return 0;
}

static void* idle(void* arg) {
  (void)arg;
  pause();
  return NULL;
}

int main(void) {
  enum { kForks = 50 };
  void* keep = malloc(32); /* the runtime and its caches exist before the first fork */
  if (forks(2)) return 1;  /* warm: lazy bindings, first-use pages */
  struct rusage a, b;
  getrusage(RUSAGE_SELF, &a);
  if (forks(kForks)) return 2;
  getrusage(RUSAGE_SELF, &b);
  printf("faults per fork %ld\n", (b.ru_minflt - a.ru_minflt) / kForks);
  pthread_t t;
  if (pthread_create(&t, NULL, idle, NULL) != 0) return 3;
  if (forks(10)) return 4; /* two threads: the handlers take their locks */
  free(keep);
  puts("done");
  return 0;
}
