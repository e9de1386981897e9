"""What the guest says about its memory, as typed records (sysfs memory blocks, zoneinfo, page flags)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from harness.errors import GuestError


@dataclass(frozen=True)
class MemoryBlock:
    """``/sys/devices/system/memory/memoryN`` (drivers/base/memory.c)."""

    index: int
    state: str
    node: int | None
    valid_zones: tuple[str, ...]

    def start(self, block_size: int) -> int:
        # N is start_section_nr / sections_per_block (register_memory), as phys_index says.
        return self.index * block_size


@dataclass(frozen=True)
class ZoneInfo:
    node: int
    zone: str
    start_pfn: int
    spanned: int
    present: int
    managed: int


@dataclass(frozen=True)
class PageFlagSummary:
    """Counts of /proc/kpageflags bits over one memory block."""

    block: int
    pages: int
    nopage: int
    reserved: int
    slab: int
    pgtable: int
    buddy: int
    lru: int
    first_reserved_pfns: tuple[int, ...]


@dataclass(frozen=True, kw_only=True)
class PageFlagsUnread:
    """The guest refused an offline but its page flags could not be read."""

    error: str


def parse_blocks(lines: tuple[str, ...]) -> tuple[MemoryBlock, ...]:
    """The agent's runs ``FIRST LAST state node [zone,zone]``, one block each."""
    out = []
    for line in lines:
        parts = line.split()
        try:
            first, last = int(parts[0]), int(parts[1])
            node = None if parts[3] == "none" else int(parts[3])
        except (IndexError, ValueError):
            raise GuestError(f"agent blocks: unexpected line {line!r}") from None
        if last < first:
            raise GuestError(f"agent blocks: run ends before it starts: {line!r}")
        zones = tuple(z for z in (parts[4].split(",") if len(parts) > 4 else ()) if z)
        out += [MemoryBlock(index, parts[2], node, zones) for index in range(first, last + 1)]
    return tuple(sorted(out, key=lambda b: b.index))


_NODE = re.compile(r"^Node (\d+), zone\s+(\w+)")
_FIELD = re.compile(r"^\s+(spanned|present|managed|start_pfn):?\s+(\d+)")


def parse_zoneinfo(lines: tuple[str, ...]) -> tuple[ZoneInfo, ...]:
    out: list[ZoneInfo] = []
    current: dict[str, Any] | None = None

    def flush() -> None:
        if current is not None:
            out.append(ZoneInfo(current["node"], current["zone"], current.get("start_pfn", 0),
                                current.get("spanned", 0), current.get("present", 0),
                                current.get("managed", 0)))

    for line in lines:
        if m := _NODE.match(line):
            flush()
            current = {"node": int(m.group(1)), "zone": m.group(2)}
        elif (m := _FIELD.match(line)) and current is not None:
            current[m.group(1)] = int(m.group(2))
    flush()
    return tuple(out)


def parse_pageflags(block: int, lines: tuple[str, ...]) -> PageFlagSummary:
    fields = dict(item.split("=", 1) for item in " ".join(lines).split() if "=" in item)
    try:
        pfns = tuple(int(p, 16) for p in fields.get("first_reserved", "").split(",") if p)
        counts = {k: int(fields[k] or 0) for k in
                  ("pages", "nopage", "reserved", "slab", "pgtable", "buddy", "lru")}
        return PageFlagSummary(block=block, first_reserved_pfns=pfns, **counts)
    except (KeyError, ValueError) as err:
        raise GuestError(f"agent pageflags: unexpected reply {lines!r}") from err


@dataclass(frozen=True)
class GuestSnapshot:
    block_size: int
    blocks: tuple[MemoryBlock, ...]
    zones: tuple[ZoneInfo, ...]
    mem_total_kib: int

    def movable_nodes(self) -> dict[int, int]:
        """node → first address of a populated ZONE_MOVABLE, as the guest reports it."""
        return {z.node: z.start_pfn * 4096 for z in self.zones
                if z.zone == "Movable" and z.present > 0}


def parse_id_list(text: str) -> frozenset[int]:
    """A kernel list like ``0-2,5`` (lib/bitmap-str.c bitmap_parselist's format)."""
    out: set[int] = set()
    for part in filter(None, text.strip().split(",")):
        low, _, high = part.partition("-")
        out.update(range(int(low), int(high or low) + 1))
    return frozenset(out)


@dataclass(frozen=True)
class NodeStates:
    """``/sys/devices/system/node``: the node directories and the node_states masks
    (include/linux/nodemask.h N_ONLINE, N_CPU, N_MEMORY, N_NORMAL_MEMORY)."""

    dirs: frozenset[int]
    online: frozenset[int]
    has_cpu: frozenset[int]
    has_memory: frozenset[int]
    has_normal_memory: frozenset[int]

    def holds(self, node: int) -> list[str]:
        """Where ``node`` still shows; empty once try_offline_node has removed it."""
        where = [name for name in ("online", "has_cpu", "has_memory", "has_normal_memory")
                 if node in getattr(self, name)]
        return ([f"/sys/devices/system/node/node{node}"] if node in self.dirs else []) + where


def parse_nodes(lines: tuple[str, ...]) -> NodeStates:
    fields = {key: rest for key, _, rest in (line.partition(" ") for line in lines)}
    try:
        dirs = frozenset(int(n) for n in fields["dirs"].split())
        masks = {k: parse_id_list(fields[k]) for k in
                 ("online", "has_cpu", "has_memory", "has_normal_memory")}
    except (KeyError, ValueError) as err:
        raise GuestError(f"agent nodes: unexpected reply {lines!r}") from err
    return NodeStates(dirs=dirs, **masks)


def parse_cpus(lines: tuple[str, ...]) -> dict[int, bool]:
    """cpu number → online, for each ``/sys/devices/system/cpu/cpuN`` present."""
    try:
        return {int(cpu): state == "1" for cpu, state in (line.split() for line in lines)}
    except ValueError as err:
        raise GuestError(f"agent cpus: unexpected reply {lines!r}") from err


@dataclass(frozen=True)
class HotplugParams:
    """``/sys/devices/system/memory/auto_online_blocks`` (drivers/base/memory.c) and the
    ``memory_hotplug`` module parameters (mm/memory_hotplug.c); "" where the kernel has none."""

    auto_online_blocks: str
    online_policy: str
    auto_movable_ratio: str
    auto_movable_numa_aware: str
    memmap_on_memory: str

    @property
    def auto_online(self) -> bool:
        return self.auto_online_blocks != "offline"


def parse_hotplug_params(lines: tuple[str, ...]) -> HotplugParams:
    fields = {key: rest.strip() for key, _, rest in (line.partition(" ") for line in lines)}
    try:
        return HotplugParams(**{k: fields[k] for k in HotplugParams.__dataclass_fields__})
    except KeyError as err:
        raise GuestError(f"agent hotplug_params: unexpected reply {lines!r}") from err
