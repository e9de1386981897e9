"""Which zone hot-added memory is onlined to (every device kind: pc-dimm, virtio-mem,
CXL, through :func:`zone_for_pfn_range`), and where a DIMM's memmap goes.

A port of mm/memory_hotplug.c (6.1 and 6.12): ``zone_for_pfn_range`` with
``default_zone_for_pfn`` (``online_policy=contig-zones``) and ``auto_movable_zone_for_pfn`` /
``auto_movable_can_online_movable`` (``online_policy=auto-movable``), and
``mhp_supports_memmap_on_memory``. A pc-dimm is one ACPI memory device, which
drivers/acpi/acpi_memhotplug.c:acpi_memory_enable_device registers as one *static* memory
group of the DIMM's size, so the zone is decided once per DIMM: auto_movable_zone_for_pfn
asks whether the whole group fits, and onlines the rest of a group kernel once any of it
is kernel.
"""
from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from harness.units import has_flag, option_values
from kernels.profile import HotplugRules, MemmapOnMemory, OnlineType

PAGE_SIZE = 4096
SIZEOF_STRUCT_PAGE = 64  # x86-64 struct page
PMD_SIZE = 2 << 20
PAGEBLOCK_PAGES = 512  # pageblock_order 9 on x86-64 (HUGETLB_PAGE_ORDER)
DMA32_END = 1 << 32
AUTO_MOVABLE_RATIO = 301  # mm/memory_hotplug.c: auto_movable_ratio's default


class OnlinePolicy(str, enum.Enum):
    """mm/memory_hotplug.c ``online_policy_to_str``."""

    CONTIG_ZONES = "contig-zones"
    AUTO_MOVABLE = "auto-movable"


class MemmapMode(str, enum.Enum):
    """mm/memory_hotplug.c ``memmap_mode`` (6.12; 6.1 has the bool ``memmap_on_memory``)."""

    DISABLE = "disable"
    ENABLE = "enable"
    FORCE = "force"


def kstrtobool(text: str) -> bool | None:
    """lib/kstrtox.c:kstrtobool (kernel/params.c:param_set_bool); None where it returns
    -EINVAL (the parameter keeps its value)."""
    if text[:1] in ("y", "Y", "t", "T", "1"):
        return True
    if text[:1] in ("n", "N", "f", "F", "0"):
        return False
    if text[:1] in ("o", "O"):
        return {"n": True, "N": True, "f": False, "F": False}.get(text[1:2])
    return None


@dataclass(frozen=True)
class HotplugConfig:
    """The mm/memory_hotplug.c settings a boot command line leaves."""

    default_online_type: OnlineType
    online_policy: OnlinePolicy
    auto_movable_ratio: int
    auto_movable_numa_aware: bool
    memmap_mode: MemmapMode
    movable_node: bool
    memmap_on_memory: MemmapOnMemory  # the kernel's rules for where a DIMM's memmap may go

    @property
    def auto_online(self) -> bool:
        return self.default_online_type is not OnlineType.OFFLINE


def _memmap_mode(values: list[str], rules: MemmapOnMemory) -> MemmapMode:
    """6.12 set_memmap_mode takes "force" or a bool; 6.1's bool parameter refuses "force"."""
    mode = MemmapMode.DISABLE
    for value in values:
        if rules is MemmapOnMemory.PER_BLOCK and value.lower() == "force":
            mode = MemmapMode.FORCE
        elif (flag := kstrtobool(value)) is not None:
            mode = MemmapMode.ENABLE if flag else MemmapMode.DISABLE
    return mode


def hotplug_config(cmdline: str, rules: HotplugRules) -> HotplugConfig:
    """Each parameter's handler runs once per occurrence, so the last valid value counts
    (setup_memhp_default_state ignores an unknown state; set_online_policy an unknown policy)."""
    states = [OnlineType(v) for v in option_values(cmdline, "memhp_default_state")
              if v in OnlineType._value2member_map_]
    policies = [OnlinePolicy(v) for v in option_values(cmdline, "memory_hotplug.online_policy")
                if v in OnlinePolicy._value2member_map_]
    ratios = [int(v) for v in option_values(cmdline, "memory_hotplug.auto_movable_ratio") if v.isdigit()]
    aware = [b for v in option_values(cmdline, "memory_hotplug.auto_movable_numa_aware")
             if (b := kstrtobool(v)) is not None]
    return HotplugConfig(
        default_online_type=(states or [rules.default_online])[-1],
        online_policy=(policies or [OnlinePolicy.CONTIG_ZONES])[-1],
        auto_movable_ratio=(ratios or [AUTO_MOVABLE_RATIO])[-1],
        auto_movable_numa_aware=(aware or [True])[-1],
        memmap_mode=_memmap_mode(option_values(cmdline, "memory_hotplug.memmap_on_memory"),
                                 rules.memmap_on_memory),
        movable_node=has_flag(cmdline, "movable_node"), memmap_on_memory=rules.memmap_on_memory)


