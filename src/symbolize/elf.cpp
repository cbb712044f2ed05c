// ELF function symbols (see elf.h). The module file is mapped read-only and
// every offset read from it is checked against its size: a truncated or
// hostile file yields "no symbol", never a fault.
#include "symbolize/elf.h"

#include <elf.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <initializer_list>

namespace ukasan {
namespace {

struct Mapped {
  char path[256];
  const u8* base;
  uptr size;
};
Mapped g_mod;  // the last module looked up (callers hold the symbolizer's lock)

bool map_module(const char* path) {
  if (g_mod.base && strcmp(g_mod.path, path) == 0) return true;
  elf_forget();
  if (strlen(path) >= sizeof(g_mod.path)) return false;
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st;
  void* m = MAP_FAILED;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= static_cast<off_t>(sizeof(Elf64_Ehdr)))
    m = mmap(nullptr, static_cast<uptr>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (m == MAP_FAILED) return false;
  g_mod.base = static_cast<const u8*>(m);
  g_mod.size = static_cast<uptr>(st.st_size);
  strcpy(g_mod.path, path);
  return true;
}

// [off, off + n) lies inside the file.
bool inside(uptr off, uptr n) { return off <= g_mod.size && n <= g_mod.size - off; }

// Scans one symbol table section for the function containing vaddr.
bool scan_table(const Elf64_Shdr& tab, const Elf64_Shdr& strtab, uptr vaddr, ElfFunction* out) {
  if (tab.sh_entsize != sizeof(Elf64_Sym) || !inside(tab.sh_offset, tab.sh_size) ||
      !inside(strtab.sh_offset, strtab.sh_size))
    return false;
  const Elf64_Sym* syms = reinterpret_cast<const Elf64_Sym*>(g_mod.base + tab.sh_offset);
  const uptr n = tab.sh_size / sizeof(Elf64_Sym);
  const Elf64_Sym* best = nullptr;
  for (uptr i = 0; i < n; i++) {
    const Elf64_Sym& s = syms[i];
    const unsigned type = ELF64_ST_TYPE(s.st_info);
    if ((type != STT_FUNC && type != STT_GNU_IFUNC) || s.st_shndx == SHN_UNDEF) continue;
    if (vaddr < s.st_value || vaddr - s.st_value >= (s.st_size ? s.st_size : 1)) continue;
    if (!best || (best->st_size == 0 && s.st_size)) best = &s;
  }
  if (!best || best->st_name >= strtab.sh_size) return false;
  const char* name = reinterpret_cast<const char*>(g_mod.base + strtab.sh_offset + best->st_name);
  const uptr max = strtab.sh_size - best->st_name;
  uptr len = 0;
  while (len < max && name[len]) len++;
  if (len == max || len == 0) return false;
  if (len >= sizeof(out->name)) len = sizeof(out->name) - 1;
  memcpy(out->name, name, len);
  out->name[len] = 0;
  out->start = best->st_value;
  out->size = best->st_size;
  return true;
}

}  // namespace

bool elf_function_at(const char* path, uptr vaddr, ElfFunction* out) {
  if (!path || !path[0] || !map_module(path)) return false;
  const Elf64_Ehdr* eh = reinterpret_cast<const Elf64_Ehdr*>(g_mod.base);
  if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
      eh->e_shentsize != sizeof(Elf64_Shdr) || !inside(eh->e_shoff, uptr(eh->e_shnum) * sizeof(Elf64_Shdr)))
    return false;
  const Elf64_Shdr* sh = reinterpret_cast<const Elf64_Shdr*>(g_mod.base + eh->e_shoff);
  // .symtab has every function; a stripped file keeps .dynsym (exported ones).
  for (u32 want : {u32(SHT_SYMTAB), u32(SHT_DYNSYM)}) {
    for (unsigned i = 0; i < eh->e_shnum; i++) {
      if (sh[i].sh_type != want || sh[i].sh_link >= eh->e_shnum) continue;
      if (scan_table(sh[i], sh[sh[i].sh_link], vaddr, out)) return true;
    }
  }
  return false;
}

void elf_forget() {
  if (g_mod.base) munmap(const_cast<u8*>(g_mod.base), g_mod.size);
  g_mod.base = nullptr;
  g_mod.size = 0;
  g_mod.path[0] = 0;
}

}  // namespace ukasan
