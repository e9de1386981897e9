"""Zone and node layout lines (mm/page_alloc.c:free_area_init; 6.12 mm/mm_init.c)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from harness.logparse.common import HEX, AddressRange, Append, ByKey, JsonMixin, LineKind, Special, hex_int
from harness.logparse.setup_arch import MEMORYLESS_RE, MemorylessNode


@dataclass(frozen=True)
class ZoneRange(JsonMixin):
    """``  DMA32    [mem 0x…-0x…]`` under ``Zone ranges:``; None/None for ``empty``."""

    name: str
    start: int | None
    end: int | None


@dataclass(frozen=True)
class MovableZoneStart:
    """``  Node 2: 0x0000000100000000`` under ``Movable zone start for each node``."""

    node: int
    start: int


class EarlyNodeRange(NamedTuple):
    """``  node   0: [mem 0x…-0x…]``: one memblock memory region; end exclusive."""

    node: int
    start: int
    end: int


@dataclass(frozen=True)
class Initmem:
    """``Initmem setup node 0 [mem 0x…-0x…]``."""

    node: int
    range: AddressRange


@dataclass(frozen=True)
class SectionStart:
    """A header whose following indented lines only make sense under it."""

    line: int
    name: str


ZONE_RANGES_HEADER_RE = re.compile(r"^\s*Zone ranges:\s*$")
MOVABLE_HEADER_RE = re.compile(r"^\s*Movable zone start for each node\s*$")
ZONE_RANGE_RE = re.compile(rf"^\s+(?P<name>\w+)\s+\[mem (?P<start>{HEX})-(?P<last>{HEX})\]\s*$")
ZONE_EMPTY_RE = re.compile(r"^\s+(?P<name>\w+)\s+empty\s*$")
MOVABLE_START_RE = re.compile(rf"^\s+Node (?P<node>\d+): (?P<start>{HEX})\s*$")
EARLY_NODE_RANGE_RE = re.compile(rf"^\s+node\s+(?P<node>\d+): \[mem (?P<start>{HEX})-(?P<last>{HEX})\]\s*$")
INITMEM_RE = re.compile(rf"Initmem setup node (?P<node>\d+) \[mem (?P<start>{HEX})-(?P<last>{HEX})\]\s*$")

ZONE_RANGES = "zone_ranges"
MOVABLE_ZONE_START = "movable_zone_start"

# A header itself is not kept: it only opens its section (reader.LineReader).
KINDS: tuple[LineKind[object], ...] = (
    LineKind(
        "zone_ranges_header", "Zone ranges:", ZONE_RANGES_HEADER_RE,
        lambda m, n: SectionStart(n, ZONE_RANGES), Special.NOT_KEPT,
    ),
    LineKind(
        "movable_zone_header", "Movable zone start for each node", MOVABLE_HEADER_RE,
        lambda m, n: SectionStart(n, MOVABLE_ZONE_START), Special.NOT_KEPT,
    ),
    LineKind(
        "early_node_range", "  node ", EARLY_NODE_RANGE_RE,
        lambda m, n: EarlyNodeRange(int(m["node"]), hex_int(m["start"]), hex_int(m["last"]) + 1),
        Append("early_node_ranges"),
    ),
    # Before initmem, whose trigger "Initmem setup node ... as memoryless" also holds.
    LineKind(
        "memoryless_node", "as memoryless", MEMORYLESS_RE, lambda m, n: MemorylessNode(n, int(m["node"])),
        Append("memoryless_nodes", "node", unique=True),
    ),
    LineKind(
        "initmem", "Initmem setup node", INITMEM_RE,
        lambda m, n: Initmem(int(m["node"]), AddressRange.from_inclusive(m["start"], m["last"])),
        ByKey("initmem", "node", "range"),
    ),
)

# Kinds tried only right after their header; the first other line ends the section.
SECTION_KINDS: dict[str, tuple[LineKind[object], ...]] = {
    ZONE_RANGES: (
        LineKind(
            "zone_range", "[mem ", ZONE_RANGE_RE,
            lambda m, n: ZoneRange(m["name"], hex_int(m["start"]), hex_int(m["last"]) + 1),
            Append("zone_ranges"),
        ),
        LineKind(
            "zone_empty", "empty", ZONE_EMPTY_RE, lambda m, n: ZoneRange(m["name"], None, None),
            Append("zone_ranges"),
        ),
    ),
    MOVABLE_ZONE_START: (
        LineKind(
            "movable_zone_node", "Node ", MOVABLE_START_RE,
            lambda m, n: MovableZoneStart(int(m["node"]), hex_int(m["start"])),
            ByKey("movable_zone_start", "node", "start"),
        ),
    ),
}
