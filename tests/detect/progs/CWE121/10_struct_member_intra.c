/* CWE-121: memcpy into the first member of a local struct with the size of
 * the whole struct (BAD): the write stays inside the struct and clobbers the
 * next member, so no redzone is touched (intra-object overflow). */
#include <stdio.h>
#include <string.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

struct record {
    char name[16];
    void *next;
};

static const char filler[] = "0123456789abcdef0123456789abcdef";

int main(void)
{
    struct record r;
    r.next = NULL;
#ifdef BAD
    memcpy(r.name, filler, sizeof(r));
#else
    memcpy(r.name, filler, sizeof(r.name));
#endif
    r.name[sizeof(r.name) - 1] = '\0';
    printf("%s %d\n", r.name, r.next != NULL);
    return 0;
}
