// CWE-122 (C++): new int[10] indexed up to 10 inclusive (BAD).
#include <cstdio>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

#ifdef BAD
static volatile int last = 10;
#else
static volatile int last = 9;
#endif

int main()
{
    int *a = new int[10];
    for (int i = 0; i <= last; i++)
        a[i] = 100 - i;
    std::printf("%d %d\n", a[0], a[9]);
    delete[] a;
    return 0;
}
