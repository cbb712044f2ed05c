// CWE-762: a char array from new[] is released with free() (BAD).
#include <cstdio>
#include <cstdlib>
#include <cstring>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

int main()
{
    char *s = new char[32];
    std::strcpy(s, "new[] text");
    std::printf("%s\n", s);
#ifdef BAD
    std::free(s);
#else
    delete[] s;
#endif
    return 0;
}
