// The entry points compiler instrumentation calls (-fsanitize=kernel-address,
// GCC 12 and clang 14: the kernel's mm/kasan ABI, user-space shadow offset),
// declared once. Defined in asan_abi.cpp and stack.cpp; __asan_memcpy & co.
// are interceptors (interceptors.cpp).
#pragma once
#include "platform/types.h"

#define UKASAN_ASAN_ACCESS_DECL(n)                            \
  UKASAN_EXPORT void __asan_load##n##_noabort(ukasan::uptr);  \
  UKASAN_EXPORT void __asan_store##n##_noabort(ukasan::uptr); \
  UKASAN_EXPORT void __asan_load##n(ukasan::uptr);            \
  UKASAN_EXPORT void __asan_store##n(ukasan::uptr);           \
  UKASAN_EXPORT void __asan_report_load##n##_noabort(ukasan::uptr); \
  UKASAN_EXPORT void __asan_report_store##n##_noabort(ukasan::uptr); \
  UKASAN_EXPORT void __asan_report_load##n(ukasan::uptr);     \
  UKASAN_EXPORT void __asan_report_store##n(ukasan::uptr);
UKASAN_ASAN_ACCESS_DECL(1)
UKASAN_ASAN_ACCESS_DECL(2)
UKASAN_ASAN_ACCESS_DECL(4)
UKASAN_ASAN_ACCESS_DECL(8)
UKASAN_ASAN_ACCESS_DECL(16)
#undef UKASAN_ASAN_ACCESS_DECL

UKASAN_EXPORT void __asan_loadN_noabort(ukasan::uptr addr, ukasan::uptr size);
UKASAN_EXPORT void __asan_storeN_noabort(ukasan::uptr addr, ukasan::uptr size);
UKASAN_EXPORT void __asan_loadN(ukasan::uptr addr, ukasan::uptr size);
UKASAN_EXPORT void __asan_storeN(ukasan::uptr addr, ukasan::uptr size);
UKASAN_EXPORT void __asan_report_load_n_noabort(ukasan::uptr addr, ukasan::uptr size);
UKASAN_EXPORT void __asan_report_store_n_noabort(ukasan::uptr addr, ukasan::uptr size);
UKASAN_EXPORT void __asan_report_load_n(ukasan::uptr addr, ukasan::uptr size);
UKASAN_EXPORT void __asan_report_store_n(ukasan::uptr addr, ukasan::uptr size);

// Globals.
UKASAN_EXPORT void __asan_register_globals(void* globals, ukasan::uptr n);
UKASAN_EXPORT void __asan_unregister_globals(void* globals, ukasan::uptr n);
UKASAN_EXPORT void __asan_before_dynamic_init(const char* module);
UKASAN_EXPORT void __asan_after_dynamic_init();

// Stack: dynamic allocas, frame shadow, use-after-scope, no-return exits.
UKASAN_EXPORT void __asan_alloca_poison(ukasan::uptr addr, ukasan::uptr size);
UKASAN_EXPORT void __asan_allocas_unpoison(ukasan::uptr top, ukasan::uptr bottom);
UKASAN_EXPORT void __asan_set_shadow_00(ukasan::uptr shadow, ukasan::uptr size);
UKASAN_EXPORT void __asan_set_shadow_f1(ukasan::uptr shadow, ukasan::uptr size);
UKASAN_EXPORT void __asan_set_shadow_f2(ukasan::uptr shadow, ukasan::uptr size);
UKASAN_EXPORT void __asan_set_shadow_f3(ukasan::uptr shadow, ukasan::uptr size);
UKASAN_EXPORT void __asan_set_shadow_f5(ukasan::uptr shadow, ukasan::uptr size);
UKASAN_EXPORT void __asan_set_shadow_f8(ukasan::uptr shadow, ukasan::uptr size);
UKASAN_EXPORT void __asan_poison_stack_memory(ukasan::uptr addr, ukasan::uptr size);
UKASAN_EXPORT void __asan_unpoison_stack_memory(ukasan::uptr addr, ukasan::uptr size);
UKASAN_EXPORT void __asan_handle_no_return();

// Linked into executables by ukasan-cc (tools/preinit.c, .preinit_array).
UKASAN_EXPORT void __ukasan_preinit(int argc, char** argv, char** envp);
// The vfork trampoline's callback in the parent (platform/arch.h).
extern "C" long ukasan_vfork_parent(long ret);

// ASan's user interface (<sanitizer/asan_interface.h>,
// <sanitizer/common_interface_defs.h>): code written for ASan that calls
// these builds and works with ukasan-cc (asan_user.cpp).
UKASAN_EXPORT void __asan_poison_memory_region(void const volatile* addr, ukasan::uptr size);
UKASAN_EXPORT void __asan_unpoison_memory_region(void const volatile* addr, ukasan::uptr size);
UKASAN_EXPORT int __asan_address_is_poisoned(void const volatile* addr);
UKASAN_EXPORT void* __asan_region_is_poisoned(void* beg, ukasan::uptr size);
UKASAN_EXPORT void __asan_describe_address(void* addr);
UKASAN_EXPORT void __sanitizer_print_stack_trace();
UKASAN_EXPORT void __sanitizer_set_death_callback(void (*callback)());
UKASAN_EXPORT void __sanitizer_annotate_contiguous_container(const void* beg, const void* end, const void* old_mid,
                                                             const void* new_mid);
UKASAN_EXPORT int __sanitizer_verify_contiguous_container(const void* beg, const void* mid, const void* end);
UKASAN_EXPORT void __sanitizer_annotate_double_ended_contiguous_container(const void* storage_beg,
                                                                          const void* storage_end,
                                                                          const void* old_beg, const void* old_end,
                                                                          const void* new_beg, const void* new_end);
UKASAN_EXPORT int __sanitizer_verify_double_ended_contiguous_container(const void* storage_beg, const void* beg,
                                                                       const void* end, const void* storage_end);
UKASAN_EXPORT void __asan_set_error_report_callback(void (*callback)(const char*));
UKASAN_EXPORT int __sanitizer_acquire_crash_state();
UKASAN_EXPORT void __sanitizer_start_switch_fiber(void** fake_stack_save, const void* bottom, ukasan::uptr size);
UKASAN_EXPORT void __sanitizer_finish_switch_fiber(void* fake_stack_save, const void** bottom_old,
                                                   ukasan::uptr* size_old);
