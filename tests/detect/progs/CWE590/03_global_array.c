/* CWE-590: free() of a global array (BAD). */
#include <stdio.h>
#include <stdlib.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

long samples[16];

__attribute__((noinline)) static long *get_samples(void)
{
#ifdef BAD
    return samples;
#else
    return calloc(16, sizeof(long));
#endif
}

int main(void)
{
    long *s = get_samples();
    if (!s)
        return 1;
    s[3] = 42;
    printf("%ld\n", s[3]);
    free(s);
    return 0;
}
