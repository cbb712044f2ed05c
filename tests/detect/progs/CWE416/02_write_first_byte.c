/* CWE-416: a write to the first byte of a freed heap buffer (BAD). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

/* The store is volatile so that the compiler cannot drop it as a store to
 * dead (freed) memory. */
__attribute__((noinline)) static void mark(char *s)
{
    *(volatile char *)s = '#';
}

int main(void)
{
    char *s = malloc(48);
    if (!s)
        return 1;
    strcpy(s, "entry");
#ifdef BAD
    free(s);
    mark(s);
    puts("marked");
#else
    mark(s);
    puts(s);
    free(s);
#endif
    return 0;
}
