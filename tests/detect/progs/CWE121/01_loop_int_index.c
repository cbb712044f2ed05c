/* CWE-121 stack-based buffer overflow: a loop fills a local int array with a
 * count taken from a variable; BAD counts one element too many. */
#include <stdio.h>

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
    int table[10];
    int n = n_items;
    for (int i = 0; i < n; i++)
        table[i] = i * 3;
    long sum = 0;
    for (int i = 0; i < 10; i++)
        sum += table[i];
    printf("sum=%ld\n", sum);
    return 0;
}