def vmemmap_pages_per_block(config: HotplugConfig, dimm_size: int, block_size: int) -> int:
    """The pages at the start of each of the DIMM's memory blocks that hold its own memmap
    (``memory_block.nr_vmemmap_pages``; 6.12 ``mem->altmap->free``), 0 if it goes elsewhere.

    6.1 mhp_supports_memmap_on_memory(size): only a device of exactly one memory block, its
    memmap a whole number of PMDs and the rest whole pageblocks. 6.12: one altmap per block
    (create_altmaps_and_memory_blocks) for any size; memory_block_memmap_on_memory_pages
    pageblock-aligns the count under "force"; the memmap must be PMD-aligned
    (arch/x86 arch_supports_memmap_on_memory) and may not fill the block."""
    if config.memmap_mode is MemmapMode.DISABLE:
        return 0
    vmemmap = block_size // PAGE_SIZE * SIZEOF_STRUCT_PAGE
    pages = -(-vmemmap // PAGE_SIZE)
    if config.memmap_on_memory is MemmapOnMemory.SINGLE_BLOCK:
        fits = (dimm_size == block_size and vmemmap % PMD_SIZE == 0
                and (block_size - vmemmap) % (PAGEBLOCK_PAGES * PAGE_SIZE) == 0)
        return pages if fits else 0
    if config.memmap_mode is MemmapMode.FORCE:
        pages = -(-pages // PAGEBLOCK_PAGES) * PAGEBLOCK_PAGES
    fits = (vmemmap % PAGE_SIZE == 0 and pages % PAGEBLOCK_PAGES == 0
            and pages != block_size // PAGE_SIZE and vmemmap % PMD_SIZE == 0)
    return pages if fits else 0


@dataclass(frozen=True)
class ZonePages:
    """One node's ``present_early_pages`` of its kernel zones (boot memory outside
    ZONE_MOVABLE) and its ZONE_MOVABLE ``present_pages``: what auto_movable_stats_account_zone adds."""

    kernel_early_pages: int
    movable_pages: int


def boot_zone_pages(ranges: dict[int, list[tuple[int, int]]],
                    movable_starts: dict[int, int]) -> dict[int, ZonePages]:
    """From memblock.memory per node: present pages are the memory pages a zone spans
    (mm/mm_init.c / page_alloc.c calculate_node_totalpages, pfns rounded inwards)."""
    out = {}
    for nid, spans in ranges.items():
        start = movable_starts.get(nid)
        movable = kernel = 0
        for base, end in spans:
            first, last = -(-base // PAGE_SIZE), end // PAGE_SIZE
            cut = last if start is None else min(last, max(first, start // PAGE_SIZE))
            kernel += cut - first
            movable += last - cut
        out[nid] = ZonePages(kernel, movable)
    return out


def can_online_movable(config: HotplugConfig, stats: dict[int, ZonePages], nid: int | None,
                       nr_pages: int) -> bool:
    """auto_movable_can_online_movable for static groups only (no dynamic group to walk):
    MOVABLE + nr_pages <= ratio * KERNEL_EARLY / 100, over all nodes (nid None) or one.
    The CMA terms are left out: Debian's 6.1 and 6.12 configs have no CONFIG_CMA."""
    chosen = [s for n, s in stats.items() if nid is None or n == nid]
    kernel_early = sum(s.kernel_early_pages for s in chosen)
    movable = sum(s.movable_pages for s in chosen)
    if kernel_early <= 0:  # "kernel_early_pages <= group_stats.req_kernel_early_pages" (0)
        return False
    return movable + nr_pages <= config.auto_movable_ratio * kernel_early // 100


@dataclass(frozen=True)
class ZoneSpan:
    nid: int
    zone: str
    start: int
    end: int


def _intersects(spans: Sequence[ZoneSpan], nid: int, zone: str, start: int, end: int) -> bool:
    """mm/memory_hotplug.c zone_intersects: against the zone's whole span, which grows
    over every range onlined to it (resize_zone_range), gaps and other zones included."""
    mine = [s for s in spans if s.nid == nid and s.zone == zone]
    return bool(mine) and start < max(s.end for s in mine) and min(s.start for s in mine) < end


def zone_for_pfn_range(config: HotplugConfig, nid: int, start: int, size: int,
                       movable_fits: Callable[[int | None], bool],
                       spans: Sequence[ZoneSpan] = ()) -> str:
    """mm/memory_hotplug.c zone_for_pfn_range for memory onlined by the default online
    type: the one zone choice every memory device kind asks (pc-dimm, virtio-mem, CXL).
    The kinds differ only in their memory group, so each passes its own
    auto_movable_can_online_movable as ``movable_fits(node)`` (None: NUMA_NO_NODE, the
    whole system). Device memory sits above 4G, so the kernel zone is ZONE_NORMAL
    (default_kernel_zone_for_pfn). "offline" when nothing onlines it."""
    online = config.default_online_type
    if online is OnlineType.OFFLINE:
        return "offline"
    kernel = "DMA32" if start < DMA32_END else "Normal"
    if online is OnlineType.ONLINE_KERNEL:
        return kernel
    if online is OnlineType.ONLINE_MOVABLE:
        return "Movable"
    if config.online_policy is OnlinePolicy.AUTO_MOVABLE:
        fits = (config.auto_movable_ratio > 0 and movable_fits(None)
                and (not config.auto_movable_numa_aware or movable_fits(nid)))
        return "Movable" if fits else kernel
    # default_zone_for_pfn: inherit the one zone the range intersects, else movable_node decides.
    in_kernel = _intersects(spans, nid, kernel, start, start + size)
    in_movable = _intersects(spans, nid, "Movable", start, start + size)
    if in_kernel != in_movable:
        return kernel if in_kernel else "Movable"
    return "Movable" if config.movable_node else kernel


def zone_for_dimm(config: HotplugConfig, stats: dict[int, ZonePages], spans: list[ZoneSpan],
                  nid: int, start: int, size: int) -> str:
    """A static memory group's zone (a pc-dimm's ACPI memory device, a CXL region's kmem
    dax device): decided once for the whole group (its blocks are onlined one by one,
    but a static group keeps them in one zone)."""
    pages = size // PAGE_SIZE
    return zone_for_pfn_range(config, nid, start, size,
                              lambda node: can_online_movable(config, stats, node, pages), spans)
