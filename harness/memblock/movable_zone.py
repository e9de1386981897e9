"""Where ZONE_MOVABLE starts in each node: a port of find_zone_movable_pfns_for_nodes
(6.1 mm/page_alloc.c, 6.12 mm/mm_init.c) with the statics it reads.

The command line is read by cmdline_parse_kernelcore / cmdline_parse_movablecore /
cmdline_parse_core (``required_kernelcore[_percent]``, ``required_movablecore[_percent]``
in pages, ``mirrored_kernelcore``); the memory by early_calculate_totalpages (N_MEMORY)
and for_each_mem_pfn_range (PFN_UP(base)..PFN_DOWN(end), empty ranges skipped);
``movable_zone`` by find_usable_zone_for_movable over the zone limits free_area_init
derives from arch/x86/mm/init.c:zone_sizes_init.  Everything is in pages, as there.

The two versions differ in two places, both kept:
- movable_node: 6.1 starts at PFN_DOWN(r->base), 6.12 at
  memblock_region_memory_base_pfn(r) = PFN_UP(r->base);
- kernelcore=mirror: 6.12 ignores it when no memory is mirrored (memblock_has_mirror)
  or in a kdump kernel, with a warning; 6.1 goes on regardless.
is_kdump_kernel() is taken as false: memhp never boots a crash kernel.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.memblock.model import Memblock, MemblockRegion, RegionFlags, memblock_rules
from kernels.profile import MemblockRules
from harness.units import has_flag, memparse, option_values, parse_percent

PAGE_SHIFT = 12
U64_MASK = (1 << 64) - 1
# 6.1: 1 << (MAX_ORDER - 1) with MAX_ORDER 11; 6.12: 1 << MAX_PAGE_ORDER with 10.
MAX_ORDER_NR_PAGES = 1024
MAX_DMA_PFN = (16 << 20) >> PAGE_SHIFT  # arch/x86/include/asm/dma.h
MAX_DMA32_PFN = (1 << 32) >> PAGE_SHIFT
SZ_4G_PFN = MAX_DMA32_PFN
ZONES = ("DMA", "DMA32", "Normal")  # x86_64 zones below ZONE_MOVABLE (no HIGHMEM)

NO_MIRROR_WARNING = "The system has no mirror memory, ignore kernelcore=mirror."
UNMIRRORED_WARNING = "This configuration results in unmirrored kernel memory."
MIRROR_NEEDS = ("kernelcore=mirror needs memblock regions flagged MIRROR, which on x86 only "
                "drivers/firmware/efi/efi.c:efi_find_mirror sets, from EFI memory marked "
                "EFI_MEMORY_MORE_RELIABLE; a SeaBIOS QEMU guest has none")


@dataclass(frozen=True)
class CoreRequest:
    """What the early_param handlers leave in the kernel's statics (pages and percent)."""

    required_kernelcore: int = 0
    required_kernelcore_percent: int = 0
    required_movablecore: int = 0
    required_movablecore_percent: int = 0
    mirrored_kernelcore: bool = False
    movable_node: bool = False


@dataclass(frozen=True)
class MovableZone:
    """The outcome: ``zone_movable_pfn`` of each node that has one (the nodes the log's
    "Movable zone start for each node" lists), the zone ZONE_MOVABLE is taken from and
    the warnings the kernel prints on the way."""

    zone_movable_pfn: dict[int, int]
    movable_zone: str
    warnings: tuple[str, ...] = ()

    @property
    def starts(self) -> dict[int, int]:
        return {nid: pfn << PAGE_SHIFT for nid, pfn in self.zone_movable_pfn.items()}


def _parse_core(values: list[str]) -> tuple[int, int]:
    """cmdline_parse_core once per occurrence: a percentage sets only the percentage, a
    size (memparse, in pages) sets the size and clears the percentage."""
    core = percent = 0
    for value in values:
        share = parse_percent(value)
        if share is None:
            core, percent = memparse(value)[0] >> PAGE_SHIFT, 0
        else:
            percent = share
    return core, percent


