"""The hotplug verdict on any boot log (``memhp parse``, ``memhp replay``).

For each SRAT hotplug range: honoured or cleared, and why; the unmovable placements inside
it; then per node its PXMs, CPUs, memory and ZONE_MOVABLE start, memoryless nodes, and the
PXM → node renumbering.  The rules are the kernel's:

- arch/x86/mm/numa.c:numa_clear_kernel_node_hotplug (6.12 mm/numa_memblks.c) clears the
  marks of every node holding a reservation made before SRAT was parsed;
- with movable_node, mm/page_alloc.c:find_zone_movable_pfns_for_nodes (6.12 mm/mm_init.c)
  starts ZONE_MOVABLE at a node's lowest region still marked hotplug, and memblock skips
  hotplug regions (mm/memblock.c:should_skip_region); without it, neither happens, so a
  hotplug range's boot memory ends up in a kernel zone.
"""
from __future__ import annotations

import enum
import functools
from dataclasses import dataclass, field
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer

from harness.analysis.log_placements import (
    Evidence,
    Placement,
    boot_ram,
    cpus_per_node,
    from_reservation,
    inferred_placements,
    logged_placements,
    movable_node_of,
)
from harness.analysis.pinning import (
    HotplugRangeReservation,
    HotplugStatus,
    NodeHotplugFinding,
    dump_status,
    hotplug_findings,
    outcome_dump,
    reservations_in_hotplug_ranges,
)
from harness.analysis.meminit_times import NodeInitTime, describe_init_times, node_init_times
from harness.errors import ExitCode
from harness.logparse import BootLog, MemblockDump, SratMemoryLine
from harness.logparse.common import JsonMixin
from harness.units import format_size, hex_range


# memhp parse has always called a range without boot memory a hot-add window: the word its
# output keeps for HotplugStatus.NO_BOOT_MEMORY (pinning's findings say no_boot_memory).
_HOT_ADD_WINDOW = "hot_add_window"


def range_word(status: HotplugStatus) -> str:
    """A range's status as ``memhp parse`` prints and writes it."""
    return _HOT_ADD_WINDOW if status is HotplugStatus.NO_BOOT_MEMORY else status.value


def _range_status(value: object) -> object:
    return HotplugStatus.NO_BOOT_MEMORY if value == _HOT_ADD_WINDOW else value


# One status (pinning's), written with parse's words.
RangeStatus = Annotated[HotplugStatus, PlainSerializer(range_word, return_type=str),
                        BeforeValidator(_range_status)]


class Outcome(enum.Enum):
    CLEAN = "clean"
    VIOLATED = "violated"  # unmovable data in, or no ZONE_MOVABLE for, hotpluggable boot memory
    UNDETERMINED = "undetermined"  # hotplug boot memory whose fate the log does not show

    @property
    def exit_code(self) -> ExitCode:
        """``memhp parse``: 0 clean, 1 violated, 125 the log cannot tell (harness.errors)."""
        return {Outcome.CLEAN: ExitCode.PASS, Outcome.VIOLATED: ExitCode.FAIL,
                Outcome.UNDETERMINED: ExitCode.CANNOT_TEST}[self]


@dataclass(frozen=True)
class RangeVerdict(JsonMixin):
    """One SRAT hotplug range and what the log says happened to it."""

    node: int
    pxm: int
    start: int
    end: int
    line: int
    boot_memory: int | None  # bytes of boot RAM inside; None when the log shows no RAM map
    status: RangeStatus
    evidence: Evidence  # how the status was read
    ok: bool | None
    reasons: tuple[str, ...]
    pinned_by: tuple[Placement, ...]  # pre-SRAT reservations on the node (why it was cleared)
    inside: tuple[Placement, ...]  # unmovable placements inside the range


@dataclass(frozen=True)
class NodeFacts(JsonMixin):
    node: int
    pxms: tuple[int, ...]
    cpus: int | None  # None: the log has no PXM -> APIC lines (6.12 prints them at debug level)
    memory: int | None  # bytes in its early node ranges
    memoryless: bool
    movable_start: int | None


