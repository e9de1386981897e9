"""Sanity checks of an SRAT against the guest's RAM map, before it is booted.

Only *enabled* memory affinity entries count: ``acpi_numa_memory_affinity_init``
skips disabled ones (QEMU emits an all-zero disabled entry as padding).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

from harness.units import format_size, hex_range

from .srat import (
    GenericInitiatorAffinity,
    MemoryAffinity,
    ProcessorLocalApicAffinity,
    RawSubtable,
    Srat,
    X2ApicAffinity,
)

PAGE_SIZE = 4096
# x86-64 probe_memory_block_size() below 64 GiB of RAM; hot-remove works per block.
MEMORY_BLOCK_SIZE = 128 << 20

Range = tuple[int, int]


class Level(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    level: Level
    message: str


def validate_srat(
    srat: Srat,
    ram: list[Range],
    device_window: Range | None,
    block_size: int = MEMORY_BLOCK_SIZE,
) -> list[Finding]:
    """Problems in ``srat`` given RAM as half-open ``(start, end)`` ranges and the device-memory window."""
    memory = [m for m in srat.memory_affinities if m.enabled and m.length]
    findings = _overlaps(memory)
    window = [device_window] if device_window else []
    for m in memory:
        name = f"memory PXM {m.proximity_domain} [mem {hex_range(m.base_address, m.end)}]"
        findings += _alignment(name, m, block_size)
        outside = _uncovered((m.base_address, m.end), ram + window)
        if outside:
            pieces = ", ".join(hex_range(s, e) for s, e in outside)
            findings.append(Finding(Level.WARNING, f"{name} reaches beyond RAM and the device window: {pieces}"))
        if m.hot_pluggable and not _intersects((m.base_address, m.end), ram + window):
            findings.append(Finding(
                Level.WARNING,
                f"{name} is marked hotpluggable but holds no RAM and lies outside the device window",
            ))
    return findings + _empty_domains(srat)


def _overlaps(memory: list[MemoryAffinity]) -> list[Finding]:
    ordered = sorted(memory, key=lambda m: m.base_address)
    return [
        Finding(
            Level.ERROR,
            f"memory ranges overlap: PXM {a.proximity_domain} [mem {hex_range(a.base_address, a.end)}] and "
            f"PXM {b.proximity_domain} [mem {hex_range(b.base_address, b.end)}]",
        )
        for i, a in enumerate(ordered) for b in ordered[i + 1:]
        if b.base_address < a.end
    ]


def _alignment(name: str, m: MemoryAffinity, block_size: int) -> list[Finding]:
    if m.base_address % PAGE_SIZE or m.length % PAGE_SIZE:
        return [Finding(Level.ERROR, f"{name} is not aligned to the {format_size(PAGE_SIZE)} page size")]
    if m.hot_pluggable and (m.base_address % block_size or m.length % block_size):
        return [Finding(
            Level.WARNING,
            f"{name} is hotpluggable but not aligned to the {format_size(block_size)} memory block size, "
            "so its edge blocks cannot be offlined on their own",
        )]
    return []


def _empty_domains(srat: Srat) -> list[Finding]:
    mentioned = {s.proximity_domain for s in srat.subtables if not isinstance(s, RawSubtable)}
    used = {
        s.proximity_domain for s in srat.subtables
        if isinstance(s, (ProcessorLocalApicAffinity, X2ApicAffinity, GenericInitiatorAffinity)) and s.enabled
        or isinstance(s, MemoryAffinity) and s.enabled and s.length
    }
    return [
        Finding(Level.WARNING, f"proximity domain {pxm} has neither enabled CPUs nor memory")
        for pxm in sorted(mentioned - used)
    ]


def _intersects(span: Range, ranges: list[Range]) -> bool:
    return any(s < span[1] and span[0] < e for s, e in ranges)


def _uncovered(span: Range, ranges: list[Range]) -> list[Range]:
    """The parts of ``span`` that no range covers."""
    pieces, cursor = [], span[0]
    for s, e in sorted(ranges):
        if e <= cursor or s >= span[1]:
            continue
        if s > cursor:
            pieces.append((cursor, s))
        cursor = max(cursor, e)
    if cursor < span[1]:
        pieces.append((cursor, span[1]))
    return pieces
