"""Differential tests: random op sequences through the Python port and the kernel's memblock.c.

Both must end with identical arrays (including ``max``) and give identical results
for every op. Skipped only when the Debian kernel sources are not installed.
"""
from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.memblock import ops as ops
from harness.memblock.engines import KernelEngine, python_engine
from harness.memblock.kernel_engine.build import build_replay_driver
from harness.memblock.model import KernelVersion
from kernels.source import source_tree

U = 0x1000  # the op universe is in pages so that ranges collide often
MAX_NUMNODES = 1024
NIDS = st.sampled_from([-1, 0, 1, 2, MAX_NUMNODES])
FLAGS = st.sampled_from([0, 0x1, 0x2, 0x4, 0x1 | 0x2])
ALIGNS = st.sampled_from([64, U, 2 * U, 8 * U])
ADDR = st.integers(0, 256).map(lambda n: n * U)
SIZE = st.integers(1, 64).map(lambda n: n * U)
ALLOC_SIZE = st.integers(1, 16).map(lambda n: n * U)
START = st.sampled_from([0, 0, 32 * U, 128 * U])
LIMIT = st.sampled_from([0, 1, 96 * U, 200 * U, (1 << 64) - 1])


@pytest.fixture(scope="module", params=list(KernelVersion), ids=lambda v: v.value)
def version(request: pytest.FixtureRequest) -> Iterator[KernelVersion]:
    v: KernelVersion = request.param
    build_replay_driver(source_tree(v.value))
    yield v


range_op = st.one_of(
    st.builds(ops.Add, ADDR, SIZE),
    st.builds(ops.AddNode, ADDR, SIZE, NIDS, FLAGS),
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
    st.builds(ops.FindInRangeNode, ALLOC_SIZE, ALIGNS, START, LIMIT, NIDS, FLAGS),
)
# Start from some memory so that allocations have something to find.
memory_op = st.one_of(st.builds(ops.Add, ADDR, SIZE), st.builds(ops.AddNode, ADDR, SIZE, NIDS, FLAGS))
trace = st.lists(memory_op, min_size=2, max_size=6).flatmap(
    lambda head: st.lists(range_op, min_size=10, max_size=50).map(lambda tail: head + tail))


def _compare(version: KernelVersion, trace_ops: list[ops.Op], movable_node: bool,
             mirror: bool) -> None:
    py = python_engine(version, MAX_NUMNODES, movable_node, mirror)
    with KernelEngine(version, MAX_NUMNODES, movable_node, mirror) as kernel:
        expected = kernel.run_batch(trace_ops)
        got = [ops.apply(py, op) for op in trace_ops]
        for op, want, have in zip(trace_ops, expected, got, strict=True):
            assert have == want, f"{op}: kernel {want}, python {have}"
        assert py.state() == kernel.state()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trace_ops=trace, movable_node=st.booleans(), mirror=st.booleans())
def test_random_traces_match_kernel(version: KernelVersion, trace_ops: list[ops.Op],
                                    movable_node: bool, mirror: bool) -> None:
    _compare(version, trace_ops, movable_node, mirror)


@pytest.mark.parametrize("seed", range(3))
def test_array_doubling_matches_kernel(version: KernelVersion, seed: int) -> None:
    """Hundreds of separate regions force memblock_double_array on both arrays."""
    rng = random.Random(seed)
    trace_ops: list[ops.Op] = [ops.AddNode(n * 64 * U, 32 * U, n % 8, 0) for n in range(300)]
    for _ in range(600):
        kind = rng.randrange(4)
        base = rng.randrange(300 * 64) * U
        if kind == 0:
            trace_ops.append(ops.Reserve(base, rng.randrange(1, 4) * U))
        elif kind == 1:
            trace_ops.append(ops.PhysFree(base, rng.randrange(1, 64) * U))
        elif kind == 2:
            trace_ops.append(ops.AllocTryNid(rng.randrange(1, 8) * U, U, base, 0,
                                             rng.randrange(-1, 8)))
        else:
            trace_ops.append(ops.SetBottomUp(rng.random() < 0.5))
    _compare(version, trace_ops, movable_node=False, mirror=False)
