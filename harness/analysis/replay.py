"""Replay a memblock=debug boot log through a memblock engine and check every allocation.

The state starts from the log's first ``MEMBLOCK configuration`` dump (it includes the
early reservations memblock=debug cannot log), then every logged op runs in order.
Each allocation request is predicted by the engine and compared with the reserve the
kernel made; on a mismatch the engine is moved onto the kernel's choice so that one
miss does not cascade.  The work memblock=debug does not log is modelled and reported
under ``inferred``: the direction (``movable_node``), current_limit, numa_init
(:mod:`harness.memblock.numa`) and the NODE_DATA requests.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, assert_never

from harness.analysis.kernel_profile import profile_of_log, source_series
from harness.analysis.replay_steps import (
    NODE_DATA_FUNC,
    Allocate,
    ApplyEvent,
    CheckDump,
    MarkHotplug,
    NumaRegister,
    NumaReset,
    SetLimit,
    Step,
    plan_steps,
)
from harness.errors import BadInputError
from harness.logparse import BootLog, MemblockAlloc, MemblockDump, MemblockEvent
from harness.memblock.engines import KernelEngine, python_engine
from harness.memblock.model import MAX_NUMNODES, MemblockRegion, nid_is_valid
from harness.memblock.numa import NumaMemblk, cleanup_meminfo, numa_register, numa_reset
from harness.memblock.ops import Engine
from harness.memblock.restore import load_regions
from harness.units import has_flag, optional_hex
from kernels.profile import MemblockRules, ProfileChoice

ENGINES = ("python", "kernel")


@dataclass(frozen=True)
class Mismatch:
    """One allocation whose predicted address differs from the kernel's."""

    line: int
    request: str
    predicted: int | None
    actual: int | None
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "request": self.request, "predicted": optional_hex(self.predicted),
                "actual": optional_hex(self.actual), "reason": self.reason}


@dataclass(frozen=True)
class DumpDifference:
    """A region the model and a later dump disagree on (``model``/``dump`` None: absent)."""

    dump_line: int
    type_name: str
    model: MemblockRegion | None
    dump: MemblockRegion | None

    def to_json(self) -> dict[str, Any]:
        return {"dump_line": self.dump_line, "type": self.type_name,
                "model": self.model.to_json() if self.model else None,
                "dump": self.dump.to_json() if self.dump else None}


@dataclass(frozen=True)
class ReplayResult:
    """What the replay found; ``inferred`` lists the state the log cannot show."""

    source: str
    kernel_version: str  # the profile's series the log was replayed as
    engine: str
    allocations: int
    matched: int
    mismatches: tuple[Mismatch, ...]
    inferred: dict[str, Any]
    dump_check: tuple[DumpDifference, ...]
    dumps_checked: int
    pinned_nodes: tuple[int, ...] = field(default=())
    profile_note: str = ""  # kernels.profile: the release has no profile row of its own

    @property
    def ok(self) -> bool:
        """Exact: every allocation placed as the kernel did and every later dump the same."""
        return self.matched == self.allocations and not self.dump_check

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "kernel_version": self.kernel_version,
                "engine": self.engine, "allocations": self.allocations,
                "matched": self.matched, "mismatches": [m.to_json() for m in self.mismatches],
                "inferred": self.inferred, "dumps_checked": self.dumps_checked,
                "dump_check": [d.to_json() for d in self.dump_check],
                "pinned_nodes": list(self.pinned_nodes), "profile_note": self.profile_note}


def movable_node_of(log: BootLog) -> bool:
    return has_flag(log.command_line or "", "movable_node")


@contextlib.contextmanager
def open_engine(name: str, choice: ProfileChoice, movable_node: bool,
                tree: Path | None = None) -> Iterator[Engine]:
    """``tree``: a kernel source tree (a patched one, for patch validation) whose own
    mm/memblock.c the kernel engine runs; default: Debian's source of the release's series."""
    if tree is not None and name != "kernel":
        raise BadInputError("--tree is the kernel engine's source tree: use it with --engine kernel")
    if name == "python":
        yield python_engine(choice.profile.memblock, movable_node=movable_node)
    elif name == "kernel":
        with KernelEngine(source_series(choice), movable_node=movable_node, tree=tree) as engine:
            yield engine
    else:
        raise BadInputError(f"engine must be one of {', '.join(ENGINES)}, not {name!r}")


