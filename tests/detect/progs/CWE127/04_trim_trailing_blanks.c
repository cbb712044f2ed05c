/* CWE-127: trimming trailing blanks without a lower bound reads the byte
 * before the string when it is all blanks (BAD). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

__attribute__((noinline)) static int trimmed_length(const char *s, int n)
{
#ifdef BAD
    while (s[n - 1] == ' ')
        n--;
#else
    while (n > 0 && s[n - 1] == ' ')
        n--;
#endif
    return n;
}

int main(void)
{
    char *s = malloc(24);
    if (!s)
        return 1;
    memset(s, ' ', 24);
    int n = trimmed_length(s, 24);
    printf("%d\n", n <= 0);
    free(s);
    return 0;
}
