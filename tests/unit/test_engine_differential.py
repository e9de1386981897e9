"""Differential tests: random op sequences through the Python port and the kernel's memblock.c.

For each series, the kernel engine is built from that release's own source tree and the
port follows that release's ``MemblockRules``; both must end with identical arrays
(including ``max``) and give identical results for every op. The trees come from
``kernels.source.source_tree`` (fetched and verified from the Debian archive), so the
test runs wherever the archive answers.
"""
from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.errors import BadInputError
from harness.memblock import ops as ops
from harness.memblock.engines import KernelEngine, python_engine
from harness.memblock.kernel_engine.build import TreeApi, build_replay_driver, tree_api
from kernels.profile import MemblockRules, profile_for
from kernels.source import source_tree

U = 0x1000  # the op universe is in pages so that ranges collide often
MAX_NUMNODES = 1024
SERIES = ("6.1", "6.12", "7.3")
NIDS = st.sampled_from([-1, 0, 1, 2, MAX_NUMNODES])
FLAGS = st.sampled_from([0, 0x1, 0x2, 0x4, 0x1 | 0x2])
# memory flags of a tree with KHO scratch; reserved flags of one with __memblock_reserve
KHO_FLAGS = st.sampled_from([0, 0x1, 0x2, 0x4, 0x40, 0x40 | 0x1])
RSRV_FLAGS = st.sampled_from([0, 0x10, 0x20, 0x80, 0xa0])
ALIGNS = st.sampled_from([64, U, 2 * U, 8 * U])
ADDR = st.integers(0, 256).map(lambda n: n * U)
SIZE = st.integers(1, 64).map(lambda n: n * U)
ALLOC_SIZE = st.integers(1, 16).map(lambda n: n * U)
HUGE_SIZE = st.sampled_from([U, 2 * U, 4 * U, 16 * U, 64 * U])
START = st.sampled_from([0, 0, 32 * U, 128 * U])
LIMIT = st.sampled_from([0, 1, 96 * U, 200 * U, (1 << 64) - 1])


@dataclass(frozen=True)
class Kernel:
    series: str
    tree: Path
    api: TreeApi
    rules: MemblockRules


@pytest.fixture(scope="module", params=SERIES)
def kernel(request: pytest.FixtureRequest) -> Iterator[Kernel]:
    series: str = request.param
    tree = source_tree(series)
    build_replay_driver(tree)
    yield Kernel(series, tree, tree_api(tree), profile_for(series).profile.memblock)


def test_profile_matches_the_tree(kernel: Kernel) -> None:
    """The profile row the port follows says what the tree's memblock.h declares."""
    assert (kernel.rules.reserve_nid_flags, kernel.rules.kho_scratch, kernel.rules.alloc_hugetlb) == (
        kernel.api.reserve_nid, kernel.api.kho_scratch, kernel.api.alloc_hugetlb)


def _range_ops(api: TreeApi) -> st.SearchStrategy[ops.Op]:
    memory_flags = KHO_FLAGS if api.kho_scratch else FLAGS
    common: list[st.SearchStrategy[ops.Op]] = [
        st.builds(ops.Add, ADDR, SIZE),
        st.builds(ops.AddNode, ADDR, SIZE, NIDS, memory_flags),
        st.builds(ops.Reserve, ADDR, SIZE),
        st.builds(ops.Remove, ADDR, SIZE),
        st.builds(ops.PhysFree, ADDR, SIZE),
        st.builds(ops.MarkHotplug, ADDR, SIZE),
        st.builds(ops.ClearHotplug, ADDR, SIZE),
        st.builds(ops.MarkMirror, ADDR, SIZE),
        st.builds(ops.MarkNomap, ADDR, SIZE),
        st.builds(ops.SetNode, ADDR, SIZE, st.sampled_from(["memory", "reserved"]), NIDS),
        st.builds(ops.SetBottomUp, st.booleans()),
        st.builds(ops.SetCurrentLimit, st.sampled_from([96 * U, 200 * U, (1 << 64) - 1])),
        st.builds(ops.PhysAllocRange, ALLOC_SIZE, ALIGNS, START, LIMIT),
        st.builds(ops.AllocRangeNid, ALLOC_SIZE, ALIGNS, START, LIMIT, NIDS, st.booleans()),
        st.builds(ops.AllocTryNid, ALLOC_SIZE, ALIGNS, START, LIMIT, NIDS),
        st.builds(ops.AllocExactNidRaw, ALLOC_SIZE, ALIGNS, START, LIMIT, NIDS),
        st.builds(ops.FindInRangeNode, ALLOC_SIZE, ALIGNS, START, LIMIT, NIDS, memory_flags),
    ]
    if api.reserve_nid:
        common += [st.builds(ops.ReserveNid, ADDR, SIZE, NIDS, RSRV_FLAGS),
                   st.builds(ops.ReserveKern, ADDR, SIZE)]
    if api.kho_scratch:
        common += [st.builds(ops.MarkKhoScratch, ADDR, SIZE),
                   st.builds(ops.ClearKhoScratch, ADDR, SIZE)]
    if api.alloc_hugetlb:
        common.append(st.builds(ops.AllocHugetlb, HUGE_SIZE, NIDS, st.booleans()))
    return st.one_of(common)