def load_dump(engine: Engine, dump: MemblockDump, rules: MemblockRules) -> None:
    """Rebuild a dump's arrays through ordinary ops (works for both engines)."""
    load_regions(engine, dump.memory, dump.reserved, rules.reserve_nid_flags)


def request_text(alloc: MemblockAlloc) -> str:
    nid = "" if alloc.nid is None else f" nid={alloc.nid}"
    return (f"{alloc.func}: {alloc.size} bytes align={alloc.align:#x}{nid} "
            f"from={alloc.min_addr:#x} max_addr={alloc.max_addr:#x} {alloc.caller}")


def predict(engine: Engine, alloc: MemblockAlloc) -> int | None:
    """The engine's answer to one logged request (it reserves the range it returns)."""
    if alloc.func == "memblock_phys_alloc_range":
        return engine.phys_alloc_range(alloc.size, alloc.align, alloc.min_addr, alloc.max_addr)
    nid = -1 if alloc.nid is None else alloc.nid
    if alloc.func == NODE_DATA_FUNC:
        return engine.alloc_range_nid(alloc.size, alloc.align, 0, 0, nid, False)
    if alloc.func in ("memblock_alloc_exact_nid_raw", "memblock_alloc_hugetlb_exact"):
        return engine.alloc_exact_nid_raw(alloc.size, alloc.align, alloc.min_addr,
                                          alloc.max_addr, nid)
    return engine.alloc_try_nid(alloc.size, alloc.align, alloc.min_addr, alloc.max_addr, nid)


# arch/x86/realmode/init.c reserve_real_mode (6.18 on): memblock_reserve(0, SZ_1M) then the
# unlogged memblock_clear_kho_scratch(0, SZ_1M) that e820__memblock_setup's mark asked for.
REAL_MODE = "reserve_real_mode"
ISA_END = 1 << 20


def apply_event(engine: Engine, event: MemblockEvent, rules: MemblockRules) -> None:
    """A logged change; memblock_free_late runs after memblock is gone and changes nothing."""
    if event.func == "memblock_reserve" and event.nid is not None:
        engine.reserve_nid(event.base, event.size, event.nid, event.flags or 0)
        if rules.kho_scratch and event.caller_function == REAL_MODE and (event.base, event.end) == (0, ISA_END):
            engine.clear_kho_scratch(0, ISA_END)
        return
    if event.func == "memblock_add":
        engine.add(event.base, event.size)
    elif event.func == "memblock_add_node":
        engine.add_node(event.base, event.size, event.nid or 0, event.flags or 0)
    elif event.func == "memblock_remove":
        engine.remove(event.base, event.size)
    elif event.func == "memblock_reserve":
        engine.reserve(event.base, event.size)
    elif event.func in ("memblock_phys_free", "memblock_free"):
        engine.phys_free(event.base, event.size)


def _comparable(region: MemblockRegion) -> MemblockRegion:
    # The dump prints "on node N" only for valid nids; the parser stores MAX_NUMNODES otherwise.
    nid = region.nid if nid_is_valid(region.nid) else MAX_NUMNODES
    return MemblockRegion(region.base, region.size, region.flags, nid)


def check_dump(engine: Engine, dump: MemblockDump) -> list[DumpDifference]:
    state = engine.state()
    diffs: list[DumpDifference] = []
    for name, model, printed in (("memory", state.memory.regions, dump.memory),
                                 ("reserved", state.reserved.regions, dump.reserved)):
        ours = {_comparable(r) for r in model if r.size}
        theirs = {_comparable(r) for r in printed if r.size}
        diffs += [DumpDifference(dump.line, name, r, None) for r in sorted(ours - theirs, key=_key)]
        diffs += [DumpDifference(dump.line, name, None, r) for r in sorted(theirs - ours, key=_key)]
    return diffs


def _key(region: MemblockRegion) -> tuple[int, int]:
    return region.base, region.size


