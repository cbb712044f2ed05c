/* CWE-127: pointer arithmetic from the last element backwards, one step too
 * many (BAD reads the element before a heap int array). */
#include <stdio.h>
#include <stdlib.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

#ifdef BAD
static volatile int steps = 13;
#else
static volatile int steps = 12;
#endif

int main(void)
{
    int n = 12;
    int *v = malloc(n * sizeof(int));
    if (!v)
        return 1;
    for (int i = 0; i < n; i++)
        v[i] = i + 1;
    const int *last = v + n - 1;
    long sum = 0;
    for (int k = 0; k < steps; k++)
        sum += *(last - k);
    printf("%ld\n", sum);
    free(v);
    return 0;
}