def _trace(api: TreeApi) -> st.SearchStrategy[list[ops.Op]]:
    memory_flags = KHO_FLAGS if api.kho_scratch else FLAGS
    # Start from some memory so that allocations have something to find.
    memory_op = st.one_of(st.builds(ops.Add, ADDR, SIZE),
                          st.builds(ops.AddNode, ADDR, SIZE, NIDS, memory_flags))
    return st.lists(memory_op, min_size=2, max_size=6).flatmap(
        lambda head: st.lists(_range_ops(api), min_size=10, max_size=50).map(
            lambda tail: head + tail))


def _compare(kernel: Kernel, trace_ops: list[ops.Op], movable_node: bool, mirror: bool) -> None:
    py = python_engine(kernel.rules, MAX_NUMNODES, movable_node, mirror)
    with KernelEngine(max_numnodes=MAX_NUMNODES, movable_node=movable_node,
                      mirrored_kernelcore=mirror, tree=kernel.tree) as engine:
        expected = engine.run_batch(trace_ops)
        got = [ops.apply(py, op) for op in trace_ops]
        for op, want, have in zip(trace_ops, expected, got, strict=True):
            assert have == want, f"{kernel.series} {op}: kernel {want}, python {have}"
        assert py.state() == engine.state()
        assert py.warnings == engine.warnings


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), movable_node=st.booleans(), mirror=st.booleans())
def test_random_traces_match_kernel(kernel: Kernel, data: st.DataObject, movable_node: bool,
                                    mirror: bool) -> None:
    _compare(kernel, data.draw(_trace(kernel.api)), movable_node, mirror)


@pytest.mark.parametrize("seed", range(3))
def test_array_doubling_matches_kernel(kernel: Kernel, seed: int) -> None:
    """Hundreds of separate regions force memblock_double_array on both arrays."""
    rng = random.Random(seed)
    trace_ops: list[ops.Op] = [ops.AddNode(n * 64 * U, 32 * U, n % 8, 0) for n in range(300)]
    for _ in range(600):
        kind = rng.randrange(5)
        base = rng.randrange(300 * 64) * U
        if kind == 0:
            trace_ops.append(ops.Reserve(base, rng.randrange(1, 4) * U))
        elif kind == 1:
            trace_ops.append(ops.PhysFree(base, rng.randrange(1, 64) * U))
        elif kind == 2:
            trace_ops.append(ops.AllocTryNid(rng.randrange(1, 8) * U, U, base, 0,
                                             rng.randrange(-1, 8)))
        elif kind == 3 and kernel.api.alloc_hugetlb:
            trace_ops.append(ops.AllocHugetlb(1 << rng.randrange(12, 18), rng.randrange(-1, 8),
                                              rng.random() < 0.5))
        else:
            trace_ops.append(ops.SetBottomUp(rng.random() < 0.5))
    _compare(kernel, trace_ops, movable_node=False, mirror=False)


def test_ops_follow_the_tree_api(kernel: Kernel) -> None:
    """Ops newer than the tree (a 7.3 trace for 6.12) are refused by both engines, not guessed."""
    samples: dict[ops.Op, str] = {
        ops.ReserveNid(U, U, 0, 0x20): "reserve_nid", ops.ReserveKern(4 * U, U): "reserve_nid",
        ops.MarkKhoScratch(0, 64 * U): "kho_scratch", ops.ClearKhoScratch(0, 8 * U): "kho_scratch",
        ops.AllocHugetlb(2 * U, 0, False): "alloc_hugetlb",
    }
    py = python_engine(kernel.rules)
    with KernelEngine(tree=kernel.tree) as engine:
        assert engine.add_node(0, 256 * U, 0, 0) == py.add_node(0, 256 * U, 0, 0) == 0
        for op, need in samples.items():
            if getattr(kernel.api, need):
                assert engine.run(op) == ops.apply(py, op)
                continue
            with pytest.raises(BadInputError, match=ops.op_name(op)):
                engine.run(op)
            with pytest.raises(BadInputError, match="not in this kernel"):
                ops.apply(py, op)
        assert engine.state() == py.state()
