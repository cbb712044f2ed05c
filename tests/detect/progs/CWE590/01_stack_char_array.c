/* CWE-590 free of memory not on the heap: a helper frees a buffer it did not
 * allocate; BAD passes it a local char array. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

__attribute__((noinline)) static void print_and_release(char *text)
{
    printf("%s\n", text);
    free(text);
}

int main(void)
{
#ifdef BAD
    char buffer[100];
#else
    char *buffer = malloc(100);
    if (!buffer)
        return 1;
#endif
    memset(buffer, 'S', 99);
    buffer[99] = '\0';
    print_and_release(buffer);
    return 0;
}
