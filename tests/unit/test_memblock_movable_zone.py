"""ZONE_MOVABLE starts from the command line, read as the kernel reads it."""
from __future__ import annotations

import pytest

from harness.memblock.model import Memblock, MemblockRegion, MemblockType, RegionFlags
from harness.memblock.movable_zone import movable_starts

G = 1 << 30


def _two_nodes(hotplug_node_1: bool = False) -> Memblock:
    """Node 0 below 4 GiB (kernel zones only), node 1 [4G, 6G): 4 GiB - 4 KiB in all."""
    flags = RegionFlags.HOTPLUG if hotplug_node_1 else RegionFlags.NONE
    memory = MemblockType("memory", [MemblockRegion(0x1000, 2 * G - 0x1000, 0, 0),
                                     MemblockRegion(4 * G, 2 * G, int(flags), 1)])
    return Memblock(memory=memory)


@pytest.mark.parametrize(("cmdline", "starts"), [
    ("", {}),
    # 2G over two nodes: node 0 spends its 1G below 4G, node 1 keeps [4G, 5G).
    ("kernelcore=2G", {1: 5 * G}),
    ("kernelcore=2g", {1: 5 * G}),
    ("kernelcore=0x80000000", {1: 5 * G}),
    ("kernelcore=2097152K", {1: 5 * G}),
    # 25% of 4G - 4K: 512M - 512 per node, rounded up to 4 MiB.
    ("kernelcore=25%", {1: 4 * G + G // 2}),
    ("kernelcore=2G kernelcore=25%", {1: 4 * G + G // 2}),  # the percentage wins
    ("kernelcore=25% kernelcore=2G", {1: 5 * G}),  # a size clears the percentage
    ("kernelcore=2G kernelcore=0%", {1: 5 * G}),  # 0% is no percentage: the size stays
    ("kernelcore=1G kernelcore=2G", {1: 5 * G}),  # the last size
    ("movablecore=1G", {1: 5 * G + G // 2}),  # kernelcore = total - 1G: 1.5G per node
    ("movablecore=75%", {1: 4 * G + G // 2}),
    ("kernelcore", {}),  # no value: cmdline_parse_core refuses it
    ("-- kernelcore=2G", {}),  # init's argument
])
def test_kernelcore_and_movablecore_sizes_and_percentages(cmdline: str, starts: dict[int, int]) -> None:
    assert movable_starts(_two_nodes(), cmdline) == starts


@pytest.mark.parametrize("cmdline", ["movable_node", "movable_node=1", "movable-node", "quiet movable_node"])
def test_movable_node_ignores_kernelcore_and_starts_at_the_hotplug_ranges(cmdline: str) -> None:
    assert movable_starts(_two_nodes(hotplug_node_1=True), f"{cmdline} kernelcore=2G") == {1: 4 * G}
    assert movable_starts(_two_nodes(hotplug_node_1=False), f"{cmdline} kernelcore=2G") == {}


def test_movable_node_after_a_double_dash_is_init_s() -> None:
    assert movable_starts(_two_nodes(hotplug_node_1=True), "kernelcore=2G -- movable_node") == {1: 5 * G}
