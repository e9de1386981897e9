"""Why an SRAT hotplug mark was or was not honoured, from a parsed boot log.

arch/x86/mm/numa.c:numa_clear_kernel_node_hotplug (6.12: mm/numa_memblks.c) tags every
reserved region with its node and clears HOTPLUG on **every** node that holds any
reserved region, whatever it is.  The last MEMBLOCK dump shows the outcome: memory
regions still flagged 0x1 were honoured, and the reserved regions carrying a node id
are the ones that existed at that moment (later reservations print no node).
Reservations made before ``memblock=debug`` was parsed (kernel image, initrd, setup_data,
BIOS areas: setup.c:early_reserve_memory) are never logged.
"""
from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass

from harness.logparse import AddressRange, BootLog, MemblockAlloc, MemblockDump, MemblockEvent
from harness.logparse.common import JsonMixin
from harness.memblock.model import MemblockRegion, RegionFlags

UNLOGGED = "early reservation not logged (kernel image/setup_data/BIOS/…)"


class CauseKind(enum.Enum):
    MEMBLOCK_RESERVE = "memblock_reserve"
    MEMBLOCK_ALLOC = "memblock_alloc"
    INITRD = "initrd"
    ACPI_TABLE = "acpi_table"
    UNLOGGED = "unlogged"


@dataclass(frozen=True)
class ReservationCause(JsonMixin):
    """One logged reason for (part of) a reserved region; ``caller`` is a function name,
    ``initrd``, ``ACPI <SIG> table`` or the unlogged marker; ``line`` where it was logged."""

    kind: CauseKind
    caller: str
    start: int
    end: int
    line: int | None


@dataclass(frozen=True)
class AttributedReservation(JsonMixin):
    """A reserved region of the last dump and what put it there."""

    region: MemblockRegion
    causes: tuple[ReservationCause, ...]

    @property
    def callers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.caller for c in self.causes))


class HotplugStatus(enum.Enum):
    """What became of an SRAT hotplug mark: the one status for a node's ranges (run) and
    for one range (``memhp parse``, harness.analysis.log_verdict)."""

    HONOURED = "honoured"  # every memory region in the ranges still has HOTPLUG
    CLEARED = "cleared"  # none has: the node was pinned
    PARTIAL = "partial"  # some have
    NO_BOOT_MEMORY = "no_boot_memory"  # the ranges hold no boot memory (hot-add window)
    UNKNOWN = "unknown"  # the log does not show the mark's fate (no complete MEMBLOCK dump after SRAT)


def dump_status(memory: tuple[MemblockRegion, ...]) -> HotplugStatus:
    """The status the outcome dump's memory regions inside some hotplug ranges show."""
    flagged = [bool(r.flags & RegionFlags.HOTPLUG) for r in memory]
    if not memory:
        return HotplugStatus.NO_BOOT_MEMORY
    if all(flagged):
        return HotplugStatus.HONOURED
    if any(flagged):
        return HotplugStatus.PARTIAL
    return HotplugStatus.CLEARED


@dataclass(frozen=True)
class NodeHotplugFinding(JsonMixin):
    """For one node with SRAT hotplug ranges: was the mark honoured, and if not, why."""

    node: int
    hotplug_ranges: tuple[AddressRange, ...]
    status: HotplugStatus
    memory: tuple[MemblockRegion, ...]
    pinned_by: tuple[AttributedReservation, ...]

    @property
    def honoured(self) -> bool | None:
        if self.status in (HotplugStatus.UNKNOWN, HotplugStatus.NO_BOOT_MEMORY):
            return None
        return self.status is HotplugStatus.HONOURED


@dataclass(frozen=True)
class HotplugRangeReservation(JsonMixin):
    """A reserved region overlapping an SRAT hotplug range (the check the kernel lacks)."""

    hotplug_node: int
    hotplug_range: AddressRange
    reservation: AttributedReservation


def hotplug_findings(log: BootLog) -> tuple[NodeHotplugFinding, ...]:
    """One finding per node that has SRAT hotplug ranges, in node order."""
    nodes = sorted({s.node for s in log.hotplug_srat})
    return tuple(_finding(log, node) for node in nodes)


def outcome_dump(log: BootLog) -> MemblockDump | None:
    """The dump that shows what became of the SRAT's marks: the last one, printed whole
    and after the SRAT lines (6.1 arch/x86/mm/numa.c:numa_register_memblks ends with
    memblock_dump_all; 6.12 arch/x86/mm/numa.c:numa_register_nodes).  A log cut before it (its last dump is e820__memblock_setup's,
    which predates every mark) or inside it (fewer regions than its ``cnt``) decides nothing."""
    dump = log.last_dump
    if dump is None or not dump.complete:
        return None
    if any(s.line > dump.line for s in log.hotplug_srat):
        return None
    return dump


