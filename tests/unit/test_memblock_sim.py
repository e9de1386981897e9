"""The Python memblock port on cases from the kernel's tools/testing/memblock/tests/*.c."""
from __future__ import annotations

import pytest

from harness.memblock.model import MemblockRegion, RegionFlags
from harness.memblock.sim import MemblockSim

SZ_1M, SZ_2M, SZ_256M, SZ_512M, SZ_1G = 1 << 20, 2 << 20, 256 << 20, 512 << 20, 1 << 30
NOWHERE = 1024  # MAX_NUMNODES: what memblock_add/reserve store
V61, V612 = "6.1", "6.12"
BOTH = pytest.mark.parametrize("version", [V61, V612], ids=["6.1", "6.12"])


def spans(regions: list[MemblockRegion]) -> list[tuple[int, int]]:
    return [(r.base, r.size) for r in regions]


def test_empty_arrays_61_dummy_612_none() -> None:
    assert MemblockSim(V61).memblock.memory.regions == [MemblockRegion(0, 0, 0, 0)]
    assert MemblockSim(V612).memblock.reserved.regions == []


@BOTH
def test_add_overlap_top_merges(version: str) -> None:
    """basic_api.c memblock_add_overlap_top_check."""
    sim = MemblockSim(version)
    sim.add(SZ_512M, SZ_1G)
    sim.add(SZ_256M, SZ_512M)
    assert spans(sim.memblock.memory.regions) == [(SZ_256M, SZ_256M + SZ_1G)]


@BOTH
def test_add_near_max_caps_size(version: str) -> None:
    """basic_api.c memblock_add_near_max_check."""
    sim = MemblockSim(version)
    base = (1 << 64) - 1 - SZ_1M
    sim.add(base, SZ_2M)
    assert spans(sim.memblock.memory.regions) == [(base, SZ_1M)]


@BOTH
def test_add_between_merges_three(version: str) -> None:
    """basic_api.c memblock_reserve_between_check, on memory."""
    sim = MemblockSim(version)
    sim.add(SZ_1G, SZ_256M)
    sim.add(SZ_1G + SZ_512M, SZ_256M)
    sim.add(SZ_1G + SZ_256M, SZ_256M)
    assert spans(sim.memblock.memory.regions) == [(SZ_1G, 3 * SZ_256M)]


@BOTH
def test_add_node_keeps_overlapped_region_and_inserts_gaps(version: str) -> None:
    sim = MemblockSim(version)
    sim.add_node(SZ_1G, SZ_256M, 1, 0)
    sim.add_node(SZ_512M, SZ_1G, 2, int(RegionFlags.HOTPLUG))
    assert sim.memblock.memory.regions == [
        MemblockRegion(SZ_512M, SZ_512M, 1, 2),
        MemblockRegion(SZ_1G, SZ_256M, 0, 1),
        MemblockRegion(SZ_1G + SZ_256M, SZ_256M, 1, 2),
    ]


@BOTH
def test_reserve_does_not_merge_across_nids(version: str) -> None:
    sim = MemblockSim(version)
    sim.reserve(SZ_1G, SZ_1M)
    sim.set_node(0, SZ_1G + SZ_1M, "reserved", 0)
    sim.reserve(SZ_1G + SZ_1M, SZ_1M)
    assert [(r.base, r.nid) for r in sim.memblock.reserved.regions] == [
        (SZ_1G, 0), (SZ_1G + SZ_1M, NOWHERE)]


@BOTH
def test_remove_splits_region(version: str) -> None:
    """basic_api.c memblock_remove_within_check."""
    sim = MemblockSim(version)
    sim.add(SZ_1G, SZ_1G)
    sim.remove(SZ_1G + SZ_256M, SZ_256M)
    assert spans(sim.memblock.memory.regions) == [(SZ_1G, SZ_256M), (SZ_1G + SZ_512M, SZ_512M)]


def test_free_everything_leaves_61_dummy_with_max_numnodes() -> None:
    sim = MemblockSim(V61)
    sim.reserve(SZ_1G, SZ_1M)
    sim.phys_free(0, SZ_2M + SZ_1G)
    assert sim.memblock.reserved.regions == [MemblockRegion(0, 0, 0, NOWHERE)]


@BOTH
def test_alloc_top_down_first_fit_from_the_top(version: str) -> None:
    """alloc_api.c alloc_top_down_before_check: the highest gap that fits, not the best one."""
    sim = MemblockSim(version)
    sim.add(SZ_1G, SZ_1G)
    sim.reserve(2 * SZ_1G - SZ_1M, SZ_1M)
    assert sim.phys_alloc_range(SZ_1M, SZ_1M, 0, 0) == 2 * SZ_1G - 2 * SZ_1M
    assert sim.memblock.reserved.regions == [MemblockRegion(2 * SZ_1G - 2 * SZ_1M, SZ_2M, 0, NOWHERE)]


