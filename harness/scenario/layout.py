"""Where QEMU puts a scenario's RAM: the low/high split, the device-memory window, SRAT ranges.

Mirrors QEMU (hw/i386/pc_piix.c RAM split, pc_memory_init's device-memory window,
hw/i386/acpi-build.c build_srat's per-node ranges) so the override SRAT can describe
the same memory the firmware SRAT does, with hotplug marks where the scenario wants. The
machine's own numbers are QEMU facts (:mod:`harness.qemu.facts`).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from harness.errors import BadInputError
from harness.memblock.numa import SratMemory
from harness.qemu.facts import CXL_HOST_REG_SIZE, CXL_WINDOW_ALIGN, profile
from harness.scenario.cxl_schema import guest_node
from harness.scenario.schema_types import MEMORY_BLOCK_SIZE
from harness.scenario.schema import Scenario, SratRange
from harness.units import GiB

HOLE_640K_START = 0xA0000
HOLE_640K_END = 0x100000
FOUR_GIB = 1 << 32


@dataclass(frozen=True)
class BootDimm:
    """A boot-RAM DIMM where the harness puts it (``pc-dimm addr=``, ``memmap=SIZE@ADDR``)."""

    id: str
    node: int
    start: int
    end: int

    @property
    def size(self) -> int:
        return self.end - self.start

    @property
    def memmap(self) -> str:
        """arch/x86/kernel/e820.c:parse_memmap_one: ``SIZE@ADDR`` adds E820_TYPE_RAM."""
        return f"{self.size:#x}@{self.start:#x}"


@dataclass(frozen=True)
class VirtioMemPlacement:
    """A virtio-mem device's region where the harness puts it (``memaddr=``): the driver's
    ``start address`` line and QEMU's ``query-memory-devices`` must say the same."""

    id: str
    node: int
    start: int
    end: int


@dataclass(frozen=True)
class CxlPlacement:
    """A ``[[cxl]]`` device's fixed memory window (``CXL Window N`` in /proc/iomem) and
    the node the guest makes for it; its region starts at the window's base."""

    id: str
    window: int  # the CFMWS index: -M cxl-fmw.N, the root decoder decoder0.N
    start: int
    end: int
    node: int


@dataclass(frozen=True)
class MemoryLayout:
    below_4g: int
    above_4g: int
    device_base: int
    device_size: int
    node_ranges: tuple[SratMemory, ...]
    boot_dimms: tuple[BootDimm, ...] = ()
    # Hot-added DIMMs put inside their node's own hotplug window (an explicit SRAT range in
    # the device-memory window), where the field machine's firmware would have them.
    window_dimms: tuple[BootDimm, ...] = ()
    # One past the highest guest-physical address QEMU uses: the 64-bit PCI hole, 1 GiB
    # aligned after device memory (hw/i386/pc.c: pc_pci_hole64_start, pc_max_used_gpa).
    address_space_end: int = 0
    virtio_mem: tuple[VirtioMemPlacement, ...] = ()
    cxl: tuple[CxlPlacement, ...] = ()

    def cxl_window(self, device_id: str) -> CxlPlacement:
        return next(p for p in self.cxl if p.id == device_id)

    def virtio_mem_region(self, device_id: str) -> VirtioMemPlacement:
        return next(p for p in self.virtio_mem if p.id == device_id)

    def ranges_of(self, node: int) -> tuple[SratMemory, ...]:
        return tuple(r for r in self.node_ranges if r.node == node)


def _ram_split(scenario: Scenario) -> tuple[int, int]:
    prof = profile(scenario.machine.type)
    ram = scenario.machine.ram_size
    lowmem = prof.lowmem_default
    if ram >= lowmem:
        lowmem = min(lowmem, prof.lowmem_when_split)
    if ram >= lowmem:
        return lowmem, ram - lowmem
    return ram, 0


def _affinity(node: int, start: int, end: int, hotplug: bool = False) -> SratMemory:
    # QEMU's build_srat and the override (harness/scenario/tables.py) both write the
    # node index as the proximity domain.
    return SratMemory(node=node, pxm=node, start=start, end=end, hotplug=hotplug)


