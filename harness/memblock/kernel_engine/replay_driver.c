// SPDX-License-Identifier: GPL-2.0
/*
 * memhp replay driver: the kernel's own mm/memblock.c, driven from stdin.
 *
 * Built by harness/kernel_engine/build.py next to the tools/testing/memblock
 * stub internal.h.  memblock.c is included (not linked) so that the static
 * memblock_find_in_range_node() can be called too.
 *
 * Input, one command per line, numbers in decimal or 0x-hex:
 *   add B S | add_node B S NID FLAGS | reserve B S | remove B S | phys_free B S
 *   mark_hotplug B S | clear_hotplug B S | mark_mirror B S | mark_nomap B S
 *   set_node B S memory|reserved NID | bottom_up 0|1 | current_limit L
 *   phys_alloc_range SIZE ALIGN START END
 *   alloc_range_nid SIZE ALIGN START END NID EXACT
 *   alloc_try_nid SIZE ALIGN MIN MAX NID | alloc_exact_nid SIZE ALIGN MIN MAX NID
 *   find_in_range_node SIZE ALIGN START END NID FLAGS
 *   movable_node 0|1 | mirrored_kernelcore 0|1 | dump | time
 * and where the tree has them (build.py passes -DMEMHP_* after reading memblock.h):
 *   reserve_nid B S NID FLAGS | reserve_kern B S          (MEMHP_RESERVE_NID)
 *   mark_kho_scratch B S | clear_kho_scratch B S         (MEMHP_KHO_SCRATCH)
 *   alloc_hugetlb SIZE NID EXACT                         (MEMHP_ALLOC_HUGETLB)
 * Output: "= <int>" for every command that returns a value (allocations print
 * the physical address, 0 on failure), "=" for the others, "! <msg>" for bad
 * input or a call the tree lacks; dump prints the two arrays; time prints
 * nanoseconds spent in memblock.  stderr (the stubs' WARN_ON "assertion failed
 * at memblock.c:N") goes to stdout, before the "=" of the command that warned.
 */
#include "memblock.c"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

bool movable_node_enabled;

/* Host memory backing the doubled region arrays (see va_override.h). */
#define MEMHP_MAP_BYTES (256UL << 20)
#define MEMHP_MAX_MAPS 128
static struct { unsigned long phys; char *host; } memhp_maps[MEMHP_MAX_MAPS];
static int memhp_nr_maps;