@dataclass(frozen=True)
class LogVerdict(JsonMixin):
    source: str
    kernel_release: str | None
    movable_node: bool | None  # None: neither the command line nor the zone lines tell
    memblock_debug: bool
    outcome: Outcome
    ranges: tuple[RangeVerdict, ...]
    nodes: tuple[NodeFacts, ...]
    renumbered: dict[int, int] = field(default_factory=dict)  # PXM -> node where they differ
    init_times: tuple[NodeInitTime, ...] = ()  # informational: memory-init time per node
    movable_how: str = "command line"  # where movable_node's value comes from
    truncated: str | None = None  # BootLog.truncated: why the log shows less than the boot

    @property
    def exit_code(self) -> ExitCode:
        return self.outcome.exit_code


@dataclass(frozen=True)
class MovableSetting:
    """movable_node as the log shows it: on the command line, or proved by the zones."""

    movable_node: bool | None
    how: str
    inferred: bool = False


def movable_setting(log: BootLog) -> MovableSetting:
    """The command line's ``movable_node``; without one, what the zone lines prove.

    mm/page_alloc.c:find_zone_movable_pfns_for_nodes (6.12 mm/mm_init.c) sets a node's
    ZONE_MOVABLE start only for movable_node (at the node's lowest region still marked
    hotplug), kernelcore= or movablecore= (spread by size, anywhere), and free_area_init
    lists every node it set under ``Movable zone start for each node``, printed between
    ``Zone ranges:`` and ``Early memory node ranges``."""
    if log.command_line is not None:
        return MovableSetting(movable_node_of(log), "command line")
    if not (log.zone_ranges and log.early_node_ranges):
        if skipped := node_data_skipped(log):
            node = min(skipped)
            return MovableSetting(True, f"inferred from 'NODE_DATA({node}) on node {log.node_data_elsewhere[node]}': "
                                        "memblock skipped the node's hotplug memory, as only movable_node does", True)
        return MovableSetting(None, "not shown: no 'Command line:' and no zone lines ('Zone ranges:', "
                                    "'Movable zone start for each node', 'Early memory node ranges')")
    starts = log.movable_zone_start
    if not starts:
        return MovableSetting(None, "not shown: no 'Command line:', and 'Movable zone start for each node' lists "
                                    "no node (no movable_node with a mark left, no kernelcore=/movablecore=)")
    # A node whose marks were cleared gets no start under movable_node: only the nodes
    # listed must start at their lowest hotplug RAM.
    expected = _lowest_hotplug_ram(log)
    odd = next((n for n in sorted(starts) if expected.get(n) != starts[n]), None)
    if odd is None:
        return MovableSetting(True, "inferred from 'Movable zone start for each node': each listed node's "
                                    "ZONE_MOVABLE starts at its lowest hotplug RAM, as movable_node places it", True)
    return MovableSetting(None, f"not shown: no 'Command line:'; kernelcore= or movablecore= inferred from "
                                f"'Movable zone start for each node' (node {odd} at {starts[odd]:#x}: not its "
                                "lowest hotplug RAM)", True)


def node_data_skipped(log: BootLog) -> set[int]:
    """Nodes whose boot RAM is all in their SRAT hotplug ranges and whose NODE_DATA went to
    another node.  The marks of nodes pinned before SRAT are cleared first
    (numa_clear_kernel_node_hotplug: 6.1 arch/x86/mm/numa.c numa_register_memblks, 6.12
    mm/numa_memblks.c numa_register_meminfo), alloc_node_data only then (6.1 the same
    function, 6.12 arch/x86/mm/numa.c numa_register_nodes), and its
    memblock_phys_alloc_try_nid skips hotplug memory only with movable_node (mm/memblock.c
    should_skip_region): such a node had movable_node and kept its marks."""
    ram = boot_ram(log)
    out = set()
    for node in log.node_data_elsewhere:
        mine = [s for s in log.srat_memory if s.node == node]
        inside = [_overlap(ram, s.start, s.end) for s in mine]
        hot = sum(n for s, n in zip(mine, inside, strict=True) if s.hotplug)
        if hot and hot == sum(inside):
            out.add(node)
    return out


def _overlap(ram: list[tuple[int, int]], start: int, end: int) -> int:
    return sum(max(0, min(e, end) - max(s, start)) for s, e in ram)


