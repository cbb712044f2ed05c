/* CWE-415: buffers are freed at the end of each loop iteration and the last
 * one is freed again after the loop (BAD). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

int main(void)
{
    char *line = NULL;
    for (int i = 0; i < 4; i++) {
        line = malloc(40);
        if (!line)
            return 1;
        snprintf(line, 40, "line %d", i);
        printf("%s\n", line);
        free(line);
    }
#ifdef BAD
    free(line);
#endif
    return 0;
}
