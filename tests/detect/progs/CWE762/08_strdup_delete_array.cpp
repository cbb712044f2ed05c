// CWE-762: a string from strdup() (malloc) is released with delete[] (BAD).
#include <cstdio>
#include <cstdlib>
#include <cstring>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

int main()
{
    char *copy = strdup("duplicated text");
    if (!copy)
        return 1;
    std::printf("%s\n", copy);
#ifdef BAD
    delete[] copy;
#else
    std::free(copy);
#endif
    return 0;
}
