/* memhp guest helper: the agent's listings of memory state, in one process.
 *
 *   state blocks [MEM NODE]   runs of consecutive memory blocks alike, one line each:
 *                             "FIRST LAST state node zone,zone" (drivers/base/memory.c:
 *                             state_show, valid_zones_show; node from the node's
 *                             memoryN links, drivers/base/node.c), node "none" and no
 *                             zones without a link (see blocks()). No phys_index: it
 *                             is the block's number by construction (register_memory
 *                             sets dev.id, phys_index_show prints, both
 *                             start_section_nr / sections_per_block).
 *   state zones FILE...       each zone's header and sizes (mm/vmstat.c zoneinfo_show)
 *                             and MemTotal, MemFree (fs/proc/meminfo.c), runs of spaces
 *                             squeezed: the lines the host parses, and no more.
 *   state snapshot [MEM NODE] "block_size HEX", the blocks, "zones", the zones of
 *                             /proc/zoneinfo and /proc/meminfo: one reply for all three.
 *   state pageflags FIRST COUNT [FILE]
 *                             counts of page flags over COUNT pfns from FIRST in
 *                             /proc/kpageflags (fs/proc/page.c), and the first 8 reserved
 *                             pfns: the guest's evidence of what keeps a block. The shell
 *                             with od and awk took ~11 s a 128 MiB block under TCG.
 *   state membind NODE PROG [ARG...]
 *                             exec PROG with a memory policy binding NODE
 *                             (set_mempolicy(2) MPOL_BIND; busybox has no numactl): what
 *                             it and its children allocate comes from that node.
 *
 * Why C: under TCG the agent's shell loop over 40 blocks took 40-60 ms and sed over
 * zoneinfo 30 ms, each listing; one exec of this does a snapshot in about as long as
 * the exec takes. MEM and NODE default to the sysfs folders (the host's unit tests
 * point them at a fake tree). The whole reply leaves in one write where it fits: the
 * UART's cost is per write as much as per byte.
 * Build: musl-gcc -static -O2 -s -o state state.c (harness/guest/static_helper.py)
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int *node_of;  /* node of each listed block, -1 without a link */
static int max_block = -1;
static int numa;  /* the node folder lists a node: a NUMA kernel */

