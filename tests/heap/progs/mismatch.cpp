// new[] / delete, malloc / delete, new / free, sized delete with the wrong
// size: expect "BUG: KASAN: alloc-dealloc-mismatch".
#include <stdlib.h>
#include <string.h>
#include <new>
int main(int argc, char** argv) {
  const char* what = argc > 1 ? argv[1] : "newarray-delete";
  if (!strcmp(what, "newarray-delete")) {
    int* volatile p = new int[10];
    delete p;
  } else if (!strcmp(what, "malloc-delete")) {
    int* volatile p = static_cast<int*>(malloc(sizeof(int)));
    delete p;
  } else if (!strcmp(what, "new-free")) {
    int* volatile p = new int(3);
    free(p);
  } else if (!strcmp(what, "sized")) {
    void* volatile p = ::operator new(24);
    ::operator delete(p, static_cast<size_t>(16));
  } else if (!strcmp(what, "ok")) {
    int* volatile p = new int[10];
    delete[] p;
    void* volatile q = ::operator new(24);
    ::operator delete(q, static_cast<size_t>(24));
    void* volatile r = ::operator new(100, std::align_val_t(256));
    ::operator delete(r, std::align_val_t(256));
  }
  return 0;
}