def _lowest_hotplug_ram(log: BootLog) -> dict[int, int]:
    """Per node, the lowest boot RAM inside its SRAT hotplug ranges: where movable_node
    starts ZONE_MOVABLE when no mark was cleared."""
    out: dict[int, int] = {}
    ram = boot_ram(log)
    for srat in log.hotplug_srat:
        for start, end in ram:
            low = max(start, srat.start)
            if low < min(end, srat.end):
                out[srat.node] = min(out.get(srat.node, low), low)
    return out


class _PerLog:
    """What every range of one log is judged against, each computed once (on first use)."""

    def __init__(self, log: BootLog) -> None:
        self.log = log
        self.setting = movable_setting(log)
        self.dump = outcome_dump(log)

    @functools.cached_property
    def ram(self) -> list[tuple[int, int]]:
        return boot_ram(self.log)

    @functools.cached_property
    def findings(self) -> dict[int, NodeHotplugFinding]:
        return {f.node: f for f in hotplug_findings(self.log)}

    @functools.cached_property
    def reservations(self) -> tuple[HotplugRangeReservation, ...]:
        return reservations_in_hotplug_ranges(self.log)

    @functools.cached_property
    def placements(self) -> tuple[Placement, ...]:
        return logged_placements(self.log) + inferred_placements(self.log)

    @functools.cached_property
    def node_data_skipped(self) -> set[int]:
        return node_data_skipped(self.log)


def hotplug_verdict(log: BootLog) -> LogVerdict:
    facts = _PerLog(log)
    setting = facts.setting
    ranges = tuple(_range_verdict(facts, srat) for srat in log.hotplug_srat)
    oks = [r.ok for r in ranges]
    if False in oks:
        outcome = Outcome.VIOLATED
    elif None in oks:
        outcome = Outcome.UNDETERMINED
    elif log.truncated:  # a cut log shows less than the boot did: never clean
        outcome = Outcome.UNDETERMINED
    else:
        outcome = Outcome.CLEAN
    renumbered = {pxm: node for pxm, node in sorted(log.pxm_to_node.items()) if pxm != node}
    return LogVerdict(log.source, log.kernel_release, setting.movable_node, log.memblock_debug,
                      outcome, ranges, node_facts(log), renumbered, node_init_times(log), setting.how,
                      log.truncated)


def node_facts(log: BootLog) -> tuple[NodeFacts, ...]:
    cpus = cpus_per_node(log)
    memory: dict[int, int] = {}
    for rng in log.early_node_ranges:
        memory[rng.node] = memory.get(rng.node, 0) + rng.end - rng.start
    nodes = sorted({s.node for s in log.srat_memory} | set(cpus) | set(memory) | set(log.memoryless_nodes)
                   | set(log.node_data) | set(log.initmem))
    out = []
    for node in nodes:
        pxms = tuple(sorted(p for p, n in log.pxm_to_node.items() if n == node))
        memoryless = node in log.memoryless_nodes or (bool(memory) and node not in memory)
        out.append(NodeFacts(node, pxms, cpus.get(node, 0) if cpus else None, memory.get(node),
                             memoryless, log.movable_zone_start.get(node)))
    return tuple(out)


def _boot_memory(ram: list[tuple[int, int]], srat: SratMemoryLine) -> int | None:
    if not ram:
        return None
    return sum(max(0, min(e, srat.end) - max(s, srat.start)) for s, e in ram)


def _range_verdict(facts: _PerLog, srat: SratMemoryLine) -> RangeVerdict:
    log, setting = facts.log, facts.setting
    memory = _boot_memory(facts.ram, srat)
    if memory == 0:
        return RangeVerdict(srat.node, srat.pxm, srat.start, srat.end, srat.line, 0, HotplugStatus.NO_BOOT_MEMORY,
                            Evidence.LOGGED, True, ("no boot memory in it (a hot-add window): nothing to pin",),
                            (), ())
    # Only the dump printed whole after SRAT shows the marks' fate (pinning.outcome_dump);
    # a log cut before or inside it is judged from its other lines.
    if facts.dump is not None:
        status, pinned, inside = _from_dump(facts, facts.dump, srat)
        evidence = Evidence.MEMBLOCK_DEBUG
    else:
        status, pinned, inside, evidence = _from_lines(facts, srat)
    ok, reasons = _judge(log, srat, status, pinned, inside, setting)
    return RangeVerdict(srat.node, srat.pxm, srat.start, srat.end, srat.line, memory, status, evidence, ok,
                        reasons, pinned, inside)


