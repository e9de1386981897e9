"""A Python port of the boot memory allocator (mm/memblock.c of Debian 6.1, 6.12 and 7.3).

``MemblockSim`` mirrors the kernel functions one to one, on x86's terms: the arrays
may be resized (memblock_allow_resize runs before any logged operation), slab is
never up, SMP_CACHE_BYTES is 64, KHO is off (kho_scratch_only false, no scratch
overlap). Where the kernels differ, the release's ``MemblockRules`` (kernels.profile)
decide. Results use the kernel's conventions except that a failed allocation or search
returns ``None`` instead of 0.
"""
from __future__ import annotations

import copy

from harness.errors import BadInputError
from harness.memblock.alloc import SearchPolicy, find_in_range_node
from harness.memblock.model import (
    NUMA_NO_NODE,
    PAGE_SIZE,
    Memblock,
    MemblockRegion,
    MemblockType,
    RegionFlags,
    memblock_rules,
)
from harness.memblock.regions import (
    INIT_MEMBLOCK_REGIONS,
    PHYS_ADDR_MAX,
    REGION_BYTES,
    U64_MAX,
    cap_size,
    first_ending_after,
    is_empty,
    merge_window,
    remove_regions,
)
from kernels.profile import MemblockRules

ENOMEM = 12
SMP_CACHE_BYTES = 64
_MIRROR = int(RegionFlags.MIRROR)
_RSRV_KERN = int(RegionFlags.RSRV_KERN)
_KHO_SCRATCH = int(RegionFlags.KHO_SCRATCH)
_RSRV_HUGETLB = int(RegionFlags.RSRV_HUGETLB)


def _page_align(size: int) -> int:
    return (size + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)


def _initial_type(name: str, rules: MemblockRules) -> MemblockType:
    # 6.1's static arrays start with cnt = 1: a zeroed entry, so nid 0.
    regions = [MemblockRegion(0, 0, 0, 0)] if rules.dummy_entry else []
    return MemblockType(name, regions, INIT_MEMBLOCK_REGIONS)


