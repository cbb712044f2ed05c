/* CWE-124: memcpy to a pointer set 8 bytes before the start of a heap
 * buffer (BAD). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

int main(void)
{
    char *buffer = malloc(100);
    if (!buffer)
        return 1;
#ifdef BAD
    char *data = buffer - 8;
#else
    char *data = buffer;
#endif
    char source[100];
    memset(source, 'C', sizeof(source) - 1);
    source[sizeof(source) - 1] = '\0';
    memcpy(data, source, 50);
    data[49] = '\0';
    printf("%s\n", data);
    free(buffer);
    return 0;
}
