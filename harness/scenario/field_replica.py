"""A full-size replica of a field machine: the field's own physical addresses, node sizes
and SRAT ranges, so the replica's boot log can be held against the field's range by range.

QEMU ``pc`` maps RAM at [0, below_4g) and [4 GiB, 4 GiB + above) (hw/i386/pc_piix.c
pc_init1: below_4g is 3 GiB once RAM reaches max-ram-below-4g, 3.5 GiB by default, and
never more with gigabyte alignment).  The replica takes exactly that: 3 GiB below and the
field's top of RAM above, and every field gap inside them becomes ``memmap=SIZE$ADDR``
(arch/x86/kernel/e820.c parse_memmap_one: E820_TYPE_RESERVED, which e820__memblock_setup
leaves out of memblock.memory).  Guest RAM is mapped with ``reserve=off``, so it need not
fit the host.  Below 1 MiB only field RAM QEMU has too can be kept: the top of QEMU's base
memory stays its firmware's.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.logparse import BootLog
from harness.memblock.numa import SratMemory
from harness.scenario.field_scale import LOW_UNITS, UNIT
from harness.scenario.layout import FOUR_GIB
from harness.units import MiB, format_size

LOW_RAM = LOW_UNITS * UNIT  # QEMU pc's RAM below 4 GiB for a guest this size
FIRST_MIB = 1 * MiB
# QEMU's base memory as the kernel keeps it: SeaBIOS reports [0, 0x9fc00) usable (its EBDA
# above), which e820 trims to whole pages.  Field RAM starting higher is hidden too.
BASE_TOP = 0x9F000
# x86 COMMAND_LINE_SIZE is 2048: room for this many memmap= words beside the rest.
MAX_GAPS = 48


@dataclass(frozen=True)
class ReplicaPlan:
    """Guest RAM and the field gaps it must hide; ``reason`` says why there is none."""

    ram_size: int
    gaps: tuple[tuple[int, int], ...]
    node_memory: dict[int, int]  # field node -> QEMU backend size (whole blocks)
    reason: str | None = None


def _refuse(reason: str) -> ReplicaPlan:
    return ReplicaPlan(0, (), {}, reason)


def _merged(ram: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(ram):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _gaps(ram: Sequence[tuple[int, int]], spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Parts of the guest's RAM spans that the field's RAM does not cover."""
    out = []
    for lo, hi in spans:
        cursor = lo
        for start, end in ram:
            if end <= cursor or start >= hi:
                continue
            if start > cursor:
                out.append((cursor, start))
            cursor = max(cursor, end)
        if cursor < hi:
            out.append((cursor, hi))
    return out


def _node_memory(srat: Sequence[SratMemory], ram: Sequence[tuple[int, int]], total: int) -> dict[int, int]:
    """QEMU's per-node backends: the field node's RAM in whole blocks, the rest on the node
    of the lowest range.  Only their sum is guest-visible: the override SRAT says the nodes."""
    def held(rng: SratMemory) -> int:
        return sum(max(0, min(rng.end, e) - max(rng.start, s)) for s, e in ram)

    memory: dict[int, int] = {}
    for rng in srat:
        memory[rng.node] = memory.get(rng.node, 0) + held(rng)
    blocks = {node: size // UNIT * UNIT for node, size in memory.items()}
    first = min(srat, key=lambda r: r.start).node
    blocks[first] += total - sum(blocks.values())
    return blocks


def plan_replica(log: BootLog | None, srat: Sequence[SratMemory], windows: int, budget: int) -> ReplicaPlan:
    """The replica's RAM and gaps, or why the field machine cannot be replicated here."""
    if log is None or not log.e820:
        return _refuse("the log shows no e820 map, so the field's addresses are unknown")
    if windows:
        return _refuse("hotplug-only SRAT ranges would have to lie in QEMU's device-memory area")
    ram = _merged([(e.start, e.end) for e in log.e820 if e.is_ram])
    low_top = max((e for _, e in ram if e <= FOUR_GIB), default=0)
    if low_top > LOW_RAM:
        return _refuse(f"field RAM below 4 GiB reaches {low_top:#x}, above QEMU pc's "
                       f"{format_size(LOW_RAM)}")
    high_top = max((e for _, e in ram if e > FOUR_GIB), default=FOUR_GIB)
    above = -(-(high_top - FOUR_GIB) // UNIT) * UNIT
    ram_size = LOW_RAM + above
    if ram_size > budget:
        return _refuse(f"full size needs {format_size(ram_size)} of guest RAM, above the "
                       f"budget of {format_size(budget)}")
    gaps = _gaps(ram, [(0, BASE_TOP), (FIRST_MIB, LOW_RAM), (FOUR_GIB, FOUR_GIB + above)])
    if len(gaps) > MAX_GAPS:
        return _refuse(f"{len(gaps)} gaps in the field's RAM map: too many memmap= words")
    return ReplicaPlan(ram_size, tuple(gaps), _node_memory(srat, ram, ram_size))
