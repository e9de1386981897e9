"""Region-array primitives of mm/memblock.c: insert, remove, merge and lookups.

These touch one ``MemblockType`` and need nothing else; the operations that may
double an array (and so reserve memory) live in :mod:`harness.memblock.sim`.
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right

from harness.memblock.model import MemblockRegion, MemblockType
from kernels.profile import MemblockRules

U64_MAX = (1 << 64) - 1
PHYS_ADDR_MAX = U64_MAX
# sizeof(struct memblock_region) with CONFIG_NUMA on 64-bit: base, size, flags, nid.
REGION_BYTES = 24
INIT_MEMBLOCK_REGIONS = 128


def _end(region: MemblockRegion) -> int:
    return region.base + region.size


def _base(region: MemblockRegion) -> int:
    return region.base


def cap_size(base: int, size: int) -> int:
    """``memblock_cap_size``: keep ``base + size`` within the physical address space."""
    return min(size, PHYS_ADDR_MAX - base)


def first_ending_after(regions: list[MemblockRegion], addr: int) -> int:
    """Index of the first region whose end is above ``addr``; the kernel's loops skip the rest."""
    return bisect_right(regions, addr, key=_end)


def count_ending_before(regions: list[MemblockRegion], addr: int) -> int:
    """How many regions end strictly below ``addr``."""
    return bisect_left(regions, addr, key=_end)


def count_starting_at_or_below(regions: list[MemblockRegion], addr: int) -> int:
    return bisect_right(regions, addr, key=_base)


def count_starting_below(regions: list[MemblockRegion], addr: int) -> int:
    return bisect_left(regions, addr, key=_base)


def empty_dummy(max_numnodes: int) -> MemblockRegion:
    """The entry 6.1 keeps in an emptied array (memblock_remove_region sets MAX_NUMNODES)."""
    return MemblockRegion(0, 0, 0, max_numnodes)


def is_empty(memblock_type: MemblockType) -> bool:
    """``type->regions[0].size == 0``: the test memblock_add_range uses for an empty array."""
    regions = memblock_type.regions
    return not regions or regions[0].size == 0


def remove_regions(memblock_type: MemblockType, start: int, end: int,
                   rules: MemblockRules, max_numnodes: int) -> None:
    """``memblock_remove_region`` for indices [start, end); 6.1 leaves its dummy entry."""
    del memblock_type.regions[start:end]
    if not memblock_type.regions and rules.dummy_entry:
        memblock_type.regions.append(empty_dummy(max_numnodes))


def _mergeable(this: MemblockRegion, nxt: MemblockRegion) -> bool:
    return this.base + this.size == nxt.base and this.nid == nxt.nid and this.flags == nxt.flags


def merge_window(memblock_type: MemblockType, start_rgn: int, end_rgn: int) -> None:
    """6.12 ``memblock_merge_regions(type, start_rgn, end_rgn)``: pairs in [start_rgn-1, end_rgn)."""
    regions = memblock_type.regions
    i = start_rgn - 1 if start_rgn else 0
    end_rgn = min(end_rgn, len(regions) - 1)
    while i < end_rgn:
        this, nxt = regions[i], regions[i + 1]
        if not _mergeable(this, nxt):
            i += 1
            continue
        regions[i] = MemblockRegion(this.base, this.size + nxt.size, this.flags, this.nid)
        del regions[i + 1]
        end_rgn -= 1
