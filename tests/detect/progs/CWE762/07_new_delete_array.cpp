// CWE-762: a single object from new is released with delete[] (BAD).
#include <cstdio>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

__attribute__((noinline)) static void dispose(int *p)
{
#ifdef BAD
    delete[] p;
#else
    delete p;
#endif
}

int main()
{
    int *p = new int(3);
    std::printf("%d\n", *p);
    dispose(p);
    return 0;
}
