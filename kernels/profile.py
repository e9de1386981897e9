"""Kernel profiles: per behaviour memhp reads or models, which releases have it.

One table, lowest release first. A caller asks ``profile_for(release)`` and reads the
behaviour it needs (``profile.memblock.dummy_entry``, ``profile.logs.reserve_line``, …);
nothing else in memhp compares kernel versions. A release newer than every row gets the
newest row and a ``note`` saying so, which every report shows.

Rows name the first Debian series memhp has checked each behaviour on (from the source of
that series and recorded boots in ``fixtures/``); releases between two rows take the lower
row, which is what the note of an untested release says.
"""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kernels.config import KernelConfig

Version = tuple[int, int]


class ReserveLine(enum.Enum):
    """The ``memblock=debug`` line every reservation prints (mm/memblock.c)."""

    PLAIN = "memblock_reserve: [a-b] caller"
    NID_FLAGS = "__memblock_reserve: [a-b] nid=N flags=X caller"


class E820Format(enum.Enum):
    """How arch/x86/kernel/e820.c prints its tables (BIOS-e820, modified, user)."""

    CLASSIC = "[mem a-b] usable / reserved"
    NAMED_WITH_GAPS = "[mem a-b]  System RAM / device reserved, [gap …] lines"


class LogBufferLine(enum.Enum):
    """What kernel/printk/printk.c setup_log_buf prints about the buffer it allocated."""

    LOG_BUF_LEN = "printk: log_buf_len: N bytes"
    DATA_PLUS_META = "printk: log buffer data + meta data: A + B = C bytes"


class CrashkernelParse(enum.Enum):
    """Who parses ``crashkernel=`` on x86 and how ``,high``/``,low`` combine."""

    # 6.1 arch/x86/kernel/setup.c:reserve_crashkernel: a plain value that fails or reads 0
    # gives way to ,high; ,low is read by reserve_crashkernel_low only when needed.
    ARCH_X86 = "arch/x86 reserve_crashkernel"
    # kernel/crash_reserve.c parse_crashkernel (6.12 on): ,high only without any plain value,
    # an unreadable ,low fails the whole parse, a size >= system RAM is refused.
    GENERIC = "kernel/crash_reserve.c reserve_crashkernel_generic"


class MemmapOnMemory(enum.Enum):
    """mm/memory_hotplug.c ``memory_hotplug.memmap_on_memory``."""

    # 6.1: a bool; only a device of exactly one memory block qualifies.
    SINGLE_BLOCK = "bool, one-block devices"
    # 6.12 on: set_memmap_mode takes "force" too; one altmap per memory block of any device.
    PER_BLOCK = "bool or force, an altmap per block"


class OnlineType(str, enum.Enum):
    """mm/memory_hotplug.c online types (``memhp_default_state=``, sysfs ``state``)."""

    OFFLINE = "offline"
    ONLINE = "online"
    ONLINE_KERNEL = "online_kernel"
    ONLINE_MOVABLE = "online_movable"


@dataclass(frozen=True)
class MemblockRules:
    """mm/memblock.c differences the Python port follows."""

    # 6.1: each static array starts with one empty entry (cnt = 1) and keeps it when emptied.
    dummy_entry: bool
    # should_skip_region()/memblock_alloc_range_nid(): numa_valid_node(nid) (6.12) or nid != NUMA_NO_NODE (6.1).
    numa_valid_node: bool
    # __memblock_reserve(base, size, nid, flags): allocations reserve MEMBLOCK_RSRV_KERN with their nid,
    # plain memblock_reserve() stores NUMA_NO_NODE instead of MAX_NUMNODES.
    reserve_nid_flags: bool
    # memblock_add_range() skips its counting pass when cnt * 2 + 1 <= max (6.12), < max (6.1).
    add_range_room_inclusive: bool
    # MEMBLOCK_KHO_SCRATCH: memblock_mark/clear_kho_scratch() and should_skip_region()'s scratch test.
    kho_scratch: bool
    # memblock_alloc_hugetlb(size, nid, exact_nid): reserves MEMBLOCK_RSRV_KERN | MEMBLOCK_RSRV_HUGETLB.
    alloc_hugetlb: bool
    # mm/numa_memblks.c (6.12): numa init resets nids to NUMA_NO_NODE (6.1: MAX_NUMNODES) and trims
    # SRAT blocks to [start, end) of DRAM (6.1: [0, end)).
    numa_memblks: bool
    # mm/mm_init.c find_zone_movable_pfns_for_nodes(): movable_node takes PFN_UP of a hotplug
    # region's base (6.1: PFN_DOWN); kernelcore=mirror without mirrored memory is ignored (6.1: used).
    movable_pfn_up: bool
    mirror_needs_mirror: bool


