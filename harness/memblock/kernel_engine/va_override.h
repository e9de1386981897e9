/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shadows tools/include/linux/mm.h for the memhp replay driver.
 *
 * The kernel's test stubs make __va() the identity, so memblock_double_array()
 * would memcpy the doubled array to the *simulated* physical address and crash.
 * The driver backs each doubled array with real host memory instead; the
 * allocator's decisions (where the array goes, what gets reserved and freed)
 * are untouched.
 */
#ifndef MEMHP_VA_OVERRIDE_H
#define MEMHP_VA_OVERRIDE_H
#include_next <linux/mm.h>

void *memhp_va(unsigned long phys);
unsigned long memhp_pa(const volatile void *ptr);

#undef __va
#undef __pa
#define __va(x) memhp_va((unsigned long)(x))
#define __pa(x) memhp_pa((const volatile void *)(x))
#endif
