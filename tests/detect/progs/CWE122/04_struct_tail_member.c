/* CWE-122: a heap struct whose last member is a char array; memcpy into it
 * with a length computed from the source (BAD) runs past the allocation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

struct item {
    int id;
    char tag[12];
};

static const char *volatile label = "a-label-that-is-too-long-for-the-tag";

__attribute__((noinline)) static void set_tag(struct item *it, const char *s)
{
#ifdef BAD
    size_t n = strlen(s) + 1;
    memcpy(it->tag, s, n);
#else
    size_t n = strlen(s);
    if (n > sizeof(it->tag) - 1)
        n = sizeof(it->tag) - 1;
    memcpy(it->tag, s, n);
    it->tag[n] = '\0';
#endif
}

int main(void)
{
    struct item *it = malloc(sizeof(*it));
    if (!it)
        return 1;
    it->id = 7;
    set_tag(it, label);
    printf("%d %.11s\n", it->id, it->tag);
    free(it);
    return 0;
}
