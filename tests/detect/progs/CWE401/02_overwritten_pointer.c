/* CWE-401: the only pointer to a block is overwritten by a new allocation
 * (BAD: the first block is lost). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

static char *volatile current;

__attribute__((noinline)) static int run_case(void)
{
    current = malloc(48);
    if (!current)
        return 1;
    strcpy(current, "first version");
    puts(current);
#ifdef GOOD
    free(current);
#endif
    current = malloc(96);
    if (!current)
        return 1;
    strcpy(current, "second version");
    puts(current);
    free(current);
    current = NULL;
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
