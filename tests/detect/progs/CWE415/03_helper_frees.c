/* CWE-415: a non-inlined consumer frees its argument and the caller frees it
 * again (BAD). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

__attribute__((noinline)) static void consume(char *msg)
{
    printf("%s\n", msg);
    free(msg);
}

int main(void)
{
    char *msg = malloc(64);
    if (!msg)
        return 1;
    strcpy(msg, "handed over");
    consume(msg);
#ifdef BAD
    free(msg);
#endif
    return 0;
}
