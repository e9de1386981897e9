/* memhp guest helper: consume unmovable kernel memory until the kernel refuses.
 *
 *   unmovable page_tables   read one byte per 2 MiB of a huge sparse anonymous mapping:
 *                           each read maps the shared zero page (no data page) but needs
 *                           a PTE page, which the kernel allocates unmovable
 *                           (include/asm-generic/pgalloc.h GFP_PGTABLE_USER is GFP_KERNEL
 *                           based: never from ZONE_MOVABLE)
 *   unmovable slab          open empty unnamed files (O_TMPFILE) in a tmpfs without
 *                           inode limit and keep them open: each costs an inode, a
 *                           dentry and a struct file (slab caches, never ZONE_MOVABLE).
 *                           No directory holds them, so the kernel frees all three when
 *                           the descriptors close at exit (fs/file_table.c __fput, then
 *                           iput of an inode with no link: mm/shmem.c shmem_evict_inode):
 *                           the OOM killer's kill gives the memory back. Named files
 *                           would stay in the tmpfs after the kill, and with nothing
 *                           left to kill mm/oom_kill.c out_of_memory panics ("System is
 *                           deadlocked on memory").
 *
 * Every STEP it prints "progress" with /proc/meminfo's PageTables and Slab and the free
 * pages of the Movable and the other zones (/proc/zoneinfo), so when the OOM killer ends
 * it (oom_score_adj 1000 makes it the victim) the last line is the state at the refusal.
 * A refusal the program sees itself (mmap or open failing) ends with "end refused".
 * Build: gcc -static -O2 -o unmovable unmovable.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static long meminfo_kb(const char *key)
{
    char line[256];
    long value = -1;
    size_t len = strlen(key);
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, key, len) && line[len] == ':') {
            value = atol(line + len + 1);
            break;
        }
    fclose(f);
    return value;
}

/* Free pages (KiB) of ZONE_MOVABLE and of the other zones, all nodes. */
static void zone_free_kb(long *movable, long *kernel)
{
    char line[256];
    int in_movable = 0;
    long pages;
    FILE *f = fopen("/proc/zoneinfo", "r");
    *movable = *kernel = 0;
    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        if (!strncmp(line, "Node ", 5))
            in_movable = strstr(line, "zone  Movable") != NULL;
        else if (sscanf(line, " pages free %ld", &pages) == 1)
            *(in_movable ? movable : kernel) += pages * 4;
    }
    fclose(f);
}

static void report(const char *what, long count)
{
    long movable, kernel;
    zone_free_kb(&movable, &kernel);
    printf("%s count=%ld page_tables_kb=%ld slab_kb=%ld free_movable_kb=%ld free_kernel_kb=%ld\n",
           what, count, meminfo_kb("PageTables"), meminfo_kb("Slab"), movable, kernel);
    fflush(stdout);
}

static int refused(const char *call, long count)
{
    char what[64];
    snprintf(what, sizeof(what), "end refused %s errno=%d", call, errno);
    report(what, count);
    return 0;
}

static int page_tables(void)
{
    const size_t span = 64UL << 40, stride = 2UL << 20;  /* 64 TiB of 128 TiB user VA */
    volatile char sink;
    char *base = mmap(NULL, span, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED)
        return refused("mmap", 0);
    madvise(base, span, MADV_NOHUGEPAGE);  /* a huge zero page would need no PTE page */
    for (size_t i = 0; i < span / stride; i++) {
        sink = base[i * stride];
        if (i % 1024 == 0)  /* every 4 MiB of PTE pages */
            report("progress", (long)i);
    }
    (void)sink;
    report("end exhausted_address_space", (long)(span / stride));
    return 0;
}

/* One descriptor per file: lift the per-process limit out of the way (fs/file.c
 * sysctl_nr_open, 1M by default) so the kernel's memory is what ends the loop; root
 * passes fs.file-max (fs/file_table.c alloc_empty_file: CAP_SYS_ADMIN). */
static void lift_nofile(void)
{
    const rlim_t files = 64UL << 20;
    struct rlimit lim = {files, files};
    FILE *f = fopen("/proc/sys/fs/nr_open", "w");
    if (f) {
        fprintf(f, "%lu\n", (unsigned long)files);
        fclose(f);
    }
    setrlimit(RLIMIT_NOFILE, &lim);
}

static int slab(void)
{
    long n;
    lift_nofile();
    mkdir("/memhp-slab", 0755);
    if (mount("none", "/memhp-slab", "tmpfs", 0, "nr_inodes=0,size=0"))
        return refused("mount", 0);
    for (n = 0;; n++) {
        if (n % 4096 == 0)
            report("progress", n);
        if (open("/memhp-slab", O_TMPFILE | O_RDWR, 0600) < 0)
            return refused("open", n);
    }
}

int main(int argc, char **argv)
{
    FILE *adj = fopen("/proc/self/oom_score_adj", "w");
    if (adj) {
        fputs("1000", adj);
        fclose(adj);
    }
    report("start", 0);
    if (argc == 2 && !strcmp(argv[1], "page_tables"))
        return page_tables();
    if (argc == 2 && !strcmp(argv[1], "slab"))
        return slab();
    fprintf(stderr, "usage: unmovable page_tables|slab\n");
    return 2;
}
