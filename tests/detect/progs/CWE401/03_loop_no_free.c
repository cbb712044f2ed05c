/* CWE-401: a buffer allocated in every loop iteration is never freed
 * (BAD). */
#include <stdio.h>
#include <stdlib.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

__attribute__((noinline)) static void fill(int *v, int n, int round)
{
    for (int i = 0; i < n; i++)
        v[i] = round * i;
}

__attribute__((noinline)) static long process(int round)
{
    int *scratch = malloc(64 * sizeof(int));
    if (!scratch)
        return 0;
    fill(scratch, 64, round);
    long sum = 0;
    for (int i = 0; i < 64; i++)
        sum += scratch[i];
#ifdef GOOD
    free(scratch);
#endif
    return sum;
}

__attribute__((noinline)) static int run_case(void)
{
    long total = 0;
    for (int r = 0; r < 5; r++)
        total += process(r);
    printf("%ld\n", total);
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
