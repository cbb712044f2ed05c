/* CWE-127 buffer under-read: a heap int array read at index -1 (BAD), the
 * index being an unchecked "not found" result. */
#include <stdio.h>
#include <stdlib.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

#ifdef BAD
static volatile int wanted = 77;
#else
static volatile int wanted = 30;
#endif

__attribute__((noinline)) static int index_of(const int *v, int n, int key)
{
    for (int i = 0; i < n; i++)
        if (v[i] == key)
            return i;
    return -1;
}

int main(void)
{
    int *v = malloc(10 * sizeof(int));
    if (!v)
        return 1;
    for (int i = 0; i < 10; i++)
        v[i] = i * 10;
    int at = index_of(v, 10, wanted);
    printf("%d\n", v[at]);
    free(v);
    return 0;
}
