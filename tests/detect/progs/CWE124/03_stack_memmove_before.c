/* CWE-124: memmove to a pointer 8 bytes before a local char array (BAD). */
#include <stdio.h>
#include <string.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

#ifdef BAD
static volatile int shift = -8;
#else
static volatile int shift = 0;
#endif

__attribute__((noinline)) static void fill(char *dst, size_t n)
{
    char source[64];
    memset(source, 'M', sizeof(source));
    memmove(dst, source, n);
}

int main(void)
{
    char buffer[64];
    char *data = buffer + shift;
    fill(data, 32);
    data[31] = '\0';
    printf("%s\n", data);
    return 0;
}
