"""ZONE_MOVABLE starts from the command line, read and computed as the kernel does
(find_zone_movable_pfns_for_nodes, 6.1 mm/page_alloc.c and 6.12 mm/mm_init.c)."""
from __future__ import annotations

import pytest

from harness.memblock.model import Memblock, MemblockRegion, MemblockType, RegionFlags
from harness.memblock.movable_zone import (
    NO_MIRROR_WARNING,
    UNMIRRORED_WARNING,
    CoreRequest,
    core_request,
    find_zone_movable_pfns_for_nodes,
    movable_starts,
    movable_zone,
)

G = 1 << 30
M = 1 << 20
BOTH = ["6.1", "6.12"]


def _two_nodes(hotplug_node_1: bool = False, mirror_node_1: bool = False) -> Memblock:
    """Node 0 below 4 GiB (kernel zones only) [4K, 512M), node 1 [4G, 6G): 2.5 GiB - 4 KiB."""
    flags = (RegionFlags.HOTPLUG if hotplug_node_1 else RegionFlags.NONE) | (
        RegionFlags.MIRROR if mirror_node_1 else RegionFlags.NONE)
    memory = MemblockType("memory", [MemblockRegion(0x1000, G // 2 - 0x1000, 0, 0),
                                     MemblockRegion(4 * G, 2 * G, int(flags), 1)])
    return Memblock(memory=memory)


# Worked by hand from the source: kernelcore=2G is 1G per node; node 0 has only
# 512M - 4K (all below usable_startpfn = 4G, where ZONE_NORMAL begins), node 1 takes its
# 1G; 512M + 4K are still required, so the restart gives them to node 1 alone:
# 4G + 1.5G + 4K, rounded up to MAX_ORDER_NR_PAGES (4 MiB).
KC_2G = {1: 0x160400000}
# 25% of 655359 pages is 163839 (640M - 4K); node 0 counts 512M - 4K of it, leaving
# 128M for node 1 in two halves: per-node share recomputed, then the restart.
KC_25 = {1: 4 * G + 128 * M}


@pytest.mark.parametrize("version", BOTH)
@pytest.mark.parametrize(("cmdline", "starts"), [
    ("", {}),
    ("kernelcore=2G", KC_2G),
    ("kernelcore=2g", KC_2G),
    ("kernelcore=0x80000000", KC_2G),
    ("kernelcore=2097152K", KC_2G),
    ("kernelcore=25%", KC_25),
    ("kernelcore=2G kernelcore=25%", KC_25),  # the percentage wins
    ("kernelcore=25% kernelcore=2G", KC_2G),  # a size clears the percentage
    ("kernelcore=2G kernelcore=0%", KC_2G),  # 0% is no percentage: the size stays
    ("kernelcore=1G kernelcore=2G", KC_2G),  # the last size
    ("kernelcore=1G", {1: 4 * G + G // 2}),  # no restart: 1 page left is not > 1 node
    # movablecore=1G leaves 1.5G - 4K of kernelcore: node 1 ends at exactly 5G.
    ("movablecore=1G", {1: 5 * G}),
    ("movablecore=75%", KC_25),
    ("movablecore=1025K", {1: 6 * G - 4 * M}),  # 256 pages rounded up to 1024
    ("kernelcore=2G movablecore=1G", KC_2G),  # the larger kernelcore wins
    ("kernelcore=1G movablecore=1G", {1: 5 * G}),
    ("kernelcore=150%", {}),  # more than totalpages: no ZONE_MOVABLE
    ("movablecore=150%", {}),  # all of memory movable leaves kernelcore 0: none either
    ("kernelcore", {}),  # no value: cmdline_parse_core refuses it
    ("-- kernelcore=2G", {}),  # init's argument
])
def test_kernelcore_and_movablecore_sizes_and_percentages(cmdline: str, starts: dict[int, int],
                                                          version: str) -> None:
    assert movable_starts(_two_nodes(), cmdline, version) == starts


@pytest.mark.parametrize("version", BOTH)
@pytest.mark.parametrize("cmdline", ["movable_node", "movable_node=1", "movable-node", "quiet movable_node"])
def test_movable_node_ignores_kernelcore_and_starts_at_the_hotplug_ranges(cmdline: str,
                                                                          version: str) -> None:
    assert movable_starts(_two_nodes(hotplug_node_1=True), f"{cmdline} kernelcore=2G", version) == {1: 4 * G}
    assert movable_starts(_two_nodes(hotplug_node_1=False), f"{cmdline} kernelcore=2G", version) == {}
    assert movable_starts(_two_nodes(hotplug_node_1=True), f"{cmdline} movablecore=75%", version) == {1: 4 * G}


@pytest.mark.parametrize("version", BOTH)
def test_movable_node_after_a_double_dash_is_init_s(version: str) -> None:
    assert movable_starts(_two_nodes(hotplug_node_1=True), "kernelcore=2G -- movable_node", version) == KC_2G


def test_the_issue_s_four_node_boot() -> None:
    """Issue 13's 6.12 boot, 4 nodes x 1.5G on QEMU's e820 (3G below 4 GiB), kernelcore=4G:
    the kernel logged Node 2: 0x140400000, Node 3: 0x160400000."""
    low, node = 3 * G - 128 * 1024, 1536 * M
    regions = [MemblockRegion(0x1000, 0x9e000, 0, 0), MemblockRegion(M, node - M, 0, 0),
               MemblockRegion(node, low - node, 0, 1), MemblockRegion(4 * G, node, 0, 2),
               MemblockRegion(4 * G + node, node, 0, 3)]
    zone = find_zone_movable_pfns_for_nodes(regions, core_request("kernelcore=4G"), "6.12")
    assert zone.starts == {2: 0x140400000, 3: 0x160400000} and zone.movable_zone == "Normal"


def test_below_4g_only_movable_comes_out_of_dma32() -> None:
    """No ZONE_NORMAL (max_low_pfn = 2G): find_usable_zone_for_movable picks DMA32, whose
    lowest pfn (16 MiB) is usable_startpfn."""
    regions = [MemblockRegion(0x1000, G - 0x1000, 0, 0), MemblockRegion(G, G, 0, 1)]
    zone = find_zone_movable_pfns_for_nodes(regions, core_request("kernelcore=1G"), "6.1")
    # 512M per node; node 0's 16M - 4K of DMA count towards its share, so its kernel
    # memory ends at 512M + 4K (it starts at 4K), rounded up to 516M.
    assert zone.movable_zone == "DMA32"
    assert zone.starts == {0: G // 2 + 4 * M, 1: G + G // 2}


def test_kernelcore_mirror_differs_between_6_1_and_6_12() -> None:
    """No mirrored memory: 6.12 ignores kernelcore=mirror with a warning; 6.1 makes each
    node's lowest non-mirrored memory at or above 4 GiB movable and warns about node 0."""
    old = movable_zone(_two_nodes(), "kernelcore=mirror movablecore=1G", "6.1")
    new = movable_zone(_two_nodes(), "kernelcore=mirror movablecore=1G", "6.12")
    assert (old.starts, old.warnings) == ({1: 4 * G}, (UNMIRRORED_WARNING,))
    assert (new.starts, new.warnings) == ({}, (NO_MIRROR_WARNING,))
    # With node 1 mirrored, both find only node 0's unmirrored memory below 4 GiB.
    for version in BOTH:
        zone = movable_zone(_two_nodes(mirror_node_1=True), "kernelcore=mirror", version)
        assert (zone.starts, zone.warnings) == ({}, (UNMIRRORED_WARNING,))


def test_movable_node_rounds_an_unaligned_base_differently() -> None:
    """6.1 takes PFN_DOWN(r->base), 6.12 PFN_UP: visible after the 4 MiB roundup only when
    the base sits on a MAX_ORDER boundary plus a part of a page."""
    regions = [MemblockRegion(0x1000, G, 0, 0), MemblockRegion(4 * G, 0x800, int(RegionFlags.HOTPLUG), 1),
               MemblockRegion(4 * G + 0x800, G, int(RegionFlags.HOTPLUG), 1)]
    request = CoreRequest(movable_node=True)
    assert find_zone_movable_pfns_for_nodes(regions[::2], request, "6.1").starts == {1: 4 * G}
    assert find_zone_movable_pfns_for_nodes(regions[::2], request, "6.12").starts == {1: 4 * G + 4 * M}


@pytest.mark.parametrize(("cmdline", "request_"), [
    ("kernelcore=mirror", CoreRequest(mirrored_kernelcore=True)),
    ("kernelcore=1G kernelcore=mirror", CoreRequest(required_kernelcore=G >> 12, mirrored_kernelcore=True)),
    ("kernelcore=mirrors", CoreRequest()),  # not the option: memparse reads no digits, 0
    ("kernelcore=0x10% movablecore=3G", CoreRequest(required_kernelcore_percent=16,
                                                    required_movablecore=3 * G >> 12)),
])
def test_core_request_reads_the_statics_as_the_handlers_leave_them(cmdline: str, request_: CoreRequest) -> None:
    assert core_request(cmdline) == request_
