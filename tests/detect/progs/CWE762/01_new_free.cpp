// CWE-762 mismatched memory management routines: an object from new is
// released with free() (BAD).
#include <cstdio>
#include <cstdlib>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

// The release is in its own function: with new and free side by side, g++
// may delete both as an unused allocation.
__attribute__((noinline)) static void release(long *v)
{
#ifdef BAD
    std::free(v);
#else
    delete v;
#endif
}

int main()
{
    long *v = new long(17);
    std::printf("%ld\n", *v);
    release(v);
    return 0;
}
