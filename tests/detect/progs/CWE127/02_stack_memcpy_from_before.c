/* CWE-127: memcpy from a pointer 8 bytes before a local array (BAD). */
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

__attribute__((noinline)) static unsigned checksum(void)
{
    char buffer[64];
    memset(buffer, 'q', sizeof(buffer));
    char copy[64];
    memcpy(copy, buffer + shift, 32);
    unsigned sum = 0;
    for (int i = 8; i < 32; i++)
        sum += (unsigned char)copy[i];
    return sum;
}

int main(void)
{
    printf("%u\n", checksum());
    return 0;
}
