"""Rebuild memblock arrays a ``MEMBLOCK configuration`` dump printed, through ordinary ops.

A dump prints ``on node N`` only for valid nodes and ``flags: X`` for every region. Where
reservations carry a node and flags (``MemblockRules.reserve_nid_flags``) the reserved
regions are restored with ``__memblock_reserve(base, size, nid, flags)``, a region printed
without a node getting NUMA_NO_NODE as memblock_reserve()/memblock_reserve_kern() give it;
before that, memblock_reserve() stores MAX_NUMNODES and only the node can be set afterwards
(memblock_set_node), the flags of a reserved region being always 0 there.
"""
from __future__ import annotations

from collections.abc import Iterable

from harness.memblock.model import MAX_NUMNODES, NUMA_NO_NODE, MemblockRegion, nid_is_valid
from harness.memblock.ops import Engine


def load_regions(engine: Engine, memory: Iterable[MemblockRegion],
                 reserved: Iterable[MemblockRegion], reserve_nid_flags: bool) -> None:
    """Add ``memory`` and reserve ``reserved`` on an engine whose arrays are empty."""
    for region in memory:
        if region.size:
            engine.add_node(region.base, region.size, region.nid, region.flags)
    for region in reserved:
        if not region.size:
            continue
        if reserve_nid_flags:
            nid = region.nid if nid_is_valid(region.nid) else NUMA_NO_NODE
            engine.reserve_nid(region.base, region.size, nid, region.flags)
            continue
        engine.reserve(region.base, region.size)
        if region.nid != MAX_NUMNODES:
            engine.set_node(region.base, region.size, "reserved", region.nid)
