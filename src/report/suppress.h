// Suppressions (suppressions=FILE): reports the user chose not to see.
// Internal to src/report (suppress.cpp).
#pragma once
#include "platform/types.h"

namespace ukasan {

// Reads options().suppressions once (report_init); bad lines are reported,
// one line each, and ignored.
void suppressions_load();
// Whether any suppression is loaded (reports skip the stack capture if not).
bool suppressions_active();
// Whether a report of bug type `type` with this stack (return addresses) is
// suppressed; counts it if so.
bool suppressed(const char* type, const uptr* pcs, unsigned n);
// KASAN/KFENCE reports suppressed so far (not kmemleak's).
u64 suppressed_count();

}  // namespace ukasan
