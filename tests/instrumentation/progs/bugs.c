/* One bad access per bug type, chosen by argv[1]; prints MARKER after it. */
#define _GNU_SOURCE /* mempcpy */
#include <alloca.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ukasan/slab.h>
#include <fcntl.h>
#include <strings.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <wchar.h>

#define NI __attribute__((noinline))
int global_arr[10];
static char global_str[5] = "abcd";
volatile long sink;
volatile int idx = 10;

NI void bug_slab_oob(void) { char *p = kmalloc(13, GFP_KERNEL); p[idx + 3] = 1; kfree(p); }
NI void bug_slab_uaf(void) {
  struct kmem_cache *c = kmem_cache_create("test_cache", 24, 0, 0, NULL);
  long *p = kmem_cache_alloc(c, GFP_KERNEL);
  kmem_cache_free(c, p);
  sink = p[1];
}
NI void bug_large_uaf(void) { char *p = kmalloc(20000, GFP_KERNEL); kfree(p); sink = p[100]; }
NI void bug_malloc_oob(void) { volatile char *p = malloc(24); p[idx + 14] = 1; free((void *)p); }
static void *launder(void *p) { __asm__ volatile("" : "+r"(p)); return p; }
NI void bug_malloc_uaf(void) { int *p = malloc(40); free(launder(p)); sink = p[2]; }
NI void bug_global_oob(void) { sink = global_arr[idx]; }
NI void bug_global_oob_static(void) { sink = global_str[idx - 5]; }
NI void bug_stack_oob(void) { volatile char buf[24]; buf[0] = 0; sink = buf[idx + 14]; }
NI void bug_use_after_scope(void) {
  volatile char *p;
  {
    volatile char buf[16];
    buf[0] = 1;
    p = buf;
    sink = p[0];
  }
  p[idx - 5] = 2; /* buf's scope has ended */
}
NI void bug_wcscat_oob(void) {
  wchar_t *p = kmalloc(8 * sizeof(wchar_t), GFP_KERNEL);
  wcscpy(p, L"abcd");
  wcscat(p, L"efgh"); /* 9 wide chars with the terminator: one too many */
  kfree(p);
}
NI void bug_wmemset_uaf(void) {
  wchar_t *p = kmalloc(16 * sizeof(wchar_t), GFP_KERNEL);
  kfree(p);
  wmemset(p, L'x', 4);
}
NI void bug_strstr_oob(void) { /* an unterminated haystack */
  char *p = kmalloc(8, GFP_KERNEL);
  memset(p, 'a', 8);
  sink = (long)strstr(p, "zz");
  kfree(p);
}
NI void bug_strcasecmp_oob(void) {
  char *p = kmalloc(8, GFP_KERNEL);
  memset(p, 'A', 8);
  sink = strcasecmp(p, "aaaaaaaaaaaa");
  kfree(p);
}
NI void bug_stpcpy_oob(void) { char *p = kmalloc(8, GFP_KERNEL); sink = (long)stpcpy(p, "123456789"); kfree(p); }
NI void bug_mempcpy_oob(void) {
  char *p = kmalloc(16, GFP_KERNEL), src[32] = {0};
  sink = (long)mempcpy(p, src, idx + 7);
  kfree(p);
}
NI void bug_read_oob(void) {
  char *p = kmalloc(16, GFP_KERNEL);
  int fd = open("/dev/zero", O_RDONLY);
  sink = read(fd, p, idx + 14);
  close(fd);
  kfree(p);
}
NI void bug_write_uaf(void) {
  char *p = kmalloc(16, GFP_KERNEL);
  kfree(p);
  int fd = open("/dev/null", O_WRONLY);
  sink = write(fd, p, 4);
  close(fd);
}
NI void bug_fgets_oob(void) {
  char *p = kmalloc(8, GFP_KERNEL);
  FILE *f = fopen("/proc/self/cmdline", "r"); /* longer than 8 bytes, no newline */
  sink = (long)fgets(p, 64, f);
  fclose(f);
  kfree(p);
}
NI void bug_strncat_oob(void) {
  char *p = kmalloc(8, GFP_KERNEL);
  strcpy(p, "abcd");
  strncat(p, "efghij", idx - 6); /* 4 + 4 + the terminator: one too many */
  kfree(p);
}
NI void bug_strtol_oob(void) { /* the end pointer stored past a 4-byte object */
  char **end = kmalloc(4, GFP_KERNEL);
  sink = strtol("123", end, 10);
  kfree(end);
}
NI void bug_sscanf_oob(void) {
  char *p = kmalloc(8, GFP_KERNEL);
  sink = sscanf("0123456789 x", "%s", p);
  kfree(p);
}
static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }
NI void bug_qsort_oob(void) {
  int *a = kmalloc(4 * sizeof(int), GFP_KERNEL);
  for (int i = 0; i < 4; i++) a[i] = 4 - i;
  qsort(a, idx - 5, sizeof(int), cmp_int); /* 5 elements in a 4-element array */
  kfree(a);
}
NI void bug_bsearch_oob(void) {
  int *a = kmalloc(4 * sizeof(int), GFP_KERNEL), key = 2;
  for (int i = 0; i < 4; i++) a[i] = i;
  /* through a pointer: glibc's <stdlib.h> inlines bsearch in optimised builds
     (then the compiler checks the reads it makes) */
  void *(*volatile bs)(const void *, const void *, size_t, size_t, int (*)(const void *, const void *)) = bsearch;
  sink = (long)bs(&key, a, idx - 5, sizeof(int), cmp_int);
  kfree(a);
}
NI void bug_readv_oob(void) {
  char *p = kmalloc(16, GFP_KERNEL), q[8];
  struct iovec iov[2] = {{q, sizeof(q)}, {p, idx + 14}};
  int fd = open("/dev/zero", O_RDONLY);
  sink = readv(fd, iov, 2);
  close(fd);
  kfree(p);
}
NI void bug_writev_uaf(void) {
  char *p = kmalloc(16, GFP_KERNEL);
  kfree(p);
  struct iovec iov = {p, 4};
  int fd = open("/dev/null", O_WRONLY);
  sink = writev(fd, &iov, 1);
  close(fd);
}
NI void bug_getline_oob(void) { /* the capacity passed is larger than the buffer */
  char *p = kmalloc(8, GFP_KERNEL);
  size_t cap = 64;
  FILE *f = fopen("/proc/self/cmdline", "r");
  sink = getline(&p, &cap, f);
  fclose(f);
  kfree(p);
}
NI void bug_strndup_oob(void) { /* an unterminated source, a limit past its end */
  char *p = kmalloc(8, GFP_KERNEL);
  memset(p, 'a', 8);
  char *d = strndup(p, idx + 2);
  sink = d[0]; /* used, or clang drops the strndup/free pair */
  free(d);
  kfree(p);
}
NI void bug_strtok_oob(void) { /* an unterminated string: the token runs off the end */
  char *p = kmalloc(8, GFP_KERNEL);
  memset(p, 'a', 8);
  sink = (long)strtok(p, " ");
  kfree(p);
}
NI void bug_fscanf_uaf(void) { /* %d into a freed int */
  int *v = kmalloc(sizeof(int), GFP_KERNEL);
  kfree(v);
  FILE *f = fmemopen((void *)"42", 2, "r");
  sink = fscanf(f, "%d", v);
  fclose(f);
}
NI void bug_send_oob(void) {
  char *p = kmalloc(16, GFP_KERNEL);
  int sv[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  sink = send(sv[0], p, idx + 14, 0);
  close(sv[0]);
  close(sv[1]);
  kfree(p);
}
NI void bug_alloca_oob(void) { volatile char *a = alloca(idx + 3); a[0] = 1; sink = a[idx + 3]; }
NI void bug_null_deref(void) { volatile int *p = (int *)(long)(idx - 10); sink = p[2]; }
NI void bug_wild(void) { volatile long *p = (long *)(0xdead000000000000UL + (unsigned long)idx); sink = *p; }
NI void bug_memcpy_oob(void) { char *p = kmalloc(16, GFP_KERNEL); char src[32] = {0}; memcpy(p, src, idx + 7); kfree(p); }
NI void bug_memset_uaf(void) { char *p = kmalloc(64, GFP_KERNEL); kfree(p); memset(p, 0, 8); }
NI void bug_strlen_oob(void) { char *p = kmalloc(8, GFP_KERNEL); memset(p, 'x', 8); sink = strlen(p); kfree(p); }
NI void bug_printf_oob(void) { char *p = kmalloc(4, GFP_KERNEL); memcpy(p, "abcd", 4); printf("%s\n", p); kfree(p); }
NI void bug_atomic_uaf(void) { long *p = kmalloc(32, GFP_KERNEL); kfree(p); __atomic_fetch_add(p, 1, __ATOMIC_SEQ_CST); }

int main(int argc, char **argv) {
  static const struct { const char *name; void (*fn)(void); } tab[] = {
    {"slab-oob", bug_slab_oob}, {"slab-uaf", bug_slab_uaf}, {"large-uaf", bug_large_uaf},
    {"malloc-oob", bug_malloc_oob}, {"malloc-uaf", bug_malloc_uaf}, {"global-oob", bug_global_oob},
    {"global-oob-static", bug_global_oob_static}, {"stack-oob", bug_stack_oob}, {"alloca-oob", bug_alloca_oob},
    {"null", bug_null_deref}, {"wild", bug_wild}, {"memcpy-oob", bug_memcpy_oob}, {"memset-uaf", bug_memset_uaf},
    {"strlen-oob", bug_strlen_oob}, {"printf-oob", bug_printf_oob}, {"atomic-uaf", bug_atomic_uaf},
    {"use-after-scope", bug_use_after_scope}, {"wcscat-oob", bug_wcscat_oob}, {"wmemset-uaf", bug_wmemset_uaf},
    {"strstr-oob", bug_strstr_oob}, {"strcasecmp-oob", bug_strcasecmp_oob}, {"stpcpy-oob", bug_stpcpy_oob},
    {"mempcpy-oob", bug_mempcpy_oob}, {"read-oob", bug_read_oob}, {"write-uaf", bug_write_uaf},
    {"fgets-oob", bug_fgets_oob}, {"strncat-oob", bug_strncat_oob}, {"strtol-oob", bug_strtol_oob},
    {"sscanf-oob", bug_sscanf_oob}, {"qsort-oob", bug_qsort_oob}, {"bsearch-oob", bug_bsearch_oob},
    {"strndup-oob", bug_strndup_oob}, {"strtok-oob", bug_strtok_oob}, {"fscanf-uaf", bug_fscanf_uaf},
    {"send-oob", bug_send_oob}, {"readv-oob", bug_readv_oob}, {"writev-uaf", bug_writev_uaf}, {"getline-oob", bug_getline_oob},
  };
  for (int a = 1; a < argc; a++)
    for (unsigned i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
      if (!strcmp(argv[a], tab[i].name)) {
        tab[i].fn();
        printf("MARKER %s continued\n", argv[a]);
        fflush(stdout);
      }
  return 0;
}