def _finding(log: BootLog, node: int) -> NodeHotplugFinding:
    ranges = tuple(s.range for s in log.hotplug_srat if s.node == node)
    dump = outcome_dump(log)
    if dump is None:
        return NodeHotplugFinding(node, ranges, HotplugStatus.UNKNOWN, (), ())
    memory = tuple(r for r in dump.memory if any(rg.overlaps(r.base, r.end) for rg in ranges))
    status = dump_status(memory)
    pinned: tuple[AttributedReservation, ...] = ()
    if status in (HotplugStatus.CLEARED, HotplugStatus.PARTIAL):
        pinned = tuple(attribute(log, r) for r in dump.reserved if r.nid == node)
    return NodeHotplugFinding(node, ranges, status, memory, pinned)


def reservations_in_hotplug_ranges(log: BootLog) -> tuple[HotplugRangeReservation, ...]:
    """Every reserved region of the outcome dump that overlaps an SRAT hotplug range."""
    dump = outcome_dump(log)
    if dump is None:
        return ()
    return tuple(
        HotplugRangeReservation(srat.node, srat.range, attribute(log, region))
        for srat in log.hotplug_srat
        for region in dump.reserved
        if srat.range.overlaps(region.base, region.end)
    )


def attribute(log: BootLog, region: MemblockRegion) -> AttributedReservation:
    """The logged reservations (before the last dump) overlapping ``region``; whatever
    part none of them covers is an early, unlogged reservation."""
    dump = log.last_dump
    before = dump.line if dump is not None else None
    causes = [c for c in _logged_causes(log, before) if c.start < region.end and region.base < c.end]
    uncovered = _uncovered(region, causes)
    causes += [ReservationCause(CauseKind.UNLOGGED, UNLOGGED, s, e, None) for s, e in uncovered]
    return AttributedReservation(region, tuple(causes))


def causes_after_last_dump(log: BootLog) -> list[ReservationCause]:
    """The memblock allocations logged after the last dump and never freed (memmap and
    usemaps, percpu, the crash kernel): mm/memblock.c:memblock_free_all makes them
    PageReserved like the dump's regions."""
    dump = log.last_dump
    after = dump.line if dump is not None else 0
    # reserve_crashkernel is inlined into setup_arch (6.1): its own line names it.
    crash = {(c.range.start, c.range.end): c.line for c in log.crashkernel}
    return [dataclasses.replace(c, caller="crashkernel", line=crash[(c.start, c.end)])
            if (c.start, c.end) in crash else c
            for c in _logged_causes(log, None) if c.line is not None and c.line > after]


def _logged_causes(log: BootLog, before: int | None) -> list[ReservationCause]:
    causes: list[ReservationCause] = []
    for op in log.memblock_ops:
        if before is not None and op.line > before:
            break
        if isinstance(op, MemblockEvent) and op.func == "memblock_reserve":
            name = _node_data_name(log, op) or op.caller_function
            causes.append(ReservationCause(CauseKind.MEMBLOCK_RESERVE, name, op.base, op.end, op.line))
        elif isinstance(op, MemblockEvent) and op.func in ("memblock_phys_free", "memblock_free"):
            causes = _subtract(causes, op.base, op.end)
        elif isinstance(op, MemblockAlloc) and op.result is not None:
            r = op.result
            causes.append(ReservationCause(CauseKind.MEMBLOCK_ALLOC, op.requester, r.start, r.end, op.line))
    if log.ramdisk is not None:
        causes.append(ReservationCause(CauseKind.INITRD, "initrd", log.ramdisk.start, log.ramdisk.end, None))
    for t in log.acpi_table_reservations:
        causes.append(ReservationCause(CauseKind.ACPI_TABLE, f"ACPI {t.signature} table", t.start, t.end, t.line))
    return causes


def _node_data_name(log: BootLog, event: MemblockEvent) -> str | None:
    """memblock_phys_alloc_try_nid logs no request: recognise NODE_DATA by its range."""
    for node, rng in log.node_data.items():
        if (rng.start, rng.end) == (event.base, event.end):
            return f"NODE_DATA({node})"
    return None


def _subtract(causes: list[ReservationCause], start: int, end: int) -> list[ReservationCause]:
    """A later memblock_phys_free takes its range back out of earlier causes."""
    kept: list[ReservationCause] = []
    for c in causes:
        if c.end <= start or end <= c.start:
            kept.append(c)
            continue
        if c.start < start:
            kept.append(dataclasses.replace(c, end=start))
        if end < c.end:
            kept.append(dataclasses.replace(c, start=end))
    return kept


def _uncovered(region: MemblockRegion, causes: list[ReservationCause]) -> list[tuple[int, int]]:
    gaps: list[tuple[int, int]] = []
    cursor = region.base
    for c in sorted(causes, key=lambda c: c.start):
        if c.start > cursor:
            gaps.append((cursor, min(c.start, region.end)))
        cursor = max(cursor, c.end)
        if cursor >= region.end:
            break
    if cursor < region.end:
        gaps.append((cursor, region.end))
    return gaps
