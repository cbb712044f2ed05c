/* CWE-121: fgets reads a long line into a 16-byte local buffer but is told
 * the buffer holds 64 bytes (BAD). Input comes from fmemopen. */
#include <stdio.h>
#include <string.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

static char input[] = "a configuration line much longer than sixteen bytes\nnext\n";

int main(void)
{
    FILE *f = fmemopen(input, strlen(input), "r");
    if (!f)
        return 1;
    char line[16];
#ifdef BAD
    int cap = 64;
#else
    int cap = (int)sizeof(line);
#endif
    if (fgets(line, cap, f))
        printf("[%s]\n", line);
    fclose(f);
    return 0;
}
