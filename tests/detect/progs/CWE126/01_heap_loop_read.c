/* CWE-126 buffer over-read: a loop sums a heap int array using a count one
 * larger than the array (BAD). */
#include <stdio.h>
#include <stdlib.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

#ifdef BAD
static volatile int count = 11;
#else
static volatile int count = 10;
#endif

int main(void)
{
    int *v = malloc(10 * sizeof(int));
    if (!v)
        return 1;
    for (int i = 0; i < 10; i++)
        v[i] = i;
    long sum = 0;
    int n = count;
    for (int i = 0; i < n; i++)
        sum += v[i];
    printf("%ld\n", sum);
    free(v);
    return 0;
}
