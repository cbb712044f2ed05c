/* CWE-121: strcpy of a 10-character string into char[10] forgets the
 * terminating NUL (BAD); GOOD copies a string that fits. The source is read
 * through a volatile pointer so the libc call stays a call. */
#include <stdio.h>
#include <string.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

#ifdef BAD
static const char *volatile word = "ABCDEFGHIJ";
#else
static const char *volatile word = "ABCDEFGHI";
#endif

int main(void)
{
    char dst[10];
    strcpy(dst, word);
    printf("%s\n", dst);
    return 0;
}
