"""The memblock op trace format: JSON round trip, bad input, the driver's line form."""
from __future__ import annotations

import pytest

from harness.errors import BadInputError
from harness.memblock import ops as ops
from harness.memblock.sim import MemblockSim

SAMPLES: list[ops.Op] = [
    ops.AddNode(0x1000, 0x9f000, 0, 1), ops.SetNode(0, 1 << 32, "reserved", 2),
    ops.SetBottomUp(True), ops.AllocRangeNid(4096, 4096, 0, 0, -1, True),
    ops.FindInRangeNode(64, 64, 0, 1 << 30, 1), ops.ReserveNid(0x1000, 0x1000, -1, 0x20),
    ops.ReserveKern(0x2000, 0x1000), ops.MarkKhoScratch(0, 1 << 20), ops.ClearKhoScratch(0, 1 << 20),
    ops.AllocHugetlb(1 << 21, 1, False),
]


@pytest.mark.parametrize("op", SAMPLES, ids=lambda op: type(op).__name__)
def test_json_round_trip(op: ops.Op) -> None:
    assert ops.from_json(ops.to_json(op)) == op


def test_driver_line_form() -> None:
    assert ops.to_line(ops.AllocRangeNid(4096, 4096, 0, 0, -1, True)) == \
        "alloc_range_nid 4096 4096 0 0 -1 1"
    assert ops.to_line(ops.AllocExactNidRaw(1, 2, 3, 4, 5)) == "alloc_exact_nid 1 2 3 4 5"
    assert ops.to_line(ops.ReserveNid(1, 2, -1, 0xa0)) == "reserve_nid 1 2 -1 160"
    assert ops.to_line(ops.AllocHugetlb(2097152, 0, False)) == "alloc_hugetlb 2097152 0 0"


@pytest.mark.parametrize("data, message", [
    ({"op": "frobnicate"}, "unknown memblock op 'frobnicate'"),
    ({"op": "add", "base": 1}, "lacks key 'size'"),
    ({"op": "add", "base": "0x10", "size": 1}, "add.base: expected an integer"),
    ({"op": "set_node", "base": 0, "size": 1, "type": "physmem", "nid": 0}, "'memory' or"),
])
def test_bad_json_names_the_problem(data: dict[str, object], message: str) -> None:
    with pytest.raises(BadInputError, match=message) as info:
        ops.from_json(data, where="trace.json: op 3")
    assert str(info.value).startswith("trace.json: op 3")


def test_apply_dispatches_to_the_engine() -> None:
    sim = MemblockSim("6.12")
    assert ops.apply(sim, ops.Add(0x100000, 0x100000)) == 0
    assert ops.apply(sim, ops.PhysAllocRange(0x1000, 0x1000, 0, 0)) == 0x1ff000
    assert ops.apply(sim, ops.SetBottomUp(True)) is None
    assert sim.memblock.bottom_up


def test_7_3_reservations_carry_nid_and_flags() -> None:
    """Plain reserve: NUMA_NO_NODE, no flags; allocations: RSRV_KERN with their nid; hugetlb 0xa0."""
    sim = MemblockSim("7.3")
    assert ops.apply(sim, ops.AddNode(0, 1 << 30, 0, 0)) == 0
    assert ops.apply(sim, ops.Reserve(0, 0x1000)) == 0
    assert ops.apply(sim, ops.AllocTryNid(0x1000, 0x1000, 0, 0, 0)) == (1 << 30) - 0x1000
    assert ops.apply(sim, ops.AllocHugetlb(1 << 21, 0, True)) == (1 << 30) - (1 << 22)
    assert [(r.flags, r.nid) for r in sim.memblock.reserved.regions] == [(0, -1), (0xa0, 0), (0x20, 0)]
