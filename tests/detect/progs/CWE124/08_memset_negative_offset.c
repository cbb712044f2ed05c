/* CWE-124: memset on a local int array starting at an offset that became
 * negative (BAD: -4 elements). */
#include <stdio.h>
#include <string.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

#ifdef BAD
static volatile int first = -4;
#else
static volatile int first = 0;
#endif

int main(void)
{
    int grid[16];
    for (int i = 0; i < 16; i++)
        grid[i] = i;
    memset(grid + first, 0, 8 * sizeof(int));
    long sum = 0;
    for (int i = 0; i < 16; i++)
        sum += grid[i];
    printf("%ld\n", sum);
    return 0;
}