def _qemu_node_ranges(scenario: Scenario, below_4g: int) -> list[SratMemory]:
    """build_srat's loop: nodes laid out in order, cutting the 640K and PCI holes."""
    out: list[SratMemory] = []
    next_base = 0
    for node, spec in enumerate(scenario.machine.nodes):
        base, length = next_base, spec.memory
        next_base = base + length
        if base <= HOLE_640K_START < next_base:
            out.append(_affinity(node, base, HOLE_640K_START))
            if next_base <= HOLE_640K_END:
                next_base = HOLE_640K_END
                continue
            base = HOLE_640K_END
        if base <= below_4g < next_base:
            if below_4g > base:
                out.append(_affinity(node, base, below_4g))
            high = next_base - below_4g
            base, next_base = FOUR_GIB, FOUR_GIB + high
        if next_base > base:
            out.append(_affinity(node, base, next_base))
    return out


def _explicit_ranges(ranges: tuple[SratRange, ...]) -> list[SratMemory]:
    return [_affinity(r.node, r.start, r.start + r.size, r.hotplug) for r in ranges]


def _check_explicit(ranges: list[SratMemory], below: int, above: int, device: tuple[int, int]) -> None:
    """An SRAT range over no RAM (nor, for a hotplug range, the DIMM window) describes nothing."""
    backed = [(0, below), (FOUR_GIB, FOUR_GIB + above)]
    for index, rng in enumerate(ranges):
        spans = backed + [device] if rng.hotplug else backed
        if not any(rng.start < end and start < rng.end for start, end in spans if end > start):
            what = "RAM or device memory" if rng.hotplug else "RAM"
            raise BadInputError(f"srat.ranges[{index}]: [{rng.start:#x}-{rng.end:#x}) covers no {what}")


def _boot_dimms(scenario: Scenario, device_base: int) -> tuple[BootDimm, ...]:
    """Boot-RAM DIMMs packed from the window's base, in scenario order: whole memory blocks,
    so each stays block (and section) aligned; hot-added DIMMs take QEMU's first free gap
    after them (hw/mem/memory-device.c:memory_device_get_free_addr)."""
    out, base = [], device_base
    for dimm in scenario.boot_ram_dimms:
        out.append(BootDimm(dimm.id, dimm.node, base, base + dimm.size))
        base += dimm.size
    return tuple(out)


def _boot_dimm_ranges(scenario: Scenario, dimms: tuple[BootDimm, ...],
                      ranges: list[SratMemory]) -> list[SratMemory]:
    """The SRAT ranges of boot-RAM DIMMs: their own node and mark in an override, QEMU's
    window entry (last node, hotpluggable) otherwise; an explicit range over one is refused."""
    out = []
    for placed in dimms:
        for index, rng in enumerate(ranges):
            if rng.start < placed.end and placed.start < rng.end:
                raise BadInputError(f"srat.ranges[{index}]: overlaps boot_ram DIMM {placed.id} "
                                    f"at {placed.start:#x}, which has its own SRAT range")
        hotplug = scenario.dimm(placed.id).hotplug
        out.append(_affinity(placed.node, placed.start, placed.end, hotplug))
    return out


def _window_dimms(scenario: Scenario, ranges: list[SratMemory], device: tuple[int, int]
                  ) -> tuple[BootDimm, ...]:
    """Each hot-added DIMM of a node that has hotplug windows goes into the least-filled of
    them (lowest address first), in scenario order (``pc-dimm addr=``); QEMU's own first
    fit (hw/mem/memory-device.c:memory_device_get_free_addr) knows nothing of nodes."""
    windows = {i: r for i, r in enumerate(ranges)
               if r.hotplug and device[0] <= r.start and r.end <= device[1]}
    cursor = {i: r.start for i, r in windows.items()}
    out = []
    for dimm in (d for d in scenario.dimms if not d.boot_ram):
        mine = [i for i, r in windows.items() if r.node == dimm.node]
        room = [i for i in mine if cursor[i] + dimm.size <= windows[i].end]
        fit = min(room, key=lambda i: (cursor[i] - windows[i].start, windows[i].start), default=None)
        if mine and fit is None:
            raise BadInputError(f"dimm {dimm.id}: no room left in node {dimm.node}'s hotplug windows")
        if fit is not None:
            out.append(BootDimm(dimm.id, dimm.node, cursor[fit], cursor[fit] + dimm.size))
            cursor[fit] += dimm.size
    return tuple(out)


