/* CWE-124: a helper writes backwards from the end of a buffer through
 * pointer arithmetic, n characters; BAD passes more than the buffer holds. */
#include <stdio.h>
#include <stdlib.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

#ifdef BAD
static volatile size_t digits = 20;
#else
static volatile size_t digits = 15;
#endif

__attribute__((noinline)) static void put_digits(char *end, size_t n, unsigned long v)
{
    for (size_t k = 0; k < n; k++) {
        *--end = (char)('0' + v % 10);
        v /= 10;
    }
}

int main(void)
{
    char *buf = malloc(16);
    if (!buf)
        return 1;
    buf[15] = '\0';
    put_digits(buf + 15, digits, 123456789UL);
    printf("%s\n", buf);
    free(buf);
    return 0;
}
