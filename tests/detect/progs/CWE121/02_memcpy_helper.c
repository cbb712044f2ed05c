/* CWE-121: memcpy into a local char buffer inside a non-inlined helper; BAD
 * passes the size of the source instead of the size of the destination. */
#include <stdio.h>
#include <string.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

static const char source[] = "0123456789abcdefghijklmnopqrstuvwxyz";

__attribute__((noinline)) static void copy_in(char *dst, const char *src, size_t n)
{
    memcpy(dst, src, n);
}

int main(void)
{
    char dst[16];
#ifdef BAD
    size_t n = sizeof(source);
#else
    size_t n = sizeof(dst) - 1;
#endif
    copy_in(dst, source, n);
    dst[sizeof(dst) - 1] = '\0';
    printf("%s\n", dst);
    return 0;
}
