// Custom objects (kmemleak_alloc/kmemleak_free), root regions
// (__lsan_register_root_region) and the per-object annotations.
#include <atomic>

#include "kmemleak/internal.h"
#include "kmemleak/kmemleak.h"
#include "platform/lock.h"
#include "platform/platform.h"
#include "report/report.h"
#include "slab/slab.h"

namespace ukasan {

namespace {

constexpr uptr kMaxCustom = 1u << 20;
constexpr uptr kIndexSize = 2 * kMaxCustom;  // power of two, load <= 1/2
constexpr uptr kMaxRoots = 1024;

Lock g_lock;
CustomObject* g_objs;  // [0, g_n): live custom objects, unordered
u32* g_index;          // open addressing by ptr: slot + 1, 0 empty
uptr g_n;
uptr g_roots[2 * kMaxRoots];
uptr g_nroots;

uptr hash_of(uptr p) { return ((p >> 4) * 0x9e3779b97f4a7c15ull) >> 20 & (kIndexSize - 1); }

bool ensure_mapped() {
  if (g_objs) return true;
  g_objs = static_cast<CustomObject*>(map_anon(sizeof(CustomObject) * kMaxCustom, true));
  g_index = static_cast<u32*>(map_anon(sizeof(u32) * kIndexSize, true));
  return g_objs && g_index;
}

// Index position of p, or of the empty entry where it would go.
uptr find_pos(uptr p) {
  uptr h = hash_of(p);
  while (g_index[h] && g_objs[g_index[h] - 1].ptr != p) h = (h + 1) & (kIndexSize - 1);
  return h;
}

// Linear probing's deletion: shift later entries of the run back so no
// lookup stops early at the hole.
void index_erase(uptr h) {
  g_index[h] = 0;
  for (uptr j = (h + 1) & (kIndexSize - 1); g_index[j]; j = (j + 1) & (kIndexSize - 1)) {
    const uptr want = hash_of(g_objs[g_index[j] - 1].ptr);
    // Move j's entry to the hole if its home does not lie in (h, j].
    const bool home_between = h <= j ? (want > h && want <= j) : (want > h || want <= j);
    if (!home_between) {
      g_index[h] = g_index[j];
      g_index[j] = 0;
      h = j;
    }
  }
}

CustomObject* find_custom(uptr p) {
  if (!g_objs) return nullptr;
  const uptr h = find_pos(p);
  return g_index[h] ? &g_objs[g_index[h] - 1] : nullptr;
}

}  // namespace

void registry_lock() { g_lock.lock(); }
void registry_unlock() { g_lock.unlock(); }
CustomObject* registry_objects(uptr* n) {
  *n = g_n;
  return g_objs;
}
const uptr* registry_root_regions(uptr* n) {
  *n = g_nroots;
  return g_roots;
}

void leak_register(const void* ptr, uptr size, int min_count, uptr ip) {
  const uptr p = reinterpret_cast<uptr>(ptr);
  if (!p) return;
  const depot_handle_t stack = save_stack_from(ip);
  g_lock.lock();
  if (!ensure_mapped() || g_n == kMaxCustom) {
    g_lock.unlock();
    report_warning("kmemleak: Cannot allocate a kmemleak_object structure (registry full)", ip);
    return;
  }
  const uptr h = find_pos(p);
  if (g_index[h]) {
    g_lock.unlock();
    char line[128];
    snprintf(line, sizeof(line), "kmemleak: Cannot insert 0x%lx into the object search tree (overlaps existing)",
             static_cast<unsigned long>(p));
    report_warning(line, ip);
    return;
  }
  const u8 flags = min_count < 0 ? kMetaNoScan : min_count == 0 ? kMetaNoLeak : 0;
  g_objs[g_n] = CustomObject{p, size, min_count, flags, static_cast<u32>(current_tid()), stack};
  g_index[h] = static_cast<u32>(++g_n);
  g_lock.unlock();
}

bool leak_unregister(const void* ptr) {
  const uptr p = reinterpret_cast<uptr>(ptr);
  g_lock.lock();
  if (!g_objs) {
    g_lock.unlock();
    return false;
  }
  const uptr h = find_pos(p);
  if (!g_index[h]) {
    g_lock.unlock();
    return false;
  }
  const uptr slot = g_index[h] - 1;
  index_erase(h);
  // The last object moves into the freed slot; its index entry follows it.
  if (slot != g_n - 1) {
    g_objs[slot] = g_objs[g_n - 1];
    g_index[find_pos(g_objs[slot].ptr)] = static_cast<u32>(slot + 1);
  }
  g_n--;
  g_lock.unlock();
  return true;
}

bool leak_set_flag(const void* ptr, u8 flag, bool interior) {
  const uptr p = reinterpret_cast<uptr>(ptr);
  ObjectRef r;
  uptr size;
  if (scan_find_object(p, &r, &size) && (interior || r.obj == p)) {
    // The program's own object, annotated by the program: no other thread
    // may legitimately free it now. (A scan sets only kMetaMarked and
    // kMetaReported, with every other thread stopped.)
    r.am->kind = static_cast<u8>(r.am->kind | flag);
    return true;
  }
  g_lock.lock();
  CustomObject* c = find_custom(p);
  // An interior pointer: the custom object holding it, by a walk over all
  // of them (LSan's calls are rare; KFENCE's heap objects are custom ones).
  for (uptr i = 0; !c && interior && g_objs && i < g_n; i++)
    if (p - g_objs[i].ptr < g_objs[i].size) c = &g_objs[i];
  if (c) c->flags = static_cast<u8>(c->flags | flag);
  g_lock.unlock();
  return c != nullptr;
}

void leak_add_root_region(const void* p, uptr size) {
  g_lock.lock();
  if (g_nroots < kMaxRoots) {
    g_roots[2 * g_nroots] = reinterpret_cast<uptr>(p);
    g_roots[2 * g_nroots + 1] = size;
    g_nroots++;
  }
  g_lock.unlock();
}

bool leak_remove_root_region(const void* p, uptr size) {
  g_lock.lock();
  bool found = false;
  for (uptr i = 0; i < g_nroots && !found; i++) {
    if (g_roots[2 * i] != reinterpret_cast<uptr>(p) || g_roots[2 * i + 1] != size) continue;
    g_nroots--;
    g_roots[2 * i] = g_roots[2 * g_nroots];
    g_roots[2 * i + 1] = g_roots[2 * g_nroots + 1];
    found = true;
  }
  g_lock.unlock();
  return found;
}

void leak_disable_thread() { t_leak_disabled++; }
bool leak_enable_thread() {
  if (!t_leak_disabled) return false;
  t_leak_disabled--;
  return true;
}

void leak_fork_prepare() { g_lock.lock(); }
void leak_fork_parent() { g_lock.unlock(); }
void leak_fork_child() { g_lock.reset(); }

}  // namespace ukasan