void *memhp_va(unsigned long phys)
{
	char *host;

	if (memhp_nr_maps == MEMHP_MAX_MAPS) {
		fprintf(stderr, "replay_driver: too many array doublings\n");
		exit(3);
	}
	host = mmap(NULL, MEMHP_MAP_BYTES, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (host == MAP_FAILED) {
		perror("replay_driver: mmap");
		exit(3);
	}
	memhp_maps[memhp_nr_maps].phys = phys;
	memhp_maps[memhp_nr_maps].host = host;
	memhp_nr_maps++;
	return host;
}

unsigned long memhp_pa(const volatile void *ptr)
{
	const char *p = (const char *)ptr;
	int i;

	for (i = 0; i < memhp_nr_maps; i++)
		if (p >= memhp_maps[i].host && p < memhp_maps[i].host + MEMHP_MAP_BYTES)
			return memhp_maps[i].phys + (p - memhp_maps[i].host);
	return (unsigned long)ptr;
}

static unsigned long long elapsed_ns;

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void dump_type(struct memblock_type *type)
{
	unsigned long i;

	printf("%s %lu %lu\n", type->name, type->cnt, type->max);
	for (i = 0; i < type->cnt; i++) {
		struct memblock_region *r = &type->regions[i];

		printf("%llu %llu %u %d\n", (unsigned long long)r->base,
		       (unsigned long long)r->size, (unsigned int)r->flags,
		       memblock_get_region_node(r));
	}
}

static void dump(void)
{
	printf("bottom_up %d current_limit %llu\n", memblock.bottom_up ? 1 : 0,
	       (unsigned long long)memblock.current_limit);
	dump_type(&memblock.memory);
	dump_type(&memblock.reserved);
}

#define MAX_ARGS 6

/* Returns the number of numeric arguments, or -1 on a malformed number. */
static int parse_args(char *rest, unsigned long long *arg)
{
	int n = 0;
	char *tok, *end;

	for (tok = strtok(rest, " \t\n"); tok; tok = strtok(NULL, " \t\n")) {
		if (n == MAX_ARGS)
			return -1;
		if (!strcmp(tok, "memory"))
			arg[n++] = 0;
		else if (!strcmp(tok, "reserved"))
			arg[n++] = 1;
		else {
			arg[n++] = tok[0] == '-' ? (unsigned long long)strtoll(tok, &end, 0)
						 : strtoull(tok, &end, 0);
			if (*end)
				return -1;
		}
	}
	return n;
}

struct command {
	const char *name;
	int nargs;
	int has_result;	/* 1: signed return code, 2: physical address */
	int absent;	/* the tree's mm/memblock.c lacks the call */
};

#ifdef MEMHP_RESERVE_NID
#define NO_RESERVE_NID 0
#else
#define NO_RESERVE_NID 1
#endif
#ifdef MEMHP_KHO_SCRATCH
#define NO_KHO_SCRATCH 0
#else
#define NO_KHO_SCRATCH 1
#endif
#ifdef MEMHP_ALLOC_HUGETLB
#define NO_ALLOC_HUGETLB 0
#else
#define NO_ALLOC_HUGETLB 1
#endif

static const struct command commands[] = {
	{ "add", 2, 1 }, { "add_node", 4, 1 }, { "reserve", 2, 1 },
	{ "remove", 2, 1 }, { "phys_free", 2, 1 }, { "mark_hotplug", 2, 1 },
	{ "clear_hotplug", 2, 1 }, { "mark_mirror", 2, 1 }, { "mark_nomap", 2, 1 },
	{ "set_node", 4, 1 }, { "bottom_up", 1, 0 }, { "current_limit", 1, 0 },
	{ "phys_alloc_range", 4, 2 }, { "alloc_range_nid", 6, 2 },
	{ "alloc_try_nid", 5, 2 }, { "alloc_exact_nid", 5, 2 },
	{ "find_in_range_node", 6, 2 }, { "movable_node", 1, 0 },
	{ "mirrored_kernelcore", 1, 0 }, { "dump", 0, 0 }, { "time", 0, 0 },
	{ "reserve_nid", 4, 1, NO_RESERVE_NID }, { "reserve_kern", 2, 1, NO_RESERVE_NID },
	{ "mark_kho_scratch", 2, 1, NO_KHO_SCRATCH },
	{ "clear_kho_scratch", 2, 1, NO_KHO_SCRATCH },
	{ "alloc_hugetlb", 3, 2, NO_ALLOC_HUGETLB },
};

static long long run(int c, unsigned long long *a)
{
	struct memblock_type *type = a[2] ? &memblock.reserved : &memblock.memory;

	switch (c) {
	case 0: return memblock_add(a[0], a[1]);
	case 1: return memblock_add_node(a[0], a[1], (int)a[2], (enum memblock_flags)a[3]);
	case 2: return memblock_reserve(a[0], a[1]);
	case 3: return memblock_remove(a[0], a[1]);
	case 4: return memblock_phys_free(a[0], a[1]);
	case 5: return memblock_mark_hotplug(a[0], a[1]);
	case 6: return memblock_clear_hotplug(a[0], a[1]);
	case 7: return memblock_mark_mirror(a[0], a[1]);
	case 8: return memblock_mark_nomap(a[0], a[1]);
	case 9: return memblock_set_node(a[0], a[1], type, (int)a[3]);
	case 10: memblock_set_bottom_up(a[0] != 0); return 0;
	case 11: memblock_set_current_limit(a[0]); return 0;
	case 12: return memblock_phys_alloc_range(a[0], a[1], a[2], a[3]);
	case 13: return memblock_alloc_range_nid(a[0], a[1], a[2], a[3], (int)a[4], a[5] != 0);
	case 14: return (long long)(unsigned long)
		memblock_alloc_try_nid_raw(a[0], a[1], a[2], a[3], (int)a[4]);
	case 15: return (long long)(unsigned long)
		memblock_alloc_exact_nid_raw(a[0], a[1], a[2], a[3], (int)a[4]);
	case 16: return memblock_find_in_range_node(a[0], a[1], a[2], a[3], (int)a[4],
						    (enum memblock_flags)a[5]);
	case 17: movable_node_enabled = a[0] != 0; return 0;
	case 18: mirrored_kernelcore = a[0] != 0; return 0;
#ifdef MEMHP_RESERVE_NID
	case 21: return __memblock_reserve(a[0], a[1], (int)a[2], (enum memblock_flags)a[3]);
	case 22: return memblock_reserve_kern(a[0], a[1]);
#endif
#ifdef MEMHP_KHO_SCRATCH
	case 23: return memblock_mark_kho_scratch(a[0], a[1]);
	case 24: return memblock_clear_kho_scratch(a[0], a[1]);
#endif
#ifdef MEMHP_ALLOC_HUGETLB
	/* phys_to_virt() of the simulator's mm.h is the identity: the address comes back */
	case 25: return (long long)(unsigned long)
		memblock_alloc_hugetlb(a[0], (int)a[1], a[2] != 0);
#endif
	}
	return 0;
}

int main(void)
{
	char line[512];
	unsigned long long arg[MAX_ARGS];
	unsigned long lineno = 0;

	/* x86 allows resizing at the start of e820__memblock_setup. */
	memblock_allow_resize();
	if (dup2(STDOUT_FILENO, STDERR_FILENO) < 0) {
		perror("replay_driver: dup2");
		return 3;
	}

	while (fgets(line, sizeof(line), stdin)) {
		char *rest, *name = strtok_r(line, " \t\n", &rest);
		int c, n, ncmd = sizeof(commands) / sizeof(commands[0]);
		unsigned long long t0;
		long long ret;

		lineno++;
		if (!name)
			continue;
		for (c = 0; c < ncmd && strcmp(name, commands[c].name); c++)
			;
		n = c < ncmd ? parse_args(rest, arg) : -1;
		if (n != (c < ncmd ? commands[c].nargs : 0) || c == ncmd) {
			printf("! line %lu: bad command or arguments\n", lineno);
			fflush(stdout);
			continue;
		}
		if (commands[c].absent) {
			printf("! line %lu: %s is not in this tree's mm/memblock.c\n", lineno, name);
			fflush(stdout);
			continue;
		}
		if (!strcmp(name, "dump")) {
			dump();
			printf("=\n");
		} else if (!strcmp(name, "time")) {
			printf("= %llu\n", elapsed_ns);
		} else {
			t0 = now_ns();
			ret = run(c, arg);
			elapsed_ns += now_ns() - t0;
			if (commands[c].has_result == 2)
				printf("= %llu\n", (unsigned long long)ret);
			else if (commands[c].has_result)
				printf("= %lld\n", ret);
			else
				printf("=\n");
		}
		fflush(stdout);
	}
	return 0;
}
