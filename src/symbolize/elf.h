// Function symbols from a module's ELF symbol table (.symtab, else .dynsym):
// where a function starts and how long it is, for the kernel's
// "func+0xoff/0xsize" frames. Used only when reporting, under the
// symbolizer's lock (one mapped module is cached). Internal to src/symbolize.
#pragma once
#include "platform/types.h"

namespace ukasan {

struct ElfFunction {
  uptr start, size;  // link-time address (st_value) and st_size
  char name[256];    // the symbol's name (mangled for C++)
};

// The function of module file `path` that contains link-time address vaddr.
// False when the file cannot be read or no function symbol covers vaddr.
bool elf_function_at(const char* path, uptr vaddr, ElfFunction* out);

// Whether a symbolizer could know more about module file `path` than its
// symbol tables say: DWARF in the file (.debug_*, .zdebug_*), MiniDebugInfo
// (.gnu_debugdata), or a separate debug file where llvm-symbolizer and
// addr2line look for one (.gnu_debuglink's name beside the file, in its
// .debug/ and under /usr/lib/debug; /usr/lib/debug/.build-id/ by build ID).
// True when the file cannot be read as ELF: then only a symbolizer can say.
bool elf_may_have_debug_info(const char* path);

// Unmaps the cached module (symbolizer_restart, fork child).
void elf_forget();

}  // namespace ukasan
