/* CWE-401 memory leak: the caller uses the buffer a helper returns and
 * drops the last pointer to it (BAD). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

__attribute__((noinline)) static char *make_label(int n)
{
    char *s = malloc(32);
    if (s)
        snprintf(s, 32, "label-%d", n);
    return s;
}

__attribute__((noinline)) static void show(int n)
{
    char *s = make_label(n);
    if (!s)
        return;
    printf("%s\n", s);
#ifdef GOOD
    free(s);
#endif
}

__attribute__((noinline)) static int run_case(void)
{
    show(1);
    return 0;
}

/* A conservative leak scan (LeakSanitizer, kmemleak) takes any word on the
 * stack for a possible pointer. The case runs in run_case(); main() then
 * overwrites the stack below its own frame, so that whether a stale copy of
 * the lost pointer, left behind by the calls that have returned, keeps the
 * block "referenced" does not depend on the stack layout of the run. The
 * scrub is not instrumented: redzones in its frame would stay unwritten. */
__attribute__((noinline, no_sanitize_address)) static void scrub_stack(void)
{
    volatile char pad[32768];
    for (unsigned i = 0; i < sizeof(pad); i++)
        pad[i] = 0;
}

int main(void)
{
    int rc = run_case();
    scrub_stack();
    return rc;
}
