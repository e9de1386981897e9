"""What mm/memblock.c does differently in 6.12 and 7.3, each shown by the smallest op sequence.

Every case runs on the Python port (following each series' profile) and on the kernel
engine built from that series' own source tree; both must give the expected results,
reserved array and warnings, which were read off the two sources (7.3: __memblock_reserve
with nid/flags, MEMBLOCK_RSRV_KERN on allocations, the relaxed add_range WARN_ON,
should_skip_region's KHO scratch test).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from harness.memblock import ops as ops
from harness.memblock.engines import KernelEngine, python_engine
from harness.memblock.model import Memblock
from harness.memblock.ops import Engine
from kernels.source import source_tree

M = 1 << 20
NO_NODE, MAX = -1, 1024
KERN = 0x20
Region = tuple[int, int, int, int]  # base, size, flags, nid
NID_WARN = "WARN_ON(nid != memblock_get_region_node(rgn));"
# series → an engine and the list its WARN_ONs go to
Factory = Callable[[str], tuple[Engine, list[str]]]


@dataclass(frozen=True)
class Case:
    ops: tuple[ops.Op, ...]
    results: dict[str, tuple[int | None, ...]]
    reserved: dict[str, tuple[Region, ...]]
    warnings: dict[str, tuple[str, ...]]


CASES = {
    # memblock_reserve(): MAX_NUMNODES (6.12) → __memblock_reserve(.., NUMA_NO_NODE, 0)
    "plain reserve has no node": Case(
        (ops.Add(0, 16 * M), ops.Reserve(M, 4096)),
        {"6.12": (0, 0), "7.3": (0, 0)},
        {"6.12": ((M, 4096, 0, MAX),), "7.3": ((M, 4096, 0, NO_NODE),)},
        {"6.12": (), "7.3": ()}),
    # an allocation reserves RSRV_KERN with its nid: it no longer merges with a plain reserve
    "allocation beside a reserve": Case(
        (ops.AddNode(0, 16 * M, 0, 0), ops.Reserve(15 * M, M), ops.AllocTryNid(4096, 4096, 0, 0, 0)),
        {"6.12": (0, 0, 15 * M - 4096), "7.3": (0, 0, 15 * M - 4096)},
        {"6.12": ((15 * M - 4096, M + 4096, 0, MAX),),
         "7.3": ((15 * M - 4096, 4096, KERN, 0), (15 * M, M, 0, NO_NODE))},
        {"6.12": (), "7.3": ()}),
    # nor with an allocation on another node
    "allocations on two nodes": Case(
        (ops.AddNode(0, 8 * M, 0, 0), ops.AddNode(8 * M, 8 * M, 1, 0),
         ops.AllocTryNid(8 * M, 4096, 0, 0, 1), ops.AllocTryNid(4096, 4096, 0, 0, 0)),
        {"6.12": (0, 0, 8 * M, 8 * M - 4096), "7.3": (0, 0, 8 * M, 8 * M - 4096)},
        {"6.12": ((8 * M - 4096, 8 * M + 4096, 0, MAX),),
         "7.3": ((8 * M - 4096, 4096, KERN, 0), (8 * M, 8 * M, KERN, 1))},
        {"6.12": (), "7.3": ()}),
    # the fallback to any node reserves with memblock_reserve_kern(): NUMA_NO_NODE
    "fallback allocation": Case(
        (ops.AddNode(0, 16 * M, 0, 0), ops.AllocTryNid(4096, 4096, 0, 0, 1)),
        {"6.12": (0, 16 * M - 4096), "7.3": (0, 16 * M - 4096)},
        {"6.12": ((16 * M - 4096, 4096, 0, MAX),), "7.3": ((16 * M - 4096, 4096, KERN, NO_NODE),)},
        {"6.12": (), "7.3": ()}),
    # a plain reserve reaching into an allocation: a separate region, and a nid WARN_ON in 7.3
    "reserve over an allocation": Case(
        (ops.AddNode(0, 16 * M, 0, 0), ops.AllocTryNid(8192, 4096, 0, 0, 0),
         ops.Reserve(16 * M - 12288, 8192)),
        {"6.12": (0, 16 * M - 8192, 0), "7.3": (0, 16 * M - 8192, 0)},
        {"6.12": ((16 * M - 12288, 12288, 0, MAX),),
         "7.3": ((16 * M - 12288, 4096, 0, NO_NODE), (16 * M - 8192, 8192, KERN, 0))},
        {"6.12": (), "7.3": (NID_WARN,)}),
    # numa init resets reserved nids to NUMA_NO_NODE: later plain reserves merge only in 7.3
    "reserve after the numa reset": Case(
        (ops.Add(0, 16 * M), ops.Reserve(M, 4096), ops.SetNode(0, (1 << 64) - 1, "reserved", NO_NODE),
         ops.Reserve(M + 4096, 4096)),
        {"6.12": (0, 0, 0, 0), "7.3": (0, 0, 0, 0)},
        {"6.12": ((M, 4096, 0, NO_NODE), (M + 4096, 4096, 0, MAX)), "7.3": ((M, 8192, 0, NO_NODE),)},
        {"6.12": (), "7.3": ()}),
    # should_skip_region: a MEMBLOCK_KHO_SCRATCH request finds only scratch memory in 7.3
    "search for KHO scratch": Case(
        (ops.Add(0, 16 * M), ops.FindInRangeNode(4096, 4096, 0, 0, NO_NODE, 0x40)),
        {"6.12": (0, 16 * M - 4096), "7.3": (0, None)},
        {"6.12": (), "7.3": ()},
        {"6.12": (), "7.3": ()}),
}


def _reserved(state: Memblock) -> tuple[Region, ...]:
    return tuple((r.base, r.size, r.flags, r.nid) for r in state.reserved.regions)


@pytest.fixture(params=["python", "kernel"])
def engine_of(request: pytest.FixtureRequest) -> Iterator[Factory]:
    opened: list[KernelEngine] = []

    def make(series: str) -> tuple[Engine, list[str]]:
        if request.param == "python":
            py = python_engine(series)
            return py, py.warnings
        kernel = KernelEngine(tree=source_tree(series))
        opened.append(kernel)
        return kernel, kernel.warnings

    yield make
    for kernel in opened:
        kernel.close()


@pytest.mark.parametrize("series", ["6.12", "7.3"])
@pytest.mark.parametrize("name", list(CASES))
def test_drift_case(engine_of: Factory, series: str, name: str) -> None:
    case = CASES[name]
    engine, warnings = engine_of(series)
    assert tuple(ops.apply(engine, op) for op in case.ops) == case.results[series]
    assert _reserved(engine.state()) == case.reserved[series]
    assert tuple(warnings) == case.warnings[series]


def test_the_cases_differ_between_the_series() -> None:
    """Each case shows a difference; one that stopped differing belongs elsewhere."""
    for name, case in CASES.items():
        assert (case.results["6.12"], case.reserved["6.12"], case.warnings["6.12"]) != (
            case.results["7.3"], case.reserved["7.3"], case.warnings["7.3"]), name
