// Aux stacks: the kernel's kasan_record_aux_stack() keeps the two latest
// "work creation" stacks of an object (call_rcu, queue_work, ...) in its
// alloc_meta, for reports of that object. Few objects ever get one, so
// they live in a side table keyed by object address instead of growing
// every object's metadata: open addressing, linear probing over a short
// window; a full window overwrites its oldest-placed entry (a lost aux
// stack, never a wrong one). An entry dies when its object is allocated
// again (aux_stack_forget, called by the allocation path only once a
// stack was ever recorded).
#include "platform/platform.h"
#include "slab/internal.h"

namespace ukasan {

namespace {

struct AuxEntry {
  uptr obj;  // 0: empty, kTombstone: removed
  depot_handle_t stack[2];
};
static_assert(sizeof(AuxEntry) == 16);

constexpr uptr kAuxEntries = uptr(1) << 16;  // 1 MiB of address space, touched as used
constexpr unsigned kAuxProbe = 16;
constexpr uptr kTombstone = 1;

AuxEntry* g_aux;
Lock g_aux_lock;

inline uptr aux_home(uptr obj) { return (obj >> 3) * 0x9e3779b97f4a7c15ull >> 48; }

// The entry of obj under g_aux_lock, or null; *free_slot: the first reusable
// entry of the window (null if none).
AuxEntry* aux_find_locked(uptr obj, AuxEntry** free_slot) {
  if (free_slot) *free_slot = nullptr;
  if (!g_aux) return nullptr;
  const uptr h = aux_home(obj);
  for (unsigned i = 0; i < kAuxProbe; i++) {
    AuxEntry* e = &g_aux[(h + i) & (kAuxEntries - 1)];
    if (e->obj == obj) return e;
    if (free_slot && !*free_slot && e->obj <= kTombstone) *free_slot = e;
    if (e->obj == 0) break;
  }
  return nullptr;
}

}  // namespace

std::atomic<bool> g_aux_stacks_used{false};
Lock& aux_lock() { return g_aux_lock; }

void aux_stack_record(uptr p, uptr ip) {
  ObjectRef r;
  const ObjWhere where = lookup_object(p, &r);
  if ((where != kObjectStart && where != kInsideObject) || !r.cache) return;  // slab objects, as the kernel
  const depot_handle_t h = save_stack_from(ip);
  LockGuard g(g_aux_lock);
  if (!g_aux) {
    g_aux = static_cast<AuxEntry*>(map_anon(kAuxEntries * sizeof(AuxEntry), /*noreserve=*/true));
    if (!g_aux) return;
    g_aux_stacks_used.store(true, std::memory_order_relaxed);
  }
  AuxEntry* slot;
  AuxEntry* e = aux_find_locked(r.obj, &slot);
  if (!e) {
    e = slot ? slot : &g_aux[aux_home(r.obj)];
    *e = AuxEntry{r.obj, {0, 0}};
  }
  e->stack[1] = e->stack[0];
  e->stack[0] = h;
}

void aux_stack_get(uptr obj, depot_handle_t out[2]) {
  out[0] = out[1] = 0;
  if (!g_aux_stacks_used.load(std::memory_order_relaxed)) return;
  LockGuard g(g_aux_lock);
  if (const AuxEntry* e = aux_find_locked(obj, nullptr)) {
    out[0] = e->stack[0];
    out[1] = e->stack[1];
  }
}

void aux_stack_forget_slow(uptr obj) {
  LockGuard g(g_aux_lock);
  if (AuxEntry* e = aux_find_locked(obj, nullptr)) *e = AuxEntry{kTombstone, {0, 0}};
}

}  // namespace ukasan
