"""Hot-added DIMMs in the order a scenario adds and removes them: each one's zone
(:mod:`harness.analysis.online_policy`), where its memmap went, and whether it can go.

Without memmap_on_memory a DIMM's memmap is allocated before it is onlined, by
mm/sparse-vmemmap.c:vmemmap_alloc_block → ``alloc_pages_node(nid, GFP_KERNEL, order 9)``:
from the DIMM's node's highest kernel zone first. When that zone is one hot-added
ZONE_NORMAL DIMM, the later DIMM's memmap lives inside it and pins it (unmovable) until
the later DIMM is gone. With memmap_on_memory the memmap is the first pages of each of
the DIMM's own blocks (the altmap), unmovable too, but removed with its block
(drivers/base/memory.c:memory_block_offline offlines past them).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from harness.analysis.online_policy import (
    DMA32_END,
    PAGE_SIZE,
    HotplugConfig,
    ZonePages,
    ZoneSpan,
    vmemmap_pages_per_block,
    zone_for_dimm,
)
from harness.scenario.schema import MEMORY_BLOCK_SIZE, Dimm
from kernels.profile import OnlineType

MEMMAP_SELF = "itself"


@dataclass(frozen=True)
class DimmOnline:
    """One hot-added DIMM as the kernel onlines it."""

    dimm: str
    node: int
    start: int
    size: int
    zone: str  # Movable, Normal, DMA32 or offline
    nr_vmemmap_pages: int  # per memory block (memory_block.nr_vmemmap_pages); 0: memmap elsewhere
    memmap_in: str  # "itself", a DIMM id, or "node N kernel memory"

    @property
    def vmemmap_pages(self) -> int:
        return self.nr_vmemmap_pages * (self.size // MEMORY_BLOCK_SIZE)


def _boot_normal_nodes(ranges: dict[int, list[tuple[int, int]]], movable: dict[int, int]) -> set[int]:
    """Nodes with boot ZONE_NORMAL: memory above 4G below the node's ZONE_MOVABLE."""
    return {nid for nid, spans in ranges.items()
            if any(end > DMA32_END and max(base, DMA32_END) < movable.get(nid, end) for base, end in spans)}


@dataclass
class DimmTimeline:
    config: HotplugConfig
    stats: dict[int, ZonePages]
    boot_normal: set[int]
    window: tuple[int, int]  # QEMU's device-memory window [base, end)
    taken: tuple[tuple[int, int], ...] = ()  # boot-RAM DIMMs, placed by the layout
    present: dict[str, DimmOnline] = field(default_factory=dict)
    spans: list[ZoneSpan] = field(default_factory=list)
    added: list[DimmOnline] = field(default_factory=list)
    maybe_gone: set[str] = field(default_factory=set)  # an eject predicted uncertain

    @classmethod
    def of(cls, config: HotplugConfig, stats: dict[int, ZonePages],
           ranges: dict[int, list[tuple[int, int]]], movable: dict[int, int],
           window: tuple[int, int], taken: tuple[tuple[int, int], ...] = ()) -> DimmTimeline:
        return cls(config, dict(stats), _boot_normal_nodes(ranges, movable), window, taken)

    def set_online_type(self, value: str) -> None:
        """A write to /sys/devices/system/memory/auto_online_blocks
        (drivers/base/memory.c:auto_online_blocks_store refuses an unknown type)."""
        if value in OnlineType._value2member_map_:
            self.config = replace(self.config, default_online_type=OnlineType(value))

    def _free_address(self, size: int) -> int:
        """hw/mem/memory-device.c:memory_device_get_free_addr: the first gap of the window
        that fits (every DIMM here is a whole number of memory blocks, so aligned)."""
        start = self.window[0]
        used = sorted([*self.taken, *((d.start, d.start + d.size) for d in self.present.values())])
        for low, high in used:
            if start + size <= low:
                break
            start = max(start, high)
        return start

    def _memmap_host(self, nid: int) -> str:
        kernel = [d for d in self.present.values() if d.node == nid and d.zone == "Normal"]
        if nid not in self.boot_normal and len(kernel) == 1:
            return kernel[0].dimm
        return f"node {nid} kernel memory"

    def add(self, dimm: Dimm) -> DimmOnline:
        start = self._free_address(dimm.size)
        zone = zone_for_dimm(self.config, self.stats, self.spans, dimm.node, start, dimm.size)
        per_block = vmemmap_pages_per_block(self.config, dimm.size, MEMORY_BLOCK_SIZE)
        host = MEMMAP_SELF if per_block else self._memmap_host(dimm.node)
        placed = DimmOnline(dimm.id, dimm.node, start, dimm.size, zone, per_block, host)
        self.present[dimm.id] = placed
        self.added.append(placed)
        if zone != "offline":
            self.spans.append(ZoneSpan(dimm.node, zone, start, start + dimm.size))
        self._account(placed, +1)
        return placed

    def _account(self, placed: DimmOnline, sign: int) -> None:
        # Only ZONE_MOVABLE counts: hot-added kernel memory has no present_early_pages.
        if placed.zone == "Movable":
            old = self.stats.get(placed.node, ZonePages(0, 0))
            self.stats[placed.node] = ZonePages(old.kernel_early_pages,
                                                old.movable_pages + sign * placed.size // PAGE_SIZE)

    def remove(self, dimm_id: str) -> tuple[str, str]:
        """The eject's outcome (success | failure | uncertain) and why."""
        placed = self.present.get(dimm_id)
        if placed is None:
            if dimm_id in self.maybe_gone:
                return "uncertain", "an earlier eject of it may have succeeded"
            return "failure", "the DIMM is not plugged in"
        guests = sorted(d.dimm for d in self.present.values() if d.memmap_in == dimm_id)
        if guests:
            return "failure", (f"ZONE_NORMAL DIMM holds the memmap of DIMM {', '.join(guests)} "
                               "(vmemmap_alloc_block, unmovable)")
        if placed.zone in ("Movable", "offline"):
            del self.present[dimm_id]
            self._account(placed, -1)
            return "success", ("DIMM onlined movable" if placed.zone == "Movable"
                               else "DIMM never onlined")
        # It may have gone: what it hosted is then no longer known to stay.
        del self.present[dimm_id]
        self.maybe_gone.add(dimm_id)
        return "uncertain", f"DIMM onlined to ZONE_{placed.zone.upper()}"
