"""The NUMA initialisation memblock=debug does not log, rebuilt from the SRAT lines.

x86 numa_init (6.1 arch/x86/mm/numa.c; 6.12 mm/numa_memblks.c:numa_memblks_init)
resets every region's node, clears HOTPLUG, marks each hotpluggable SRAT range
(drivers/acpi/numa/srat.c:acpi_numa_memory_affinity_init), goes top-down, trims and
merges the SRAT blocks (numa_cleanup_meminfo) and registers them
(numa_register_memblks; 6.12 numa_register_meminfo): set_node on memory, then
numa_clear_kernel_node_hotplug.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.memblock.model import (
    MAX_NUMNODES,
    NUMA_NO_NODE,
    Memblock,
    memblock_rules,
    nid_is_valid,
)
from harness.memblock.ops import Engine
from harness.units import hex_range
from kernels.profile import MemblockRules

U64_MAX = (1 << 64) - 1


@dataclass(frozen=True, kw_only=True)
class SratMemory:
    """One SRAT memory affinity range, as drivers/acpi/numa/srat.c:
    acpi_numa_memory_affinity_init reads and prints it: [start, end) on ``node``, the
    proximity domain ``pxm`` where known, and the hotplug and non-volatile marks."""

    node: int
    pxm: int | None = None
    start: int
    end: int
    hotplug: bool = False
    non_volatile: bool = False

    @property
    def size(self) -> int:
        return self.end - self.start

    def words(self) -> str:
        """``node 1 PXM 1 [mem 0x350000000-0x44fffffff] hotplug``, as the kernel's
        ``SRAT: Node …`` line says it."""
        return f"node {self.node} PXM {self.pxm} [mem {hex_range(self.start, self.end)}]" + (
            " hotplug" if self.hotplug else "")


@dataclass(frozen=True)
class NumaMemblk:
    """``struct numa_memblk``: one SRAT block after numa_cleanup_meminfo; end exclusive."""

    start: int
    end: int
    nid: int


def _overlaps_memory(state: Memblock, start: int, end: int) -> bool:
    return any(r.overlaps(start, end) for r in state.memory.regions if r.size)


def _merge_same_nid(blks: list[NumaMemblk]) -> list[NumaMemblk]:
    """Join same-node blocks whose joined span overlaps no other node's block."""
    i = 0
    while i < len(blks):
        j = i + 1
        while j < len(blks):
            bi, bj = blks[i], blks[j]
            start, end = min(bi.start, bj.start), max(bi.end, bj.end)
            clash = any(bk.nid != bi.nid and start < bk.end and end > bk.start for bk in blks)
            if bi.nid != bj.nid or clash:
                j += 1
                continue
            blks[i] = NumaMemblk(start, end, bi.nid)
            del blks[j]
        i += 1
    return blks


def cleanup_meminfo(srat: Sequence[SratMemory], state: Memblock,
                    kernel: MemblockRules | str) -> list[NumaMemblk]:
    """``numa_cleanup_meminfo``: drop blocks without RAM, trim to DRAM, merge same nodes."""
    memory = [r for r in state.memory.regions if r.size]
    # 6.1 trims to [0, max_pfn); 6.12 to [start, end) of DRAM.
    low = memory[0].base if memory and memblock_rules(kernel).numa_memblks else 0
    high = max((r.end for r in memory), default=0)
    blks: list[NumaMemblk] = []
    for line in srat:
        if not _overlaps_memory(state, line.start, line.end):
            continue
        start, end = max(line.start, low), min(line.end, high)
        if start < end:
            blks.append(NumaMemblk(start, end, line.node))
    return _merge_same_nid(blks)


def numa_reset(engine: Engine, kernel: MemblockRules | str) -> None:
    """numa_init's first step: every region loses its node, nothing is hotpluggable."""
    nid = NUMA_NO_NODE if memblock_rules(kernel).numa_memblks else MAX_NUMNODES
    engine.set_node(0, U64_MAX, "memory", nid)
    engine.set_node(0, U64_MAX, "reserved", nid)
    engine.clear_hotplug(0, U64_MAX)


def _mask_nid(nid: int, rules: MemblockRules) -> bool:
    # 6.1 tests nid != MAX_NUMNODES; 6.12 numa_valid_node().
    return nid_is_valid(nid) if rules.numa_valid_node else nid != MAX_NUMNODES


def numa_register(engine: Engine, blks: Sequence[NumaMemblk],
                  kernel: MemblockRules | str) -> set[int]:
    """Top-down again, set_node per block, numa_clear_kernel_node_hotplug; the pinned nodes."""
    engine.set_bottom_up(False)
    for blk in blks:
        engine.set_node(blk.start, blk.end - blk.start, "memory", blk.nid)
    for blk in blks:
        engine.set_node(blk.start, blk.end - blk.start, "reserved", blk.nid)
    rules = memblock_rules(kernel)
    pinned = {r.nid for r in engine.state().reserved.regions if _mask_nid(r.nid, rules)}
    for blk in blks:
        if blk.nid in pinned:
            engine.clear_hotplug(blk.start, blk.end - blk.start)
    return pinned
