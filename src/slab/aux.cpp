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
  // 0: empty, kTombstone: removed. Written under g_aux_lock; read without
  // it by aux_stack_forget_slow's first look (hence atomic, relaxed).
  std::atomic<uptr> obj;
  depot_handle_t stack[2];
  void set(uptr o) {
    obj.store(o, std::memory_order_relaxed);
    stack[0] = stack[1] = 0;
  }
};
static_assert(sizeof(AuxEntry) == 16);

constexpr uptr kAuxEntries = uptr(1) << 16;  // 1 MiB of address space, touched as used
constexpr unsigned kAuxProbe = 16;
constexpr uptr kTombstone = 1;

AuxEntry* g_aux;  // under g_aux_lock
std::atomic<AuxEntry*> g_aux_ptr{nullptr};  // the same, published for the lock-free look
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
    const uptr o = e->obj.load(std::memory_order_relaxed);
    if (o == obj) return e;
    if (free_slot && !*free_slot && o <= kTombstone) *free_slot = e;
    if (o == 0) break;
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
    g_aux_ptr.store(g_aux, std::memory_order_release);
    g_aux_stacks_used.store(true, std::memory_order_relaxed);
  }
  AuxEntry* slot;
  AuxEntry* e = aux_find_locked(r.obj, &slot);
  if (!e) {
    e = slot ? slot : &g_aux[aux_home(r.obj)];
    e->set(r.obj);
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

// Every allocation calls this once any aux stack was recorded: the common
// case, an object with none, is a look at its probe window without the lock
// (usually one empty entry). Safe to skip the lock on a miss: an entry for
// obj is only added by aux_stack_record of a live object, and obj is being
// allocated by this thread (not live, known to no other thread) unless the
// program races a use after free with its reuse; then at worst an aux stack
// of the old object survives into the new one's report.
void aux_stack_forget_slow(uptr obj) {
  AuxEntry* const table = g_aux_ptr.load(std::memory_order_acquire);
  if (!table) return;
  const uptr h = aux_home(obj);
  bool seen = false;
  for (unsigned i = 0; i < kAuxProbe; i++) {
    const uptr o = table[(h + i) & (kAuxEntries - 1)].obj.load(std::memory_order_relaxed);
    if (o == obj) {
      seen = true;
      break;
    }
    if (o == 0) break;
  }
  if (!seen) return;
  LockGuard g(g_aux_lock);
  if (AuxEntry* e = aux_find_locked(obj, nullptr)) e->set(kTombstone);
}

}  // namespace ukasan