def _from_dump(
    facts: _PerLog, dump: MemblockDump, srat: SratMemoryLine,
) -> tuple[HotplugStatus, tuple[Placement, ...], tuple[Placement, ...]]:
    status = dump_status(tuple(r for r in dump.memory if srat.range.overlaps(r.base, r.end)))
    finding = facts.findings[srat.node]
    pinned: tuple[Placement, ...] = ()
    if finding.status in (HotplugStatus.CLEARED, HotplugStatus.PARTIAL):
        pinned = tuple(p for r in finding.pinned_by for p in from_reservation(r))
    inside = [p for r in facts.reservations if r.hotplug_range == srat.range
              for p in from_reservation(r.reservation) if p.inside(srat.start, srat.end)]
    # Allocations after the last dump (sparse, percpu, ...) are in the trace, not the dump.
    for op in facts.log.memblock_allocs:
        if op.line > dump.line and op.result is not None and srat.range.overlaps(op.result.start, op.result.end):
            inside.append(Placement(op.requester, srat.node, op.line, Evidence.MEMBLOCK_DEBUG, False,
                                    op.result.start, op.result.end))
    return status, pinned, tuple(inside)


def _from_lines(
    facts: _PerLog, srat: SratMemoryLine,
) -> tuple[HotplugStatus, tuple[Placement, ...], tuple[Placement, ...], Evidence]:
    log, setting, everything = facts.log, facts.setting, facts.placements
    pinned = tuple(p for p in everything if p.before_srat and p.node == srat.node)
    inside = tuple(p for p in everything if p.inside(srat.start, srat.end))
    if any(p.evidence is Evidence.LOGGED for p in pinned):
        return HotplugStatus.CLEARED, pinned, inside, Evidence.LOGGED
    start = log.movable_zone_start.get(srat.node)
    in_movable = start is not None and start <= srat.start
    evidence = Evidence.INFERRED if setting.inferred else Evidence.LOGGED
    if setting.movable_node and log.zone_ranges:
        return (HotplugStatus.HONOURED if in_movable else HotplugStatus.CLEARED), pinned, inside, evidence
    if setting.movable_node is None and log.zone_ranges and in_movable and not pinned:
        # No command line, but the zones show the range's memory in ZONE_MOVABLE.
        return HotplugStatus.HONOURED, pinned, inside, Evidence.LOGGED
    if setting.movable_node and not log.zone_ranges and srat.node in facts.node_data_skipped:
        # find_zone_movable_pfns_for_nodes puts a node's memory still marked hotplug in
        # ZONE_MOVABLE: the NODE_DATA line proved the mark was there after the clearing.
        return HotplugStatus.HONOURED, pinned, inside, Evidence.INFERRED
    if pinned:
        return HotplugStatus.CLEARED, pinned, inside, Evidence.INFERRED
    return HotplugStatus.UNKNOWN, pinned, inside, Evidence.LOGGED


def _judge(
    log: BootLog, srat: SratMemoryLine, status: HotplugStatus,
    pinned: tuple[Placement, ...], inside: tuple[Placement, ...], setting: MovableSetting,
) -> tuple[bool | None, tuple[str, ...]]:
    reasons: list[str] = []
    if status in (HotplugStatus.CLEARED, HotplugStatus.PARTIAL):
        why = _summary(pinned) or "a reservation the log does not show"
        reasons.append(f"node {srat.node}'s hotplug mark was cleared (numa_clear_kernel_node_hotplug): "
                       f"reserved before SRAT was parsed on node {srat.node}: {why}")
    if inside:
        reasons.append("unmovable inside the range: " + _summary(inside))
    movable = log.movable_zone_start.get(srat.node)
    in_movable = movable is not None and movable <= srat.start
    if setting.movable_node is False and not in_movable:
        reasons.append("movable_node is absent: memblock does not avoid hotplug ranges and they get no "
                       "ZONE_MOVABLE" + ("" if log.zone_ranges else " (the log shows no zone lines)"))
    elif log.zone_ranges and not in_movable:
        reasons.append(f"no ZONE_MOVABLE on node {srat.node} at or below {srat.start:#x}")
    if reasons:
        return False, tuple(reasons)
    if status is HotplugStatus.UNKNOWN:
        return None, ("cannot tell: the log lacks " + ", ".join(_missing(log)),)
    shown = [f"in ZONE_MOVABLE (from {movable:#x})" if movable is not None
             else "in ZONE_MOVABLE (inferred: its mark outlived numa_clear_kernel_node_hotplug)"]
    if srat.node in log.node_data_elsewhere:
        # alloc_node_data found no memory on the node outside its hotplug ranges.
        shown.append(f"NODE_DATA({srat.node}) on node {log.node_data_elsewhere[srat.node]}")
    return True, ("honoured: " + ", ".join(shown) + ", nothing unmovable logged inside",)