static int read_line(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static int block_number(const char *name)
{
	char *end;
	long v;

	if (strncmp(name, "memory", 6) != 0 || name[6] < '0' || name[6] > '9')
		return -1;
	v = strtol(name + 6, &end, 10);
	return (*end || v > 0x7fffffff) ? -1 : (int)v;
}

static void map_nodes(const char *node_dir)
{
	DIR *top = opendir(node_dir), *dir;
	struct dirent *n, *m;
	char path[4096];
	int blk;

	if (!top)
		return;
	while ((n = readdir(top))) {
		if (strncmp(n->d_name, "node", 4) != 0 || n->d_name[4] < '0' || n->d_name[4] > '9')
			continue;
		numa = 1;
		snprintf(path, sizeof(path), "%s/%s", node_dir, n->d_name);
		dir = opendir(path);
		if (!dir)
			continue;
		while ((m = readdir(dir)))
			if ((blk = block_number(m->d_name)) >= 0 && blk <= max_block)
				node_of[blk] = atoi(n->d_name + 4);
		closedir(dir);
	}
	closedir(top);
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

static int blocks(const char *mem_dir, const char *node_dir)
{
	char path[4096], state[64], zones[256], desc[400], run[400] = "";
	int *list = NULL, count = 0, room = 0, first = -1, last = -1, blk, i;
	struct dirent *e;
	DIR *dir;

	dir = opendir(mem_dir);
	if (!dir)
		return 1;
	while ((e = readdir(dir))) {
		if ((blk = block_number(e->d_name)) < 0)
			continue;
		if (count == room && !(list = realloc(list, (room = 2 * room + 64) * sizeof(*list))))
			return 1;
		list[count++] = blk;
		if (blk > max_block)
			max_block = blk;
	}
	closedir(dir);
	node_of = malloc((max_block + 1) * sizeof(*node_of));
	if (!node_of)
		return 1;
	memset(node_of, 0xff, (max_block + 1) * sizeof(*node_of));
	qsort(list, count, sizeof(*list), cmp_int);
	map_nodes(node_dir);
	for (i = 0; i < count; i++) {
		blk = list[i];
		snprintf(path, sizeof(path), "%s/memory%d/state", mem_dir, blk);
		/* a block the kernel removes meanwhile (virtio-mem unplug) is skipped */
		if (read_line(path, state, sizeof(state)) < 0)
			continue;
		/*
		 * A hot-added block is in sysfs before it has a node: add_memory_block
		 * registers it with nid NUMA_NO_NODE, add_memory_resource sets the nid
		 * (memory_block_add_nid) just before it links the block under its node
		 * (drivers/base/node.c do_register_memory_block_under_node), and onlines
		 * it after. Reading valid_zones in between oopses an offline block:
		 * zone_for_pfn_range takes NODE_DATA(-1) (6.12 drivers/base/memory.c
		 * valid_zones_show); an online one's is its zone, no nid read. So an
		 * offline block without a link has no zones yet; the host waits for its
		 * node. A kernel without NUMA links no block and has one pgdat for all.
		 */
		snprintf(path, sizeof(path), "%s/memory%d/valid_zones", mem_dir, blk);
		if ((numa && node_of[blk] < 0 && strcmp(state, "online") != 0) ||
		    read_line(path, zones, sizeof(zones)) < 0)
			zones[0] = '\0';
		for (char *c = zones; *c; c++)
			if (*c == ' ')
				*c = ',';
		if (node_of[blk] >= 0)
			snprintf(desc, sizeof(desc), "%s %d %s", state, node_of[blk], zones);
		else
			snprintf(desc, sizeof(desc), "%s none%s%s", state, *zones ? " " : "", zones);
		if (first >= 0 && blk == last + 1 && strcmp(desc, run) == 0) {
			last = blk;
			continue;
		}
		if (first >= 0)
			printf("%d %d %s\n", first, last, run);
		first = last = blk;
		strcpy(run, desc);
	}
	if (first >= 0)
		printf("%d %d %s\n", first, last, run);
	free(list);
	free(node_of);
	return 0;
}

static int wanted(const char *line)
{
	const char *fields[] = { "spanned", "present", "managed", "start_pfn" };
	const char *p = line;

	if (!strncmp(line, "Node", 4) || !strncmp(line, "MemTotal:", 9) || !strncmp(line, "MemFree:", 8))
		return 1;
	if (*p != ' ')
		return 0;
	while (*p == ' ')
		p++;
	for (size_t i = 0; i < sizeof(fields) / sizeof(*fields); i++)
		if (!strncmp(p, fields[i], strlen(fields[i])))
			return 1;
	return 0;
}

static int zones(int argc, char **argv)
{
	char line[4096];
	int status = 0;

	for (int i = 0; i < argc; i++) {
		FILE *fh = fopen(argv[i], "r");

		if (!fh) {
			status = 1;
			continue;
		}
		while (fgets(line, sizeof(line), fh)) {
			char *w = line;

			if (!wanted(line))
				continue;
			for (char *r = line; *r; r++)  /* squeeze runs of spaces to one */
				if (*r != ' ' || w == line || w[-1] != ' ')
					*w++ = *r;
			*w = '\0';
			fputs(line, stdout);
		}
		fclose(fh);
	}
	return status;
}

static int snapshot(const char *mem_dir, const char *node_dir)
{
	char path[4096], size[64];
	char *files[] = { "/proc/zoneinfo", "/proc/meminfo" };
	int status;

	snprintf(path, sizeof(path), "%s/block_size_bytes", mem_dir);
	if (read_line(path, size, sizeof(size)) < 0)
		return 1;
	printf("block_size %s\n", size);
	status = blocks(mem_dir, node_dir);
	puts("zones");
	return status | zones(2, files);
}

/* bits of include/uapi/linux/kernel-page-flags.h and include/linux/kernel-page-flags.h */
enum { KPF_LRU = 5, KPF_SLAB = 7, KPF_BUDDY = 10, KPF_NOPAGE = 20, KPF_PGTABLE = 26, KPF_RESERVED = 32 };

static int pageflags(const char *first_text, const char *count_text, const char *file)
{
	unsigned long long first = strtoull(first_text, NULL, 0), count = strtoull(count_text, NULL, 0);
	unsigned long long flags[4096], pages = 0, nopage = 0, reserved = 0, slab = 0, pgtable = 0,
			   buddy = 0, lru = 0;
	char list[8 * 20] = "";
	size_t listed = 0;
	int fd = open(file, O_RDONLY);

	if (fd < 0)
		return 1;
	while (pages < count) {
		size_t want = count - pages < 4096 ? count - pages : 4096;
		ssize_t got = pread(fd, flags, want * 8, (first + pages) * 8);

		if (got <= 0)
			break;  /* past the end of memory: count what there is, as dd did */
		for (ssize_t i = 0; i < got / 8; i++, pages++) {
			unsigned long long f = flags[i];

			if (f >> KPF_NOPAGE & 1) {
				nopage++;
				continue;
			}
			if (f >> KPF_RESERVED & 1) {
				if (reserved++ < 8)
					listed += snprintf(list + listed, sizeof(list) - listed, "%s%llx",
							   listed ? "," : "", first + pages);
			}
			slab += f >> KPF_SLAB & 1;
			pgtable += f >> KPF_PGTABLE & 1;
			buddy += f >> KPF_BUDDY & 1;
			lru += f >> KPF_LRU & 1;
		}
	}
	close(fd);
	printf("pages=%llu nopage=%llu reserved=%llu slab=%llu pgtable=%llu buddy=%llu lru=%llu first_reserved=%s\n",
	       pages, nopage, reserved, slab, pgtable, buddy, lru, list);
	return 0;
}

/* include/uapi/linux/mempolicy.h; the raw syscall, as musl has no numaif.h. */
#define MEMHP_MPOL_BIND 2

static int membind(const char *node, char **argv)
{
	unsigned long mask[4] = {0};
	char *end;
	long n = strtol(node, &end, 10);

	if (*end || n < 0 || n >= (long)(8 * sizeof(mask))) {
		fprintf(stderr, "membind: bad node %s\n", node);
		return 2;
	}
	mask[n / (8 * sizeof(long))] = 1UL << (n % (8 * sizeof(long)));
	if (syscall(SYS_set_mempolicy, MEMHP_MPOL_BIND, mask, 8 * sizeof(mask) + 1)) {
		perror("set_mempolicy");
		return 1;
	}
	execvp(argv[0], argv);
	perror(argv[0]);
	return 127;
}

static char out[1 << 16];  /* a snapshot of a few hundred blocks in one write */

int main(int argc, char **argv)
{
	const char *mem = argc > 2 ? argv[2] : "/sys/devices/system/memory";
	const char *node = argc > 3 ? argv[3] : "/sys/devices/system/node";
	int status = 2;

	setvbuf(stdout, out, _IOFBF, sizeof(out));
	if (argc >= 2 && !strcmp(argv[1], "blocks"))
		status = blocks(mem, node);
	else if (argc >= 2 && !strcmp(argv[1], "zones"))
		status = zones(argc - 2, argv + 2);
	else if (argc >= 2 && !strcmp(argv[1], "snapshot"))
		status = snapshot(mem, node);
	else if (argc >= 4 && !strcmp(argv[1], "membind"))
		return membind(argv[2], argv + 3);
	else if (argc >= 4 && !strcmp(argv[1], "pageflags"))
		status = pageflags(argv[2], argv[3], argc > 4 ? argv[4] : "/proc/kpageflags");
	else
		fputs("usage: state blocks|snapshot [MEM NODE] | state zones FILE... | "
		      "state pageflags FIRST COUNT [FILE]\n", stderr);
	return fflush(stdout) ? 1 : status;
}