@dataclass(frozen=True)
class LogFormats:
    """Line formats of the boot log that moved between releases."""

    reserve_line: ReserveLine
    e820: E820Format
    log_buffer: LogBufferLine


@dataclass(frozen=True)
class BootOrder:
    """Which early allocations a boot makes, and in what order (setup_arch, start_kernel)."""

    # mm/sparse.c sparse_buffer_init: one exact-node buffer of sections x 2 MiB per node (up
    # to 6.18); from 7.2 each 2 MiB memmap block is its own memblock_alloc_try_nid_raw
    # (vmemmap_populate_hugepages), falling back to any node.
    sparse_buffer: bool
    # x86 paging_init() ran sparse_init() inside setup_arch (up to 6.18); from 7.2 it runs
    # after e820__reserve_resources / the PCI gap (7.3: mm_core_init_early, after setup_arch).
    sparse_in_setup_arch: bool


@dataclass(frozen=True)
class CrashkernelRules:
    parse: CrashkernelParse


@dataclass(frozen=True)
class HotplugRules:
    """mm/memory_hotplug.c: the default online type and memmap_on_memory; whether CXL
    memory can be hot-added as RAM."""

    # Debian's amd64 config: 6.1 "# CONFIG_MEMORY_HOTPLUG_DEFAULT_ONLINE is not set",
    # 6.12 on CONFIG_MHP_DEFAULT_ONLINE_TYPE_ONLINE_AUTO=y. A kernel's own .config overrides it
    # (profile_for(release, config)).
    default_online: OnlineType
    memmap_on_memory: MemmapOnMemory
    # drivers/cxl/core/region.c create_ram_region (sysfs decoderX.Y/create_ram_region): from
    # 6.3 on; 6.1.192's region.c makes pmem regions only.
    cxl_ram_region: bool = True


@dataclass(frozen=True)
class PrintkRules:
    """kernel/printk/printk.c sizes of the log buffer's meta data."""

    # sizeof(struct printk_info): 88 B, 112 B with CONFIG_PRINTK_EXECUTION_CTX (caller_id2 and
    # comm[TASK_COMM_LEN], Debian 7.x); setup_log_buf allocates one per 32 B of text.
    printk_info_bytes: int


@dataclass(frozen=True)
class KernelProfile:
    """What the releases from ``since`` on do, until the next row."""

    series: str
    memblock: MemblockRules
    logs: LogFormats
    boot: BootOrder
    crashkernel: CrashkernelRules
    hotplug: HotplugRules
    printk: PrintkRules
    # x86 COMMAND_LINE_SIZE (arch/x86/include/asm/setup.h, 2048 in 6.1 and 6.12), the NUL
    # included: the boot protocol's cmdline_size is one less (arch/x86/boot/header.S).
    command_line_size: int = 2048

    @property
    def since(self) -> Version:
        return parse_series(self.series)


_M61 = MemblockRules(dummy_entry=True, numa_valid_node=False, reserve_nid_flags=False,
                     add_range_room_inclusive=False, kho_scratch=False, alloc_hugetlb=False,
                     numa_memblks=False, movable_pfn_up=False, mirror_needs_mirror=False)
_M612 = MemblockRules(dummy_entry=False, numa_valid_node=True, reserve_nid_flags=False,
                      add_range_room_inclusive=True, kho_scratch=False, alloc_hugetlb=False,
                      numa_memblks=True, movable_pfn_up=True, mirror_needs_mirror=True)
_M618 = replace(_M612, reserve_nid_flags=True, kho_scratch=True)
# memblock_alloc_hugetlb() first appears in 7.3 (absent from 7.2.12's mm/memblock.c).
_M73 = replace(_M618, alloc_hugetlb=True)
_PRINTK_INFO = 88
_PRINTK_INFO_EXECUTION_CTX = 112

