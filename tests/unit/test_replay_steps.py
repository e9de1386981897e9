"""plan_steps: one step type per thing the replayer does, placed in log order."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.analysis.replay_steps import (
    NODE_DATA_FUNC,
    Allocate,
    ApplyEvent,
    CheckDump,
    MarkHotplug,
    NumaRegister,
    NumaReset,
    SetLimit,
    plan_steps,
)
from harness.logparse import MemblockAlloc, MemblockEvent, load_boot_log

LOGS = sorted((Path(__file__).parents[2] / "fixtures/logs").rglob("*.log"))


@pytest.mark.parametrize("path", LOGS, ids=lambda p: p.stem)
def test_every_op_after_the_first_dump_becomes_its_step(path: Path) -> None:
    log = load_boot_log(path)
    steps, _ = plan_steps(log)
    after = [op for op in log.memblock_ops if op.line > log.memblock_dumps[0].line]
    logged = [s.alloc for s in steps if isinstance(s, Allocate) and not s.inferred]
    assert logged == [op for op in after if isinstance(op, MemblockAlloc)]
    events = [s.event for s in steps if isinstance(s, ApplyEvent)]
    assert all(isinstance(e, MemblockEvent) and e.caller_function != "memblock_double_array" for e in events)
    assert [s.dump for s in steps if isinstance(s, CheckDump)] == list(log.memblock_dumps[1:])
    assert [s.line for s in steps] == sorted(s.line for s in steps)


@pytest.mark.parametrize("path", LOGS, ids=lambda p: p.stem)
def test_the_unlogged_numa_init_and_limit_steps_are_placed_once_and_in_order(path: Path) -> None:
    log = load_boot_log(path)
    steps, inferred = plan_steps(log)
    kinds = [type(s) for s in steps]
    assert kinds.count(NumaReset) == kinds.count(NumaRegister) == kinds.count(SetLimit) == 1
    reset, register = kinds.index(NumaReset), kinds.index(NumaRegister)
    marks = [s for s in steps if isinstance(s, MarkHotplug)]
    assert [m.srat for m in marks] == list(log.hotplug_srat)
    assert all(reset < steps.index(m) < register for m in marks)
    node_data = [s for s in steps if isinstance(s, Allocate) and s.inferred]
    assert {s.alloc.func for s in node_data} == {NODE_DATA_FUNC}
    assert all(steps.index(s) > register for s in node_data)
    assert int(steps[register].line + 0.5) == inferred["numa_init"]["register_line"]
    limit = next(s for s in steps if isinstance(s, SetLimit))
    first_needing = next(s for s in steps if isinstance(s, Allocate) and s.line > limit.line)
    assert limit.line == first_needing.line - 0.5
    assert inferred["current_limit"][-1] == {"line": first_needing.line, "current_limit": f"{limit.value:#x}"}
