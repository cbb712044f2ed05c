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

#include "scrub_stack.h"

int main(void)
{
    int rc = run_case();
    scrub_stack();
    return rc;
}