def _virtio_mem(scenario: Scenario, device_base: int, device_size: int) -> tuple[VirtioMemPlacement, ...]:
    """virtio-mem regions after the coldplugged DIMMs (which QEMU packs from the window's
    base in command-line order), each memory-block aligned so the driver can use all of it
    (drivers/virtio/virtio_mem.c virtio_mem_init_hotplug: first_mb_id rounds up)."""
    base = device_base + sum(d.size for d in scenario.dimms if d.coldplugged)
    out = []
    for device in scenario.virtio_mem:
        align = max(device.device_block_size, MEMORY_BLOCK_SIZE)
        start = -(-base // align) * align
        if start + device.size > device_base + device_size:
            raise BadInputError(f"virtio_mem {device.id}: {device.size:#x} bytes do not fit in the "
                                f"device-memory window [{device_base:#x}-{device_base + device_size:#x}); "
                                "raise machine.maxmem")
        out.append(VirtioMemPlacement(device.id, device.node, start, start + device.size))
        base = start + device.size
    return tuple(out)


def compute_layout(scenario: Scenario) -> MemoryLayout:
    below, above = _ram_split(scenario)
    prof = profile(scenario.machine.type)
    if scenario.srat.ranges:
        ranges = _explicit_ranges(scenario.srat.ranges)
    else:
        hot = set(scenario.srat.hotplug_nodes)
        ranges = [replace(r, hotplug=r.node in hot) for r in _qemu_node_ranges(scenario, below)]
    maxmem = scenario.machine.maxmem or scenario.machine.ram_size
    device_size = 0
    if maxmem > scenario.machine.ram_size:
        device_size = maxmem - scenario.machine.ram_size + prof.align_per_slot * scenario.machine.slots
    device_base = -(-(FOUR_GIB + above) // GiB) * GiB
    if scenario.srat.ranges:
        _check_explicit(ranges, below, above, (device_base, device_base + device_size))
    dimms = _boot_dimms(scenario, device_base)
    windowed = _window_dimms(scenario, ranges, (device_base, device_base + device_size)) \
        if scenario.srat.ranges else ()
    ranges += _boot_dimm_ranges(scenario, dimms, ranges)
    ranges = [replace(r, pxm=scenario.srat.pxm_of(r.node)) for r in ranges]
    used = device_base + device_size if device_size else FOUR_GIB + above
    cxl = _cxl_windows(scenario, used)
    if cxl:  # pc_pci_hole64_start: after the CXL range when CXL is on
        used = cxl[-1].end
    ranges += [SratMemory(node=p.node, pxm=scenario.srat.pxm_of(p.node), start=p.start, end=p.end,
                          hotplug=bool(d.srat_hotplug))
               for p, d in zip(cxl, scenario.cxl) if d.srat_hotplug is not None]
    hole64 = -(-used // GiB) * GiB
    return MemoryLayout(below, above, device_base, device_size, tuple(ranges), dimms, windowed,
                        address_space_end=hole64 + prof.pci_hole64_size,
                        virtio_mem=_virtio_mem(scenario, device_base, device_size), cxl=cxl)


def _cxl_windows(scenario: Scenario, base: int) -> tuple[CxlPlacement, ...]:
    """pc_get_cxl_range_start/end: the host registers at ``base`` (the end of device
    memory, else of RAM above 4G), the windows after them in -M cxl-fmw order."""
    if not scenario.cxl:
        return ()
    start = -(-(base + CXL_HOST_REG_SIZE) // CXL_WINDOW_ALIGN) * CXL_WINDOW_ALIGN
    out = []
    for index, device in enumerate(scenario.cxl):
        node = guest_node(len(scenario.machine.nodes), index)
        out.append(CxlPlacement(device.id, index, start, start + device.window, node))
        start += device.window
    return tuple(out)
