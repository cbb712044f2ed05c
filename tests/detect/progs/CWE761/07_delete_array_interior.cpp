// CWE-761 (C++): delete[] of a pointer to the third element of an array
// (BAD).
#include <cstdio>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

int main()
{
    int *all = new int[8];
    for (int i = 0; i < 8; i++)
        all[i] = i * 2;
    int *rest = all + 2;
    std::printf("%d\n", rest[0]);
#ifdef BAD
    delete[] rest;
#else
    delete[] all;
#endif
    return 0;
}