def _missing(log: BootLog) -> list[str]:
    """The lines that would have told a range's fate, named as the kernel prints them."""
    missing = []
    if not log.memblock_dumps:
        missing.append("a 'MEMBLOCK configuration:' dump after SRAT (memblock=debug)")
    if not log.zone_ranges:
        missing.append("'Zone ranges:' and 'Movable zone start for each node'")
    if not log.early_node_ranges:
        missing.append("'Early memory node ranges'")
    if log.command_line is None:
        missing.append("'Command line:'")
    return missing or ["a line placing this range's memory (no ZONE_MOVABLE on the node, no command line)"]


def _summary(placements: tuple[Placement, ...]) -> str:
    """One entry per caller, in log order: where (or how many), the first line, inferred or not."""
    groups: dict[str, list[Placement]] = {}
    for p in placements:
        groups.setdefault(p.what, []).append(p)
    return ", ".join(_group(ps) for ps in groups.values())


def _group(ps: list[Placement]) -> str:
    p = ps[0]
    if len(ps) > 1:
        where = f"{len(ps)} ranges"
    elif p.start is not None and p.end is not None:
        where = hex_range(p.start, p.end)
    else:
        where = f"top-down below {p.below:#x}" if p.below is not None else "address not logged"
    line = min((q.line for q in ps if q.line is not None), default=None)
    return (f"{p.what} ({where}{f', line {line}' if line is not None else ''}"
            f"{', inferred' if p.evidence is Evidence.INFERRED else ''})")


def describe_verdict(verdict: LogVerdict) -> str:
    """The verdict for people: one line, then each hotplug range, then the nodes."""
    lines = [f"hotplug verdict: {verdict.outcome.value.upper()} (exit {int(verdict.exit_code)}); "
             f"movable_node {_on_off(verdict.movable_node, verdict.movable_how)}, "
             f"memblock=debug {'yes' if verdict.memblock_debug else 'no'}"]
    if verdict.truncated:
        lines.append(f"  truncated log: {verdict.truncated}")
    if not verdict.ranges:
        lines.append("  no SRAT hotplug ranges in the log")
    for r in verdict.ranges:
        memory = "RAM not shown" if r.boot_memory is None else f"{format_size(r.boot_memory)} boot RAM"
        lines.append(f"  node {r.node} (PXM {r.pxm}) {hex_range(r.start, r.end)} hotplug: {range_word(r.status)} "
                     f"[{r.evidence.value}], {memory}: {'ok' if r.ok else 'VIOLATED' if r.ok is False else '?'}")
        lines += [f"    {reason}" for reason in r.reasons]
    for n in verdict.nodes:
        cpus = "CPUs not logged" if n.cpus is None else f"{n.cpus} CPUs"
        memory = "memoryless" if n.memoryless else ("memory not logged" if n.memory is None
                                                     else format_size(n.memory))
        movable = f", ZONE_MOVABLE from {n.movable_start:#x}" if n.movable_start is not None else ""
        pxms = ",".join(map(str, n.pxms)) or "?"
        lines.append(f"  node {n.node}: PXM {pxms}, {cpus}, {memory}{movable}")
    if verdict.renumbered:
        lines.append("  PXM -> node renumbered: " + ", ".join(f"{p}->{n}" for p, n in verdict.renumbered.items()))
    lines += describe_init_times(verdict.init_times)
    return "\n".join(lines)


def _on_off(flag: bool | None, how: str) -> str:
    if flag is None:
        return how
    return ("on" if flag else "off") + ("" if how == "command line" else f" ({how})")