@BOTH
def test_alloc_bottom_up_skips_first_page(version: str) -> None:
    """alloc_api.c alloc_bottom_up_simple_check; find_in_range_node raises start to PAGE_SIZE."""
    sim = MemblockSim(version)
    sim.add(0, SZ_1M)
    sim.set_bottom_up(True)
    assert sim.phys_alloc_range(0x1000, 0x1000, 0, 0) == 0x1000


@BOTH
def test_allocation_never_spans_two_regions(version: str) -> None:
    sim = MemblockSim(version)
    sim.add_node(SZ_1G, SZ_1M, 0, 0)
    sim.add_node(SZ_1G + SZ_1M, SZ_1M, 1, 0)
    assert sim.phys_alloc_range(SZ_2M, 0x1000, 0, 0) is None


@BOTH
def test_alloc_try_nid_falls_back_globally(version: str) -> None:
    """alloc_nid_api.c alloc_nid_top_down_numa_no_overlap... : node full → any node, top-down."""
    sim = MemblockSim(version)
    for nid in range(3):
        sim.add_node(nid * SZ_1G, SZ_1G, nid, 0)
    sim.reserve(SZ_1G, SZ_1G)  # node 1 full
    assert sim.alloc_try_nid(SZ_1M, SZ_1M, 0, 0, 1) == 3 * SZ_1G - SZ_1M
    assert sim.alloc_exact_nid_raw(SZ_1M, SZ_1M, 0, 0, 1) is None


@BOTH
def test_hotplug_skipped_only_with_movable_node(version: str) -> None:
    """alloc_nid_api.c: with movable_node hotpluggable memory is not used."""
    for movable, expected in ((False, 2 * SZ_1G - SZ_1M), (True, SZ_1G - SZ_1M)):
        sim = MemblockSim(version, movable_node=movable)
        sim.add_node(0, SZ_1G, 0, 0)
        sim.add_node(SZ_1G, SZ_1G, 1, int(RegionFlags.HOTPLUG))
        assert sim.alloc_try_nid(SZ_1M, SZ_1M, 0, 0, 1) == expected


@BOTH
def test_min_addr_is_a_preference_and_limit_clamps(version: str) -> None:
    """alloc_nid_api.c alloc_nid_*_low_max / cap_max checks."""
    sim = MemblockSim(version)
    sim.add(SZ_1G, SZ_1G)
    sim.set_current_limit(SZ_1G + SZ_512M)
    assert sim.alloc_try_nid(SZ_1M, SZ_1M, 3 * SZ_1G, (1 << 64) - 1, -1) == SZ_1G + SZ_512M - SZ_1M
    assert sim.phys_alloc_range(SZ_1M, SZ_1M, 0, 2 * SZ_1G) == 2 * SZ_1G - SZ_1M


def test_61_max_numnodes_nid_means_any_node_612_means_invalid() -> None:
    for version in (V61, V612):
        sim = MemblockSim(version)
        sim.add_node(0, SZ_1G, 0, 0)
        sim.add_node(SZ_1G, SZ_1G, 1, 0)
        assert sim.find_in_range_node(SZ_1M, SZ_1M, 0, 0, 0) == SZ_1G - SZ_1M
        assert sim.find_in_range_node(SZ_1M, SZ_1M, 0, 0, NOWHERE) == 2 * SZ_1G - SZ_1M


def test_mark_mirror_needs_kernelcore_mirror() -> None:
    off, on = MemblockSim(V612), MemblockSim(V612, mirrored_kernelcore=True)
    for sim in (off, on):
        sim.add(SZ_1G, SZ_1G)
        sim.mark_mirror(SZ_1G, SZ_256M)
    assert [r.flags for r in off.memblock.memory.regions] == [0]
    assert [r.flags for r in on.memblock.memory.regions] == [int(RegionFlags.MIRROR), 0]
    # mirrored memory is tried first, even though it is lower
    assert on.phys_alloc_range(SZ_1M, SZ_1M, 0, 0) == SZ_1G + SZ_256M - SZ_1M


@BOTH
def test_doubling_reserves_the_new_array(version: str) -> None:
    """basic_api.c memblock_add_many_check: the 129th region doubles memory.regions."""
    sim = MemblockSim(version)
    sim.add(SZ_1G, SZ_1G)
    for i in range(129):
        sim.reserve(SZ_1G + i * 2 * SZ_1M, SZ_1M)
    reserved = sim.memblock.reserved
    assert reserved.max == 256
    # 256 regions x 24 bytes, page-aligned, at the top of memory
    assert reserved.regions[-1] == MemblockRegion(2 * SZ_1G - 0x2000, 0x2000, 0, NOWHERE)
