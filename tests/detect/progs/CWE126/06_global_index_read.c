/* CWE-126: a global lookup table read at index 8 of 8 (BAD). */
#include <stdio.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

int weights[8] = {1, 2, 3, 5, 8, 13, 21, 34};

#ifdef BAD
static volatile int slot = 8;
#else
static volatile int slot = 7;
#endif

int main(void)
{
    printf("%d\n", weights[slot]);
    return 0;
}
