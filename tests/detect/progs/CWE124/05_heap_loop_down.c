/* CWE-124: a loop that walks a heap buffer downwards stops at a lower bound
 * from a variable; BAD goes down to -1. */
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
    int n = 24;
    char *s = malloc(n + 1);
    if (!s)
        return 1;
    memset(s, 'a', n);
    s[n] = '\0';
    for (int i = n - 1; i >= lowest; i--)
        s[i] = (char)('a' + i % 26);
    printf("%s\n", s);
    free(s);
    return 0;
}