PROFILES: tuple[KernelProfile, ...] = (
    KernelProfile("6.1", _M61,
                  LogFormats(ReserveLine.PLAIN, E820Format.CLASSIC, LogBufferLine.LOG_BUF_LEN),
                  BootOrder(sparse_buffer=True, sparse_in_setup_arch=True),
                  CrashkernelRules(CrashkernelParse.ARCH_X86),
                  HotplugRules(OnlineType.OFFLINE, MemmapOnMemory.SINGLE_BLOCK, cxl_ram_region=False),
                  PrintkRules(_PRINTK_INFO)),
    KernelProfile("6.12", _M612,
                  LogFormats(ReserveLine.PLAIN, E820Format.CLASSIC, LogBufferLine.LOG_BUF_LEN),
                  BootOrder(sparse_buffer=True, sparse_in_setup_arch=True),
                  CrashkernelRules(CrashkernelParse.GENERIC),
                  HotplugRules(OnlineType.ONLINE, MemmapOnMemory.PER_BLOCK),
                  PrintkRules(_PRINTK_INFO)),
    KernelProfile("6.18", _M618,
                  LogFormats(ReserveLine.NID_FLAGS, E820Format.CLASSIC, LogBufferLine.DATA_PLUS_META),
                  BootOrder(sparse_buffer=True, sparse_in_setup_arch=True),
                  CrashkernelRules(CrashkernelParse.GENERIC),
                  HotplugRules(OnlineType.ONLINE, MemmapOnMemory.PER_BLOCK),
                  PrintkRules(_PRINTK_INFO)),
    KernelProfile("7.2", _M618,
                  LogFormats(ReserveLine.NID_FLAGS, E820Format.NAMED_WITH_GAPS, LogBufferLine.DATA_PLUS_META),
                  BootOrder(sparse_buffer=False, sparse_in_setup_arch=False),
                  CrashkernelRules(CrashkernelParse.GENERIC),
                  HotplugRules(OnlineType.ONLINE, MemmapOnMemory.PER_BLOCK),
                  PrintkRules(_PRINTK_INFO_EXECUTION_CTX)),
    # 7.3: mm_core_init_early() (free_area_init, hugetlb_bootmem_alloc, sparse_init after
    # setup_arch); the request sequence is the log's, so the rules above are 7.2's.
    KernelProfile("7.3", _M73,
                  LogFormats(ReserveLine.NID_FLAGS, E820Format.NAMED_WITH_GAPS, LogBufferLine.DATA_PLUS_META),
                  BootOrder(sparse_buffer=False, sparse_in_setup_arch=False),
                  CrashkernelRules(CrashkernelParse.GENERIC),
                  HotplugRules(OnlineType.ONLINE, MemmapOnMemory.PER_BLOCK),
                  PrintkRules(_PRINTK_INFO_EXECUTION_CTX)),
)

_SERIES = re.compile(r"(\d+)\.(\d+)")


def parse_series(release: str) -> Version:
    """``6.12``, ``6.12.118+deb12-amd64``, ``7.3.4+deb13-amd64`` → (major, minor)."""
    m = _SERIES.match(release.strip())
    if not m:
        raise ValueError(f"{release!r} is not a kernel release (expected MAJOR.MINOR…)")
    return int(m.group(1)), int(m.group(2))


@dataclass(frozen=True)
class ProfileChoice:
    """The row a release uses, and what a report must say about that choice (or '')."""

    release: str
    profile: KernelProfile
    note: str


def profile_for(release: str, config: KernelConfig | None = None) -> ProfileChoice:
    """The profile of ``release``; one older than every row is refused (ValueError).

    ``config``: the kernel's own ``.config``, which decides what Debian's config decides in
    the rows (default online type, printk_info size); without it the rows' Debian values hold."""
    version = parse_series(release)
    rows = [p for p in PROFILES if p.since <= version]
    if not rows:
        raise ValueError(f"kernel {release} is older than every profile (oldest: {PROFILES[0].series})")
    row = rows[-1]
    note = ""
    if row is PROFILES[-1] and version != row.since:
        note = f"kernel {release} is newer than every profile: modelled as {row.series}"
    elif version != row.since:
        note = f"kernel {release} has no profile of its own: modelled as {row.series}"
    if config is not None:
        row = _configured(row, config)
    return ProfileChoice(release, row, note)


# CONFIG_MHP_DEFAULT_ONLINE_TYPE_* (mm/Kconfig choice, 6.12 on) → mhp_get_default_online_type().
_ONLINE_CHOICE = {"MHP_DEFAULT_ONLINE_TYPE_OFFLINE": OnlineType.OFFLINE,
                  "MHP_DEFAULT_ONLINE_TYPE_ONLINE_AUTO": OnlineType.ONLINE,
                  "MHP_DEFAULT_ONLINE_TYPE_ONLINE_KERNEL": OnlineType.ONLINE_KERNEL,
                  "MHP_DEFAULT_ONLINE_TYPE_ONLINE_MOVABLE": OnlineType.ONLINE_MOVABLE}


def _default_online(config: KernelConfig) -> OnlineType:
    for option, online in _ONLINE_CHOICE.items():
        if config.is_builtin(option):
            return online
    # 6.1: CONFIG_MEMORY_HOTPLUG_DEFAULT_ONLINE=y starts memhp_default_online_type online.
    return OnlineType.ONLINE if config.is_builtin("MEMORY_HOTPLUG_DEFAULT_ONLINE") else OnlineType.OFFLINE


def _configured(row: KernelProfile, config: KernelConfig) -> KernelProfile:
    """The row with what ``config`` decides instead of Debian's values."""
    info = _PRINTK_INFO_EXECUTION_CTX if config.is_builtin("PRINTK_EXECUTION_CTX") else _PRINTK_INFO
    return replace(row, hotplug=replace(row.hotplug, default_online=_default_online(config)),
                   printk=PrintkRules(info))
