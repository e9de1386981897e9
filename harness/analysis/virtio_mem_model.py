"""Which zone each memory block a virtio-mem device plugs lands in, and whether an unplug
can finish: a model of mm/memory_hotplug.c's zone choice for the driver's memory blocks.

drivers/virtio/virtio_mem.c (sub-block mode, device blocks below the 128 MiB memory block,
as with QEMU's 2 MiB default) adds memory blocks in ascending order (virtio_mem_sbm_prepare_next_mb)
in one dynamic memory group whose unit is a memory block (memory_group_register_dynamic),
and each is onlined by memhp_default_state. zone_for_pfn_range (6.1 and 6.12 alike) picks:
online_movable → ZONE_MOVABLE; online_kernel → ZONE_NORMAL (above 4 GiB, no other kernel
zone there); online with online_policy=contig-zones → default_zone_for_pfn (a fresh range
above every zone: ZONE_MOVABLE only with movable_node); with auto-movable →
auto_movable_zone_for_pfn and auto_movable_can_online_movable, globally and for the node.
Unplug (virtio_mem_sbm_unplug_request) takes ZONE_MOVABLE blocks first, last ones first,
then kernel-zone blocks; a kernel-zone sub-block holding unmovable pages stops it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from harness.analysis.online_policy import HotplugConfig, hotplug_config, zone_for_pfn_range
from harness.memblock.model import Memblock
from harness.scenario.schema_types import MEMORY_BLOCK_SIZE
from harness.scenario.schema import Scenario, SlabPin, VirtioMemResize
from kernels.profile import HotplugRules, OnlineType

PAGE = 4096
BLOCK_PAGES = MEMORY_BLOCK_SIZE // PAGE


@dataclass
class _Zones:
    """Present pages per node: kernel zones since boot (present_early_pages), ZONE_MOVABLE."""

    kernel_early: dict[int, int]
    movable: dict[int, int]


@dataclass
class _Device:
    node: int
    blocks: list[str] = field(default_factory=list)  # zone of each added block, ascending

    def pages(self, zone: str) -> int:
        return sum(BLOCK_PAGES for z in self.blocks if z == zone)


@dataclass(frozen=True)
class ResizePrediction:
    id: str
    outcome: str  # success | failure | uncertain
    reason: str
    zones: dict[str, int] | None  # bytes of the device's online blocks per zone; None: not known


def zone_words(zones: dict[str, int] | None) -> str:
    """``Movable 0x30000000, Normal 0x10000000``; ``no online block`` when empty."""
    if zones is None:
        return "not known"
    return ", ".join(f"{zone} {size:#x}" for zone, size in sorted(zones.items()) if size) or "no online block"


def boot_zones(state: Memblock, movable_starts: dict[int, int]) -> _Zones:
    """Present pages per node from memblock.memory, split at each ZONE_MOVABLE start."""
    zones = _Zones({}, {})
    for region in state.memory.regions:
        cut = movable_starts.get(region.nid, region.base + region.size)
        kernel = max(0, min(region.base + region.size, cut) - region.base)
        zones.kernel_early[region.nid] = zones.kernel_early.get(region.nid, 0) + kernel // PAGE
        zones.movable[region.nid] = zones.movable.get(region.nid, 0) + (region.size - kernel) // PAGE
    return zones


def _can_online_movable(policy: HotplugConfig, zones: _Zones, devices: dict[str, _Device],
                        this: str, node: int | None, nr_pages: int) -> bool:
    """auto_movable_can_online_movable; ``node`` None is NUMA_NO_NODE (the whole system).
    Zone stats count every device's ZONE_MOVABLE pages; walk_dynamic_memory_groups then
    removes the other groups' and the early kernel pages they require at the ratio."""
    scope = [(key, d) for key, d in devices.items() if node is None or d.node == node]
    kernel = sum(v for n, v in zones.kernel_early.items() if node is None or n == node)
    movable = sum(v for n, v in zones.movable.items() if node is None or n == node)
    movable += sum(d.pages("Movable") for _, d in scope)
    required = 0
    for key, device in scope:
        if key != this:
            required += max(0, device.pages("Movable") * 100 // policy.auto_movable_ratio - device.pages("Normal"))
            movable -= device.pages("Movable")
    if kernel <= required:
        return False
    kernel += devices[this].pages("Normal") - required  # the group's own kernel pages count
    return movable + nr_pages <= policy.auto_movable_ratio * kernel // 100


def _zone_for_block(policy: HotplugConfig, zones: _Zones, devices: dict[str, _Device], this: str) -> str:
    """The next memory block's zone, by the zone choice every device kind shares
    (online_policy.zone_for_pfn_range), with this dynamic group's movable check. A fresh
    block lies above every zone the driver made so far: no span to inherit from."""
    return zone_for_pfn_range(
        policy, devices[this].node, 1 << 32, MEMORY_BLOCK_SIZE,
        lambda node: _can_online_movable(policy, zones, devices, this, node, BLOCK_PAGES))


def _blocks_for(size: int) -> int:
    return -(-size // MEMORY_BLOCK_SIZE)


def _zone_bytes(device: _Device) -> dict[str, int]:
    out: dict[str, int] = {}
    for zone in device.blocks:
        if zone != "offline":
            out[zone] = out.get(zone, 0) + MEMORY_BLOCK_SIZE
    return out


def _plug(policy: HotplugConfig, zones: _Zones, devices: dict[str, _Device], key: str, size: int) -> None:
    while len(devices[key].blocks) < _blocks_for(size):
        devices[key].blocks.append(_zone_for_block(policy, zones, devices, key))


def _unplug(device: _Device, size: int, pinned: bool) -> tuple[str, str]:
    """The blocks to go, ZONE_MOVABLE (and offline) ones first, the last first."""
    keep = _blocks_for(size)
    going = len(device.blocks) - keep
    order = sorted(range(len(device.blocks)), key=lambda i: (device.blocks[i] == "Normal", -i))
    removed = order[:going]
    kernel = sum(1 for i in removed if device.blocks[i] == "Normal")
    if kernel and pinned:
        return "failure", f"{kernel} ZONE_NORMAL blocks to unplug on a node where slab was pinned"
    device.blocks = [z for i, z in enumerate(device.blocks) if i not in removed]
    if kernel:
        return "uncertain", f"{kernel} ZONE_NORMAL blocks to unplug: they go if nothing unmovable is in them"
    return "success", f"{going} blocks to unplug, none in a kernel zone"


def predict_virtio_mem(scenario: Scenario, cmdline: str, rules: HotplugRules,
                       zones: _Zones) -> dict[str, ResizePrediction]:
    """Each virtio_mem_resize action's outcome and zones, the devices plugged at boot first."""
    policy = hotplug_config(cmdline, rules)
    devices = {d.id: _Device(d.node) for d in scenario.virtio_mem}
    for spec in scenario.virtio_mem:
        _plug(policy, zones, devices, spec.id, spec.requested_size)
    pinned: set[int] = set()  # nodes whose kernel-zone virtio-mem blocks hold pinned slab
    out: dict[str, ResizePrediction] = {}
    for action in scenario.actions:
        if isinstance(action, SlabPin) and action.cpu is not None:  # a node pin is CXL's
            node = next(n for n, spec in enumerate(scenario.machine.nodes) if action.cpu in spec.cpus)
            if any(d.node == node and "Normal" in d.blocks for d in devices.values()):
                pinned.add(node)
        if not isinstance(action, VirtioMemResize):
            continue
        device = devices[action.device]
        if scenario.virtio_mem_device(action.device).device_block_size > MEMORY_BLOCK_SIZE:
            # Big-block mode (virtio_mem_init_hotplug: device blocks above a memory block):
            # a unit of several blocks is onlined and unplugged as one; not modelled.
            out[action.id] = ResizePrediction(action.id, "uncertain", "big-block mode is not modelled", None)
            continue
        if _blocks_for(action.requested_size) >= len(device.blocks):
            _plug(policy, zones, devices, action.device, action.requested_size)
            outcome = "uncertain" if policy.default_online_type is OnlineType.OFFLINE else "success"
            reason = f"online type {policy.default_online_type.value}: {len(device.blocks)} blocks plugged"
        else:
            outcome, reason = _unplug(device, action.requested_size, device.node in pinned)
        out[action.id] = ResizePrediction(action.id, outcome, reason,
                                          None if outcome == "failure" else _zone_bytes(device))
    return out
