/* CWE-127: a loop reading a heap char buffer from the end down to a lower
 * bound taken from a variable; BAD reads index -1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

#ifdef BAD
static volatile int lowest = -1;
#else
static volatile int lowest = 0;
#endif

int main(void)
{
    char *s = malloc(20);
    if (!s)
        return 1;
    memset(s, 'r', 20);
    unsigned sum = 0;
    for (int i = 19; i >= lowest; i--)
        sum += (unsigned)(s[i] == 'r');
    printf("%u\n", sum >= 20);
    free(s);
    return 0;
}
