#include "percpu/exclusion.h"

#include <sched.h>

namespace ukasan {
void Exclusion::sched_yield() { ::sched_yield(); }
}  // namespace ukasan
