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

#include <stdio.h>

namespace ukasan {
namespace {

struct Mapped {
  char path[256];
  const u8* base;
  uptr size;
  // The last elf_function_at answer in this module: a frame answered from
  // the symbol table asks for the same address twice (its name, then its
  // +0xoff/0xsize), and each answer is a walk over a whole symbol table.
  bool memo_valid, memo_found;
  uptr memo_vaddr;
  ElfFunction memo;
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
  g_mod.memo_valid = false;
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

// The section headers of the mapped module, or null if it is not a 64-bit ELF
// file whose headers lie inside it.
const Elf64_Shdr* section_headers(unsigned* n) {
  const Elf64_Ehdr* eh = reinterpret_cast<const Elf64_Ehdr*>(g_mod.base);
  if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
      eh->e_shentsize != sizeof(Elf64_Shdr) || !inside(eh->e_shoff, uptr(eh->e_shnum) * sizeof(Elf64_Shdr)))
    return nullptr;
  *n = eh->e_shnum;
  return reinterpret_cast<const Elf64_Shdr*>(g_mod.base + eh->e_shoff);
}

bool starts_with(const char* s, uptr max, const char* prefix) {
  const uptr n = strlen(prefix);
  return n <= max && memcmp(s, prefix, n) == 0;
}

bool exists(const char* path) { return access(path, F_OK) == 0; }

// Where llvm-symbolizer and addr2line look for the file .gnu_debuglink names:
// beside the module, in its .debug/, under /usr/lib/debug/<its directory>/.
bool debuglink_target_exists(const char* module, const char* link, uptr link_max) {
  uptr len = 0;
  while (len < link_max && link[len]) len++;
  if (len == 0 || len == link_max) return false;  // no name: nothing to look for
  if (memchr(link, '/', len)) return true;          // a path: whatever it means, a tool may find it
  const char* slash = strrchr(module, '/');
  const int dir = slash ? static_cast<int>(slash - module) : 1;
  const char* d = slash ? module : ".";
  char path[640];
  for (const char* fmt : {"%.*s/%s", "%.*s/.debug/%s", "/usr/lib/debug%.*s/%s"}) {
    const int n = snprintf(path, sizeof(path), fmt, dir, d, link);
    if (n > 0 && static_cast<uptr>(n) < sizeof(path) && exists(path)) return true;
  }
  return false;
}

// /usr/lib/debug/.build-id/xx/yyyy.debug for the module's GNU build ID note.
bool build_id_target_exists(const Elf64_Shdr& note) {
  if (!inside(note.sh_offset, note.sh_size)) return false;
  const u8* p = g_mod.base + note.sh_offset;
  uptr left = note.sh_size;
  while (left >= sizeof(Elf64_Nhdr)) {
    const Elf64_Nhdr* nh = reinterpret_cast<const Elf64_Nhdr*>(p);
    const uptr name = (uptr(nh->n_namesz) + 3) & ~uptr(3), desc = (uptr(nh->n_descsz) + 3) & ~uptr(3);
    if (name > left - sizeof(Elf64_Nhdr) || desc > left - sizeof(Elf64_Nhdr) - name) return false;
    const u8* id = p + sizeof(Elf64_Nhdr) + name;
    if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && memcmp(p + sizeof(Elf64_Nhdr), "GNU", 4) == 0 &&
        nh->n_descsz >= 2 && nh->n_descsz <= 64) {
      char path[200];
      int n = snprintf(path, sizeof(path), "/usr/lib/debug/.build-id/%02x/", id[0]);
      for (u32 i = 1; i < nh->n_descsz; i++) n += snprintf(path + n, sizeof(path) - uptr(n), "%02x", id[i]);
      snprintf(path + n, sizeof(path) - uptr(n), ".debug");
      return exists(path);
    }
    p += sizeof(Elf64_Nhdr) + name + desc;
    left -= sizeof(Elf64_Nhdr) + name + desc;
  }
  return false;
}

}  // namespace

bool elf_may_have_debug_info(const char* path) {
  if (!path || !path[0] || !map_module(path)) return true;
  unsigned n;
  const Elf64_Shdr* sh = section_headers(&n);
  const Elf64_Ehdr* eh = reinterpret_cast<const Elf64_Ehdr*>(g_mod.base);
  if (!sh || eh->e_shstrndx >= n || !inside(sh[eh->e_shstrndx].sh_offset, sh[eh->e_shstrndx].sh_size)) return true;
  const Elf64_Shdr& names = sh[eh->e_shstrndx];
  const char* strs = reinterpret_cast<const char*>(g_mod.base + names.sh_offset);
  // The sections' names first; the file system only for a module without.
  for (unsigned i = 0; i < n; i++) {
    if (sh[i].sh_name >= names.sh_size) return true;
    const char* name = strs + sh[i].sh_name;
    const uptr max = names.sh_size - sh[i].sh_name;
    if (starts_with(name, max, ".debug_") || starts_with(name, max, ".zdebug_") ||
        starts_with(name, max, ".gnu_debugdata"))
      return true;
  }
  for (unsigned i = 0; i < n; i++) {
    const char* name = strs + sh[i].sh_name;
    const uptr max = names.sh_size - sh[i].sh_name;
    if (starts_with(name, max, ".gnu_debuglink") && sh[i].sh_type != SHT_NOBITS && inside(sh[i].sh_offset, sh[i].sh_size) &&
        debuglink_target_exists(path, reinterpret_cast<const char*>(g_mod.base + sh[i].sh_offset), sh[i].sh_size))
      return true;
    if (sh[i].sh_type == SHT_NOTE && build_id_target_exists(sh[i])) return true;
  }
  return false;
}

namespace {
bool lookup_function(uptr vaddr, ElfFunction* out) {
  unsigned n;
  const Elf64_Shdr* sh = section_headers(&n);
  if (!sh) return false;
  // .symtab has every function; a stripped file keeps .dynsym (exported ones).
  for (u32 want : {u32(SHT_SYMTAB), u32(SHT_DYNSYM)}) {
    for (unsigned i = 0; i < n; i++) {
      if (sh[i].sh_type != want || sh[i].sh_link >= n) continue;
      if (scan_table(sh[i], sh[sh[i].sh_link], vaddr, out)) return true;
    }
  }
  return false;
}
}  // namespace

bool elf_function_at(const char* path, uptr vaddr, ElfFunction* out) {
  if (!path || !path[0] || !map_module(path)) return false;
  if (!g_mod.memo_valid || g_mod.memo_vaddr != vaddr) {
    g_mod.memo_found = lookup_function(vaddr, &g_mod.memo);
    g_mod.memo_vaddr = vaddr;
    g_mod.memo_valid = true;
  }
  if (g_mod.memo_found) *out = g_mod.memo;
  return g_mod.memo_found;
}

void elf_forget() {
  if (g_mod.base) munmap(const_cast<u8*>(g_mod.base), g_mod.size);
  g_mod.base = nullptr;
  g_mod.size = 0;
  g_mod.path[0] = 0;
}

}  // namespace ukasan
