/* CWE-126: a helper sums the first n elements of a local wchar_t array; the
 * caller passes n one too large (BAD). */
#include <stdio.h>
#include <wchar.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

#ifdef BAD
static volatile int n_chars = 11;
#else
static volatile int n_chars = 10;
#endif

__attribute__((noinline)) static long checksum(const wchar_t *s, int n)
{
    long sum = 0;
    for (int i = 0; i < n; i++)
        sum += s[i];
    return sum;
}

int main(void)
{
    wchar_t letters[10];
    for (int i = 0; i < 10; i++)
        letters[i] = L'a' + i;
    printf("%ld\n", checksum(letters, n_chars));
    return 0;
}
