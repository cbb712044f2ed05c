// CWE-762: an array from new[] is released with scalar delete (BAD).
#include <cstdio>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

int main()
{
    int *v = new int[12];
    for (int i = 0; i < 12; i++)
        v[i] = i;
    std::printf("%d\n", v[11]);
#ifdef BAD
    delete v;
#else
    delete[] v;
#endif
    return 0;
}
