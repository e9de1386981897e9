"""Field log against its replica's boot log, range by range, at the same addresses.

What must be identical for a full-size replica: the SRAT memory ranges (node, PXM, start,
end, hotplug), PXM -> node (from the CPU lines too when both logs print them), each node's span (``Initmem setup node``), which nodes are
memoryless, and the early node ranges (memblock.memory by node) above 1 MiB.  Below
1 MiB QEMU's firmware map differs (its EBDA takes the top 1 KiB of base memory), so those
rows are shown but not required.
"""
from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from harness.logparse import BootLog
from harness.units import hex_range

FIRST_MIB = 1 << 20


class Kind(str, enum.Enum):
    SRAT = "SRAT"
    PXM = "PXM -> node"
    SPAN = "node span"
    MEMORYLESS = "memoryless"
    RANGE = "node range"
    BASE = "below 1 MiB"  # shown, never required


@dataclass(frozen=True)
class Row:
    kind: Kind
    field: str
    replica: str
    required: bool = True

    @property
    def same(self) -> bool:
        return self.field == self.replica


@dataclass(frozen=True)
class FieldComparison:
    rows: tuple[Row, ...]
    field_lacks: tuple[str, ...] = ()  # lines the replica printed and the field log does not show

    @property
    def identical(self) -> bool:
        return all(r.same for r in self.rows if r.required)

    def to_json(self) -> dict[str, Any]:
        return {"identical": self.identical, "field_lacks": list(self.field_lacks), "rows": [
            {"kind": r.kind.value, "field": r.field, "replica": r.replica, "same": r.same,
             "required": r.required} for r in self.rows]}

    @property
    def differing(self) -> tuple[Row, ...]:
        return tuple(r for r in self.rows if r.required and not r.same)


def _pair(kind: Kind, field: Sequence[str], replica: Sequence[str], required: bool = True) -> list[Row]:
    """Rows in order; a side with fewer entries shows '-' (a range one side lacks)."""
    count = max(len(field), len(replica))
    pad = ["-"] * count
    return [Row(kind, f, r, required)
            for f, r in zip([*field, *pad][:count], [*replica, *pad][:count], strict=True)]


def _pxms(log: BootLog) -> list[str]:
    """PXM -> node as the log shows it.  The CPU lines (``SRAT: PXM p -> APIC a -> Node n``)
    are pr_debug on 6.12 (arch/x86/mm/srat.c acpi_numa_processor_affinity_init), so a
    CPU-only PXM may be missing there; the memory lines are always printed."""
    return [f"PXM {p} -> node {n}" for p, n in sorted(log.pxm_to_node.items())]


def _srat(log: BootLog) -> list[str]:
    return [s.words() for s in sorted(log.srat_memory, key=lambda s: s.start)]


def _memoryless(log: BootLog) -> set[int]:
    # 5.x prints "Initmem setup node 1 [mem 0x0000000000000000-0x0000000000000000]" for one,
    # 6.1 and 6.12 "Initmem setup node 1 as memoryless" (mm/page_alloc.c, mm/mm_init.c).
    return set(log.memoryless_nodes) | {n for n, r in log.initmem.items() if r.end - r.start <= 1}


def _spans(log: BootLog) -> list[str]:
    empty = _memoryless(log)
    return [f"node {n} [mem {hex_range(r.start, r.end)}]" for n, r in sorted(log.initmem.items()) if n not in empty]


def _ranges(log: BootLog, low: bool) -> list[str]:
    return [f"node {r.node} [mem {hex_range(r.start, r.end)}]" for r in log.early_node_ranges
            if (r.start < FIRST_MIB) == low]


# Each compared kind, the lines it is read from (as the kernel prints them) and whether a log has them.
_SOURCES: tuple[tuple[str, Callable[[BootLog], object]], ...] = (
    ("'ACPI: SRAT: Node N PXM N [mem …]'", lambda log: log.srat_memory),
    ("'SRAT: PXM N -> APIC … -> Node N'", lambda log: log.pxm_apic),
    ("'Initmem setup node N'", lambda log: log.initmem),
    ("'Early memory node ranges'", lambda log: log.early_node_ranges),
    ("'Zone ranges:'", lambda log: log.zone_ranges),
    ("'Command line:'", lambda log: log.command_line),
)


def lacking(field: BootLog, replica: BootLog) -> tuple[str, ...]:
    """The lines the replica's boot printed that the field log (an excerpt, often) lacks:
    its rows there show '-' for what the field log could not tell, not for a difference."""
    return tuple(name for name, has in _SOURCES if has(replica) and not has(field))


def compare_logs(field: BootLog, replica: BootLog) -> FieldComparison:
    rows = _pair(Kind.SRAT, _srat(field), _srat(replica))
    # Held to the CPU lines only where both logs print them.
    rows += _pair(Kind.PXM, _pxms(field), _pxms(replica), bool(field.pxm_apic) == bool(replica.pxm_apic))
    rows += _pair(Kind.SPAN, _spans(field), _spans(replica))
    rows.append(Row(Kind.MEMORYLESS, ",".join(map(str, sorted(_memoryless(field)))) or "none",
                    ",".join(map(str, sorted(_memoryless(replica)))) or "none"))
    rows += _pair(Kind.RANGE, _ranges(field, False), _ranges(replica, False))
    rows += _pair(Kind.BASE, _ranges(field, True), _ranges(replica, True), required=False)
    return FieldComparison(tuple(rows), lacking(field, replica))


def describe_comparison(result: FieldComparison, field: str, replica: str) -> str:
    lines = [f"{'':<12} {'field: ' + field:<52} replica: {replica}"]
    for row in result.rows:
        mark = "same" if row.same else ("DIFF" if row.required else "differs (not required)")
        lines.append(f"{row.kind.value:<12} {row.field:<52} {row.replica:<52} {mark}")
    verdict = ("IDENTICAL: SRAT and node ranges match" if result.identical
               else f"DIFFERENT: {len(result.differing)} rows differ")
    if result.field_lacks:
        lines.append("the field log lacks " + ", ".join(result.field_lacks) + " (the replica printed them)")
    return "\n".join([*lines, verdict])