def core_request(cmdline: str) -> CoreRequest:
    """The statics after parse_early_param; ``kernelcore=mirror`` (parse_option_str: one
    comma-separated item) sets mirrored_kernelcore and leaves the size alone."""
    kernelcore = option_values(cmdline, "kernelcore")
    mirrored = any("mirror" in v.split(",") for v in kernelcore)
    core, core_percent = _parse_core([v for v in kernelcore if "mirror" not in v.split(",")])
    movable, movable_percent = _parse_core(option_values(cmdline, "movablecore"))
    return CoreRequest(core, core_percent, movable, movable_percent, mirrored,
                       has_flag(cmdline, "movable_node"))


def _pfn_ranges(memory: Sequence[MemblockRegion]) -> list[tuple[int, int, int]]:
    """for_each_mem_pfn_range: (start_pfn, end_pfn, nid) of each non-empty region."""
    out = []
    for r in memory:
        start, end = -(-r.base >> PAGE_SHIFT), r.end >> PAGE_SHIFT
        if start < end:
            out.append((start, end, r.nid))
    return out


def _usable_startpfn(memory: Sequence[MemblockRegion], ranges: list[tuple[int, int, int]]) -> tuple[str, int]:
    """find_usable_zone_for_movable: the highest zone free_area_init finds non-empty, and
    its arch_zone_lowest_possible_pfn.  max_low_pfn is max_pfn on x86_64 (the end of RAM)."""
    max_low_pfn = max(e for _, e, _ in ranges)
    start_pfn = memory[0].base >> PAGE_SHIFT  # PHYS_PFN(memblock_start_of_DRAM())
    limits = (min(MAX_DMA_PFN, max_low_pfn), min(MAX_DMA32_PFN, max_low_pfn), max_low_pfn)
    found = (ZONES[0], start_pfn)
    for name, limit in zip(ZONES, limits):
        end_pfn = max(limit, start_pfn)
        if end_pfn > start_pfn:
            found = (name, start_pfn)
        start_pfn = end_pfn
    return found


def _hotplug_pfns(memory: Sequence[MemblockRegion], rules: MemblockRules) -> dict[int, int]:
    """The movable_node branch: per node, the lowest base pfn of its HOTPLUG regions."""
    out: dict[int, int] = {}
    for r in memory:
        if not r.flags & RegionFlags.HOTPLUG:
            continue
        pfn = -(-r.base >> PAGE_SHIFT) if rules.movable_pfn_up else r.base >> PAGE_SHIFT
        out[r.nid] = min(pfn, out[r.nid]) if out.get(r.nid) else pfn
    return out


def _mirror(memory: Sequence[MemblockRegion], rules: MemblockRules) -> tuple[dict[int, int] | None, list[str]]:
    """The kernelcore=mirror branch; None when 6.12 ignores the option."""
    if rules.mirror_needs_mirror and not any(r.flags & RegionFlags.MIRROR for r in memory):
        return None, [NO_MIRROR_WARNING]
    starts: dict[int, int] = {}
    below_4g = False
    for r in memory:
        if r.flags & RegionFlags.MIRROR:
            continue
        pfn = -(-r.base >> PAGE_SHIFT)  # memblock_region_memory_base_pfn, in both versions
        if pfn < SZ_4G_PFN:
            below_4g = True
            continue
        starts[r.nid] = min(pfn, starts[r.nid]) if starts.get(r.nid) else pfn
    return starts, [UNMIRRORED_WARNING] if below_4g else []