class _Replayer:
    """Walks the planned steps with one engine, collecting matches and differences."""

    def __init__(self, log: BootLog, engine: Engine, version: MemblockRules) -> None:
        self.log, self.engine, self.version = log, engine, version
        self.allocations = self.matched = 0
        self.mismatches: list[Mismatch] = []
        self.diffs: list[DumpDifference] = []
        self.dumps_checked = 0
        self.pinned: set[int] = set()
        self.blocks: list[NumaMemblk] = []

    def run(self, steps: list[Step]) -> None:
        for step in steps:
            self.step(step)

    def step(self, step: Step) -> None:
        engine = self.engine
        match step:
            case SetLimit(value=value):
                engine.set_current_limit(value)
            case NumaReset():
                numa_reset(engine, self.version)
            case MarkHotplug(srat=srat):
                engine.mark_hotplug(srat.start, srat.end - srat.start)
            case NumaRegister():
                self.blocks = cleanup_meminfo(self.log.srat_memory, engine.state(), self.version)
                self.pinned = numa_register(engine, self.blocks, self.version)
            case CheckDump(dump=dump):
                self.dumps_checked += 1
                self.diffs += check_dump(engine, dump)
            case ApplyEvent(event=event):
                apply_event(engine, event, self.version)
            case Allocate(alloc=alloc, inferred=inferred):
                self.allocate(alloc, inferred)
            case _:
                assert_never(step)

    def allocate(self, alloc: MemblockAlloc, inferred_reason: str) -> None:
        self.allocations += 1
        predicted = predict(self.engine, alloc)
        actual = alloc.result.start if alloc.result else None
        if predicted == actual:
            self.matched += 1
            return
        if predicted is not None:
            self.engine.phys_free(predicted, alloc.size)
        if alloc.result is not None:
            self.engine.reserve(alloc.result.start, alloc.result.size)
        if inferred_reason:
            reason = inferred_reason
        elif actual is None:
            # memblock prints nothing on failure, so a missing line is either a failure the
            # model did not foresee or a line the capture lost (check the log around it).
            reason = ("the log shows no reservation for this request: a failure the model "
                      "missed, or a lost log line")
        else:
            reason = "the model placed it elsewhere"
        self.mismatches.append(Mismatch(alloc.line, request_text(alloc), predicted, actual, reason))


def replay(log: BootLog, engine: str = "python", tree: Path | None = None) -> ReplayResult:
    """Rebuild memblock from ``log`` and compare every allocation with the kernel's."""
    if not log.memblock_debug or not log.memblock_dumps:
        raise BadInputError(f"{log.source}: no memblock=debug output to replay")
    choice = profile_of_log(log)
    version = choice.profile.memblock
    movable_node = movable_node_of(log)
    steps, inferred = plan_steps(log)
    with open_engine(engine, choice, movable_node, tree) as eng:
        load_dump(eng, log.memblock_dumps[0], version)
        eng.set_bottom_up(movable_node)
        eng.set_current_limit(1 << 20)
        replayer = _Replayer(log, eng, version)
        replayer.run(steps)
    inferred = {"bottom_up": movable_node, **inferred, "numa_meminfo": [
        {"start": f"{b.start:#x}", "end": f"{b.end:#x}", "nid": b.nid} for b in replayer.blocks]}
    return ReplayResult(log.source, choice.profile.series, engine, replayer.allocations, replayer.matched,
                        tuple(replayer.mismatches), inferred, tuple(replayer.diffs),
                        replayer.dumps_checked, tuple(sorted(replayer.pinned)), choice.note)


__all__ = ["ReplayResult", "Mismatch", "DumpDifference", "replay", "describe_replay"]


def describe_replay(result: ReplayResult) -> str:
    """A few lines for people: the score, then each mismatch and dump difference."""
    lines = [f"{result.source}: {result.matched}/{result.allocations} allocations predicted "
             f"(kernel {result.kernel_version}, {result.engine} engine, "
             f"{result.dumps_checked} later dumps checked, {len(result.dump_check)} differences)"]
    if result.profile_note:
        lines.append(f"  profile: {result.profile_note}")
    lines += [f"  line {m.line}: {m.request}: predicted {optional_hex(m.predicted)}, "
              f"actual {optional_hex(m.actual)} ({m.reason})" for m in result.mismatches]
    lines += [f"  dump line {d.dump_line} {d.type_name}: model {d.model}, dump {d.dump}"
              for d in result.dump_check]
    return "\n".join(lines)
