/* fork() while other threads allocate: the child allocates and frees at
 * once, then execs or exits; posix_spawn, system and popen too. */
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;
static volatile int g_stop;

static void* churn(void* arg) {
  (void)arg;
  while (!g_stop) {
    void* volatile p = malloc(40);
    void* volatile q = malloc(5000);
    free(p);
    free(q);
  }
  return NULL;
}

int main(int argc, char** argv) {
  int forks = argc > 1 ? atoi(argv[1]) : 200;
  pthread_t t[3];
  for (int i = 0; i < 3; i++) pthread_create(&t[i], NULL, churn, NULL);
  for (int i = 0; i < forks; i++) {
    pid_t pid = fork();
    if (pid == 0) {
      char* volatile p = malloc(100);
      strcpy(p, "child");
      free(p);
      void* volatile big = malloc(100000);
      free(big);
      if (i % 2) execl("/bin/true", "true", (char*)NULL);
      _exit(0);
    }
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      fprintf(stderr, "fork %d: child failed (status %d)\n", i, st);
      return 1;
    }
  }
  pid_t pid;
  char* args[] = {"/bin/echo", "spawned", NULL};
  if (posix_spawn(&pid, "/bin/echo", NULL, NULL, args, environ) != 0) return 2;
  int st;
  waitpid(pid, &st, 0);
  if (system("echo system") != 0) return 3;
  FILE* f = popen("echo popen", "r");
  char line[64] = "";
  if (!f || !fgets(line, sizeof(line), f)) return 4;
  pclose(f);
  fputs(line, stdout);
  g_stop = 1;
  for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
  puts("done");
  return 0;
}
