"""Hotplug-only SRAT ranges (memory the field firmware can hot-add, no RAM at boot) kept as
per-node hotplug windows of the guest, each with a DIMM slot and an optional DIMM.

QEMU maps pc-dimms only in its device-memory area, above all RAM (hw/i386/pc.c
pc_memory_init: 4 GiB + RAM above 4 GiB, rounded up to 1 GiB), so the windows are laid
out there in the field's address order, scaled at one common ratio (equal windows stay
equal).  The override SRAT gives each its field node and the hotplug mark; the layout
(harness/scenario/layout.py) puts each window's DIMM inside it with ``addr=``.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.memblock.numa import SratMemory
from harness.scenario.field_scale import UNIT, even_units
from harness.scenario.layout import FOUR_GIB
from harness.units import GiB


@dataclass(frozen=True)
class HotplugWindow:
    """A field hotplug-only SRAT range and where it lies in the guest: [start, end)."""

    field: SratMemory
    start: int
    end: int
    dimm: str  # the optional DIMM that hot-adds into it (one 128 MiB block)

    @property
    def size(self) -> int:
        return self.end - self.start


def split_windows(without_ram: Sequence[SratMemory]) -> tuple[list[SratMemory], list[SratMemory]]:
    """Of the SRAT ranges that hold no RAM: the hotpluggable ones (windows), and the rest."""
    return [r for r in without_ram if r.hotplug], [r for r in without_ram if not r.hotplug]


def place_windows(field: Sequence[SratMemory], guest_ram_end: int) -> tuple[HotplugWindow, ...]:
    """Windows from the guest's device-memory base, each a whole number of 128 MiB blocks."""
    if not field:
        return ()
    ordered = sorted(field, key=lambda w: w.start)
    units = even_units([w.size for w in ordered], 2 * len(ordered))
    cursor = -(-max(guest_ram_end, FOUR_GIB) // GiB) * GiB
    out = []
    for index, (window, count) in enumerate(zip(ordered, units, strict=True)):
        out.append(HotplugWindow(window, cursor, cursor + count * UNIT, f"hotplug{index}"))
        cursor += count * UNIT
    return tuple(out)


def moved_windows(windows: Sequence[HotplugWindow], ram: Sequence[SratMemory]) -> list[HotplugWindow]:
    """Windows that lay below some field RAM: the guest can only have them above it."""
    top = max((r.end for r in ram), default=0)
    return [w for w in windows if w.field.start < top]
