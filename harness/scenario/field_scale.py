"""Scale a field machine's node map down to a QEMU ``pc`` guest, keeping its shape.

What survives scaling: the order of the ranges (so interleaved nodes stay interleaved),
each range's node and hotplug mark, the holes between ranges, and which ranges lie below
and above 4 GiB.  Sizes do not survive: QEMU ``pc`` puts exactly 3 GiB below 4 GiB once
the guest has 3.5 GiB or more (harness/scenario/layout.py), so the field's low ranges share 3 GiB
and its high ranges share at most :data:`HIGH_MAX_UNITS` blocks, every range at least one
128 MiB memory block (the unit of hot-remove).  Low ranges are sized in proportion; high
ranges at one common scale, so equal field nodes stay equal and a larger one never gets less.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from harness.errors import BadInputError
from harness.memblock.numa import SratMemory
from harness.qemu.facts import PROFILES
from harness.scenario.layout import FOUR_GIB
from harness.scenario.schema import MEMORY_BLOCK_SIZE
from harness.units import MiB

UNIT = MEMORY_BLOCK_SIZE
LOW_UNITS = PROFILES["pc"].lowmem_when_split // UNIT  # QEMU pc's RAM below 4 GiB when it splits
SPLIT_UNITS = PROFILES["pc"].lowmem_default // UNIT  # QEMU pc splits RAM from this size on
HIGH_MAX_UNITS = 12
# Gaps smaller than this are firmware reservations, not holes worth a memory block.
HOLE_MIN = 64 * MiB


@dataclass(frozen=True)
class ScaledRange:
    """Where a field SRAT range (clipped to RAM) lands in the guest: [start, end)."""

    field: SratMemory
    start: int
    end: int

    @property
    def size(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class ScaledHole:
    """A field hole ([field_start, field_end)) kept as one reserved block in the guest."""

    field_start: int
    field_end: int
    start: int
    end: int


def _split_at_4g(pieces: Sequence[SratMemory]) -> list[SratMemory]:
    out: list[SratMemory] = []
    for p in pieces:
        if p.start < FOUR_GIB < p.end:
            out += [replace(p, end=FOUR_GIB), replace(p, start=FOUR_GIB)]
        else:
            out.append(p)
    return out


def _items(pieces: list[SratMemory], base: int) -> list[SratMemory | tuple[int, int]]:
    """The half's ranges in address order with the holes between them as (start, end)."""
    items: list[SratMemory | tuple[int, int]] = []
    cursor = base
    for p in sorted(pieces, key=lambda r: r.start):
        if p.start - cursor >= HOLE_MIN:
            items.append((cursor, p.start))
        items.append(p)
        cursor = p.end
    return items


def apportion(sizes: Sequence[int], total: int) -> list[int]:
    """Split ``total`` units over ``sizes``: one each, the rest by largest remainder."""
    if total < len(sizes):
        raise ValueError(f"{total} units cannot hold {len(sizes)} ranges")
    spare = total - len(sizes)
    weight = sum(sizes) or 1
    shares = [spare * s / weight for s in sizes]
    units = [1 + math.floor(s) for s in shares]
    order = sorted(range(len(sizes)), key=lambda i: shares[i] - math.floor(shares[i]), reverse=True)
    for i in order[: total - sum(units)]:
        units[i] += 1
    return units


def even_units(sizes: Sequence[int], total: int) -> list[int]:
    """Units for ``sizes`` at one common scale: equal sizes get equal units, a larger size
    never fewer, every size at least one; the finest such scale whose units fit ``total``."""
    if total < len(sizes):
        raise ValueError(f"{total} units cannot hold {len(sizes)} ranges")
    top = max(sizes)
    best = [1] * len(sizes)
    for per_top in range(1, total + 1):
        # round(size * per_top / top), in integers so the result never depends on floats
        units = [max(1, (2 * size * per_top + top) // (2 * top)) for size in sizes]
        if sum(units) <= total:
            best = units
    return best


def _high_units(sizes: Sequence[int], budget: int, least: int) -> list[int]:
    """Above 4 GiB the total is free: one common scale, so equal field ranges stay equal;
    QEMU must still see RAM past its split (``least`` units), the largest range takes any
    shortfall."""
    units = even_units(sizes, budget)
    units[units.index(max(units))] += max(0, least - sum(units))
    return units


def _place(items: list[SratMemory | tuple[int, int]], shares_of: Sequence[int], base: int
           ) -> tuple[list[ScaledRange], list[ScaledHole]]:
    shares = iter(shares_of)
    out_r: list[ScaledRange] = []
    out_h: list[ScaledHole] = []
    cursor = base
    for item in items:
        if isinstance(item, SratMemory):
            end = cursor + next(shares) * UNIT
            out_r.append(ScaledRange(item, cursor, end))
        else:
            end = cursor + UNIT
            out_h.append(ScaledHole(item[0], item[1], cursor, end))
        cursor = end
    return out_r, out_h


def scale(pieces: Sequence[SratMemory], where: str) -> tuple[tuple[ScaledRange, ...], tuple[ScaledHole, ...]]:
    """Lay ``pieces`` out in guest RAM: below 4 GiB from 0, above from 4 GiB."""
    split = _split_at_4g(pieces)
    low = _items([p for p in split if p.end <= FOUR_GIB], 0)
    high = _items([p for p in split if p.start >= FOUR_GIB], FOUR_GIB)
    if not low:
        raise BadInputError(f"{where}: no SRAT range holds RAM below 4 GiB; a pc guest always has some")
    if len(low) > LOW_UNITS:
        raise BadInputError(f"{where}: {len(low)} ranges and holes below 4 GiB do not fit 3 GiB of 128M blocks")
    low_sizes = [p.size for p in low if isinstance(p, SratMemory)]
    low_units = LOW_UNITS if high else max(len(low), min(LOW_UNITS, -(-sum(low_sizes) // UNIT)))
    # Below 4 GiB QEMU gives exactly low_units blocks: shared out in proportion.
    ranges, holes = _place(low, apportion(low_sizes, low_units - (len(low) - len(low_sizes))), 0)
    if high:
        high_sizes = [p.size for p in high if isinstance(p, SratMemory)]
        high_holes = len(high) - len(high_sizes)
        least = SPLIT_UNITS - LOW_UNITS - high_holes
        budget = max(HIGH_MAX_UNITS - high_holes, len(high_sizes))
        more_r, more_h = _place(high, _high_units(high_sizes, budget, least), FOUR_GIB)
        ranges += more_r
        holes += more_h
    return tuple(ranges), tuple(holes)
