"""The memblock model, named after the kernel's own types (include/linux/memblock.h).

These are the types shared by the log parsers, the simulator and the verdicts:
``struct memblock_region {base, size, flags, nid}``, ``struct memblock_type`` and
``struct memblock``. Ranges are half-open: ``end = base + size``.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from kernels.profile import MemblockRules, profile_for

# Debian amd64 kernels have CONFIG_NODES_SHIFT=10; memblock_add/reserve store
# MAX_NUMNODES as "no node" and 6.12's numa init resets to NUMA_NO_NODE.
MAX_NUMNODES = 1024
NUMA_NO_NODE = -1

PAGE_SIZE = 4096


def memblock_rules(kernel: MemblockRules | str) -> MemblockRules:
    """The memblock rules of ``kernel``: the rules themselves, or a release's profile row
    (kernels.profile says where the kernels' mm/memblock.c differ)."""
    if isinstance(kernel, MemblockRules):
        return kernel
    return profile_for(kernel).profile.memblock


class RegionFlags(enum.IntFlag):
    """``enum memblock_flags``; RSRV_NOINIT exists from 6.12 on (reserved only), RSRV_KERN,
    KHO_SCRATCH (memory only) and RSRV_HUGETLB where ``MemblockRules.reserve_nid_flags``."""

    NONE = 0
    HOTPLUG = 0x1
    MIRROR = 0x2
    NOMAP = 0x4
    DRIVER_MANAGED = 0x8
    RSRV_NOINIT = 0x10
    RSRV_KERN = 0x20
    KHO_SCRATCH = 0x40
    RSRV_HUGETLB = 0x80


def nid_is_valid(nid: int, max_numnodes: int = MAX_NUMNODES) -> bool:
    """``numa_valid_node()``: the dump prints ``on node N`` only for these."""
    return 0 <= nid < max_numnodes


@dataclass(frozen=True)
class MemblockRegion:
    """``struct memblock_region``."""

    base: int
    size: int
    flags: int = 0
    nid: int = MAX_NUMNODES

    @property
    def end(self) -> int:
        return self.base + self.size

    def overlaps(self, start: int, end: int) -> bool:
        return self.base < end and start < self.end

    def to_json(self) -> dict[str, Any]:
        return {"base": self.base, "size": self.size, "flags": self.flags, "nid": self.nid}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MemblockRegion:
        return cls(int(data["base"]), int(data["size"]), int(data["flags"]), int(data["nid"]))


@dataclass
class MemblockType:
    """``struct memblock_type``: ``cnt`` is ``len(regions)``, ``max`` the array capacity."""

    name: str
    regions: list[MemblockRegion] = field(default_factory=list)
    max: int = 128

    @property
    def cnt(self) -> int:
        return len(self.regions)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "regions": [r.to_json() for r in self.regions]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MemblockType:
        return cls(str(data["name"]), [MemblockRegion.from_json(r) for r in data["regions"]])


@dataclass
class Memblock:
    """``struct memblock``: allocation direction, current limit and the two arrays."""

    bottom_up: bool = False
    current_limit: int = (1 << 64) - 1
    memory: MemblockType = field(default_factory=lambda: MemblockType("memory"))
    reserved: MemblockType = field(default_factory=lambda: MemblockType("reserved"))

    def to_json(self) -> dict[str, Any]:
        return {
            "bottom_up": self.bottom_up,
            "current_limit": self.current_limit,
            "memory": self.memory.to_json(),
            "reserved": self.reserved.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Memblock:
        return cls(
            bool(data["bottom_up"]),
            int(data["current_limit"]),
            MemblockType.from_json(data["memory"]),
            MemblockType.from_json(data["reserved"]),
        )
