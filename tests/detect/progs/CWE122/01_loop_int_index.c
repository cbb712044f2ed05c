/* CWE-122 heap-based buffer overflow: a loop fills a malloc'ed int array with
 * a count from a variable; BAD writes one element past the end. */
#include <stdio.h>
#include <stdlib.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

#ifdef BAD
static volatile int n_items = 11;
#else
static volatile int n_items = 10;
#endif

int main(void)
{
    int *v = malloc(10 * sizeof(int));
    if (!v)
        return 1;
    int n = n_items;
    for (int i = 0; i < n; i++)
        v[i] = i + 1;
    printf("%d %d\n", v[0], v[9]);
    free(v);
    return 0;
}
