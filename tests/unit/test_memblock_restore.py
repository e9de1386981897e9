"""Restoring a dump's arrays: exact on both engines, nid and flags included where the kernel keeps them."""
from __future__ import annotations

import pytest

from harness.memblock.engines import KernelEngine, python_engine
from harness.memblock.model import MAX_NUMNODES, NUMA_NO_NODE, MemblockRegion
from harness.memblock.restore import load_regions
from kernels.source import source_tree
from kernels.profile import profile_for

# The shape of a 7.3 boot's first dump (kernel-drift notes, section 2.6): scratch-marked
# low RAM, the kernel image and initrd reserved RSRV_KERN without a node, NODE_DATA on node 0.
MEMORY = [MemblockRegion(0x1000, 0x9e000, 0x40, MAX_NUMNODES),
          MemblockRegion(0x100000, 0xbfee0000, 0, MAX_NUMNODES)]
RESERVED = [MemblockRegion(0x0, 0x10000, 0, MAX_NUMNODES),
            MemblockRegion(0x1000000, 0x3411000, 0x20, MAX_NUMNODES),
            MemblockRegion(0x7ffd4f40, 0x2b0c0, 0x20, 0),
            MemblockRegion(0xbfedd000, 0x103000, 0x20, MAX_NUMNODES)]


def _expected_reserved(series: str) -> list[MemblockRegion]:
    if profile_for(series).profile.memblock.reserve_nid_flags:
        return [MemblockRegion(r.base, r.size, r.flags, NUMA_NO_NODE if r.nid == MAX_NUMNODES else r.nid)
                for r in RESERVED]
    # memblock_reserve() has no flags to give: they are lost, the node is set afterwards
    return [MemblockRegion(r.base, r.size, 0, r.nid) for r in RESERVED]


@pytest.mark.parametrize("series", ["6.12", "7.3"])
def test_restore_round_trips_on_both_engines(series: str) -> None:
    rules = profile_for(series).profile.memblock
    memory = [r if rules.kho_scratch else MemblockRegion(r.base, r.size, 0, r.nid) for r in MEMORY]
    py = python_engine(rules)
    load_regions(py, memory, RESERVED, rules.reserve_nid_flags)
    assert py.state().memory.regions == memory
    assert py.state().reserved.regions == _expected_reserved(series)
    with KernelEngine(tree=source_tree(series)) as kernel:
        load_regions(kernel, memory, RESERVED, kernel.api.reserve_nid)
        assert kernel.state() == py.state()
        # the restored flags and nids decide what the next allocation merges with
        assert kernel.alloc_try_nid(0x1000, 0x1000, 0, 0, NUMA_NO_NODE) == py.alloc_try_nid(
            0x1000, 0x1000, 0, 0, NUMA_NO_NODE)
        assert kernel.state() == py.state()
