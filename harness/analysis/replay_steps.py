"""The ordered steps of a replay: logged ops plus the unlogged work placed between them.

Each step carries the log line it happens at; unlogged steps are placed just before
the first line that depends on them.  The returned ``inferred`` dict says where each
one was placed and why, for the replay report.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.logparse import BootLog, MemblockAlloc, MemblockEvent
from harness.logparse.common import AddressRange
from harness.logparse.memblock_debug import ALLOC_RESULT_CALLER
from harness.logparse.memblock_dump import MemblockDump
from harness.memblock.numa import SratMemory

# memblock_phys_alloc_try_nid prints no request line; alloc_node_data uses SMP_CACHE_BYTES.
NODE_DATA_FUNC = "memblock_phys_alloc_try_nid"
NODE_DATA_ALIGN = 64
ISA_END_ADDRESS = 1 << 20


@dataclass(frozen=True)
class SetLimit:
    """memblock_set_current_limit(value), unlogged (init_mem_mapping's end)."""

    line: float
    value: int


@dataclass(frozen=True)
class NumaReset:
    """numa_init's first step, unlogged: every node reset, HOTPLUG cleared."""

    line: float


@dataclass(frozen=True)
class MarkHotplug:
    """memblock_mark_hotplug over one hotpluggable SRAT range (unlogged)."""

    line: float
    srat: SratMemory


@dataclass(frozen=True)
class NumaRegister:
    """numa_cleanup_meminfo and the registration after the last SRAT line (unlogged)."""

    line: float


@dataclass(frozen=True)
class CheckDump:
    """A later ``MEMBLOCK configuration`` dump to compare the engine with."""

    line: float
    dump: MemblockDump


@dataclass(frozen=True)
class ApplyEvent:
    """A logged memblock change (add, remove, reserve, free)."""

    line: float
    event: MemblockEvent


@dataclass(frozen=True)
class Allocate:
    """A request to predict; ``inferred`` says why an unlogged one was added."""

    line: float
    alloc: MemblockAlloc
    inferred: str = ""


# One thing to do to the engine, placed at a (possibly fractional) log line.
Step = SetLimit | NumaReset | MarkHotplug | NumaRegister | CheckDump | ApplyEvent | Allocate


def _node_data_request(event: MemblockEvent, node: int) -> MemblockAlloc:
    """alloc_node_data's memblock_phys_alloc_try_nid(size, SMP_CACHE_BYTES, nid)."""
    return MemblockAlloc(event.line, NODE_DATA_FUNC, event.size, NODE_DATA_ALIGN, node, 0, 0,
                         "alloc_node_data (inferred)", "alloc_node_data",
                         AddressRange(event.base, event.end), event.line)


def _needs_limit(alloc: MemblockAlloc) -> bool:
    """Whether the request's placement depends on current_limit (memblock_alloc_internal
    clamps; phys_alloc_range only resolves ACCESSIBLE/NOLEAKTRACE ends)."""
    return alloc.func != "memblock_phys_alloc_range" or alloc.max_addr in (0, 1)


def _op_steps(log: BootLog, after: int) -> tuple[list[Step], list[dict[str, Any]]]:
    node_data = {(r.start, r.end): node for node, r in log.node_data.items()}
    steps: list[Step] = []
    unlogged: list[dict[str, Any]] = []
    for op in log.memblock_ops:
        if op.line <= after:
            continue
        if isinstance(op, MemblockAlloc):
            steps.append(Allocate(op.line, op))
        elif isinstance(op, MemblockEvent):
            # The engine doubles its own arrays and reserves the new one itself.
            if op.caller_function == "memblock_double_array":
                continue
            node = node_data.get((op.base, op.end))
            if op.caller_function == ALLOC_RESULT_CALLER and node is not None:
                steps.append(Allocate(op.line, _node_data_request(op, node),
                                      f"inferred NODE_DATA({node}) request"))
                unlogged.append({"line": op.line, "node": node, "size": op.size,
                                 "align": NODE_DATA_ALIGN, "func": NODE_DATA_FUNC})
                continue
            steps.append(ApplyEvent(op.line, op))
    return steps, unlogged


def plan_steps(log: BootLog) -> tuple[list[Step], dict[str, Any]]:
    """All steps after the first dump, in log order, and what was inferred."""
    first = log.memblock_dumps[0]
    steps, node_data = _op_steps(log, first.line)
    inferred: dict[str, Any] = {"node_data_requests": node_data}
    end_of_ram = max((r.end for r in first.memory if r.size), default=0)
    needing = [s.line for s in steps if isinstance(s, Allocate) and _needs_limit(s.alloc)]
    limits = [{"line": first.line, "current_limit": f"{ISA_END_ADDRESS:#x}"}]
    if needing:
        # init_mem_mapping ends with memblock_set_current_limit(get_max_mapped()).
        steps.append(SetLimit(needing[0] - 0.5, end_of_ram))
        limits.append({"line": needing[0], "current_limit": f"{end_of_ram:#x}"})
    inferred["current_limit"] = limits
    later_dumps = log.memblock_dumps[1:]
    steps += [CheckDump(d.line, d) for d in later_dumps]
    if log.srat_memory:
        steps += _numa_steps(log, steps, later_dumps)
        inferred["numa_init"] = {
            "reset_line": log.srat_memory[0].line,
            "mark_hotplug_lines": [s.line for s in log.srat_memory if s.hotplug],
            "register_line": int(next(s.line for s in steps if isinstance(s, NumaRegister)) + 0.5),
        }
    steps.sort(key=lambda s: s.line)
    return steps, inferred


def _numa_steps(log: BootLog, steps: list[Step], later_dumps: tuple[MemblockDump, ...]) -> list[Step]:
    first_srat = log.srat_memory[0].line
    last_srat = max(s.line for s in log.srat_memory)
    # Registration (and alloc_node_data after it) follows the last SRAT line and
    # precedes the first NODE_DATA reserve or the dump that ends numa init.
    candidates = [s.line for s in steps if isinstance(s, Allocate) and s.inferred and s.line > last_srat]
    candidates += [d.line for d in later_dumps if d.line > last_srat]
    register_at = min(candidates, default=last_srat + 1)
    numa: list[Step] = [NumaReset(first_srat - 0.75)]
    numa += [MarkHotplug(s.line, s) for s in log.srat_memory if s.hotplug]
    numa.append(NumaRegister(register_at - 0.5))
    return numa
