// CWE-415 (C++): delete[] of the same array twice (BAD), via a copy of the
// pointer kept in another object.
#include <cstdio>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

struct View {
    double *values;
};

__attribute__((noinline)) static void release(View &v)
{
#ifdef BAD
    delete[] v.values;
#endif
    v.values = nullptr;
}

int main()
{
    double *values = new double[6];
    for (int i = 0; i < 6; i++)
        values[i] = i * 0.5;
    View v{values};
    std::printf("%.1f\n", v.values[5]);
    delete[] values;
    release(v);
    return 0;
}
