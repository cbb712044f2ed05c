/* CWE-401: a strdup'ed temporary is printed and dropped (BAD). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

__attribute__((noinline)) static char *upper_copy(const char *s)
{
    char *c = strdup(s);
    if (c)
        for (char *p = c; *p; p++)
            *p = (char)toupper((unsigned char)*p);
    return c;
}

__attribute__((noinline)) static void shout(const char *s)
{
    char *u = upper_copy(s);
    printf("%s\n", u ? u : "(null)");
#ifdef GOOD
    free(u);
#endif
}

__attribute__((noinline)) static int run_case(void)
{
    shout("quiet words");
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
