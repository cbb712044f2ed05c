// CWE-762: a buffer from malloc() is released with delete (BAD), through a
// helper that assumes ownership by new.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

struct Blob {
    char bytes[40];
};

__attribute__((noinline)) static void drop(Blob *b)
{
#ifdef BAD
    delete b;
#else
    std::free(b);
#endif
}

int main()
{
    Blob *b = static_cast<Blob *>(std::malloc(sizeof(Blob)));
    if (!b)
        return 1;
    std::strcpy(b->bytes, "from malloc");
    std::printf("%s\n", b->bytes);
    drop(b);
    return 0;
}
