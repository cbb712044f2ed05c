/* CWE-416: strcpy into a buffer after it was freed (BAD). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

static const char *volatile status = "status: everything is fine";

int main(void)
{
    char *buf = malloc(64);
    if (!buf)
        return 1;
    strcpy(buf, "first");
    puts(buf);
#ifdef BAD
    free(buf);
    strcpy(buf, status);
    puts("copied");
#else
    strcpy(buf, status);
    puts(buf);
    free(buf);
#endif
    return 0;
}
