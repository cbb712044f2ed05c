/* CWE-126: memcpy from an 8-byte local array with the size of the 32-byte
 * destination (BAD reads past the source). */
#include <stdio.h>
#include <string.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

#ifdef BAD
static volatile size_t count = 32;
#else
static volatile size_t count = 8;
#endif

__attribute__((noinline)) static void copy_out(char *dst, size_t n)
{
    char src[8] = "abcdefg";
    memcpy(dst, src, n);
}

int main(void)
{
    char dst[32];
    memset(dst, 0, sizeof(dst));
    copy_out(dst, count);
    printf("%s\n", dst);
    return 0;
}
