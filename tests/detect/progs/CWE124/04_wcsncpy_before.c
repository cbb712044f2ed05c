/* CWE-124: wcsncpy to a pointer 4 wide characters before a heap buffer
 * (BAD). */
#include <stdio.h>
#include <stdlib.h>
#include <wchar.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

static const wchar_t *volatile text = L"wide characters here";

int main(void)
{
    wchar_t *buffer = malloc(50 * sizeof(wchar_t));
    if (!buffer)
        return 1;
#ifdef BAD
    wchar_t *data = buffer - 4;
#else
    wchar_t *data = buffer;
#endif
    wcsncpy(data, text, 40);
    data[40] = L'\0';
    printf("%ls\n", data);
    free(buffer);
    return 0;
}
