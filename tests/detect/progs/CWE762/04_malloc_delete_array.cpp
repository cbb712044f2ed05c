// CWE-762: a buffer from calloc() is released with delete[] (BAD).
#include <cstdio>
#include <cstdlib>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

__attribute__((noinline)) static void release(short *s)
{
#ifdef BAD
    delete[] s;
#else
    std::free(s);
#endif
}

int main()
{
    short *s = static_cast<short *>(std::calloc(10, sizeof(short)));
    if (!s)
        return 1;
    s[9] = 9;
    std::printf("%d\n", s[9]);
    release(s);
    return 0;
}
