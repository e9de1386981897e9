"""Free-range search of mm/memblock.c (__next_mem_range[_rev], __memblock_find_range_*).

A free range is a memory region intersected with a gap between reserved regions, so
an allocation never spans two memory regions. The iteration order is the kernel's;
for a non-zero size, ranges that cannot intersect [start, end) are not visited,
which changes nothing because the kernel would reject them after clamping.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from harness.memblock.model import (
    NUMA_NO_NODE,
    PAGE_SIZE,
    Memblock,
    MemblockRegion,
    RegionFlags,
)
from harness.memblock.regions import (
    PHYS_ADDR_MAX,
    U64_MAX,
    count_ending_before,
    count_starting_at_or_below,
    count_starting_below,
    first_ending_after,
)
from kernels.profile import MemblockRules

MEMBLOCK_ALLOC_ACCESSIBLE = 0
MEMBLOCK_ALLOC_NOLEAKTRACE = 1

_HOTPLUG = int(RegionFlags.HOTPLUG)
_MIRROR = int(RegionFlags.MIRROR)
_NOMAP = int(RegionFlags.NOMAP)
_DRIVER_MANAGED = int(RegionFlags.DRIVER_MANAGED)
_KHO_SCRATCH = int(RegionFlags.KHO_SCRATCH)


@dataclass(frozen=True)
class SearchPolicy:
    """What decides which memory regions a search may use."""

    rules: MemblockRules
    max_numnodes: int
    movable_node: bool

    def node_filter(self, nid: int) -> bool:
        """Whether ``nid`` restricts the search (6.1: != NUMA_NO_NODE; 6.12: numa_valid_node)."""
        if not self.rules.numa_valid_node:
            return nid != NUMA_NO_NODE and nid != self.max_numnodes
        return 0 <= nid < self.max_numnodes

    def should_skip(self, region: MemblockRegion, nid: int, flags: int, filtered: bool) -> bool:
        """``should_skip_region`` for memory regions."""
        if filtered and nid != region.nid:
            return True
        rflags = region.flags
        if self.movable_node and rflags & _HOTPLUG and not flags & _HOTPLUG:
            return True
        if flags & _MIRROR and not rflags & _MIRROR:
            return True
        if not flags & _NOMAP and rflags & _NOMAP:
            return True
        if not flags & _DRIVER_MANAGED and rflags & _DRIVER_MANAGED:
            return True
        return bool(self.rules.kho_scratch and flags & _KHO_SCRATCH and not rflags & _KHO_SCRATCH)


def _gap(reserved: list[MemblockRegion], j: int) -> tuple[int, int]:
    """Gap j of the reserved array: before region j (j == cnt: after the last)."""
    r_start = reserved[j - 1].base + reserved[j - 1].size if j else 0
    r_end = reserved[j].base if j < len(reserved) else PHYS_ADDR_MAX
    return r_start, r_end


def free_ranges_top_down(mb: Memblock, policy: SearchPolicy, nid: int, flags: int,
                         lo: int, hi: int) -> Iterator[tuple[int, int]]:
    """``for_each_free_mem_range_reverse`` restricted to ranges meeting [lo, hi)."""
    memory, reserved = mb.memory.regions, mb.reserved.regions
    filtered = policy.node_filter(nid)
    for i in range(count_starting_below(memory, hi) - 1, -1, -1):
        m = memory[i]
        m_start, m_end = m.base, m.base + m.size
        if m_end <= lo:
            break
        if policy.should_skip(m, nid, flags, filtered):
            continue
        floor = max(m_start, lo)
        for j in range(count_ending_before(reserved, min(m_end, hi)), -1, -1):
            r_start, r_end = _gap(reserved, j)
            if r_end <= floor:
                break
            if m_end > r_start and r_end > m_start:
                yield max(m_start, r_start), min(m_end, r_end)


def free_ranges_bottom_up(mb: Memblock, policy: SearchPolicy, nid: int, flags: int,
                          lo: int, hi: int) -> Iterator[tuple[int, int]]:
    """``for_each_free_mem_range`` restricted to ranges meeting [lo, hi)."""
    memory, reserved = mb.memory.regions, mb.reserved.regions
    filtered = policy.node_filter(nid)
    for i in range(first_ending_after(memory, lo) if lo else 0, len(memory)):
        m = memory[i]
        m_start, m_end = m.base, m.base + m.size
        if m_start >= hi:
            break
        if policy.should_skip(m, nid, flags, filtered):
            continue
        ceiling = min(m_end, hi)
        for j in range(count_starting_at_or_below(reserved, max(m_start, lo)), len(reserved) + 1):
            r_start, r_end = _gap(reserved, j)
            if r_start >= ceiling:
                break
            if m_start < r_end and r_start < m_end:
                yield max(m_start, r_start), min(m_end, r_end)


def _round_up(x: int, align: int) -> int:
    return ((((x - 1) & U64_MAX) | ((align - 1) & U64_MAX)) + 1) & U64_MAX


def _round_down(x: int, align: int) -> int:
    return x & ~((align - 1) & U64_MAX) & U64_MAX


def _clamp(x: int, lo: int, hi: int) -> int:
    return min(max(x, lo), hi)


def find_in_range_node(mb: Memblock, policy: SearchPolicy, size: int, align: int, start: int,
                       end: int, nid: int, flags: int) -> int:
    """``memblock_find_in_range_node``: the found base, 0 on failure (as in the kernel)."""
    if end in (MEMBLOCK_ALLOC_ACCESSIBLE, MEMBLOCK_ALLOC_NOLEAKTRACE):
        end = mb.current_limit
    start = max(start, PAGE_SIZE)
    end = max(start, end)
    # A zero size can fit at a clamped edge, so only then visit every range.
    lo, hi = (start, end) if size else (0, PHYS_ADDR_MAX + 1)
    if mb.bottom_up:
        for this_start, this_end in free_ranges_bottom_up(mb, policy, nid, flags, lo, hi):
            this_start, this_end = _clamp(this_start, start, end), _clamp(this_end, start, end)
            cand = _round_up(this_start, align)
            if cand < this_end and this_end - cand >= size:
                return cand
        return 0
    for this_start, this_end in free_ranges_top_down(mb, policy, nid, flags, lo, hi):
        this_start, this_end = _clamp(this_start, start, end), _clamp(this_end, start, end)
        if this_end < size:
            continue
        cand = _round_down(this_end - size, align)
        if cand >= this_start:
            return cand
    return 0
