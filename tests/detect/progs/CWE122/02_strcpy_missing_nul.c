/* CWE-122: the copy is allocated with strlen(src) bytes, forgetting the room
 * for the terminating NUL that strcpy writes (BAD). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

static const char *volatile greeting = "hello, heap of sixteen";

__attribute__((noinline)) static char *duplicate(const char *src)
{
#ifdef BAD
    char *copy = malloc(strlen(src));
#else
    char *copy = malloc(strlen(src) + 1);
#endif
    if (copy)
        strcpy(copy, src);
    return copy;
}

int main(void)
{
    char *c = duplicate(greeting);
    if (!c)
        return 1;
    printf("%s\n", c);
    free(c);
    return 0;
}