class MemblockSim:
    """``struct memblock`` plus the functions of mm/memblock.c that change or search it."""

    def __init__(self, kernel: MemblockRules | str, max_numnodes: int = 1024,
                 movable_node: bool = False, mirrored_kernelcore: bool = False) -> None:
        self.rules = memblock_rules(kernel)
        self.max_numnodes = max_numnodes
        self.policy = SearchPolicy(self.rules, max_numnodes, movable_node)
        self.mirrored_kernelcore = mirrored_kernelcore
        self.system_has_some_mirror = False
        self.memblock = Memblock(memory=_initial_type("memory", self.rules),
                                 reserved=_initial_type("reserved", self.rules))
        # Physical address of each array once doubled (None: the static __initdata one).
        self._array_addr: dict[str, int | None] = {"memory": None, "reserved": None}
        # The WARN_ONs the kernel would print, as its source states them, in order.
        self.warnings: list[str] = []

    def state(self) -> Memblock:
        return copy.deepcopy(self.memblock)

    # -- region arrays ---------------------------------------------------------

    def _type(self, name: str) -> MemblockType:
        if name == "memory":
            return self.memblock.memory
        if name == "reserved":
            return self.memblock.reserved
        raise BadInputError(f"memblock type must be 'memory' or 'reserved', not {name!r}")

    def _merge(self, memblock_type: MemblockType, start_rgn: int, end_rgn: int) -> None:
        """``memblock_merge_regions``: 6.12 merges around [start_rgn, end_rgn), 6.1 the
        whole array.  The window gives 6.1's result too: every array here is built by
        these ops, which leave it fully merged, so only pairs around the change can merge."""
        merge_window(memblock_type, start_rgn, end_rgn)

    def _uncovered(self, memblock_type: MemblockType, base: int, end: int, nid: int,
                   flags: int) -> list[tuple[int, int, int]]:
        """The pieces of [base, end) no region covers, as (insert index, base, size);
        records the WARN_ONs memblock_add_range checks against the region above each piece."""
        pieces: list[tuple[int, int, int]] = []
        regions = memblock_type.regions
        idx = first_ending_after(regions, base)
        while idx < len(regions):
            rbase = regions[idx].base
            if rbase >= end:
                break
            if rbase > base:
                self._warn_overlap(regions[idx], nid, flags)
                pieces.append((idx + len(pieces), base, rbase - base))
            base = min(rbase + regions[idx].size, end)
            idx += 1
        if base < end:
            pieces.append((idx + len(pieces), base, end - base))
        return pieces

    def _warn_overlap(self, region: MemblockRegion, nid: int, flags: int) -> None:
        """memblock_add_range's WARN_ONs (CONFIG_NUMA): 7.3 lets MEMBLOCK_NONE cover any flags."""
        if nid != region.nid:
            self.warnings.append("WARN_ON(nid != memblock_get_region_node(rgn));")
        if self.rules.reserve_nid_flags:
            if flags and flags != region.flags:
                self.warnings.append("WARN_ON(flags != MEMBLOCK_NONE && flags != rgn->flags);")
        elif flags != region.flags:
            self.warnings.append("WARN_ON(flags != rgn->flags);")

    def _add_range(self, memblock_type: MemblockType, base: int, size: int, nid: int,
                   flags: int) -> int:
        """``memblock_add_range``: insert only the uncovered pieces, then merge."""
        size = cap_size(base, size)
        if not size:
            return 0
        if is_empty(memblock_type):
            memblock_type.regions[:] = [MemblockRegion(base, size, flags, nid)]
            return 0
        cnt = memblock_type.cnt
        if self.rules.add_range_room_inclusive:
            insert = cnt * 2 + 1 <= memblock_type.max
        else:
            insert = cnt * 2 + 1 < memblock_type.max
        while True:
            pieces = self._uncovered(memblock_type, base, base + size, nid, flags)
            if not pieces:
                return 0
            if insert:
                break
            while memblock_type.cnt + len(pieces) > memblock_type.max:
                if self._double_array(memblock_type, base, size) < 0:
                    return -ENOMEM
            insert = True
        for idx, piece_base, piece_size in pieces:
            memblock_type.regions.insert(idx, MemblockRegion(piece_base, piece_size, flags, nid))
        self._merge(memblock_type, pieces[0][0], pieces[-1][0] + 1)
        return 0

    def _isolate_range(self, memblock_type: MemblockType, base: int,
                       size: int) -> tuple[int, int, int]:
        """``memblock_isolate_range``: (ret, start_rgn, end_rgn) of the regions inside."""
        size = cap_size(base, size)
        end = base + size
        if not size:
            return 0, 0, 0
        while memblock_type.cnt + 2 > memblock_type.max:
            if self._double_array(memblock_type, base, size) < 0:
                return -ENOMEM, 0, 0
        regions = memblock_type.regions
        start_rgn = end_rgn = 0
        idx = first_ending_after(regions, base)
        while idx < len(regions):
            r = regions[idx]
            rbase, rend = r.base, r.base + r.size
            if rbase >= end:
                break
            if rbase < base:
                regions[idx] = MemblockRegion(base, rend - base, r.flags, r.nid)
                regions.insert(idx, MemblockRegion(rbase, base - rbase, r.flags, r.nid))
            elif rend > end:
                regions[idx] = MemblockRegion(end, rend - end, r.flags, r.nid)
                regions.insert(idx, MemblockRegion(rbase, end - rbase, r.flags, r.nid))
                continue
            else:
                if not end_rgn:
                    start_rgn = idx
                end_rgn = idx + 1
            idx += 1
        return 0, start_rgn, end_rgn

    def _remove_range(self, memblock_type: MemblockType, base: int, size: int) -> int:
        ret, start_rgn, end_rgn = self._isolate_range(memblock_type, base, size)
        if ret:
            return ret
        if end_rgn > start_rgn:
            remove_regions(memblock_type, start_rgn, end_rgn, self.rules, self.max_numnodes)
        return 0

    def _double_array(self, memblock_type: MemblockType, new_area_start: int,
                      new_area_size: int) -> int:
        """``memblock_double_array``: the new array is found like any allocation and reserved."""
        old_size = memblock_type.max * REGION_BYTES
        old_alloc_size, new_alloc_size = _page_align(old_size), _page_align(old_size * 2)
        if memblock_type is not self.memblock.reserved:
            new_area_start = new_area_size = 0
        limit = self.memblock.current_limit
        addr = self._find_in_range((new_area_start + new_area_size) & U64_MAX, limit,
                                   new_alloc_size, PAGE_SIZE)
        if not addr and new_area_size:
            addr = self._find_in_range(0, min(new_area_start, limit), new_alloc_size, PAGE_SIZE)
        if not addr:
            return -1
        old_addr = self._array_addr[memblock_type.name]
        self._array_addr[memblock_type.name] = addr
        memblock_type.max *= 2
        if old_addr is not None:
            self.phys_free(old_addr, old_alloc_size)
        # 7.3 reserves the new array with memblock_reserve_kern()
        reserve = self.reserve_kern if self.rules.reserve_nid_flags else self.reserve
        if reserve(addr, new_alloc_size):
            raise AssertionError("memblock_double_array: reserving the new array failed (BUG_ON)")
        return 0

    def _setclr_flag(self, base: int, size: int, flag: int, set_flag: bool) -> int:
        memory = self.memblock.memory
        ret, start_rgn, end_rgn = self._isolate_range(memory, base, size)
        if ret:
            return ret
        for i in range(start_rgn, end_rgn):
            r = memory.regions[i]
            flags = r.flags | flag if set_flag else r.flags & ~flag
            memory.regions[i] = MemblockRegion(r.base, r.size, flags, r.nid)
        self._merge(memory, start_rgn, end_rgn)
        return 0

    # -- public API (named after the kernel functions) ---------------------------

    def add(self, base: int, size: int) -> int:
        return self._add_range(self.memblock.memory, base, size, self.max_numnodes, 0)

    def add_node(self, base: int, size: int, nid: int, flags: int) -> int:
        return self._add_range(self.memblock.memory, base, size, nid, flags)

    def reserve(self, base: int, size: int) -> int:
        """``memblock_reserve``: MAX_NUMNODES, or 7.3's ``__memblock_reserve(.., NUMA_NO_NODE, 0)``."""
        nid = NUMA_NO_NODE if self.rules.reserve_nid_flags else self.max_numnodes
        return self._add_range(self.memblock.reserved, base, size, nid, 0)

    def _require(self, has: bool, function: str) -> None:
        if not has:
            raise BadInputError(f"{function}() is not in this kernel's mm/memblock.c")

    def reserve_nid(self, base: int, size: int, nid: int, flags: int) -> int:
        """``__memblock_reserve(base, size, nid, flags)``."""
        self._require(self.rules.reserve_nid_flags, "__memblock_reserve")
        return self._add_range(self.memblock.reserved, base, size, nid, flags)

    def reserve_kern(self, base: int, size: int) -> int:
        """``memblock_reserve_kern``: NUMA_NO_NODE, MEMBLOCK_RSRV_KERN."""
        return self.reserve_nid(base, size, NUMA_NO_NODE, _RSRV_KERN)

    def mark_kho_scratch(self, base: int, size: int) -> int:
        self._require(self.rules.kho_scratch, "memblock_mark_kho_scratch")
        return self._setclr_flag(base, size, _KHO_SCRATCH, True)

    def clear_kho_scratch(self, base: int, size: int) -> int:
        self._require(self.rules.kho_scratch, "memblock_clear_kho_scratch")
        return self._setclr_flag(base, size, _KHO_SCRATCH, False)

    def remove(self, base: int, size: int) -> int:
        return self._remove_range(self.memblock.memory, base, size)

    def phys_free(self, base: int, size: int) -> int:
        return self._remove_range(self.memblock.reserved, base, size)

    def mark_hotplug(self, base: int, size: int) -> int:
        return self._setclr_flag(base, size, int(RegionFlags.HOTPLUG), True)

    def clear_hotplug(self, base: int, size: int) -> int:
        return self._setclr_flag(base, size, int(RegionFlags.HOTPLUG), False)

    def mark_mirror(self, base: int, size: int) -> int:
        """A no-op unless ``kernelcore=mirror`` (mirrored_kernelcore)."""
        if not self.mirrored_kernelcore:
            return 0
        self.system_has_some_mirror = True
        return self._setclr_flag(base, size, _MIRROR, True)

    def mark_nomap(self, base: int, size: int) -> int:
        return self._setclr_flag(base, size, int(RegionFlags.NOMAP), True)

    def set_node(self, base: int, size: int, type: str, nid: int) -> int:
        """``memblock_set_node(base, size, &memblock.<type>, nid)``."""
        memblock_type = self._type(type)
        ret, start_rgn, end_rgn = self._isolate_range(memblock_type, base, size)
        if ret:
            return ret
        for i in range(start_rgn, end_rgn):
            r = memblock_type.regions[i]
            memblock_type.regions[i] = MemblockRegion(r.base, r.size, r.flags, nid)
        self._merge(memblock_type, start_rgn, end_rgn)
        return 0

    def set_bottom_up(self, enable: bool) -> None:
        self.memblock.bottom_up = enable

    def set_current_limit(self, limit: int) -> None:
        self.memblock.current_limit = limit

    def find_in_range_node(self, size: int, align: int, start: int, end: int, nid: int,
                           flags: int = 0) -> int | None:
        return find_in_range_node(self.memblock, self.policy, size, align, start, end,
                                  nid, flags) or None

    def _find_in_range(self, start: int, end: int, size: int, align: int) -> int:
        """``memblock_find_in_range``: any node, mirrored memory first if there is some."""
        flags = _MIRROR if self.system_has_some_mirror else 0
        while True:
            found = find_in_range_node(self.memblock, self.policy, size, align, start, end,
                                       NUMA_NO_NODE, flags)
            if found or not flags & _MIRROR:
                return found
            flags &= ~_MIRROR

    def _try_reserve(self, found: int, size: int, nid: int) -> bool:
        """The allocation's reservation: 7.3 ``__memblock_reserve(found, size, nid, RSRV_KERN)``."""
        if not found:
            return False
        if self.rules.reserve_nid_flags:
            return not self.reserve_nid(found, size, nid, _RSRV_KERN)
        return not self.reserve(found, size)

    def alloc_range_nid(self, size: int, align: int, start: int, end: int, nid: int,
                        exact_nid: bool) -> int | None:
        """``memblock_alloc_range_nid``: node, then (unless exact) any node, then non-mirror."""
        flags = _MIRROR if self.system_has_some_mirror else 0
        if not self.rules.numa_valid_node and nid == self.max_numnodes:
            nid = NUMA_NO_NODE
        if not align:
            align = SMP_CACHE_BYTES
        fallback = self.policy.node_filter(nid) and not exact_nid
        while True:
            found = find_in_range_node(self.memblock, self.policy, size, align, start, end,
                                       nid, flags)
            if self._try_reserve(found, size, nid):
                return found
            if fallback:
                found = find_in_range_node(self.memblock, self.policy, size, align, start,
                                           end, NUMA_NO_NODE, flags)
                if self._try_reserve(found, size, NUMA_NO_NODE):
                    return found
            if not flags & _MIRROR:
                return None
            flags &= ~_MIRROR

    def phys_alloc_range(self, size: int, align: int, start: int, end: int) -> int | None:
        return self.alloc_range_nid(size, align, start, end, NUMA_NO_NODE, False)

    def _alloc_internal(self, size: int, align: int, min_addr: int, max_addr: int, nid: int,
                        exact_nid: bool) -> int | None:
        """``memblock_alloc_internal``: clamp to current_limit; min_addr is only a preference."""
        max_addr = min(max_addr, self.memblock.current_limit)
        found = self.alloc_range_nid(size, align, min_addr, max_addr, nid, exact_nid)
        if found is None and min_addr:
            found = self.alloc_range_nid(size, align, 0, max_addr, nid, exact_nid)
        return found

    def alloc_try_nid(self, size: int, align: int, min_addr: int, max_addr: int,
                      nid: int) -> int | None:
        """``memblock_alloc_try_nid[_raw]`` (zeroing aside, they place identically)."""
        return self._alloc_internal(size, align, min_addr, max_addr, nid, False)

    def alloc_exact_nid_raw(self, size: int, align: int, min_addr: int, max_addr: int,
                            nid: int) -> int | None:
        return self._alloc_internal(size, align, min_addr, max_addr, nid, True)

    def alloc_hugetlb(self, size: int, nid: int, exact_nid: bool) -> int | None:
        """``memblock_alloc_hugetlb``: aligned to its size, never mirrored memory, then any node
        unless exact; reserved RSRV_KERN | RSRV_HUGETLB with the nid that found it."""
        self._require(self.rules.alloc_hugetlb, "memblock_alloc_hugetlb")
        while True:
            found = find_in_range_node(self.memblock, self.policy, size, size, 0, 0, nid, 0)
            if found or not (self.policy.node_filter(nid) and not exact_nid):
                break
            nid = NUMA_NO_NODE
        if not found or self.reserve_nid(found, size, nid, _RSRV_KERN | _RSRV_HUGETLB):
            return None
        return found


__all__ = ["MemblockSim", "PHYS_ADDR_MAX"]
