/* CWE-124 buffer underwrite: a local int array written at index -1 (BAD),
 * the index coming from a "not found" search result used unchecked. */
#include <stdio.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

#ifdef BAD
static volatile int wanted = 99;   /* not in the table: find() returns -1 */
#else
static volatile int wanted = 4;
#endif

__attribute__((noinline)) static int find(const int *t, int n, int key)
{
    for (int i = 0; i < n; i++)
        if (t[i] == key)
            return i;
    return -1;
}

int main(void)
{
    int counts[10];
    for (int i = 0; i < 10; i++)
        counts[i] = i;
    int at = find(counts, 10, wanted);
    counts[at] = 1000;
    printf("%d %d\n", counts[0], counts[4]);
    return 0;
}
