"""``MEMBLOCK configuration:`` dumps (mm/memblock.c:memblock_dump_all, memblock=debug only)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from harness.logparse.common import HEX, JsonMixin, LineKind, Special, hex_int
from harness.memblock.model import MAX_NUMNODES, MemblockRegion


@dataclass(frozen=True)
class MemblockDump(JsonMixin):
    """One dump: the ``memory`` and ``reserved`` arrays as printed, in index order.

    The printed sizes and counts are kept so that a truncated dump can be recognised
    (``complete``).  Regions without ``on node N`` carry ``nid = MAX_NUMNODES``.
    """

    line: int
    memory: tuple[MemblockRegion, ...] = ()
    reserved: tuple[MemblockRegion, ...] = ()
    memory_size: int | None = None
    reserved_size: int | None = None
    memory_cnt: int | None = None
    reserved_cnt: int | None = None

    @property
    def complete(self) -> bool:
        # 6.1 prints one empty dummy region for an empty array (cnt stays 1).
        return self.memory_cnt == len(self.memory) and self.reserved_cnt == len(self.reserved)


@dataclass(frozen=True)
class DumpHeader:
    line: int


@dataclass(frozen=True)
class DumpSizes:
    line: int
    memory_size: int
    reserved_size: int


@dataclass(frozen=True)
class DumpCount:
    line: int
    type_name: str
    cnt: int


@dataclass(frozen=True)
class DumpRegion:
    line: int
    type_name: str
    index: int
    region: MemblockRegion


DUMP_HEADER_RE = re.compile(r"^\s*MEMBLOCK configuration:\s*$")
DUMP_SIZES_RE = re.compile(rf"^\s*memory size = (?P<mem>{HEX}) reserved size = (?P<res>{HEX})\s*$")
DUMP_COUNT_RE = re.compile(rf"^\s*(?P<type>memory|reserved|physmem)\.cnt\s+= (?P<cnt>{HEX})\s*$")
# " memory[0x2]\t[0x…-0x…], 0x… bytes on node 1 flags: 0x1"
DUMP_REGION_RE = re.compile(
    rf"^\s*(?P<type>memory|reserved|physmem)\[(?P<idx>{HEX})\]\s+\[(?P<start>{HEX})-(?P<last>{HEX})\], "
    rf"(?P<size>{HEX}) bytes(?: on node (?P<nid>-?\d+))? flags: (?P<flags>{HEX}|0)\s*$"
)


def _region(m: re.Match[str], line: int) -> DumpRegion:
    nid = int(m["nid"]) if m["nid"] is not None else MAX_NUMNODES
    region = MemblockRegion(hex_int(m["start"]), hex_int(m["size"]), int(m["flags"], 16), nid)
    return DumpRegion(line, m["type"], hex_int(m["idx"]), region)


DUMP = Special.MEMBLOCK_DUMP
KINDS: tuple[LineKind[object], ...] = (
    LineKind("memblock_dump_header", "MEMBLOCK configuration:", DUMP_HEADER_RE, lambda m, n: DumpHeader(n), DUMP),
    LineKind(
        "memblock_dump_sizes", "memory size = ", DUMP_SIZES_RE,
        lambda m, n: DumpSizes(n, hex_int(m["mem"]), hex_int(m["res"])), DUMP,
    ),
    LineKind(
        "memblock_dump_count", ".cnt  = ", DUMP_COUNT_RE,
        lambda m, n: DumpCount(n, m["type"], hex_int(m["cnt"])), DUMP,
    ),
    LineKind("memblock_dump_memory", " memory[0x", DUMP_REGION_RE, _region, DUMP),
    LineKind("memblock_dump_reserved", " reserved[0x", DUMP_REGION_RE, _region, DUMP),
)
