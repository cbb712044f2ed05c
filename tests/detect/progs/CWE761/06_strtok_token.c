/* CWE-761: the first token from strtok, which starts after leading blanks,
 * is freed instead of the buffer (BAD). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

int main(void)
{
    char *line = strdup("   alpha beta");
    if (!line)
        return 1;
    char *tok = strtok(line, " ");
    if (!tok) {
        free(line);
        return 1;
    }
    printf("%s\n", tok);
#ifdef BAD
    free(tok);
#else
    free(line);
#endif
    return 0;
}