def _required_kernelcore(request: CoreRequest, totalpages: int) -> int:
    """kernelcore in pages: percentages of totalpages, then movablecore rounded up to
    MAX_ORDER_NR_PAGES and turned into the kernelcore it leaves (the larger one wins)."""
    kernelcore, movablecore = request.required_kernelcore, request.required_movablecore
    if request.required_kernelcore_percent:
        kernelcore = (totalpages * 100 * request.required_kernelcore_percent & U64_MASK) // 10000
    if request.required_movablecore_percent:
        movablecore = (totalpages * 100 * request.required_movablecore_percent & U64_MASK) // 10000
    if movablecore:
        movablecore = min(totalpages, -(-movablecore // MAX_ORDER_NR_PAGES) * MAX_ORDER_NR_PAGES)
        kernelcore = max(kernelcore, totalpages - movablecore)
    return kernelcore


def _spread(ranges: list[tuple[int, int, int]], required_kernelcore: int,
            usable_startpfn: int) -> dict[int, int]:
    """The ``restart:`` loop: kernelcore spread evenly over the N_MEMORY nodes, again
    with one node fewer while more than ``usable_nodes`` pages are still required."""
    nodes = sorted({nid for _, _, nid in ranges})
    usable_nodes = len(nodes)
    zone_movable_pfn = dict.fromkeys(nodes, 0)
    while True:
        kernelcore_node = required_kernelcore // usable_nodes
        for nid in nodes:
            if required_kernelcore < kernelcore_node:
                kernelcore_node = required_kernelcore // usable_nodes
            remaining = kernelcore_node
            for start_pfn, end_pfn, _ in (r for r in ranges if r[2] == nid):
                start_pfn = max(start_pfn, zone_movable_pfn[nid])
                if start_pfn >= end_pfn:
                    continue
                if start_pfn < usable_startpfn:  # only usable for kernelcore
                    kernel_pages = min(end_pfn, usable_startpfn) - start_pfn
                    remaining -= min(kernel_pages, remaining)
                    required_kernelcore -= min(kernel_pages, required_kernelcore)
                    if end_pfn <= usable_startpfn:
                        zone_movable_pfn[nid] = end_pfn  # not counted twice on a restart
                        continue
                    start_pfn = usable_startpfn
                size_pages = min(end_pfn - start_pfn, remaining)
                zone_movable_pfn[nid] = start_pfn + size_pages
                required_kernelcore -= min(required_kernelcore, size_pages)
                remaining -= size_pages
                if not remaining:
                    break
        usable_nodes -= 1
        if not (usable_nodes and required_kernelcore > usable_nodes):
            return zone_movable_pfn


def _align(zone_movable_pfn: dict[int, int], ranges: list[tuple[int, int, int]]) -> dict[int, int]:
    """``out2:``: roundup to MAX_ORDER_NR_PAGES; a start at or past the node's end
    (get_pfn_range_for_nid) means no ZONE_MOVABLE there."""
    out = {}
    for nid, pfn in zone_movable_pfn.items():
        pfn = -(-pfn // MAX_ORDER_NR_PAGES) * MAX_ORDER_NR_PAGES
        if pfn < max((e for _, e, n in ranges if n == nid), default=0):
            out[nid] = pfn
    return out


def find_zone_movable_pfns_for_nodes(memory: Sequence[MemblockRegion], request: CoreRequest,
                                     kernel: MemblockRules | str) -> MovableZone:
    """The kernel's function on ``memblock.memory`` as numa init left it."""
    rules = memblock_rules(kernel)
    ranges = _pfn_ranges(memory)
    if not ranges:
        return MovableZone({}, ZONES[0])
    movable_zone, usable_startpfn = _usable_startpfn(memory, ranges)
    if request.movable_node:  # kernelcore= and movablecore= are ignored
        return MovableZone(_align(_hotplug_pfns(memory, rules), ranges),
                           movable_zone)
    if request.mirrored_kernelcore:  # movablecore= is ignored
        starts, warnings = _mirror(memory, rules)
        found = {} if starts is None else _align(starts, ranges)
        return MovableZone(found, movable_zone, tuple(warnings))
    totalpages = sum(e - s for s, e, _ in ranges)
    required_kernelcore = _required_kernelcore(request, totalpages)
    if not required_kernelcore or required_kernelcore >= totalpages:
        return MovableZone({}, movable_zone)
    return MovableZone(_align(_spread(ranges, required_kernelcore, usable_startpfn), ranges),
                       movable_zone)


def movable_zone(state: Memblock, cmdline: str,
                 kernel: MemblockRules | str) -> MovableZone:
    """ZONE_MOVABLE of ``state`` (memblock after numa init) booted with ``cmdline``."""
    return find_zone_movable_pfns_for_nodes(state.memory.regions, core_request(cmdline), kernel)


def movable_starts(state: Memblock, cmdline: str,
                   kernel: MemblockRules | str) -> dict[int, int]:
    """Node → ZONE_MOVABLE start in bytes (nodes without one are absent)."""
    return movable_zone(state, cmdline, kernel).starts


def node_ranges(state: Memblock) -> dict[int, list[tuple[int, int]]]:
    ranges: dict[int, list[tuple[int, int]]] = {}
    for r in state.memory.regions:
        if r.size:
            ranges.setdefault(r.nid, []).append((r.base, r.end))
    return ranges
