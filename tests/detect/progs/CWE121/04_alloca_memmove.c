/* CWE-121: a buffer from alloca() is smaller than what memmove writes into
 * it (BAD: 50 bytes for 100). */
#include <alloca.h>
#include <stdio.h>
#include <string.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

#ifdef BAD
static volatile size_t room = 50;
#else
static volatile size_t room = 100;
#endif

int main(void)
{
    char *data = alloca(room);
    char source[100];
    memset(source, 'C', sizeof(source) - 1);
    source[sizeof(source) - 1] = '\0';
    memmove(data, source, sizeof(source));
    printf("%zu\n", strlen(data));
    return 0;
}
