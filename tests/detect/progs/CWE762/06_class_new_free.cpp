// CWE-762: an object with a destructor, created by new, is released with
// free() (BAD): the destructor never runs and the allocators differ.
#include <cstdio>
#include <cstdlib>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

static int live = 0;

class Widget {
public:
    Widget() : id_(++live) {}
    ~Widget() { --live; }
    int id() const { return id_; }
private:
    int id_;
    char name_[20] = "widget";
};

__attribute__((noinline)) static void discard(Widget *w)
{
#ifdef BAD
    std::free(w);
#else
    delete w;
#endif
}

int main()
{
    Widget *w = new Widget;
    std::printf("%d\n", w->id());
    discard(w);
    std::printf("%d\n", live);
    return 0;
}
