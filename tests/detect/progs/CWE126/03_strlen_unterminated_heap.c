/* CWE-126: strlen of a heap buffer filled without a terminating NUL (BAD). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

int main(void)
{
    char *s = malloc(8);
    if (!s)
        return 1;
#ifdef BAD
    memset(s, 'A', 8);
#else
    memset(s, 'A', 7);
    s[7] = '\0';
#endif
    size_t n = strlen(s);
    printf("%d\n", n >= 7);
    free(s);
    return 0;
}
