/* CWE-761 free of a pointer not at the start of the buffer: the scan
 * advances the pointer it later frees (BAD). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

int main(void)
{
    char *data = malloc(64);
    if (!data)
        return 1;
    strcpy(data, "key=value");
#ifdef BAD
    while (*data && *data != '=')
        data++;
    printf("%s\n", data);
    free(data);
#else
    char *p = data;
    while (*p && *p != '=')
        p++;
    printf("%s\n", p);
    free(data);
#endif
    return 0;
}
